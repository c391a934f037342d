package io.procwatch.daemon;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.procwatch.cgroup.CgroupPaths;
import io.procwatch.cgroup.Containers;
import io.procwatch.cgroup.SystemdNames;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.table.ProcessInfo;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The daemon's Prometheus metrics. Everything is read when scraped (callbacks over the table and
 * the daemon's counters), so metrics cost nothing between scrapes. Per-name groups are like
 * process-exporter's: live processes counted, CPU and memory summed by command name.
 */
final class Metrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final DaemonContext ctx;
    /** The per-name groups of the scrape in progress: one walk of the table serves three metrics. */
    private Map<String, long[]> groups = Map.of();
    /** Per container and per unit, capped: {count, cpu ticks, rss pages} and how many were folded into "other". */
    private Capped containers = Capped.EMPTY;
    private Capped units = Capped.EMPTY;
    private final int groupCap;

    /** Label value of the series that sums the groups beyond the cap (no container or unit name is "other"). */
    static final String OTHER = "other";

    /** Groups with a series each, in label order, and how many more were summed into {@link #OTHER}. */
    record Capped(Map<String, long[]> series, int folded) {
        static final Capped EMPTY = new Capped(Map.of(), 0);
    }

    Metrics(DaemonContext ctx) {
        this(ctx, Limits.DEFAULT_METRICS_GROUP_CAP);
    }

    Metrics(DaemonContext ctx, int groupCap) {
        this.ctx = ctx;
        this.groupCap = groupCap;
        GaugeWithCallback.builder().name("procwatch_processes").help("Live processes by state")
                .labelNames("state").callback(cb -> {
                    for (var e : ctx.table().countsByState().entrySet()) {
                        cb.call(e.getValue(), String.valueOf(e.getKey()));
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("procwatch_group_processes").help("Live processes by command name")
                .labelNames("name").callback(cb -> groups.forEach((name, g) -> cb.call(g[0], name)))
                .register(registry);
        // A gauge, not a counter: when a process exits its CPU time leaves its name's sum, and a
        // counter that goes down reads to Prometheus as a reset (rate() would count the whole sum
        // again). Keeping exited processes' CPU would need a label per name ever seen: unbounded.
        GaugeWithCallback.builder().name("procwatch_group_cpu_seconds")
                .help("CPU time used so far by the live processes of each command name (falls when one exits)")
                .labelNames("name").callback(cb -> {
                    int hz = SystemInfo.get().clockTicks();
                    groups.forEach((name, g) -> cb.call((double) g[1] / hz, name));
                }).register(registry);
        GaugeWithCallback.builder().name("procwatch_group_resident_bytes")
                .help("Resident memory of the live processes of each command name")
                .labelNames("name").callback(cb -> {
                    long page = SystemInfo.get().pageSize();
                    groups.forEach((name, g) -> cb.call((double) g[2] * page, name));
                }).register(registry);
        capped("container", "containers", () -> containers);
        capped("unit", "units", () -> units);
        CounterWithCallback.builder().name("procwatch_events").help("Kernel process events applied, by type")
                .labelNames("type").callback(cb -> {
                    for (var e : ctx.stats().entrySet()) {
                        if (e.getKey().startsWith("events_")) {
                            cb.call(e.getValue(), e.getKey().substring(7));
                        }
                    }
                }).register(registry);
        // statuses and signals are small integers, so these label sets are bounded by the kernel
        CounterWithCallback.builder().name("procwatch_exits_by_status").help("Exits seen since start, by exit status")
                .labelNames("status").callback(cb -> ctx.table().history().exitCounts().byStatus()
                        .forEach((st, n) -> cb.call(n, String.valueOf(st)))).register(registry);
        CounterWithCallback.builder().name("procwatch_exits_by_signal").help("Exits seen since start, by killing signal")
                .labelNames("signal").callback(cb -> ctx.table().history().exitCounts().bySignal()
                        .forEach((sig, n) -> cb.call(n, String.valueOf(sig)))).register(registry);
        counter(ctx, "procwatch_event_losses", "Times kernel events were lost (buffer overrun or sequence gap)", "losses");
        counter(ctx, "procwatch_events_lost", "Kernel events known to be lost", "lost_events_known");
        counter(ctx, "procwatch_resyncs", "Rescans of /proc after a loss", "resyncs");
        counter(ctx, "procwatch_exits_not_observed", "Processes found gone by a rescan", "exits_not_observed");
        counter(ctx, "procwatch_history_exits", "Exits added to the history", "history_added");
        counter(ctx, "procwatch_history_db_writes", "Exits written to the history database", "history_db_written");
        counter(ctx, "procwatch_history_db_dropped", "Exits the database could not keep up with", "history_db_dropped");
        counter(ctx, "procwatch_history_db_ahead_of_journal", "Exits the history database took before the journal had them (the journal failed or lagged 2 s)", "history_db_ahead_of_journal");
        if (ctx.fleet() != null) {
            gauge(ctx, "procwatch_kafka_lag", "Exits recorded and not yet acknowledged by the Kafka broker", "kafka_lag");
            gauge(ctx, "procwatch_kafka_in_flight", "Records sent to Kafka and awaiting acknowledgement", "kafka_in_flight");
            gauge(ctx, "procwatch_kafka_acked_seq", "Last sequence the Kafka broker acknowledged (all before it too)",
                    "kafka_acked_seq");
            counter(ctx, "procwatch_kafka_sent", "Records handed to the Kafka producer (re-sends included)", "kafka_sent");
            counter(ctx, "procwatch_kafka_send_errors", "Kafka sends or producers that failed (then re-sent)",
                    "kafka_send_errors");
            counter(ctx, "procwatch_kafka_lost_to_retention", "Records dropped by retention before Kafka had them",
                    "kafka_lost_to_retention");
        }
        counter(ctx, "procwatch_requests", "Client requests", "requests");
        gauge(ctx, "procwatch_clients", "Connected clients", "clients");
        gauge(ctx, "procwatch_subscribers", "Clients streaming events", "subscribers");
        counter(ctx, "procwatch_sampler_stat_reads", "/proc/PID/stat files read by full sampling passes", "sampler_stat_reads");
        counter(ctx, "procwatch_sampler_stat_skips", "Stat reads left out because the task scan showed no change",
                "sampler_stat_skips");
        gauge(ctx, "procwatch_sampler_task_scan", "1 if the BPF task scan finds changed processes, 0 if every stat file is read",
                "sampler_task_scan");
        gauge(ctx, "procwatch_sampler_last_pass_seconds", "Duration of the last /proc sampling pass", "sampler_last_pass_us",
                1e-6);
    }

    /**
     * procwatch_KIND_processes, _cpu_seconds (a gauge, for the reason the per-name one is) and
     * _resident_bytes by KIND, and procwatch_KINDS_folded: how many groups the cap summed into
     * the "other" series.
     */
    private void capped(String kind, String plural, java.util.function.Supplier<Capped> now) {
        String what = kind.equals("container") ? "container (from its cgroup path: docs/containers.md)" : "systemd unit";
        GaugeWithCallback.builder().name("procwatch_" + kind + "_processes").help("Live processes by " + what)
                .labelNames(kind).callback(cb -> now.get().series().forEach((n, g) -> cb.call(g[0], n)))
                .register(registry);
        GaugeWithCallback.builder().name("procwatch_" + kind + "_cpu_seconds")
                .help("CPU time used so far by the live processes of each " + kind + " (falls when one exits)")
                .labelNames(kind).callback(cb -> {
                    int hz = SystemInfo.get().clockTicks();
                    now.get().series().forEach((n, g) -> cb.call((double) g[1] / hz, n));
                }).register(registry);
        GaugeWithCallback.builder().name("procwatch_" + kind + "_resident_bytes")
                .help("Resident memory of the live processes of each " + kind)
                .labelNames(kind).callback(cb -> {
                    long page = SystemInfo.get().pageSize();
                    now.get().series().forEach((n, g) -> cb.call((double) g[2] * page, n));
                }).register(registry);
        GaugeWithCallback.builder().name("procwatch_" + plural + "_folded")
                .help("The " + plural + " beyond --metrics-group-cap, summed into the " + kind + "=\"other\" series")
                .callback(cb -> cb.call(now.get().folded())).register(registry);
    }

    /**
     * The cap: the groups with the most processes (then the most CPU, then by name, so the choice
     * is stable between scrapes) keep a series each; the rest are summed into "other".
     */
    static Capped cap(Map<String, long[]> all, int cap) {
        if (all.size() <= cap) {
            return new Capped(new java.util.TreeMap<>(all), 0);
        }
        List<Map.Entry<String, long[]>> order = new ArrayList<>(all.entrySet());
        order.sort(Comparator.<Map.Entry<String, long[]>>comparingLong(e -> -e.getValue()[0])
                .thenComparingLong(e -> -e.getValue()[1]).thenComparing(Map.Entry::getKey));
        Map<String, long[]> kept = new java.util.TreeMap<>();
        long[] other = new long[3];
        for (int i = 0; i < order.size(); i++) {
            long[] v = order.get(i).getValue();
            if (i < cap) {
                kept.put(order.get(i).getKey(), v);
            } else {
                for (int k = 0; k < 3; k++) {
                    other[k] += v[k];
                }
            }
        }
        kept.put(OTHER, other);
        return new Capped(kept, order.size() - cap);
    }

    private void counter(DaemonContext ctx, String name, String help, String stat) {
        CounterWithCallback.builder().name(name).help(help)
                .callback(cb -> cb.call(ctx.stats().getOrDefault(stat, 0L))).register(registry);
    }

    private void gauge(DaemonContext ctx, String name, String help, String stat) {
        gauge(ctx, name, help, stat, 1);
    }

    private void gauge(DaemonContext ctx, String name, String help, String stat, double scale) {
        GaugeWithCallback.builder().name(name).help(help)
                .callback(cb -> cb.call(ctx.stats().getOrDefault(stat, 0L) * scale)).register(registry);
    }

    /** name -> {count, cpu ticks, rss pages} over the live table. */
    private static Map<String, long[]> groups(DaemonContext ctx) {
        Map<String, long[]> g = new HashMap<>();
        for (ProcessInfo p : ctx.table().all()) {
            long[] v = g.computeIfAbsent(p.comm().isEmpty() ? "?" : p.comm(), k -> new long[3]);
            v[0]++;
            v[1] += p.utime() + p.stime();
            v[2] += p.rss();
        }
        return g;
    }

    /**
     * Containers and units of the live processes, from the cgroup their rows hold, named as the
     * container and unit columns name them. Nothing is read per process: no event reports a move,
     * but the sampler follows moves (the task scan's cgroup id, see table.Sampler), and
     * {@link #write} has just asked it for a pass at most a few seconds old, so a process counts
     * where it was at that pass. Reading /proc/PID/cgroup for every process at every scrape made
     * one take ~0.3 s at 10,000 processes (docs/benchmarks.md). Processes in no container (the
     * host's) and in no unit are in neither family; a row whose cgroup is not known (its file
     * could not be read when it was loaded) is left out.
     */
    private void cgroupGroups(DaemonContext ctx) {
        Map<String, long[]> byContainer = new HashMap<>();
        Map<String, long[]> byUnit = new HashMap<>();
        // many processes share a membership (and rows made by a fork share its string): its names
        // are worked out once per scrape
        Map<String, String[]> named = new HashMap<>();
        for (ProcessInfo p : ctx.table().all()) {
            String joined = p.cgroup();
            if (joined == null) {
                continue;
            }
            String[] names = named.computeIfAbsent(joined, j -> {
                List<String> lines = CgroupPaths.lines(j);
                Containers.Container c = Containers.of(lines);
                return new String[] {c == null ? null : c.shortName(), SystemdNames.unit(CgroupPaths.systemdPath(lines))};
            });
            if (names[0] != null) {
                add(byContainer, names[0], p);
            }
            if (names[1] != null) {
                add(byUnit, names[1], p);
            }
        }
        containers = cap(byContainer, groupCap);
        units = cap(byUnit, groupCap);
    }

    private static void add(Map<String, long[]> m, String name, ProcessInfo p) {
        long[] v = m.computeIfAbsent(name, k -> new long[3]);
        v[0]++;
        v[1] += p.utime() + p.stime();
        v[2] += p.rss();
    }

    String contentType() {
        return writer.getContentType();
    }

    synchronized void write(OutputStream out) throws IOException {
        // states, CPU and memory come from the sampler: at most a few seconds old per scrape
        ctx.sampler().ensureFresh(5_000_000_000L);
        groups = groups(ctx);
        cgroupGroups(ctx);
        writer.write(out, registry.scrape(), EscapingScheme.DEFAULT);
    }
}
