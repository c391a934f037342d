package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.taskstats.Taskstats;

import java.util.List;

/**
 * A process that ended, as kept in the history.
 *
 * @param seq            position in the history (increasing; kept across daemon restarts by the database)
 * @param startEpochMs   when it started (wall clock)
 * @param endEpochMs     when it ended; for an exit not observed, when the loss was noticed
 * @param status         what waitpid(2) returned for it (null when the exit was not observed)
 * @param coreDumped     the wait status's core bit: a core file was written
 * @param exitObserved   false when events were lost and a /proc rescan found it gone
 * @param argvKnown      false when it was gone before its command line could be learnt
 * @param taskstats      the kernel's accounting totals, or null if they did not arrive
 * @param startNs        the life's key: its start on CLOCK_MONOTONIC (ns) in the boot it ran in
 * @param cgroup         the cgroup it exited in: its /proc/PID/cgroup lines, comma-joined, as its
 *                       row last held them (the sampler keeps them current); null when not known
 */
public record ExitedProcess(long seq, int pid, int ppid, int uid, int gid, String comm, String exe,
                            List<String> argv, long startEpochMs, long endEpochMs, WaitStatus status,
                            boolean coreDumped, boolean exitObserved, boolean argvKnown,
                            Taskstats taskstats, long startNs, String cgroup) {

    /** An entry without a cgroup (written before the history kept one, or not known). */
    public ExitedProcess(long seq, int pid, int ppid, int uid, int gid, String comm, String exe,
                         List<String> argv, long startEpochMs, long endEpochMs, WaitStatus status,
                         boolean coreDumped, boolean exitObserved, boolean argvKnown,
                         Taskstats taskstats, long startNs) {
        this(seq, pid, ppid, uid, gid, comm, exe, argv, startEpochMs, endEpochMs, status, coreDumped, exitObserved,
                argvKnown, taskstats, startNs, null);
    }

    public long lifetimeMs() {
        return Math.max(0, endEpochMs - startEpochMs);
    }

    public boolean failed() {
        return status != null && status.failed();
    }

    /**
     * Joins the kernel's accounting record. Its comm is the name at exit, so it replaces ours when
     * we never learnt the program (the process exec'd and ended before it could be read). Whether a
     * core was written stays the wait status's word: the accounting flag says only that the
     * process was killed by a signal whose default action dumps core.
     */
    public ExitedProcess withTaskstats(Taskstats t) {
        String name = !argvKnown && !t.comm().isEmpty() ? t.comm() : comm;
        return new ExitedProcess(seq, pid, ppid, uid, gid, name, exe, argv, startEpochMs, endEpochMs, status,
                coreDumped, exitObserved, argvKnown, t, startNs, cgroup);
    }

    public ExitedProcess withSeq(long s) {
        return new ExitedProcess(s, pid, ppid, uid, gid, comm, exe, argv, startEpochMs, endEpochMs, status,
                coreDumped, exitObserved, argvKnown, taskstats, startNs, cgroup);
    }

    /**
     * Whether a taskstats record can describe this exit: the same process (a thread's own record
     * never describes a process, even when its thread id is a pid now), and a lifetime that fits
     * the kernel's elapsed time (ac_etime is taken at the start of the exit, the end of our
     * lifetime at its end, so ours is not shorter; 2 ms and 2 % of slack for clock reads).
     */
    public boolean matches(Taskstats t) {
        if (t.pid() != pid || !exitObserved) {
            return false;
        }
        long etimeMs = t.elapsedMicros() / 1000;
        return etimeMs <= lifetimeMs() + 2 + lifetimeMs() / 50;
    }

    public String args() {
        return argv.isEmpty() ? "[" + comm + "]" : String.join(" ", argv);
    }
}
