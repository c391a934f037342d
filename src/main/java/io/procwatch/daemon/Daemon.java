package io.procwatch.daemon;

import io.procwatch.procfs.ProcFs;
import io.procwatch.sink.FleetSink;
import io.procwatch.store.HistoryStore;
import io.procwatch.store.HistoryWriter;
import io.procwatch.store.Journal;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.History;
import io.procwatch.table.LiveTable;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * {@code procwatch daemon}: keeps the live table and serves clients on a Unix socket until
 * SIGTERM/SIGINT, then removes its socket and exits.
 */
public final class Daemon implements AutoCloseable {
    public static final String DEFAULT_SOCKET = "/run/procwatch/procwatch.sock";
    /** Exit status when the kernel event source died for good (EX_IOERR). */
    public static final int EXIT_EVENT_SOURCE_FAILED = 74;

    /**
     * Settings from the config file, flags and the environment.
     *
     * @param historyDb   the SQLite file for persistent history, or null for memory only
     * @param retention   how long and how many exits the database keeps
     * @param http        host:port of the HTTP listener (metrics and JSON API), or null for none
     * @param httpPublic  allow a non-loopback http address, which then serves /metrics only
     * @param limits      per-uid shares, root's reserve, timeouts (null: the defaults for maxClients)
     */
    public record Options(Path socket, int historyCapacity, int maxClients, Path procRoot, Path historyDb,
                          HistoryWriter.Retention retention, String http, boolean taskScan,
                          int receiveBufferBytes, boolean httpPublic, Limits limits, boolean execCapture,
                          Journal.Settings journal, Fleet fleet) {
        public Options {
            if (limits == null) {
                limits = Limits.forClients(maxClients);
            }
        }

        /** With the journal's defaults (it is kept whenever there is a history database; null journal: none). */
        public Options(Path socket, int historyCapacity, int maxClients, Path procRoot, Path historyDb,
                       HistoryWriter.Retention retention, String http, boolean taskScan, int receiveBufferBytes,
                       boolean httpPublic, Limits limits, boolean execCapture) {
            this(socket, historyCapacity, maxClients, procRoot, historyDb, retention, http, taskScan,
                    receiveBufferBytes, httpPublic, limits, execCapture, Journal.Settings.defaults());
        }

        /** Without a Kafka sink. */
        public Options(Path socket, int historyCapacity, int maxClients, Path procRoot, Path historyDb,
                       HistoryWriter.Retention retention, String http, boolean taskScan, int receiveBufferBytes,
                       boolean httpPublic, Limits limits, boolean execCapture, Journal.Settings journal) {
            this(socket, historyCapacity, maxClients, procRoot, historyDb, retention, http, taskScan,
                    receiveBufferBytes, httpPublic, limits, execCapture, journal, null);
        }

        public Options(Path socket, int historyCapacity, int maxClients, Path procRoot, Path historyDb,
                       HistoryWriter.Retention retention, String http, boolean taskScan, int receiveBufferBytes,
                       boolean httpPublic, Limits limits) {
            this(socket, historyCapacity, maxClients, procRoot, historyDb, retention, http, taskScan,
                    receiveBufferBytes, httpPublic, limits, true);
        }

        public Options(Path socket, int historyCapacity, int maxClients, Path procRoot, Path historyDb,
                       HistoryWriter.Retention retention, String http, boolean taskScan, int receiveBufferBytes,
                       boolean httpPublic) {
            this(socket, historyCapacity, maxClients, procRoot, historyDb, retention, http, taskScan,
                    receiveBufferBytes, httpPublic, null, true);
        }

        public static Options defaults() {
            String env = System.getenv("PROCWATCH_SOCKET");
            return new Options(Path.of(env != null && !env.isEmpty() ? env : DEFAULT_SOCKET), 100_000, 256,
                    Path.of("/proc"), null, new HistoryWriter.Retention(30L * 86_400_000L, 10_000_000L), null, true,
                    64 << 20, false, null, true);
        }
    }

    /**
     * The Kafka sink's settings (docs/fleet.md); no Kafka type here, so an unconfigured daemon
     * never loads one.
     *
     * @param bootstrap  host:port,... of the brokers
     * @param properties a Kafka client properties file (TLS, SASL), or null
     * @param hostId     host.id in the records, or null for /etc/machine-id
     * @param hostName   host.name, or null for the kernel's hostname
     * @param state      where the last acknowledged seq is kept, or null for next to the history database
     */
    public record Fleet(String bootstrap, String topic, Path properties, String hostId, String hostName, Path state) {
    }

    private final Options options;
    private final LiveTable live;
    private final Server server;
    private final HistoryWriter writer;
    private final HttpApi http;
    private final FleetSink fleet;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private Daemon(Options options, LiveTable live, Server server, HistoryWriter writer, HttpApi http,
                   FleetSink fleet) {
        this.options = options;
        this.fleet = fleet;
        this.live = live;
        this.server = server;
        this.writer = writer;
        this.http = http;
    }

    public static Daemon start(Options o) throws IOException {
        // before the daemon's own threads exist (see Libc.limitMallocArenas; measured in docs/benchmarks.md)
        io.procwatch.sys.Libc.limitMallocArenas(1);
        ServerSocketChannel ch = SocketSetup.bind(o.socket());
        LiveTable live = null;
        HistoryStore store = null;
        HistoryWriter writer = null;
        FleetSink fleet = null;
        Journal journal = null;
        try {
            store = o.historyDb() == null ? null : HistoryStore.open(o.historyDb());
            HistoryStore s = store;
            HistoryWriter w = s == null ? null : new HistoryWriter(s, o.retention());
            writer = w;
            if (w != null && o.journal() != null) {
                try {
                    journal = Journal.open(o.historyDb(), o.journal());
                } catch (java.sql.SQLException e) {
                    throw new IOException("cannot open the journal in " + o.historyDb() + ": " + e.getMessage(), e);
                }
                w.journal(journal); // closed with the writer, also if the start fails below
            }
            Journal j = journal;
            live = LiveTable.start(new LiveTable.Config(o.historyCapacity(), o.receiveBufferBytes(), 200, o.taskScan(),
                    o.execCapture()), h -> {
                if (s != null) {
                    restore(s, h);
                    h.onChange(w::offer);
                }
            }, (table, sampler) -> {
                // after the start-up scan (the journal's first flush checkpoints the filled table)
                // and before any event: an exit applied before this would reach the history and
                // never the journal, nor the fleet topic (FleetTest, a daemon restarted mid-storm)
                if (j != null) {
                    j.attach(table, sampler::sampledAt); // the read times date ps --at's sampled columns
                }
            }, e -> {
                // The event source is gone and could not be subscribed again: serving a frozen
                // table would be a lie. Exit non-zero so that systemd (Restart=on-failure) restarts us.
                System.err.println("procwatch daemon: kernel event source failed and could not be subscribed again: "
                        + e.getMessage() + "; exiting so the service manager restarts the daemon");
                Runtime.getRuntime().halt(EXIT_EVENT_SOURCE_FAILED);
            });
            DaemonContext ctx = new DaemonContext(live, new ProcFs(o.procRoot()), ProcMount.of(o.procRoot()),
                    store, writer);
            if (o.fleet() != null) {
                fleet = FleetStart.start(o.fleet(), o.historyDb(), store, journal);
                ctx.fleet(fleet);
            }
            HttpApi api = o.http() == null ? null : HttpApi.start(o.http(), o.httpPublic(), ctx, o.limits());
            // start-up's native garbage (the kernel's BTF, read and parsed to assemble the BPF
            // programs) goes back now; the sweep then returns what bursts free later
            io.procwatch.sys.Libc.mallocTrim();
            Thread.ofPlatform().name("procwatch-encoding-sweep").daemon(true).start(() -> {
                while (true) {
                    try {
                        Thread.sleep(10_000);
                        ctx.dropIdleEncodings();
                        ctx.heapReturn.check();
                        io.procwatch.sys.Libc.mallocTrim();
                    } catch (InterruptedException e) {
                        return;
                    } catch (RuntimeException e) {
                        System.err.println("procwatch daemon: encoding sweep: " + e);
                    }
                }
            });
            return new Daemon(o, live, new Server(ch, ctx, o.limits()), writer, api, fleet);
        } catch (IOException | RuntimeException e) {
            if (fleet != null) {
                fleet.close();
            }
            if (live != null) {
                live.close();
            }
            if (writer != null) {
                writer.close();
            } else if (store != null) {
                store.close();
            }
            ch.close();
            Files.deleteIfExists(o.socket());
            throw e;
        }
    }

    /** Refills the in-memory history from the database and records this run's start. */
    private static void restore(HistoryStore store, History h) {
        try {
            List<ExitedProcess> newest = store.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null,
                    false, h.capacity()));
            h.preload(newest.reversed(), store.maxSeq() + 1);
            store.runStarted(System.currentTimeMillis());
        } catch (SQLException e) {
            throw new IllegalStateException("history database: " + e.getMessage(), e);
        }
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
        if (http != null) {
            http.close();
        }
        server.close();
        live.close();
        if (fleet != null) {
            fleet.close(); // before the store it reads closes; bounded even with the broker away
        }
        if (writer != null) {
            writer.close(); // writes what is queued and records a clean stop
        }
        try {
            Files.deleteIfExists(options.socket());
        } catch (IOException ignored) {
            // best effort: a stale socket is detected and replaced at the next start
        }
    }
}
