package io.procwatch.cli;

import io.procwatch.client.DaemonUnavailableException;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.json.Json;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * {@code procwatch diff T1 [T2]}: what happened to the process table between two instants
 * (issue #17). Built from three answers the daemon already gives, each through its visibility
 * decision (daemon/Viewer): the table at T1 and at T2 (SNAPSHOT with A_AT_MS, from the journal)
 * and the exits between them (HISTORY), which also holds the lives that began and ended inside
 * the window, seen by neither table. A life is a pid and its start time.
 */
final class DiffCommand {
    static final String HELP = """
            Usage: procwatch diff T1 [T2] [options]
            Processes started, exited and changed between T1 and T2 (default: now), from the daemon's
            journal: each with its pid, parent, user, start (and end), command line, and for a
            process alive at both instants what changed (command line and name after an exec, name
            after a rename, user and group ids, parent). T1 and T2 take the forms of ps --at:
            30s 10m 2h 1d (ago), "yyyy-MM-dd HH:mm[:ss]", @EPOCH[.mmm], epoch ms.

              --json       {from_ms, to_ms, gaps, truncated, processes: [{change, pid, ...}]}
              --limit N    list at most N exits of the window (default 100000)
            CHANGE is started, exited, start+exit (began and ended inside the window) or changed.
            Exit status 1 when an instant lies in a gap of the journal or before its start.
            Examples:
              procwatch diff 10m 5m       procwatch diff @1796268727 @1796268787 --json
            """;

    /** Two start times this close are one life: the table's and the history's are computed apart. */
    private static final long SAME_START_MS = 1000;

    private DiffCommand() {
    }

    /** One life's part in the window. */
    private record Life(String change, ProcRow before, ProcRow after, ProcRow exit, List<String[]> changes) {
        ProcRow last() {
            return exit != null ? exit : after != null ? after : before;
        }

        long when() {
            return switch (change) {
                case "exited" -> exit != null ? exit.endMs : Long.MAX_VALUE;
                case "changed" -> Long.MAX_VALUE;
                default -> last().startMs;
            };
        }
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket", "limit"), Set.of("json", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (o.positional.isEmpty() || o.positional.size() > 2) {
                throw new UsageException("takes one or two instants: T1 [T2] (see --help)");
            }
            long now = System.currentTimeMillis();
            long t1 = HistoryCommand.when("T1", o.positional.get(0), now);
            long t2 = o.positional.size() == 2 ? HistoryCommand.when("T2", o.positional.get(1), now) : now;
            if (t1 > t2) {
                throw new UsageException("T1 is after T2");
            }
            int limit = o.intValue("limit", 100_000, 1, 100_000);
            long groups = Groups.BASE | Groups.CRED | Groups.CMDLINE;
            List<ProcRow> before;
            List<ProcRow> after;
            ProcwatchClient.Listing exits;
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                before = c.at(t1).snapshot(Selector.all(), groups, 0).rows();
                after = c.at(t2).snapshot(Selector.all(), groups, 0).rows();
                c.at(-1);
                exits = c.history(Selector.all(), t1 + 1, t2, limit, false);
            } catch (DaemonUnavailableException e) {
                err.println("procwatch diff: " + e.getMessage());
                return 1;
            }
            List<Life> lives = diff(before, after, exits.rows());
            boolean truncated = exits.rows().size() >= limit;
            if (o.has("json")) {
                out.println(Json.value(json(t1, t2, exits.gaps(), truncated, lives)));
            } else {
                text(out, t1, t2, exits.gaps(), lives);
            }
            if (truncated) {
                err.println("procwatch diff: more than " + limit + " exits in this window: only the newest "
                        + limit + " are listed (narrow the window or raise --limit)");
            }
            return 0;
        } catch (UsageException e) {
            err.println("procwatch diff: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch diff: " + e.getMessage());
            return 1;
        }
    }

    /** Lives by pid, for matching: a pid has few lives in one answer. */
    private static final class ByLife {
        private final Map<Integer, List<ProcRow>> byPid = new HashMap<>();

        void add(ProcRow r) {
            byPid.computeIfAbsent(r.pid, k -> new ArrayList<>(1)).add(r);
        }

        ProcRow find(ProcRow r) {
            for (ProcRow c : byPid.getOrDefault(r.pid, List.of())) {
                if (Math.abs(c.startMs - r.startMs) <= SAME_START_MS) {
                    return c;
                }
            }
            return null;
        }
    }

    static List<Life> diff(List<ProcRow> before, List<ProcRow> after, List<ProcRow> exited) {
        ByLife atT1 = new ByLife();
        before.forEach(atT1::add);
        ByLife atT2 = new ByLife();
        after.forEach(atT2::add);
        ByLife ended = new ByLife();
        exited.forEach(ended::add);
        List<Life> out = new ArrayList<>();
        for (ProcRow x : exited) {
            ProcRow b = atT1.find(x);
            out.add(new Life(b == null ? "start+exit" : "exited", b, atT2.find(x), x, List.of()));
        }
        for (ProcRow a : after) {
            if (ended.find(a) != null) {
                continue; // listed with its exit (a zombie at T2)
            }
            ProcRow b = atT1.find(a);
            if (b == null) {
                out.add(new Life("started", null, a, null, List.of()));
            } else {
                List<String[]> ch = changes(b, a);
                if (!ch.isEmpty()) {
                    out.add(new Life("changed", b, a, null, ch));
                }
            }
        }
        for (ProcRow b : before) {
            // gone by T2 without an exit in the window: it exited while no daemon or journal saw
            // it (a gap), or it was a zombie at T1 already (its exit came earlier: only reaped now)
            if (b.state != 'Z' && atT2.find(b) == null && ended.find(b) == null) {
                out.add(new Life("exited", b, null, null, List.of()));
            }
        }
        out.sort(Comparator.comparingLong(Life::when).thenComparingInt(l -> l.last().pid));
        return out;
    }

    /** What changed of one life from T1 to T2 (fields an event maintains; exe and cgroup are not journaled). */
    private static List<String[]> changes(ProcRow b, ProcRow a) {
        List<String[]> ch = new ArrayList<>();
        if (!Objects.equals(b.comm, a.comm)) {
            ch.add(new String[] {"comm", b.comm, a.comm});
        }
        // a command line the viewer may not see is not compared (both sides must be known)
        if (known(b) && known(a) && !b.argv.equals(a.argv)) {
            ch.add(new String[] {"args", b.args(), a.args()});
        }
        if (b.ppid != a.ppid) {
            ch.add(new String[] {"ppid", Integer.toString(b.ppid), Integer.toString(a.ppid)});
        }
        id(ch, "ruid", b.ruid, a.ruid);
        id(ch, "euid", b.euid, a.euid);
        id(ch, "rgid", b.rgid, a.rgid);
        id(ch, "egid", b.egid, a.egid);
        if (b.state != 'Z' && a.state == 'Z') {
            ch.add(new String[] {"state", String.valueOf(b.state), "Z"});
        }
        return ch;
    }

    private static boolean known(ProcRow r) {
        return r.argv != null && !r.argvUnknown;
    }

    private static void id(List<String[]> ch, String name, int b, int a) {
        if (b != a) {
            ch.add(new String[] {name, Integer.toString(b), Integer.toString(a)});
        }
    }

    private static void text(PrintStream out, long t1, long t2, List<ProcwatchClient.Gap> gaps, List<Life> lives) {
        boolean sameDay = Times.at(t1).toLocalDate().equals(Times.at(t2).toLocalDate());
        java.time.format.DateTimeFormatter f = sameDay ? Times.CLOCK_MS
                : java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS", Locale.ROOT);
        for (ProcwatchClient.Gap g : gaps) {
            out.printf(Locale.ROOT, "-- %s .. %s: no daemon was running; exits in this time are not known --%n",
                    Times.ISO.format(Times.at(g.fromMs())), Times.ISO.format(Times.at(g.untilMs())));
        }
        int w = sameDay ? 12 : 23;
        out.printf(Locale.ROOT, "%-10s %7s %7s %-8s %-" + w + "s %-" + w + "s %-10s %s%n", "CHANGE", "PID", "PPID",
                "USER", "START", "END", "STATUS", "COMMAND");
        for (Life l : lives) {
            ProcRow r = l.last();
            String user = Names.user(r.euid);
            String end = l.exit() != null && l.exit().endMs >= 0 ? f.format(Times.at(l.exit().endMs))
                    : l.change().equals("exited") ? "?" : "-";
            String status = l.exit() != null ? EventFormat.status(l.exit()) : "-";
            out.printf(Locale.ROOT, "%-10s %7d %7d %-8s %-" + w + "s %-" + w + "s %-10s %s%n", l.change(), r.pid,
                    r.ppid, user.length() > 8 ? user.substring(0, 7) + "+" : user,
                    r.startMs < 0 ? "?" : f.format(Times.at(r.startMs)), end, status, Printable.args(r.args()));
            for (String[] c : l.changes()) {
                out.printf(Locale.ROOT, "%10s %s: %s -> %s%n", "", c[0],
                        c[0].equals("args") || c[0].equals("comm") ? Printable.args(String.valueOf(c[1])) : c[1],
                        c[0].equals("args") || c[0].equals("comm") ? Printable.args(String.valueOf(c[2])) : c[2]);
            }
        }
    }

    private static Map<String, Object> json(long t1, long t2, List<ProcwatchClient.Gap> gaps, boolean truncated,
                                            List<Life> lives) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("from_ms", t1);
        m.put("to_ms", t2);
        List<Object> gl = new ArrayList<>();
        for (ProcwatchClient.Gap g : gaps) {
            Map<String, Object> gm = new LinkedHashMap<>();
            gm.put("from_ms", g.fromMs());
            gm.put("until_ms", g.untilMs());
            gm.put("clean_stop", g.cleanStop());
            gl.add(gm);
        }
        m.put("gaps", gl);
        m.put("truncated", truncated);
        List<Object> list = new ArrayList<>();
        for (Life l : lives) {
            ProcRow r = l.last();
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("change", l.change());
            p.put("pid", r.pid);
            p.put("ppid", r.ppid);
            p.put("uid", r.euid);
            p.put("user", Names.user(r.euid));
            p.put("start_ms", r.startMs);
            p.put("end_ms", l.exit() != null && l.exit().endMs >= 0 ? l.exit().endMs : null);
            p.put("status", l.exit() != null ? EventFormat.status(l.exit()) : null);
            p.put("comm", r.comm);
            p.put("argv", known(r) ? r.argv : null); // null: not known, or not the viewer's to see
            p.put("args", r.args());
            if (l.before() != null && l.after() != null) {
                Map<String, Object> ch = new LinkedHashMap<>();
                for (String[] c : l.changes()) {
                    Map<String, Object> v = new LinkedHashMap<>();
                    v.put("from", c[1]);
                    v.put("to", c[2]);
                    ch.put(c[0], v);
                }
                p.put("changes", ch);
            }
            list.add(p);
        }
        m.put("processes", list);
        return m;
    }
}
