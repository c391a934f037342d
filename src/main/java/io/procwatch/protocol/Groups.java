package io.procwatch.protocol;

/**
 * Attribute groups a client can ask for (the A_GROUPS bitmask). The daemon reads or sends only
 * what the groups name: BASE and CRED come from the table, STAT from the sampler, the others from
 * /proc or taskstats at request time, for the selected processes only.
 */
public final class Groups {
    /** pid, ppid, pgrp, sid, tty, tpgid, state, comm, threads, start time */
    public static final long BASE = 1;
    /** real and effective uid and gid, tracer */
    public static final long CRED = 1 << 1;
    /** the command line */
    public static final long CMDLINE = 1 << 2;
    /** executable path and working directory */
    public static final long EXE = 1 << 3;
    /** CPU times, memory, faults, priority, nice, processor */
    public static final long STAT = 1 << 4;
    /** /proc/PID/io counters */
    public static final long IO = 1 << 5;
    /** the kernel's taskstats accounting */
    public static final long TASKSTATS = 1 << 6;
    /** cgroup path */
    public static final long CGROUP = 1 << 7;
    /** kernel wait channel */
    public static final long WCHAN = 1 << 8;

    public static final long ALL = (1 << 9) - 1;

    private Groups() {
    }

    public static String describe(long groups) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"base", "cred", "cmdline", "exe", "stat", "io", "taskstats", "cgroup", "wchan"};
        for (int i = 0; i < names.length; i++) {
            if ((groups & (1L << i)) != 0) {
                sb.append(sb.isEmpty() ? "" : ",").append(names[i]);
            }
        }
        return sb.toString();
    }
}
