package io.procwatch.daemon;

import io.procwatch.procfs.ProcFs;
import io.procwatch.table.LiveTable;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * {@code procwatch daemon}: keeps the live table and serves clients on a Unix socket until
 * SIGTERM/SIGINT, then removes its socket and exits.
 */
public final class Daemon implements AutoCloseable {
    public static final String DEFAULT_SOCKET = "/run/procwatch/procwatch.sock";

    /** Settings from flags and the environment. */
    public record Options(Path socket, int historyCapacity, int maxClients, Path procRoot) {
        public static Options defaults() {
            String env = System.getenv("PROCWATCH_SOCKET");
            return new Options(Path.of(env != null && !env.isEmpty() ? env : DEFAULT_SOCKET), 100_000, 256,
                    Path.of("/proc"));
        }
    }

    private final Options options;
    private final LiveTable live;
    private final Server server;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private Daemon(Options options, LiveTable live, Server server) {
        this.options = options;
        this.live = live;
        this.server = server;
    }

    public static Daemon start(Options o) throws IOException {
        ServerSocketChannel ch = SocketSetup.bind(o.socket());
        LiveTable live;
        try {
            live = LiveTable.start(new LiveTable.Config(o.historyCapacity(), 64 << 20, 200), e ->
                    System.err.println("procwatch daemon: kernel event source failed: " + e.getMessage()));
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(o.socket());
            throw e;
        }
        DaemonContext ctx = new DaemonContext(live, new ProcFs(o.procRoot()), ProcMount.of(o.procRoot()));
        return new Daemon(o, live, new Server(ch, ctx, o.maxClients()));
    }

    /**
     * Runs until SIGTERM or SIGINT, then shuts down in order (clients, event source, socket) and
     * returns, so the process exits 0 after a requested stop rather than 128+signal.
     */
    @SuppressWarnings("restriction")
    public void awaitShutdown() throws InterruptedException {
        sun.misc.SignalHandler stop = sig -> stopped.countDown();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        stopped.await();
        close();
    }

    public LiveTable live() {
        return live;
    }

    @Override
    public synchronized void close() {
        server.close();
        live.close();
        try {
            Files.deleteIfExists(options.socket());
        } catch (IOException ignored) {
            // best effort: a stale socket is detected and replaced at the next start
        }
    }
}
