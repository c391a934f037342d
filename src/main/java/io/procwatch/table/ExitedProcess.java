package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.taskstats.Taskstats;

import java.util.List;

/**
 * A process that ended, as kept in the history.
 *
 * @param seq            position in the history since the daemon started (gapless, increasing)
 * @param startEpochMs   when it started (wall clock)
 * @param endEpochMs     when it ended; for an exit not observed, when the loss was noticed
 * @param status         exit code or signal (null when the exit was not observed)
 * @param exitObserved   false when events were lost and a /proc rescan found it gone
 * @param argvKnown      false when it was gone before its cmdline could be read
 * @param taskstats      the kernel's accounting totals, or null if they did not arrive
 */
public record ExitedProcess(long seq, int pid, int ppid, int uid, int gid, String comm, String exe,
                            List<String> argv, long startEpochMs, long endEpochMs, WaitStatus status,
                            boolean coreDumped, boolean exitObserved, boolean argvKnown,
                            Taskstats taskstats) {

    public long lifetimeMs() {
        return Math.max(0, endEpochMs - startEpochMs);
    }

    public boolean failed() {
        return status != null && status.failed();
    }

    /**
     * Joins the kernel's accounting record. Its comm is the name at exit, so it replaces ours when
     * we never learnt the program (the process exec'd and ended before /proc could be read).
     */
    public ExitedProcess withTaskstats(Taskstats t) {
        String name = !argvKnown && !t.aggregate() && !t.comm().isEmpty() ? t.comm() : comm;
        return new ExitedProcess(seq, pid, ppid, uid, gid, name, exe, argv, startEpochMs, endEpochMs, status,
                coreDumped || (t.flags() & Taskstats.ACORE) != 0, exitObserved, argvKnown, t);
    }

    /** Whether a taskstats record describes this exit: same pid, and it started when this did. */
    public boolean matches(Taskstats t) {
        return t.pid() == pid && (t.beginTimeSecs() == 0 || Math.abs(t.beginTimeSecs() - startEpochMs / 1000) <= 2);
    }

    public String args() {
        return argv.isEmpty() ? "[" + comm + "]" : String.join(" ", argv);
    }
}
