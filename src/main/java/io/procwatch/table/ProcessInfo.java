package io.procwatch.table;

import java.util.Arrays;
import java.util.List;

/**
 * One live process as the table knows it: an immutable row. The table's single writer changes a
 * process by building a new row from the old one ({@link #toBuilder()}, edit, {@link Builder#build()})
 * and replacing it, so readers (queries, snapshots) never lock and never see half an update.
 *
 * <p>A row describes one <em>life</em> of a pid: the pid and the kernel's start time together
 * ({@link #startNs}). Everything that attaches data to a process checks the life, not the pid,
 * since the kernel reuses pids (and thread ids) at once.
 *
 * <p>Field names follow proc_pid_stat(5) where they come from there. Times are clock ticks, memory
 * is pages (rss) or bytes (vsize), as in /proc.
 */
public final class ProcessInfo {
    // identity: (pid, startNs) - a pid alone is reused by the kernel
    final int pid;
    /** Start in clock ticks since boot, as /proc/PID/stat field 22 shows it. */
    final long startTicks;
    /** Whether {@link #startTicks} was read from /proc (true) or estimated from the fork event. */
    final boolean startExact;
    /**
     * Start on CLOCK_MONOTONIC, in ns: the fork event's timestamp (the kernel takes the fork event
     * microseconds after it sets the task's start time, and no two lives of one pid can share it),
     * or the start tick converted for a process found by a /proc scan. The key of this life.
     */
    final long startNs;
    /** Whether {@link #startNs} is a fork event's timestamp (so only that event is this life's fork). */
    final boolean forkKeyed;

    // family and session
    final int ppid;
    final int pgrp;
    final int session;
    final int ttyNr;
    final int tpgid;

    // credentials (real and effective)
    final int ruid;
    final int euid;
    final int rgid;
    final int egid;
    final int tracerPid;

    // what runs
    final String comm;
    final String exe;
    /** The command line as /proc/PID/cmdline shows it now (empty for a zombie or a kernel thread). */
    final List<String> argv;
    /** False when the program's argv could not be learnt (it exec'd and was gone, or a read raced another exec). */
    final boolean argvKnown;
    /** The argv the program was exec'd with, which the history keeps after the process is gone. */
    final List<String> execArgv;
    final int execCount;

    // where it runs
    /**
     * The process's /proc/PID/cgroup lines joined by commas (procps's {@code cgroup} item), or
     * null when unknown. No kernel event reports a move between cgroups: the sampler keeps this
     * current from the task scan's cgroup id ({@link #cgroupId}), and a fork copies the parent's.
     */
    final String cgroup;
    /** The unified-hierarchy cgroup id {@link #cgroup} was read at (the task scan's), 0 when not known. */
    final long cgroupId;

    // sampled from /proc/PID/stat
    final char state;
    final int priority;
    final int nice;
    final int processor;
    final int numThreads;
    final long utime;
    final long stime;
    final long vsize;
    /** Resident pages: status's exact VmRSS when read, else stat's approximation. */
    final long rss;
    /** stat's rss (an approximation), kept to tell whether a new stat line moved. */
    final long statRss;
    /** Locked memory (status VmLck), KiB; procps's STAT 'L' when above 0. */
    final long lockedKiB;
    final long minflt;
    final long majflt;
    /** System.nanoTime() of the stat read the sampled values come from; 0 if never sampled. */
    final long sampledAtNanos;

    // lifecycle
    final int[] threads;
    final boolean leaderExited;
    final boolean coreDumping;
    /** The leader thread's raw exit code, once it exited. */
    final int exitStatusRaw;
    /**
     * Counts edits made from kernel events. The sampler reads /proc without the table lock; it
     * applies what it read only if no event edited the row meanwhile (a stale stat line would
     * otherwise undo a setsid or an exec that came after the read).
     */
    final long eventGen;

    private ProcessInfo(Builder b) {
        pid = b.pid;
        startTicks = b.startTicks;
        startExact = b.startExact;
        startNs = b.startNs;
        forkKeyed = b.forkKeyed;
        ppid = b.ppid;
        pgrp = b.pgrp;
        session = b.session;
        ttyNr = b.ttyNr;
        tpgid = b.tpgid;
        ruid = b.ruid;
        euid = b.euid;
        rgid = b.rgid;
        egid = b.egid;
        tracerPid = b.tracerPid;
        comm = b.comm;
        exe = b.exe;
        argv = List.copyOf(b.argv);
        argvKnown = b.argvKnown;
        execArgv = List.copyOf(b.execArgv);
        execCount = b.execCount;
        cgroup = b.cgroup;
        cgroupId = b.cgroupId;
        state = b.state;
        priority = b.priority;
        nice = b.nice;
        processor = b.processor;
        numThreads = b.numThreads;
        utime = b.utime;
        stime = b.stime;
        vsize = b.vsize;
        rss = b.rss;
        statRss = b.statRss;
        lockedKiB = b.lockedKiB;
        minflt = b.minflt;
        majflt = b.majflt;
        sampledAtNanos = b.sampledAtNanos;
        threads = b.threads.clone();
        leaderExited = b.leaderExited;
        coreDumping = b.coreDumping;
        exitStatusRaw = b.exitStatusRaw;
        eventGen = b.eventGen;
    }

    /** The mutable form a row is edited in before it is published as a new row. */
    static final class Builder {
        int pid;
        long startTicks;
        boolean startExact;
        long startNs;
        boolean forkKeyed;
        int ppid;
        int pgrp;
        int session;
        int ttyNr;
        int tpgid = -1;
        int ruid;
        int euid;
        int rgid;
        int egid;
        int tracerPid;
        String comm = "";
        String exe = "";
        List<String> argv = List.of();
        boolean argvKnown = true;
        List<String> execArgv = List.of();
        int execCount;
        String cgroup;
        long cgroupId;
        char state = 'R';
        int priority;
        int nice;
        int processor;
        int numThreads = 1;
        long utime;
        long stime;
        long vsize;
        long rss;
        long statRss;
        long lockedKiB;
        long minflt;
        long majflt;
        long sampledAtNanos;
        int[] threads;
        boolean leaderExited;
        boolean coreDumping;
        int exitStatusRaw;
        long eventGen;

        Builder(int pid) {
            this.pid = pid;
            this.threads = new int[] {pid};
        }

        private Builder(ProcessInfo p) {
            pid = p.pid;
            startTicks = p.startTicks;
            startExact = p.startExact;
            startNs = p.startNs;
            forkKeyed = p.forkKeyed;
            ppid = p.ppid;
            pgrp = p.pgrp;
            session = p.session;
            ttyNr = p.ttyNr;
            tpgid = p.tpgid;
            ruid = p.ruid;
            euid = p.euid;
            rgid = p.rgid;
            egid = p.egid;
            tracerPid = p.tracerPid;
            comm = p.comm;
            exe = p.exe;
            argv = p.argv;
            argvKnown = p.argvKnown;
            execArgv = p.execArgv;
            execCount = p.execCount;
            cgroup = p.cgroup;
            cgroupId = p.cgroupId;
            state = p.state;
            priority = p.priority;
            nice = p.nice;
            processor = p.processor;
            numThreads = p.numThreads;
            utime = p.utime;
            stime = p.stime;
            vsize = p.vsize;
            rss = p.rss;
            statRss = p.statRss;
            lockedKiB = p.lockedKiB;
            minflt = p.minflt;
            majflt = p.majflt;
            sampledAtNanos = p.sampledAtNanos;
            threads = p.threads; // replaced, never written in place
            leaderExited = p.leaderExited;
            coreDumping = p.coreDumping;
            exitStatusRaw = p.exitStatusRaw;
            eventGen = p.eventGen;
        }

        ProcessInfo build() {
            return new ProcessInfo(this);
        }
    }

    Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * An opaque memo for the protocol layer: this row's last encoding and the groups it holds. It
     * is derived from the final fields alone (like String's cached hash), so caching it changes no
     * value a reader sees; a change to the process makes a new row with no memo.
     */
    private volatile Encoding encoding;

    private record Encoding(long key, byte[] bytes) {
    }

    /** The encoding cached under {@code key}, or null. */
    public byte[] cachedEncoding(long key) {
        Encoding e = encoding;
        return e != null && e.key == key ? e.bytes : null;
    }

    public void cacheEncoding(long key, byte[] bytes) {
        encoding = new Encoding(key, bytes);
    }

    /** Frees the cached encoding (the daemon does so for all rows once snapshots stop coming). */
    public void dropEncoding() {
        encoding = null;
    }

    /** Whether {@code other} is a row of the same life of the same pid. */
    public boolean sameLife(ProcessInfo other) {
        return other != null && other.pid == pid && other.startNs == startNs;
    }

    public int pid() {
        return pid;
    }

    public long startTicks() {
        return startTicks;
    }

    /** Start of this life on CLOCK_MONOTONIC (ns): the key that tells two lives of one pid apart. */
    public long startNs() {
        return startNs;
    }

    public int ppid() {
        return ppid;
    }

    public int pgrp() {
        return pgrp;
    }

    public int session() {
        return session;
    }

    public int ttyNr() {
        return ttyNr;
    }

    public int tpgid() {
        return tpgid;
    }

    public int ruid() {
        return ruid;
    }

    public int euid() {
        return euid;
    }

    public int rgid() {
        return rgid;
    }

    public int egid() {
        return egid;
    }

    public int tracerPid() {
        return tracerPid;
    }

    public String comm() {
        return comm;
    }

    public String exe() {
        return exe;
    }

    public List<String> argv() {
        return argv;
    }

    public boolean argvKnown() {
        return argvKnown;
    }

    /** The argv of the last exec (what the history keeps). */
    public List<String> execArgv() {
        return execArgv;
    }

    public int execCount() {
        return execCount;
    }

    /** The /proc/PID/cgroup lines, comma-joined, as last read (kept current by the sampler), or null. */
    public String cgroup() {
        return cgroup;
    }

    public long cgroupId() {
        return cgroupId;
    }

    public char state() {
        return state;
    }

    public int priority() {
        return priority;
    }

    public int nice() {
        return nice;
    }

    public int processor() {
        return processor;
    }

    /**
     * Threads as /proc/PID/stat counts them: the live ones, plus a leader that exited while others
     * run (it stays a zombie in the group until the last one ends, and procps shows it as {@code Zl}).
     */
    public int numThreads() {
        return Math.max(threads.length + (leaderExited && threads.length > 0 ? 1 : 0), 1);
    }

    public long utime() {
        return utime;
    }

    public long stime() {
        return stime;
    }

    public long vsize() {
        return vsize;
    }

    public long lockedKiB() {
        return lockedKiB;
    }

    public long rss() {
        return rss;
    }

    public long minflt() {
        return minflt;
    }

    public long majflt() {
        return majflt;
    }

    /** System.nanoTime() of the /proc/PID/stat read this row's sampled fields come from, 0 if never sampled. */
    public long sampledAtNanos() {
        return sampledAtNanos;
    }

    public int[] threads() {
        return threads.clone();
    }

    /** Whether the leader thread has exited (the process is a zombie, or its other threads still run). */
    public boolean leaderExited() {
        return leaderExited;
    }

    /** The state class the table indexes by: R S D T Z I (t and T share T; X counts as Z). */
    public char stateClass() {
        return switch (state) {
            case 't' -> 'T';
            case 'X', 'x' -> 'Z';
            case 'W', 'P', 'K' -> 'D';
            default -> state;
        };
    }

    /** ps's args column: the argv joined by spaces, or [comm] when there is none. */
    public String args() {
        return argv.isEmpty() ? "[" + comm + "]" : String.join(" ", argv);
    }

    @Override
    public String toString() {
        return "ProcessInfo[pid=" + pid + ", ppid=" + ppid + ", comm=" + comm + ", state=" + state
                + ", uid=" + euid + ", threads=" + Arrays.toString(threads) + ", argv=" + argv + "]";
    }
}
