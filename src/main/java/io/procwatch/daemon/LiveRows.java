package io.procwatch.daemon;

import io.procwatch.procfs.PidStat;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.table.ProcessInfo;

import java.io.IOException;
import java.util.List;

/**
 * One live SNAPSHOT: the viewer's selection (fresh when asked), then each process or each of its
 * threads handed to the answer, and how old the oldest sampled value in it is. The wire's answer
 * (Connection) and a RUN's in-process answer (InProcessAnswers) are this one walk.
 */
final class LiveRows {
    /** Where the walk's rows go. */
    interface Out {
        void process(ProcessInfo p) throws IOException;

        void thread(ProcessInfo p, int tid, PidStat t) throws IOException;
    }

    /** What the walk saw: the processes selected, the rows handed out, the sample age (-1 when none). */
    record Walk(List<ProcessInfo> processes, int count, long sampleAgeNanos) {
    }

    private LiveRows() {
    }

    /** The selection alone (Connection diffs it against its last answer before the walk). */
    static List<ProcessInfo> select(DaemonContext ctx, Selector sel, long groups, int flags, Viewer viewer) {
        ctx.snapshotStarted();
        // Fresh: the sampled values, and the fields no event maintains (process group, terminal,
        // state), which BASE carries, are read again (only for what moved, with the task scan).
        return ctx.select(sel, viewer, (flags & Wire.F_FRESH) != 0 && (groups & (Groups.STAT | Groups.BASE)) != 0);
    }

    static boolean threads(Selector sel, int flags) {
        return (flags & Wire.F_THREADS) != 0 || sel.threadsOf() != null;
    }

    static Walk walk(DaemonContext ctx, List<ProcessInfo> rows, boolean threads, Out out) throws IOException {
        long now = System.nanoTime();
        long oldest = now;
        int count = 0;
        for (ProcessInfo p : rows) {
            long sampledAt = ctx.sampler().sampledAt(p);
            if (sampledAt > 0 && !p.leaderExited()) {
                // an exited process's values are final (as of its exit), not an old sample: they
                // must not make the answer look older (top takes its interval from this age)
                oldest = Math.min(oldest, sampledAt);
            }
            if (threads) {
                for (int tid : ctx.proc().tids(p.pid())) {
                    PidStat t = ctx.proc().threadStat(p.pid(), tid).orElse(null);
                    if (t != null) {
                        out.thread(p, tid, t);
                        count++;
                    }
                }
            } else {
                out.process(p);
                count++;
            }
        }
        // the age as of the answer's own time stamp, so time - age is when the values were read
        return new Walk(rows, count, rows.isEmpty() ? -1 : System.nanoTime() - oldest);
    }
}
