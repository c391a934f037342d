package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code procwatch top}: top's screen fed by the daemon. Interactive on a terminal (see
 * {@link TopTerminal}), or top's batch mode ({@code -b -n N -d SECS}) for scripts and logs.
 */
final class TopCommand {
    static final String HELP = """
            Usage: procwatch top [options]
            A live view of processes, like top, fed by the daemon instead of a /proc scan, with event
            rates and the processes that started and ended between two refreshes.

              -b              batch mode: print each refresh as text (no terminal control)
              -n N            stop after N refreshes (default: forever; batch with --json: 1)
              -d SECS         seconds between refreshes (default 3; fractions allowed)
              -p PID[,PID]    only these processes (repeatable)
              -u USER         only processes of this user (name or uid)
              -o FIELD        sort by a column: PID USER PR NI VIRT RES S %CPU %MEM TIME+ COMMAND
                              (prefix - for lowest first)
              -H              one row per thread
              -c              full command lines instead of names
              -w [COLS]       batch output width (default: unlimited)
              --group BY      fold rows into groups: cgroup, unit (systemd) or container, with
                              summed %CPU, RES, tasks and processes and, on cgroup v2, the group's
                              own cpu.stat usage (CG%CPU, CGTIME+), memory.current (CGMEM) and PSI
                              avg10 (PSICPU PSIMEM PSIIO, "some"); - where a file cannot be read.
                              -o also takes PROCS TASKS CG%CPU CGTIME+ CGMEM PSICPU PSIMEM PSIIO GROUP
              --cgroup PATH   only processes in this cgroup or below it (as /proc/PID/cgroup shows it)
              --container ID  only processes in a container (id prefix, docker:0123456789ab, lxc name)
              --unit NAME     only processes in a systemd unit or user unit
              --ns TYPE:INODE only processes in a namespace (net:4026531840; yours, or all as root)
              --json          batch mode, one JSON object per refresh
              --socket PATH   daemon socket
              --replay FROM   the past, from the daemon's journal (FROM as ps --at takes it), from FROM
              --until TO      to TO (default now); keys t / T one interval (-d) on / back, g go to a time

            Keys (interactive): P M T N sort by %CPU, %MEM, TIME+, PID; < > move the sort column;
              R reverse; u user filter; o or / text filter (text, or COLUMN=text, COLUMN>n, COLUMN<n);
              = clear filters; V tree; H threads; c command lines; k kill; r renice; d delay;
              g group view: cycles cgroup, unit, container, off (sort keys sort the groups);
              arrows and PgUp/PgDn scroll; space refresh; h help; q quit.

            Examples:
              sudo procwatch top
              procwatch top -b -n 2 -d 0.5 -o %MEM
              procwatch top -b -n 1 -u www-data -c
              procwatch top --json -n 1 -p 1
              procwatch top -b -n 1 --group unit -o RES
              procwatch top -b -n 1 --group container --cgroup /kubepods.slice
            """;

    /** Command-line choices: what to show and how often. */
    record Options(TopView view, boolean batch, boolean json, int iterations, long delayMs, int width,
                   String socket) {
    }

    private TopCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Options o;
        TopReplay.Args replay;
        try {
            replay = TopReplay.Args.strip(args, System.currentTimeMillis());
            o = parse(replay == null ? args : replay.rest());
            if (replay != null && o != null && !o.view().namespaces.isEmpty()) {
                throw new UsageException("--ns with --replay: namespaces are not journaled");
            }
        } catch (UsageException e) {
            err.println("procwatch top: " + e.getMessage());
            err.println("Try 'procwatch top --help'.");
            return 2;
        }
        if (o == null) {
            out.print(HELP);
            return 0;
        }
        Path socket = ProcwatchClient.socketPath(o.socket());
        try {
            // connecting starts the daemon for root if none runs; the connection serves the snapshots
            if (replay != null) {
                return TopReplay.run(replay, o, socket, out, err);
            }
            try (TopModel model = new TopModel(DaemonLink.connect(socket, true, err), socket, o.view().selector())) {
                if (o.batch()) {
                    return batch(model, o, out);
                }
                return TopTerminal.run(model, o, out, err);
            }
        } catch (IOException e) {
            err.println("procwatch top: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    static Options parse(List<String> args) throws UsageException {
        TopView view = new TopView();
        boolean batch = false;
        boolean json = false;
        int iterations = -1;
        long delayMs = 3000;
        int width = 0;
        String socket = null;
        List<Integer> pids = new ArrayList<>();
        CgroupFilter member = new CgroupFilter();
        String groupSort = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--help") || a.equals("-h")) {
                return null;
            }
            String longName = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (List.of("--group", "--cgroup", "--container", "--unit", "--ns").contains(longName)) {
                String v = a.contains("=") ? a.substring(a.indexOf('=') + 1) : value(args, ++i, a);
                if (longName.equals("--group")) {
                    view.groupBy = io.procwatch.cgroup.CgroupGroups.By.parse(v);
                    if (view.groupBy == null) {
                        throw new UsageException("--group takes cgroup, unit or container, not '" + v + "'");
                    }
                } else {
                    member.add(longName.substring(2), v);
                }
                continue;
            }
            if (a.equals("--json")) {
                json = true;
                batch = true;
                continue;
            }
            if (a.equals("--socket") || a.startsWith("--socket=")) {
                socket = a.contains("=") ? a.substring(9) : value(args, ++i, a);
                continue;
            }
            if (!a.startsWith("-") || a.length() < 2) {
                throw new UsageException("unexpected argument '" + a + "'");
            }
            // top packs options: -bn1, -d 0.5, -d0.5
            for (int k = 1; k < a.length(); k++) {
                char c = a.charAt(k);
                String inline = a.substring(k + 1);
                switch (c) {
                    case 'b' -> batch = true;
                    case 'H' -> view.threads = true;
                    case 'c' -> view.cmdline = true;
                    case 'n', 'd', 'p', 'u', 'U', 'o', 'w' -> {
                        String v;
                        if (!inline.isEmpty()) {
                            v = inline;
                        } else if (c == 'w' && (i + 1 >= args.size() || !args.get(i + 1).matches("\\d+"))) {
                            v = "512";
                        } else {
                            v = value(args, ++i, "-" + c);
                        }
                        switch (c) {
                            case 'n' -> iterations = positive(v, "-n");
                            case 'd' -> delayMs = delay(v);
                            case 'p' -> {
                                for (String p : v.split(",")) {
                                    pids.add(Opts.pid("-p", p.trim()));
                                }
                            }
                            case 'u', 'U' -> {
                                int uid = Opts.uid("-" + c, v);
                                view.uid = uid;
                                view.userText = v;
                            }
                            case 'o' -> {
                                if (TopGroups.isGroupColumn(v.replaceFirst("^[-+]", ""))) {
                                    groupSort = v; // checked once --group is known
                                } else {
                                    sortColumn(view, v);
                                }
                            }
                            case 'w' -> width = positive(v, "-w");
                            default -> throw new IllegalStateException();
                        }
                        k = a.length(); // the rest of this word was the value
                    }
                    default -> throw new UsageException("unknown option -" + c);
                }
            }
        }
        view.pids = List.copyOf(pids);
        view.member = member.membership();
        view.namespaces = member.namespaces();
        if (groupSort != null) {
            if (view.groupBy == null) {
                throw new UsageException("-o " + groupSort + " sorts the group view: add --group cgroup|unit|container");
            }
            view.ascending = groupSort.startsWith("-");
            view.sortColumn = groupSort.replaceFirst("^[-+]", "").toUpperCase(Locale.ROOT);
        }
        if (view.groupBy != null && view.threads) {
            throw new UsageException("-H (threads) and --group do not mix: a group counts its processes' threads (TASKS)");
        }
        if (json && iterations < 0) {
            iterations = 1;
        }
        return new Options(view, batch, json, iterations, delayMs, width, socket);
    }

    private static String value(List<String> args, int i, String opt) throws UsageException {
        if (i >= args.size()) {
            throw new UsageException(opt + " needs a value");
        }
        return args.get(i);
    }

    private static int positive(String v, String opt) throws UsageException {
        return (int) Opts.number(opt, v, 1, Integer.MAX_VALUE);
    }

    static long delay(String v) throws UsageException {
        try {
            double s = Double.parseDouble(v);
            if (s >= 0.1 && s <= 86400) {
                return Math.round(s * 1000);
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException("-d wants seconds between 0.1 and 86400, not '" + v + "'");
    }

    static void sortColumn(TopView view, String v) throws UsageException {
        boolean ascending = v.startsWith("-");
        String name = v.startsWith("-") || v.startsWith("+") ? v.substring(1) : v;
        if (TopView.field(name, false, false) == null) {
            throw new UsageException("unknown sort column '" + name + "'; one of " + String.join(" ",
                    TopView.COLUMNS.keySet()));
        }
        view.sortColumn = name.toUpperCase(Locale.ROOT);
        view.ascending = ascending;
    }

    /**
     * Batch mode: each refresh printed in full. The first refresh has no interval to measure %CPU
     * and event rates over, so a short first interval precedes it, as top does.
     */
    static int batch(TopModel model, Options o, PrintStream out) throws IOException, InterruptedException {
        TopView v = o.view();
        TopGroups grouping = v.groupBy == null ? null : new TopGroups(v.groupBy);
        TopModel.Frame first = model.refresh(v.selector(), v.threads, v.cmdline, grouping != null);
        if (grouping != null) { // the groups' cpu.stat now too, so the first frame has CG%CPU
            grouping.fold(v.arrange(first.rows(), Fields.Ctx.current()), v.sortColumn, v.ascending);
        }
        Thread.sleep(Math.min(o.delayMs(), 300)); // as the interactive screen does
        LineCache lines = new LineCache();
        for (int n = 0; o.iterations() < 0 || n < o.iterations(); n++) {
            if (n > 0) {
                Thread.sleep(o.delayMs());
            }
            TopModel.Frame f = model.refresh(v.selector(), v.threads, v.cmdline, grouping != null);
            Fields.Ctx ctx = Fields.Ctx.current();
            List<TopView.Row> rows = v.arrange(f.rows(), ctx);
            List<Columns.Col> cols = v.columns();
            List<TopGroups.Group> groups = grouping == null ? null : grouping.fold(rows, v.sortColumn, v.ascending);
            if (o.json()) {
                List<Field> fields = new ArrayList<>();
                for (Columns.Col c : cols) {
                    fields.add(c.field());
                }
                Map<String, Object> frame = TopScreen.json(f, rows, fields, ctx);
                if (groups != null) {
                    frame.put("group_by", grouping.by().label());
                    List<Map<String, Object>> g = new ArrayList<>(groups.size());
                    for (TopGroups.Group one : groups) {
                        g.add(TopGroups.json(one));
                    }
                    frame.put("groups", g);
                }
                out.println(Json.value(frame));
            } else if (groups != null) {
                int width = o.width() > 0 ? o.width() : 0;
                summary(out, f, n, width);
                Columns.print(out, TopGroups.header(), width);
                for (TopGroups.Group g : groups) {
                    Columns.print(out, TopGroups.line(g, model.hz()), width);
                }
            } else {
                int width = o.width() > 0 ? o.width() : 0;
                summary(out, f, n, width);
                Columns.print(out, Columns.header(cols), width);
                lines.begin(cols, ctx);
                for (TopView.Row r : rows) {
                    lines.print(out, r, ctx, width);
                }
                lines.end();
            }
            out.flush();
        }
        return 0;
    }

    /** A batch frame's head: a blank line between frames, the summary lines, a blank line. */
    private static void summary(PrintStream out, TopModel.Frame f, int n, int width) {
        if (n > 0) {
            out.println();
        }
        for (String line : TopScreen.summary(f, width > 0 ? width : Integer.MAX_VALUE, true)) {
            Columns.print(out, line, width);
        }
        out.println();
    }
}
