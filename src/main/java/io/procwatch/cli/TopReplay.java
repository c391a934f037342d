package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code top --replay FROM [--until TO]}: top's frames made from the daemon's journal instead of
 * the live table (issue #17). A frame at instant T is the table at T (SNAPSHOT with A_AT_MS, the
 * same visibility as ps --at), %CPU from the CPU times at T and one interval (the -d delay)
 * before, and the exits of that interval from the history: the exited strip, exit and start
 * rates. The instant moves only when asked ({@code t}/{@code T} one interval, {@code g} a time),
 * or one interval per frame in batch mode. What the journal does not keep (the machine's load,
 * CPU and memory lines, threads) is not shown.
 */
final class TopReplay implements AutoCloseable {
    /** The --replay/--until words taken out of top's arguments. */
    record Args(long fromMs, long untilMs, List<String> rest) {
        /** null when there is no --replay. */
        static Args strip(List<String> args, long nowMs) throws UsageException {
            String from = null;
            String until = null;
            List<String> rest = new ArrayList<>();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--replay") || a.equals("--until")) {
                    if (i + 1 >= args.size()) {
                        throw new UsageException(a + " needs a time");
                    }
                    if (a.equals("--replay")) {
                        from = args.get(++i);
                    } else {
                        until = args.get(++i);
                    }
                } else {
                    rest.add(a);
                }
            }
            if (from == null) {
                if (until != null) {
                    throw new UsageException("--until goes with --replay FROM");
                }
                return null;
            }
            long f = HistoryCommand.when("--replay", from, nowMs);
            long u = until == null ? nowMs : HistoryCommand.when("--until", until, nowMs);
            if (u < f) {
                throw new UsageException("--until is before --replay");
            }
            return new Args(f, u, List.copyOf(rest));
        }
    }

    /** USER_HZ, as TopModel and Fields.Ctx take it. */
    private static final int HZ = 100;
    private final ProcwatchClient client;
    private final long fromMs;
    private final long untilMs;
    private final long stepMs;
    private final boolean autoStep;
    private long atMs;
    private int refreshes;
    private String problem = "";
    private TopModel.Frame last;

    TopReplay(ProcwatchClient client, Args a, long stepMs, boolean autoStep) {
        this.client = client;
        this.fromMs = a.fromMs();
        this.untilMs = a.untilMs();
        this.stepMs = stepMs;
        this.autoStep = autoStep;
        this.atMs = a.fromMs();
    }

    /** Frames from FROM to TO, one interval apart (batch mode's count). */
    int frames() {
        return (int) Math.min(Integer.MAX_VALUE, (untilMs - fromMs) / stepMs + 1);
    }

    long atMs() {
        return atMs;
    }

    /** Moves the instant by {@code intervals} (negative: back), kept within FROM..TO. */
    void step(int intervals) {
        atMs = Math.max(fromMs, Math.min(untilMs, atMs + intervals * stepMs));
    }

    /** Moves to a time (the forms of ps --at); false with the reason in {@link #status} if not one. */
    boolean go(String when) {
        try {
            long t = HistoryCommand.when("time", when, System.currentTimeMillis());
            atMs = Math.max(fromMs, Math.min(untilMs, t));
            return true;
        } catch (UsageException e) {
            problem = e.getMessage();
            return false;
        }
    }

    /** One line for the screen: the instant shown, the keys, and why the last step showed nothing new. */
    String status() {
        String s = String.format(Locale.ROOT, "Replay %s (%s .. %s)  t/T: %+.1fs/%+.1fs  g: go to",
                Times.CLOCK_MS.format(Times.at(atMs)), Times.ISO.format(Times.at(fromMs)),
                Times.ISO.format(Times.at(untilMs)), stepMs / 1000.0, -stepMs / 1000.0);
        return problem.isEmpty() ? s : s + "  -- " + problem;
    }

    TopModel.Frame refresh(Selector scope, boolean threads, boolean cmdline) throws IOException {
        // batch mode's first refresh only primes (live top measures its first interval with it);
        // a replayed frame has its own interval, so the first frame printed is FROM's too
        if (autoStep && refreshes >= 2) {
            step(1);
        }
        refreshes++;
        problem = threads ? "threads are not journaled: process rows shown" : "";
        long groups = Groups.BASE | Groups.CRED | Groups.STAT | (cmdline ? Groups.CMDLINE : 0);
        List<ProcRow> now;
        try {
            now = client.at(atMs).snapshot(scope, groups, 0).rows();
        } catch (io.procwatch.client.DaemonErrorException e) {
            // an instant in a gap, before the journal: said on the screen, the last frame kept
            problem = e.getMessage();
            if (autoStep || last == null) {
                throw e;
            }
            return last;
        }
        long prevMs = atMs - stepMs;
        List<ProcRow> before = List.of();
        double secs = 0;
        try {
            before = client.at(prevMs).snapshot(scope, Groups.BASE | Groups.STAT, 0).rows();
            secs = stepMs / 1000.0;
        } catch (io.procwatch.client.DaemonErrorException e) {
            // the interval before lies outside the journal: no rates, no %CPU for this frame
        }
        List<ProcRow> exited = List.of();
        if (secs > 0) {
            exited = client.at(-1).history(scope, prevMs + 1, atMs, 10_000, false).rows();
        }
        Map<Long, Long> ticks = new HashMap<>();
        for (ProcRow r : before) {
            ticks.put(TopModel.tickKey(r), TopModel.ticks(r));
        }
        TopModel.Tally n = TopModel.tally(now, ticks, secs, HZ, null);
        // the rows the instant before did not have began within the interval
        int started = secs > 0 ? n.newRows() : 0;
        for (ProcRow x : exited) {
            if (x.startMs > prevMs) {
                started++; // began and ended inside the interval
            }
        }
        // the machine's uptime, load, CPU and memory lines are not journaled: no SystemSummary
        // (the screen prints "-" for them), not zeros that read as an idle, empty machine
        last = new TopModel.Frame(atMs, null, null, now, now.size(), n.running(), n.sleeping(), n.stopped(), n.zombie(),
                secs > 0 ? started / secs : 0, Double.NaN, secs > 0 ? exited.size() / secs : 0, -1, exited); // execs and kernel losses: not counted from the journal
        return last;
    }

    /** Runs top on the journal: batch (one frame per interval from FROM to TO) or the interactive screen. */
    static int run(Args a, TopCommand.Options o, java.nio.file.Path socket, java.io.PrintStream out,
                   java.io.PrintStream err) throws InterruptedException {
        try (TopModel model = new TopModel(new TopReplay(DaemonLink.connect(socket, true, err), a, o.delayMs(),
                o.batch()))) {
            if (o.batch()) {
                int n = o.iterations() > 0 ? Math.min(o.iterations(), model.replay().frames()) : model.replay().frames();
                // no waiting between frames: the interval is the journal's, not the clock's
                return TopCommand.batch(model, new TopCommand.Options(o.view(), true, o.json(), n, 0, o.width(),
                        o.socket()), out);
            }
            return TopTerminal.run(model, o, out, err);
        } catch (IOException e) {
            err.println("procwatch top: " + e.getMessage());
            return 1;
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
    }
}
