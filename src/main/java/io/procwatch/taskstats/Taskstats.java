package io.procwatch.taskstats;

import io.procwatch.event.WaitStatus;

/**
 * The kernel's accounting record for a task ({@code struct taskstats}, linux/taskstats.h), with
 * the fields procwatch uses. Units follow the kernel: times in microseconds, memory high-water
 * marks in KiB, I/O in bytes.
 *
 * @param aggregate      true for a whole thread group (AGGR_TGID), false for one thread
 * @param status         ac_exitcode as a wait status (meaningful for exited tasks)
 * @param flags          ac_flag: AFORK 0x01, ASU 0x02, ACORE 0x08, AXSIG 0x10
 * @param beginTimeSecs  ac_btime64 (or ac_btime on older kernels): start, seconds since the epoch
 * @param elapsedMicros  ac_etime: wall time since the task started
 * @param tgid           the task's process (ac_tgid, version 13+), or 0 when the kernel does not say;
 *                       a thread's own record has tgid != pid
 */
public record Taskstats(int version, boolean aggregate, int pid, int ppid, int uid, int gid, String comm,
                        WaitStatus status, int flags, int nice, long beginTimeSecs, long elapsedMicros,
                        long userMicros, long systemMicros, long minorFaults, long majorFaults,
                        long hiwaterRssKiB, long hiwaterVmKiB, long readChars, long writeChars,
                        long readSyscalls, long writeSyscalls, long readBytes, long writeBytes,
                        long cancelledWriteBytes, long voluntarySwitches, long involuntarySwitches, int tgid) {
    public static final int AFORK = 0x01;
    public static final int ASU = 0x02;
    public static final int ACORE = 0x08;
    public static final int AXSIG = 0x10;

    /** A record of one thread that is not its process's leader: it never describes a process. */
    public boolean ofOtherThread() {
        return !aggregate && tgid != 0 && tgid != pid;
    }

    /**
     * This record with the memory high-water marks of {@code other} where this one has none: a
     * group's total carries CPU and I/O summed over its threads but not the marks of the memory
     * they shared, which the leader's own record has.
     */
    public Taskstats withMemoryOf(Taskstats other) {
        if (hiwaterRssKiB != 0 || other == null) {
            return this;
        }
        return new Taskstats(version, aggregate, pid, ppid, uid, gid, comm, status, flags, nice, beginTimeSecs,
                elapsedMicros, userMicros, systemMicros, minorFaults, majorFaults, other.hiwaterRssKiB,
                other.hiwaterVmKiB, readChars, writeChars, readSyscalls, writeSyscalls, readBytes, writeBytes,
                cancelledWriteBytes, voluntarySwitches, involuntarySwitches, tgid);
    }

    public boolean forkedWithoutExec() {
        return (flags & AFORK) != 0;
    }
}
