package io.procwatch.daemon;

import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;

import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Accepts clients on the Unix socket; each connection runs on its own virtual thread (they block on
 * socket I/O only). A client past its limits (all clients, its uid's share, root's reserve: see
 * {@link Admission}) gets ERROR (busy) with the reason and is closed; one that keeps the daemon
 * waiting is closed by the {@link Watchdog}.
 */
final class Server implements AutoCloseable {
    private final ServerSocketChannel server;
    private final DaemonContext ctx;
    private final Admission admission;
    private final Watchdog watchdog;
    private final ExecutorService connections = Executors.newVirtualThreadPerTaskExecutor();
    private final Thread acceptor;
    private volatile boolean closing;

    Server(ServerSocketChannel server, DaemonContext ctx, Limits limits) {
        this.server = server;
        this.ctx = ctx;
        this.admission = new Admission(limits);
        this.watchdog = new Watchdog(limits, ctx.counters());
        this.acceptor = Thread.ofPlatform().name("procwatch-accept").unstarted(this::acceptLoop);
        acceptor.start();
    }

    private void acceptLoop() {
        while (!closing) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                continue;
            }
            ctx.counters().connections.increment();
            int[] cred;
            try {
                cred = Peer.credentials(ch); // who asks decides which share it takes
            } catch (IOException e) {
                refuse(ch, "cannot identify this client: " + e.getMessage());
                continue;
            }
            int uid = cred[0];
            String why = admission.admit(uid);
            if (why != null) {
                ctx.counters().rejectedConnections.increment();
                if (uid != 0 && why.contains("per user")) {
                    ctx.counters().rejectedPerUid.increment();
                }
                refuse(ch, why);
                continue;
            }
            ctx.counters().clients.incrementAndGet();
            ClientWatch watch = new ClientWatch(ch, uid, cred[1]);
            watchdog.add(watch);
            connections.submit(() -> {
                try {
                    new Connection(ch, ctx, watch).run();
                } finally {
                    watchdog.remove(watch);
                    admission.release(uid);
                    ctx.counters().clients.decrementAndGet();
                }
            });
        }
    }

    /**
     * ERROR (busy) and close. The message is small and the socket new, so the write does not block
     * the acceptor. A client whose request is still unread gets EPIPE on a later write; the ERROR
     * stays readable, and ProcwatchClient reads it then (rather than report "Broken pipe").
     */
    private void refuse(SocketChannel ch, String why) {
        try (ch) {
            new MessageBuilder().u32(Wire.R_ERROR_CODE, Wire.E_BUSY)
                    .string(Wire.R_ERROR_TEXT, why)
                    .build(Wire.ERROR, 0, 0).write(Channels.newOutputStream(ch));
        } catch (IOException ignored) {
            // the client is refused either way
        }
    }

    @Override
    public void close() {
        closing = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        watchdog.close();
        connections.shutdownNow();
    }
}
