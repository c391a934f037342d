package io.procwatch.cli;

import io.procwatch.event.Signals;
import io.procwatch.json.Json;
import io.procwatch.json.JsonReader;
import io.procwatch.sink.FleetConsumer;
import io.procwatch.sink.TopicRecord;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code procwatch fleet}: every host's records, read back from the Kafka topic the daemons send
 * to (docs/fleet.md). A JVM command of its own (not through the daemon: the topic is the fleet's,
 * not this host's); the Kafka client is loaded only once the options are read, by
 * {@link FleetConsumer}, so {@code fleet --help} and a usage error cost nothing of it.
 */
final class FleetCommand {
    static final String HELP = """
            Usage: procwatch fleet history|events|hosts [options] --kafka HOST:PORT[,...]
            Every host's exits and losses from the Kafka topic the daemons send to (daemon --kafka).

              history   exits in a time window across all partitions, merged by time, one row per
                        process (a record re-sent after an outage is folded into its first copy)
                --since WHEN    start of the window (default 1h; forms as procwatch history)
                --until WHEN    end of the window (default now)
                --failed        non-zero exit code, killed by a signal, or not observed
                --host ID       only this host.id (or host.name)
                --name COMM     only this command name
                --limit N       the most recent N exits (default 1000)
              events    follows the topic live from now: exec, exit, loss records as they arrive
                --host ID  --name COMM  --failed  --type exit,exec,loss,...
                --count N       stop after N records
                --group NAME    join this consumer group (resumes where it left off) instead of
                                reading every partition from its end in no group
              hosts     hosts seen in the window (--since, default 1h): records, exits, losses, the
                        last record, and its lag (from the event to the broker having it)

              --kafka HOST:PORT,...   the brokers (default $PROCWATCH_KAFKA)
              --kafka-properties FILE client properties (TLS, SASL)
              --topic NAME            default procwatch.events
              --timeout SECONDS       how long to wait for the brokers (default 15)
              --json                  records as JSON (history: one array; events: one per line)
            USER is the uid: names differ from host to host.
            Examples:
              procwatch fleet history --since 1h --failed --kafka kafka1:9092
              procwatch fleet events --host web-3 --type exit --kafka kafka1:9092
              procwatch fleet hosts --kafka kafka1:9092
            """;

    private static final int MAX_READ = 5_000_000;

    private FleetCommand() {
    }

    /** One record as read back: its JSON fields, and where it lay in the topic. */
    record Rec(Map<String, Object> f, TopicRecord at) {
        String str(String k) {
            Object v = f.get(k);
            return v == null ? null : v.toString();
        }

        long num(String k, long dflt) {
            return f.get(k) instanceof Number n ? n.longValue() : dflt;
        }

        long time(String k) {
            String s = str(k);
            if (s == null) {
                return -1;
            }
            try {
                return Instant.parse(s).toEpochMilli();
            } catch (DateTimeParseException e) {
                return -1;
            }
        }

        String event() {
            String e = str("procwatch.event");
            return e == null ? "?" : e;
        }

        String host() {
            String h = str("host.id");
            return h == null ? "?" : h;
        }

        boolean isExit() {
            return event().equals("exit") || event().equals("exit_unobserved");
        }

        boolean failed() {
            return event().equals("exit_unobserved") || num("process.exit.code", 0) != 0;
        }

        String status() {
            if (event().equals("exit_unobserved")) {
                return "unobserved";
            }
            long sig = num("procwatch.signal", 0);
            if (sig > 0 && sig < 128) {
                return Signals.name((int) sig) + (Boolean.TRUE.equals(f.get("procwatch.core")) ? " (core dumped)" : "");
            }
            long code = num("process.exit.code", -1);
            return code < 0 ? "-" : "exit " + code;
        }

        List<String> argv() {
            List<String> out = new ArrayList<>();
            if (f.get("process.command_args") instanceof List<?> l) {
                for (Object o : l) {
                    out.add(String.valueOf(o));
                }
            }
            return out;
        }

        /** The same record sent twice folds to one: a process life is its key; a loss is its host and seq. */
        String foldKey() {
            return event().equals("loss") ? host() + "/loss/" + num("procwatch.seq", -1)
                    : at.key() + "/" + (isExit() ? "exit" : event() + "/" + num("procwatch.seq", -1));
        }
    }

    private record Common(String bootstrap, Properties client, String topic, Duration timeout) {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.isEmpty() || args.getFirst().equals("--help") || args.getFirst().equals("help")) {
            out.print(HELP);
            return args.isEmpty() ? 2 : 0;
        }
        String sub = args.getFirst();
        List<String> rest = args.subList(1, args.size());
        try {
            Opts o = Opts.parse(rest, Set.of("kafka", "kafka-properties", "topic", "timeout", "since", "until", "host",
                    "name", "limit", "type", "count", "group"), Set.of("failed", "json", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (!o.positional.isEmpty()) {
                throw new UsageException("unexpected argument " + o.positional.getFirst());
            }
            Common c = common(o);
            return switch (sub) {
                case "history" -> history(o, c, out, err);
                case "events" -> events(o, c, out, err);
                case "hosts" -> hosts(o, c, out, err);
                default -> throw new UsageException("unknown fleet command '" + sub + "' (history, events, hosts)");
            };
        } catch (UsageException e) {
            err.println("procwatch fleet: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch fleet: " + e.getMessage());
            return 1;
        }
    }

    private static Common common(Opts o) throws UsageException {
        String bootstrap = o.get("kafka") != null ? o.get("kafka") : System.getenv("PROCWATCH_KAFKA");
        if (bootstrap == null || bootstrap.isBlank()) {
            throw new UsageException("--kafka HOST:PORT[,...] is needed (or PROCWATCH_KAFKA)");
        }
        DaemonCommand.checkBootstrap(bootstrap);
        Properties client = new Properties();
        if (o.get("kafka-properties") != null) {
            Path f = Path.of(o.get("kafka-properties"));
            try (InputStream in = Files.newInputStream(f)) {
                client.load(in);
            } catch (IOException | IllegalArgumentException e) {
                throw new UsageException("--kafka-properties: cannot read " + f + ": " + e.getMessage());
            }
        }
        String topic = o.get("topic") != null ? o.get("topic") : "procwatch.events";
        if (!topic.matches("[A-Za-z0-9._-]{1,249}")) {
            throw new UsageException("--topic: a topic name is 1-249 of A-Z a-z 0-9 . _ -");
        }
        long secs = o.longValue("timeout", 15, 1, 3600);
        return new Common(bootstrap, client, topic, Duration.ofSeconds(secs));
    }

    /** Parsed records; what does not parse is counted, not fatal (another writer may share the topic). */
    private static List<Rec> parse(List<TopicRecord> raw, AtomicInteger unreadable) {
        List<Rec> out = new ArrayList<>(raw.size());
        for (TopicRecord r : raw) {
            if (r.value() == null || r.key() == null) {
                unreadable.incrementAndGet();
                continue;
            }
            try {
                out.add(new Rec(JsonReader.object(r.value()), r));
            } catch (IllegalArgumentException e) {
                unreadable.incrementAndGet();
            }
        }
        return out;
    }

    private static boolean hostMatches(Rec r, String host) {
        return host == null || host.equals(r.host()) || host.equals(r.str("host.name"));
    }

    private static int history(Opts o, Common c, PrintStream out, PrintStream err) throws UsageException, IOException {
        long now = System.currentTimeMillis();
        long since = HistoryCommand.when("--since", o.get("since") == null ? "1h" : o.get("since"), now);
        long until = o.get("until") == null ? Long.MAX_VALUE : HistoryCommand.when("--until", o.get("until"), now);
        int limit = o.intValue("limit", 1000, 1, Integer.MAX_VALUE);
        String host = o.get("host");
        String name = o.get("name");
        AtomicBoolean overflow = new AtomicBoolean();
        List<TopicRecord> raw = FleetConsumer.window(c.bootstrap(), c.client(), c.topic(), since, c.timeout(), MAX_READ,
                () -> overflow.set(true));
        AtomicInteger unreadable = new AtomicInteger();
        Map<String, Rec> folded = new LinkedHashMap<>();
        int duplicates = 0;
        for (Rec r : parse(raw, unreadable)) {
            if (!hostMatches(r, host)) {
                continue;
            }
            long t = r.isExit() ? r.time("process.exit.time") : r.time("procwatch.time");
            if (t < since || t > until) {
                continue;
            }
            if (r.isExit()) {
                if ((name != null && !name.equals(r.str("process.executable.name"))) || (o.has("failed") && !r.failed())) {
                    continue;
                }
            } else if (!r.event().equals("loss")) {
                continue;
            }
            Rec had = folded.putIfAbsent(r.foldKey(), r);
            if (had != null) {
                duplicates++;
                if (r.f().size() > had.f().size()) {
                    folded.put(r.foldKey(), r); // the copy that carries more (taskstats joined later)
                }
            }
        }
        List<Rec> losses = new ArrayList<>();
        List<Rec> exits = new ArrayList<>();
        for (Rec r : folded.values()) {
            (r.isExit() ? exits : losses).add(r);
        }
        Comparator<Rec> byTime = Comparator.<Rec>comparingLong(r -> r.time("process.exit.time"))
                .thenComparing(Rec::host).thenComparingLong(r -> r.num("procwatch.seq", 0));
        exits.sort(byTime);
        if (exits.size() > limit) {
            exits = exits.subList(exits.size() - limit, exits.size());
        }
        if (overflow.get()) {
            err.println("procwatch fleet: the window holds more than " + MAX_READ + " records; read the first "
                    + MAX_READ + " (narrow it with --since/--until)");
        }
        if (unreadable.get() > 0) {
            err.println("procwatch fleet: " + unreadable.get() + " records in the topic were not procwatch JSON; left out");
        }
        if (o.has("json")) {
            List<Object> list = new ArrayList<>();
            for (Rec r : losses) {
                list.add(r.f());
            }
            for (Rec r : exits) {
                list.add(r.f());
            }
            out.println(Json.value(list));
            return 0;
        }
        for (Rec r : losses) {
            out.printf(Locale.ROOT, "-- %s: %d records lost before Kafka had them (%s, seq %d..%d) --%n", r.host(),
                    r.num("procwatch.loss.count", -1), r.str("procwatch.loss.kind"), r.num("procwatch.loss.from_seq", -1),
                    r.num("procwatch.loss.to_seq", -1));
        }
        int hw = 4;
        for (Rec r : exits) {
            hw = Math.min(24, Math.max(hw, r.host().length()));
        }
        String fmt = "%-" + hw + "s %-19s %7s %7s %6s %-16s %9s %8s %8s %s%n";
        out.printf(Locale.ROOT, fmt, "HOST", "END", "PID", "PPID", "USER", "STATUS", "LIFETIME", "CPU", "MAXRSS",
                "COMMAND");
        for (Rec r : exits) {
            long cpu = r.num("procwatch.cpu.user_us", -1);
            long rss = r.num("procwatch.memory.hiwater_rss_kib", -1);
            List<String> argv = r.argv();
            String cmd = argv.isEmpty() ? "[" + r.str("process.executable.name") + "]" : String.join(" ", argv);
            String h = r.host().length() > hw ? r.host().substring(0, hw - 1) + "+" : r.host();
            out.printf(Locale.ROOT, fmt, Printable.text(h), Times.ISO.format(Times.at(r.time("process.exit.time"))),
                    r.num("process.pid", -1), r.num("process.parent_pid", -1), r.num("process.user.id", -1), r.status(),
                    Times.duration(Math.max(0, r.num("procwatch.lifetime_ms", 0))),
                    cpu < 0 ? "-" : Times.duration((cpu + r.num("procwatch.cpu.system_us", 0)) / 1000),
                    rss < 0 ? "-" : HistoryCommand.human(rss), Printable.args(cmd));
        }
        if (duplicates > 0 && !o.has("json")) {
            err.println("procwatch fleet: " + duplicates + " re-sent copies folded");
        }
        return 0;
    }

    private static int events(Opts o, Common c, PrintStream out, PrintStream err) throws UsageException, IOException {
        Set<String> types = o.get("type") == null ? null : Set.of(o.get("type").split(","));
        long count = o.longValue("count", Long.MAX_VALUE, 1, Long.MAX_VALUE);
        String host = o.get("host");
        String name = o.get("name");
        boolean json = o.has("json");
        AtomicBoolean stop = new AtomicBoolean();
        long[] n = {0};
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop.set(true)));
        FleetConsumer.tail(c.bootstrap(), c.client(), c.topic(), o.get("group"), c.timeout(),
                () -> err.println("procwatch fleet: following " + c.topic() + " at " + c.bootstrap()), tr -> {
                    Rec r;
                    try {
                        r = new Rec(JsonReader.object(tr.value() == null ? "" : tr.value()), tr);
                    } catch (IllegalArgumentException e) {
                        return;
                    }
                    String ev = r.event().equals("exit_unobserved") ? "exit" : r.event();
                    if (!hostMatches(r, host) || (types != null && !types.contains(ev))
                            || (name != null && !name.equals(r.str("process.executable.name")))
                            || (o.has("failed") && !(r.isExit() && r.failed()))) {
                        return;
                    }
                    if (json) {
                        out.println(tr.value());
                    } else {
                        out.println(line(r));
                    }
                    out.flush();
                    if (++n[0] >= count) {
                        stop.set(true);
                    }
                }, () -> stop.get() || main.isInterrupted());
        return 0;
    }

    private static String line(Rec r) {
        String t = Times.CLOCK_MS.format(Times.at(Math.max(0, r.time("procwatch.time"))));
        if (r.event().equals("loss")) {
            return String.format(Locale.ROOT, "%s %-16s %-11s %d records lost (%s)", t, Printable.text(r.host()), "loss",
                    r.num("procwatch.loss.count", -1), r.str("procwatch.loss.kind"));
        }
        List<String> argv = r.argv();
        String cmd = argv.isEmpty() ? "[" + r.str("process.executable.name") + "]" : String.join(" ", argv);
        String detail = r.isExit() ? r.status() + " after " + Times.duration(Math.max(0, r.num("procwatch.lifetime_ms", 0)))
                : "";
        return String.format(Locale.ROOT, "%s %-16s %-11s %7d %7d %6d %-26s %s", t, Printable.text(r.host()), r.event(),
                r.num("process.pid", -1), r.num("process.parent_pid", -1), r.num("process.user.id", -1), detail,
                Printable.args(cmd));
    }

    private static int hosts(Opts o, Common c, PrintStream out, PrintStream err) throws UsageException, IOException {
        long now = System.currentTimeMillis();
        long since = HistoryCommand.when("--since", o.get("since") == null ? "1h" : o.get("since"), now);
        AtomicBoolean overflow = new AtomicBoolean();
        List<TopicRecord> raw = FleetConsumer.window(c.bootstrap(), c.client(), c.topic(), since, c.timeout(), MAX_READ,
                () -> overflow.set(true));
        AtomicInteger unreadable = new AtomicInteger();
        // host -> {records, exits, losses (counted records), last event ms, last record's broker ms}
        Map<String, long[]> by = new TreeMap<>();
        Map<String, String> names = new TreeMap<>();
        for (Rec r : parse(raw, unreadable)) {
            long[] v = by.computeIfAbsent(r.host(), k -> new long[] {0, 0, 0, -1, -1});
            names.putIfAbsent(r.host(), r.str("host.name"));
            v[0]++;
            if (r.isExit()) {
                v[1]++;
            } else if (r.event().equals("loss")) {
                v[2] += Math.max(0, r.num("procwatch.loss.count", 0));
            }
            if (r.at().timestampMs() >= v[4]) {
                v[4] = r.at().timestampMs();
                v[3] = r.time("procwatch.time");
            }
        }
        if (o.has("json")) {
            List<Object> list = new ArrayList<>();
            by.forEach((h, v) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("host.id", h);
                m.put("host.name", names.get(h));
                m.put("records", v[0]);
                m.put("exits", v[1]);
                m.put("lost", v[2]);
                m.put("last_record_ms", v[4]);
                m.put("lag_ms", v[3] < 0 ? null : Math.max(0, v[4] - v[3]));
                list.add(m);
            });
            out.println(Json.value(list));
            return 0;
        }
        out.printf(Locale.ROOT, "%-24s %-16s %9s %9s %7s %-19s %8s%n", "HOST", "NAME", "RECORDS", "EXITS", "LOST",
                "LAST RECORD", "LAG");
        by.forEach((h, v) -> out.printf(Locale.ROOT, "%-24s %-16s %9d %9d %7d %-19s %8s%n", Printable.text(h),
                Printable.text(String.valueOf(names.get(h))), v[0], v[1], v[2], Times.ISO.format(Times.at(v[4])),
                v[3] < 0 ? "-" : Times.duration(Math.max(0, v[4] - v[3]))));
        if (unreadable.get() > 0) {
            err.println("procwatch fleet: " + unreadable.get() + " records in the topic were not procwatch JSON; left out");
        }
        return 0;
    }
}
