package io.procwatch.cli;

import io.procwatch.daemon.Daemon;
import io.procwatch.daemon.Limits;
import io.procwatch.store.HistoryWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code procwatch daemon}: runs the daemon in the foreground (systemd) or --background. */
final class DaemonCommand {
    static final String HELP = """
            Usage: procwatch daemon [options]
            Keep the live process table from kernel events and serve procwatch clients.
            Needs root (or CAP_NET_ADMIN for taskstats and CAP_SYS_PTRACE to read every /proc entry).

              --config FILE          read options from FILE first ("name = value" lines, # comments;
                                     names as the options below); options given here win
              --socket PATH          Unix socket (default /run/procwatch/procwatch.sock or $PROCWATCH_SOCKET)
              --history N            exited processes kept in memory (default 100000; 10000 with
                                     --history-db, which holds the rest)
              --history-db FILE      also keep them in this SQLite database (survives restarts)
              --retention-days N     database: drop exits older than N days (default 30)
              --retention-rows N     database: keep at most N exits (default 10000000)
              --journal on|off       with --history-db, journal every process change there for
                                     ps --at / tree --at (default on; docs/journal.md)
              --journal-checkpoint S whole-table checkpoint every S seconds (default 300)
              --journal-sample S     sampled columns of changed processes every S seconds (default 10)
              --journal-days N       keep N days of journal (default 7)
              --journal-max-mb N     and at most N MiB of it (default 1024)
              --http HOST:PORT       serve Prometheus /metrics and the JSON API (loopback addresses only)
              --public-exec-argv     give exec-time command lines (exec events, history) to every
                                     user who may see the process, not only to root and its owner
              --http-public          allow a non-loopback --http address (e.g. 0.0.0.0:9587); it then
                                     serves /metrics alone: no JSON API, nothing per user
              --max-clients N        concurrent clients (default 256); an eighth of them are kept
                                     for root, so other users never lock root out
              --max-clients-per-uid N  concurrent clients of one user other than root
                                     (default a quarter of --max-clients)
              --read-timeout SECONDS a request must arrive whole within this, counted from its
                                     first byte (from connect for the first one; default 5)
              --idle-timeout SECONDS close a connection that asks nothing for this long (default 600)
              --write-timeout SECONDS close a connection whose client has not read its answer for
                                     this long (default 120)
              --http-streams N       HTTP event streams (/api/v1/events) at once (default 32; a sixth
                                     kept for root); they never take the capacity of other requests
              --http-streams-per-uid N  event streams of one user other than root (default 8)
              --metrics-group-cap N  /metrics: series for at most N containers and N units (the
                                     ones with the most processes); the rest summed into one
                                     "other" series, their number in procwatch_*_folded (default 50)
              --proc-root PATH       the proc filesystem to read (default /proc)
              --task-scan on|off     find the processes that changed with one BPF task iterator
                                     read, and read /proc/PID/stat only for those (default on;
                                     needs CAP_BPF and CAP_PERFMON, else every stat file is read)
              --exec-capture on|off  take each exec's argv, program and credentials from a BPF
                                     program at the exec itself (default on; needs CAP_BPF and
                                     CAP_PERFMON, else /proc is read just after the exec, which
                                     a process that ends or execs again at once can race)
              --receive-buffer BYTES the kernel event socket's receive buffer (default 67108864;
                                     4096 to 1073741824): what absorbs a burst while the daemon is busy
              --kafka HOST:PORT,...  send every recorded exit (and losses) to Kafka as JSON records
                                     named after OpenTelemetry (docs/fleet.md); needs --history-db;
                                     with the journal on, execs, id changes and renames too
              --kafka-topic NAME     the topic (default procwatch.events)
              --kafka-properties FILE  Kafka client properties (TLS, SASL: security.protocol,
                                     ssl.*, sasl.*); acks and idempotence stay procwatch's
              --host-id ID           host.id in the records (default /etc/machine-id)
              --host-name NAME       host.name in the records (default the kernel's hostname)
              --kafka-state FILE     the last sequence the broker acknowledged (default
                                     HISTORY-DB.kafka-journal-acked, or HISTORY-DB.kafka-acked
                                     with --journal off); sending resumes after it
              --background           start detached, wait until it answers, then return
            Examples:
              sudo procwatch daemon --background
              sudo procwatch daemon --history-db /var/lib/procwatch/history.db --http 127.0.0.1:9587
              sudo procwatch daemon --config /etc/procwatch/procwatch.conf
              sudo procwatch daemon --history-db /var/lib/procwatch/history.db --kafka kafka1:9092,kafka2:9092
            """;

    static final int HISTORY_RING_WITH_DB = 10_000;
    private static final Set<String> WITH_VALUE = Set.of("config", "socket", "history", "history-db",
            "retention-days", "retention-rows", "http", "max-clients", "proc-root", "task-scan", "exec-capture",
            "receive-buffer", "max-clients-per-uid", "read-timeout", "idle-timeout", "write-timeout",
            "http-streams", "http-streams-per-uid", "metrics-group-cap", "journal", "journal-checkpoint", "journal-sample", "journal-days",
            "journal-max-mb", "kafka", "kafka-topic", "kafka-properties", "host-id", "host-name", "kafka-state");

    private DaemonCommand() {
    }

    private static boolean onOff(Opts o, String name) throws UsageException {
        String v = o.get(name) == null ? "on" : o.get(name);
        if (!v.equals("on") && !v.equals("off")) {
            throw new UsageException("--" + name + " takes on or off, not '" + v + "'");
        }
        return v.equals("on");
    }

    /** The journal's settings (docs/journal.md); null with {@code --journal off}. */
    private static io.procwatch.store.Journal.Settings journalSettings(Opts o) throws UsageException {
        if (!onOff(o, "journal")) {
            return null;
        }
        var d = io.procwatch.store.Journal.Settings.defaults();
        return new io.procwatch.store.Journal.Settings(
                o.longValue("journal-checkpoint", d.checkpointMs() / 1000, 1, 86_400) * 1000,
                o.longValue("journal-sample", d.sampleMs() / 1000, 1, 86_400) * 1000,
                o.longValue("journal-days", d.maxAgeMs() / 86_400_000L, 1, 100_000) * 86_400_000L,
                o.longValue("journal-max-mb", d.maxBytes() >> 20, 1, 1L << 30) << 20);
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Opts o;
        try {
            o = Opts.parse(args, WITH_VALUE, Set.of("background", "help", "http-public", "public-exec-argv"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (!o.positional.isEmpty()) {
                throw new UsageException("unexpected argument " + o.positional.getFirst());
            }
            if (o.get("config") != null) {
                readConfig(Path.of(o.get("config")), o);
            }
        } catch (UsageException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 2;
        }
        try {
            Daemon.Options d = Daemon.Options.defaults();
            Path socket = o.get("socket") != null ? Path.of(o.get("socket")) : d.socket();
            if (o.has("background")) {
                List<String> pass = new ArrayList<>(args);
                pass.remove("--background");
                DaemonLink.startDaemon(socket, pass, err);
                return 0;
            }
            boolean scan = onOff(o, "task-scan");
            boolean capture = onOff(o, "exec-capture");
            // days * 86,400,000 ms must not overflow: at most ~292,000 years
            long days = o.longValue("retention-days", d.retention().maxAgeMs() / 86_400_000L, 1, 100_000_000L);
            long rows = o.longValue("retention-rows", d.retention().maxRows(), 1, Long.MAX_VALUE);
            int maxClients = o.intValue("max-clients", d.maxClients(), 1, 1_000_000);
            Limits limits = Limits.forClients(maxClients);
            limits = limits.withPerUid(o.intValue("max-clients-per-uid", limits.perUid(), 1, maxClients))
                    .withTimeouts(o.longValue("read-timeout", limits.readTimeoutMs() / 1000, 1, 86_400) * 1000,
                            o.longValue("idle-timeout", limits.idleTimeoutMs() / 1000, 1, 100_000_000L) * 1000);
            limits = limits.withWriteTimeout(o.longValue("write-timeout", limits.writeTimeoutMs() / 1000, 1, 86_400) * 1000);
            int streams = o.intValue("http-streams", limits.httpStreams(), 1, 100_000);
            limits = limits.withHttpStreams(streams,
                    o.intValue("http-streams-per-uid", Math.min(streams, limits.httpStreamsPerUid()), 1, streams));
            limits = limits.withMetricsGroupCap(o.intValue("metrics-group-cap", limits.metricsGroupCap(), 0, 100_000));
            // With a database the ring only needs the newest exits (answers merge the two): 10,000
            // of ~0.6 KiB each instead of 100,000, which would be most of the daemon's footprint.
            int ring = o.get("history-db") != null ? HISTORY_RING_WITH_DB : d.historyCapacity();
            Daemon.Options opts = new Daemon.Options(socket, o.intValue("history", ring, 1, 100_000_000),
                    maxClients,
                    o.get("proc-root") != null ? Path.of(o.get("proc-root")) : d.procRoot(),
                    o.get("history-db") != null ? Path.of(o.get("history-db")) : null,
                    new HistoryWriter.Retention(days * 86_400_000L, rows), o.get("http"), scan,
                    o.intValue("receive-buffer", d.receiveBufferBytes(), 4096, 1 << 30), o.has("http-public"), limits,
                    capture, journalSettings(o), fleet(o));
            if (o.has("http-public") && opts.http() == null) {
                throw new UsageException("--http-public goes with --http HOST:PORT");
            }
            io.procwatch.daemon.Viewer.shareExecArgv = o.has("public-exec-argv");
            Daemon daemon = Daemon.start(opts);
            err.println("procwatch daemon: pid " + ProcessHandle.current().pid() + ", serving on " + socket
                    + ", tracking " + daemon.live().table().size() + " processes"
                    + (opts.historyDb() != null ? ", history in " + opts.historyDb() : "")
                    + (opts.http() != null ? ", http on " + opts.http() + (opts.httpPublic() ? " (public: /metrics only"
                            + " if the address is not loopback)" : "") : "")
                    + (daemon.live().sampler().taskScanProblem() == null ? ", task scan on"
                            : ", task scan off: " + daemon.live().sampler().taskScanProblem())
                    + (daemon.live().execCaptureProblem() == null ? ", exec capture on"
                            : ", exec capture off (argv from /proc): " + daemon.live().execCaptureProblem()));
            SystemdNotify.ready();
            daemon.awaitShutdown();
            return 0;
        } catch (UsageException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** The Kafka sink's options, or null without --kafka (the others then are a mistake, said so). */
    static Daemon.Fleet fleet(Opts o) throws UsageException {
        String bootstrap = o.get("kafka");
        if (bootstrap == null) {
            for (String k : List.of("kafka-topic", "kafka-properties", "host-id", "host-name", "kafka-state")) {
                if (o.get(k) != null) {
                    throw new UsageException("--" + k + " goes with --kafka HOST:PORT");
                }
            }
            return null;
        }
        checkBootstrap(bootstrap);
        String topic = o.get("kafka-topic");
        if (topic != null && !topic.matches("[A-Za-z0-9._-]{1,249}")) {
            throw new UsageException("--kafka-topic: a topic name is 1-249 of A-Z a-z 0-9 . _ -, not '" + topic + "'");
        }
        Path props = o.get("kafka-properties") == null ? null : Path.of(o.get("kafka-properties"));
        if (props != null && !Files.isReadable(props)) {
            throw new UsageException("--kafka-properties: cannot read " + props);
        }
        return new Daemon.Fleet(bootstrap, topic, props, o.get("host-id"), o.get("host-name"),
                o.get("kafka-state") == null ? null : Path.of(o.get("kafka-state")));
    }

    /** host:port[,host:port...], ports 1-65535; a bracketed IPv6 host is allowed. */
    static void checkBootstrap(String v) throws UsageException {
        if (v.isBlank() || v.length() > 4096) {
            throw new UsageException("--kafka takes HOST:PORT[,HOST:PORT...]");
        }
        for (String part : v.split(",", -1)) {
            String hp = part.strip();
            int colon = hp.lastIndexOf(':');
            if (colon < 1 || colon == hp.length() - 1) {
                throw new UsageException("--kafka: '" + hp + "' is not HOST:PORT");
            }
            int port;
            try {
                port = Integer.parseInt(hp.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) {
                throw new UsageException("--kafka: bad port in '" + hp + "'");
            }
            String host = hp.substring(0, colon);
            if (!host.matches("\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+")) {
                throw new UsageException("--kafka: bad host in '" + hp + "'");
            }
        }
    }

    /** Options from a file; the command line's own values are kept. */
    static void readConfig(Path file, Opts o) throws UsageException {
        List<String> lines;
        try {
            // the file says which socket, database and servers a root daemon uses, and which
            // users it exempts: only root (or the daemon's user) may be able to change it
            lines = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(io.procwatch.daemon.TrustedFile.read(file, 1 << 20)))
                    .toString().lines().toList();
        } catch (IOException e) {
            throw new UsageException("cannot read the config file " + file + ": " + e.getMessage());
        }
        int n = 0;
        for (String raw : lines) {
            n++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 1) {
                throw new UsageException(file + ":" + n + ": expected 'name = value', got '" + line + "'");
            }
            String name = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            if (name.equals("background") || name.equals("config") || !WITH_VALUE.contains(name)) {
                throw new UsageException(file + ":" + n + ": unknown setting '" + name + "'");
            }
            o.values.putIfAbsent(name, value);
        }
    }
}
