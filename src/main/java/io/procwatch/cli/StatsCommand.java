package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code procwatch stats}: what the daemon knows about itself. */
final class StatsCommand {
    static final String HELP = """
            Usage: procwatch stats [options]
            Daemon uptime, processes by state, events by type (and per second since start), losses
            and resyncs, history, sampler, memory and clients.

              --json    all counters as one JSON object
            """;

    private StatsCommand() {
    }

    /** A counter, or 0 when this daemon does not report it (an older or newer version). */
    private static long v(Map<String, Long> s, String key) {
        return s.getOrDefault(key, 0L);
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket"), Set.of("json", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            Map<String, Long> s;
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), false, err)) {
                s = c.stats();
            }
            if (o.has("json")) {
                out.println(Json.value(s));
                return 0;
            }
            double up = Math.max(1, s.getOrDefault("uptime_ms", 1L)) / 1000.0;
            out.printf(Locale.ROOT, "daemon      pid %d, up %s%n", v(s, "daemon_pid"),
                    Times.duration(s.getOrDefault("uptime_ms", 0L)));
            StringBuilder states = new StringBuilder();
            for (var e : s.entrySet()) {
                if (e.getKey().startsWith("state_")) {
                    states.append(' ').append(e.getKey().substring(6)).append('=').append(e.getValue());
                }
            }
            out.printf(Locale.ROOT, "processes   %d (%s)%n", v(s, "processes"), states.toString().trim());
            out.print("events     ");
            for (String k : List.of("fork", "exec", "exit", "thread_fork", "thread_exit", "id_change", "comm", "other")) {
                long v = s.getOrDefault("events_" + k, 0L);
                out.printf(Locale.ROOT, " %s=%d (%.1f/s)", k, v, v / up);
            }
            out.println();
            out.printf(Locale.ROOT, "losses      %d (known lost events %d), resyncs %d, exits not observed %d%n",
                    v(s, "losses"), v(s, "lost_events_known"), v(s, "resyncs"), v(s, "exits_not_observed"));
            out.printf(Locale.ROOT, "history     %d of %d kept, %d dropped; taskstats %s (%d overruns)%n",
                    v(s, "history_size"), v(s, "history_capacity"), v(s, "history_dropped"),
                    s.getOrDefault("taskstats_ok", 0L) == 1 ? "ok" : "unavailable", v(s, "taskstats_overruns"));
            if (s.containsKey("history_db_written")) {
                out.printf(Locale.ROOT, "history db  %d written, %d queued, %d dropped (disk too slow), %d failures, %d"
                                + " retired%n", v(s, "history_db_written"), v(s, "history_db_queued"),
                        v(s, "history_db_dropped"), v(s, "history_db_failures"), v(s, "history_db_retired"));
            }
            if (s.containsKey("kafka_acked_seq")) {
                out.printf(Locale.ROOT, "kafka       acked seq %d, lag %d, %d in flight, %d sent, %d send errors, %d producer"
                                + " restarts, %d lost to retention%n", v(s, "kafka_acked_seq"), v(s, "kafka_lag"),
                        v(s, "kafka_in_flight"), v(s, "kafka_sent"), v(s, "kafka_send_errors"),
                        v(s, "kafka_producer_restarts"), v(s, "kafka_lost_to_retention"));
            }
            out.printf(Locale.ROOT, "sampler     %d passes, last %d us, %d open stat files; task scan %s, %d stat reads,"
                            + " %d skipped (unchanged), %d scan failures%n", v(s, "sampler_passes"),
                    v(s, "sampler_last_pass_us"), v(s, "sampler_open_fds"),
                    s.getOrDefault("sampler_task_scan", 0L) == 1 ? "on" : "off", v(s, "sampler_stat_reads"),
                    v(s, "sampler_stat_skips"), v(s, "sampler_scan_failures"));
            out.printf(Locale.ROOT, "clients     %d connected (%d subscribed), %d total, %d rejected, %d requests "
                            + "(%d malformed), %d events dropped for slow subscribers%n", v(s, "clients"),
                    v(s, "subscribers"), v(s, "connections_total"), v(s, "connections_rejected"), v(s, "requests"),
                    v(s, "requests_malformed"), v(s, "subscriber_drops"));
            out.printf(Locale.ROOT, "memory      heap %s used of %s%n", HistoryCommand.human(v(s, "heap_used_bytes") / 1024),
                    HistoryCommand.human(v(s, "heap_committed_bytes") / 1024));
            return 0;
        } catch (UsageException e) {
            err.println("procwatch stats: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch stats: " + e.getMessage());
            return 1;
        }
    }
}
