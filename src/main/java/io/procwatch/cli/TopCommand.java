package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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
              --json          batch mode, one JSON object per refresh
              --socket PATH   daemon socket
              --replay FROM   the past, from the daemon's journal (FROM as ps --at takes it), from FROM
              --until TO      to TO (default now); keys t / T one interval (-d) on / back, g go to a time

            Keys (interactive): P M T N sort by %CPU, %MEM, TIME+, PID; < > move the sort column;
              R reverse; u user filter; o or / text filter (text, or COLUMN=text, COLUMN>n, COLUMN<n);
              = clear filters; V tree; H threads; c command lines; k kill; r renice; d delay;
              arrows and PgUp/PgDn scroll; space refresh; h help; q quit.

            Examples:
              sudo procwatch top
              procwatch top -b -n 2 -d 0.5 -o %MEM
              procwatch top -b -n 1 -u www-data -c
              procwatch top --json -n 1 -p 1
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
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--help") || a.equals("-h")) {
                return null;
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
                            case 'o' -> sortColumn(view, v);
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
        model.refresh(v.selector(), v.threads, v.cmdline);
        Thread.sleep(Math.min(o.delayMs(), 300)); // as the interactive screen does
        LineCache lines = new LineCache();
        for (int n = 0; o.iterations() < 0 || n < o.iterations(); n++) {
            if (n > 0) {
                Thread.sleep(o.delayMs());
            }
            TopModel.Frame f = model.refresh(v.selector(), v.threads, v.cmdline);
            Fields.Ctx ctx = Fields.Ctx.current();
            List<TopView.Row> rows = v.arrange(f.rows(), ctx);
            List<Columns.Col> cols = v.columns();
            if (o.json()) {
                List<Field> fields = new ArrayList<>();
                for (Columns.Col c : cols) {
                    fields.add(c.field());
                }
                out.println(Json.value(TopScreen.json(f, rows, fields, ctx)));
            } else {
                if (n > 0) {
                    out.println();
                }
                int width = o.width() > 0 ? o.width() : 0;
                for (String line : TopScreen.summary(f, width > 0 ? width : Integer.MAX_VALUE, true)) {
                    Columns.print(out, line, width);
                }
                out.println();
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
}
