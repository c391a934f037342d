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
 * socket I/O only). Past the connection limit a client gets ERROR (busy) and is closed.
 */
final class Server implements AutoCloseable {
    private final ServerSocketChannel server;
    private final DaemonContext ctx;
    private final int maxClients;
    private final ExecutorService connections = Executors.newVirtualThreadPerTaskExecutor();
    private final Thread acceptor;
    private volatile boolean closing;

    Server(ServerSocketChannel server, DaemonContext ctx, int maxClients) {
        this.server = server;
        this.ctx = ctx;
        this.maxClients = maxClients;
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
            if (ctx.counters().clients.incrementAndGet() > maxClients) {
                ctx.counters().clients.decrementAndGet();
                ctx.counters().rejectedConnections.increment();
                refuse(ch);
                continue;
            }
            connections.submit(() -> {
                try {
                    new Connection(ch, ctx).run();
                } finally {
                    ctx.counters().clients.decrementAndGet();
                }
            });
        }
    }

    private void refuse(SocketChannel ch) {
        try (ch) {
            new MessageBuilder().u32(Wire.R_ERROR_CODE, Wire.E_BUSY)
                    .string(Wire.R_ERROR_TEXT, "too many clients (limit " + maxClients + "); try again later")
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
        connections.shutdownNow();
    }
}
