package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.WaitStatus;
import io.procwatch.protocol.Selector;

import java.io.IOException;
import java.io.PrintStream;
import java.time.LocalDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Set;

/** {@code procwatch history}: processes that exited, with how and what they used. */
final class HistoryCommand {
    static final String HELP = """
            Usage: procwatch history [options]
            Exited processes, oldest first: end time, pid, parent, user, exit status or signal,
            lifetime, CPU time, peak memory, command. Exits the daemon did not see (events were
            lost) show as 'unobserved'.

              --since WHEN    e.g. 10m, 2h, 1d, "2026-11-24 10:00", @1764670000 (epoch seconds,
                              as journalctl takes them), or epoch milliseconds
              --until WHEN    same forms
              --user USER     --name COMM    --pid PID    --match TEXT
              --cgroup PATH   exited in this cgroup or below (a path from /, as /proc/PID/cgroup
                              shows it)   --container ID   --unit NAME   (comma-separated lists)
              --failed        non-zero exit code or killed by a signal
              --limit N       at most N entries, the most recent (default 1000)
              --sort KEY      end (default), start, pid, lifetime, cpu, rss, status; -KEY reverses
              --json          JSON array
            Examples:
              procwatch history --failed --since 1h
              procwatch history --name cc1 --sort -cpu --limit 20
            """;

    private HistoryCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket", "since", "until", "user", "name", "pid", "match", "limit",
                    "sort", "cgroup", "container", "unit"), Set.of("failed", "json", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (!o.positional.isEmpty()) {
                throw new UsageException("unexpected argument " + o.positional.getFirst());
            }
            long now = System.currentTimeMillis();
            long since = o.get("since") == null ? 0 : when("--since", o.get("since"), now);
            long until = o.get("until") == null ? Long.MAX_VALUE : when("--until", o.get("until"), now);
            Selector sel = Selector.all();
            if (o.get("pid") != null) {
                sel = sel.withPids(List.of(Opts.pid("--pid", o.get("pid"))));
            }
            sel = o.narrow(sel);
            CgroupFilter member = new CgroupFilter();
            for (String kind : List.of("cgroup", "container", "unit")) {
                if (o.get(kind) != null) {
                    member.add(kind, o.get(kind));
                }
            }
            // the daemon selects by the cgroup each entry exited in (CgroupMatch, the rule ps uses)
            sel = sel.withMember(member.membership());
            int limit = o.intValue("limit", 1000, 1, Integer.MAX_VALUE);
            Comparator<ProcRow> order = order(o.get("sort"));
            List<ProcRow> rows;
            List<ProcwatchClient.Gap> gaps;
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                ProcwatchClient.Listing l = c.history(sel, since, until, limit, o.has("failed"));
                rows = new ArrayList<>(l.rows());
                gaps = l.gaps();
            }
            if (member.active()) {
                // the same rule here: a daemon older than the history's cgroup skips the selector
                rows.removeIf(r -> !member.matches(r));
            }
            if (order != null) {
                rows.sort(order);
            }
            if (o.has("json")) {
                List<Object> list = new ArrayList<>();
                for (ProcwatchClient.Gap g : gaps) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("gap", true);
                    m.put("from_ms", g.fromMs());
                    m.put("until_ms", g.untilMs());
                    m.put("clean_stop", g.cleanStop());
                    list.add(m);
                }
                for (ProcRow r : rows) {
                    list.add(EventFormat.json(r));
                }
                out.println(Json.value(list));
                return 0;
            }
            // Times no daemon watched are said first: exits then are missing, not absent.
            for (ProcwatchClient.Gap g : gaps) {
                out.printf(Locale.ROOT, "-- %s .. %s: no daemon was running (%s); exits in this time are not known --%n",
                        Times.ISO.format(Times.at(g.fromMs())), Times.ISO.format(Times.at(g.untilMs())),
                        g.cleanStop() ? "it was stopped" : "it ended without stopping: killed or crashed");
            }
            out.printf(Locale.ROOT, "%-19s %7s %7s %-8s %-16s %9s %8s %8s %s%n", "END", "PID", "PPID", "USER",
                    "STATUS", "LIFETIME", "CPU", "MAXRSS", "COMMAND");
            for (ProcRow r : rows) {
                String user = Names.user(r.euid);
                out.printf(Locale.ROOT, "%-19s %7d %7d %-8s %-16s %9s %8s %8s %s%n",
                        Times.ISO.format(Times.at(r.endMs)), r.pid, r.ppid,
                        user.length() > 8 ? user.substring(0, 7) + "+" : user, EventFormat.status(r),
                        Times.duration(r.endMs - r.startMs),
                        r.tsUtimeUs < 0 ? "-" : Times.duration((r.tsUtimeUs + r.tsStimeUs) / 1000),
                        r.tsMaxRssKiB < 0 ? "-" : human(r.tsMaxRssKiB), Printable.args(r.args()));
            }
            return 0;
        } catch (UsageException e) {
            err.println("procwatch history: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch history: " + e.getMessage());
            return 1;
        }
    }

    static String human(long kib) {
        if (kib < 1024) {
            return kib + "K";
        }
        if (kib < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1fM", kib / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1fG", kib / 1048576.0);
    }

    private static Comparator<ProcRow> order(String key) throws UsageException {
        if (key == null) {
            return null;
        }
        boolean desc = key.startsWith("-");
        String k = desc || key.startsWith("+") ? key.substring(1) : key;
        Comparator<ProcRow> c = switch (k) {
            case "end" -> Comparator.comparingLong(r -> r.endMs);
            case "start" -> Comparator.comparingLong(r -> r.startMs);
            case "pid" -> Comparator.comparingInt(r -> r.pid);
            case "lifetime" -> Comparator.comparingLong(r -> r.endMs - r.startMs);
            case "cpu" -> Comparator.comparingLong(r -> r.tsUtimeUs + r.tsStimeUs);
            case "rss" -> Comparator.comparingLong(r -> r.tsMaxRssKiB);
            case "status" -> Comparator.comparingInt(r -> r.status < 0 ? Integer.MAX_VALUE
                    : new WaitStatus(r.status).shellStatus());
            default -> throw new UsageException("unknown sort key '" + k
                    + "' (end, start, pid, lifetime, cpu, rss, status)");
        };
        return desc ? c.reversed() : c;
    }

    /** The latest time accepted: 9999-12-31 23:59:59.999 UTC, in epoch ms. */
    static final long MAX_EPOCH_MS = 253_402_300_799_999L;

    static long when(String s, long now) throws UsageException {
        return when("time", s, now);
    }

    /**
     * A time: relative (30s, 10m, 2h, 1d), "yyyy-MM-dd HH:mm[:ss]", {@code @SECONDS} since the epoch
     * (as journalctl takes it, fractions allowed), or epoch milliseconds. The
     * numbers are range-checked: a relative time reaches back at most to 1970, epoch ms up to
     * the year 9999.
     */
    static long when(String opt, String s, long now) throws UsageException {
        String t = s.trim();
        try {
            if (t.matches("\\d+[smhd]")) {
                long unit = switch (t.charAt(t.length() - 1)) {
                    case 's' -> 1000L;
                    case 'm' -> 60_000L;
                    case 'h' -> 3_600_000L;
                    default -> 86_400_000L;
                };
                long n = Opts.number(opt + " (" + t.charAt(t.length() - 1) + " ago)",
                        t.substring(0, t.length() - 1), 0, now / unit);
                return now - n * unit;
            }
            if (t.matches("@\\d{1,12}(\\.\\d{1,3})?")) {
                String[] parts = t.substring(1).split("\\.");
                long secs = Opts.number(opt + " (@epoch seconds)", parts[0], 0, MAX_EPOCH_MS / 1000);
                long ms = parts.length == 1 ? 0 : Long.parseLong((parts[1] + "00").substring(0, 3));
                return secs * 1000 + ms;
            }
            if (t.matches("\\d{10,}")) {
                return Opts.number(opt + " (epoch ms)", t, 0, MAX_EPOCH_MS);
            }
            String iso = t.replace(' ', 'T');
            if (iso.length() == 16) {
                iso += ":00";
            }
            return LocalDateTime.parse(iso).atZone(Invocation.current().zone()).toInstant().toEpochMilli();
        } catch (NumberFormatException | DateTimeParseException e) {
            throw new UsageException("cannot read the time '" + s + "' (use 10m, 2h, 1d, \"2026-11-24 10:00\", @EPOCH seconds or epoch ms)");
        }
    }
}
