package io.procwatch.table;

import java.util.Arrays;
import java.util.List;

/**
 * One live process as the table knows it. Instances are immutable once published: the table's
 * single writer changes a process by copying its ProcessInfo, editing the copy and replacing it,
 * so readers (queries, snapshots) never lock and never see half an update.
 *
 * <p>Field names follow proc_pid_stat(5) where they come from there. Times are clock ticks, memory
 * is pages (rss) or bytes (vsize), as in /proc.
 */
public final class ProcessInfo implements Cloneable {
    // identity: (pid, startTicks) - a pid alone is reused by the kernel
    int pid;
    long startTicks;
    boolean startExact;

    // family and session
    int ppid;
    int pgrp;
    int session;
    int ttyNr;
    int tpgid;

    // credentials (real and effective)
    int ruid;
    int euid;
    int rgid;
    int egid;
    int tracerPid;

    // what runs
    String comm = "";
    String exe = "";
    List<String> argv = List.of();
    /** False when the process exec'd and was gone before its cmdline/exe could be read. */
    boolean argvKnown = true;
    int execCount;

    // sampled from /proc/PID/stat
    char state = 'R';
    int priority;
    int nice;
    int processor;
    int numThreads = 1;
    long utime;
    long stime;
    long vsize;
    long rss;
    long minflt;
    long majflt;
    /**
     * When the stat values were last read and found current. The one field written after the row
     * is published: a sampler pass that finds nothing changed only moves this time forward
     * instead of copying the row (readers see the old or the new time; both are true).
     */
    volatile long sampledAtNanos;

    // lifecycle
    long forkMonotonicNs;
    int[] threads;
    boolean leaderExited;
    boolean coreDumping;
    int exitStatusRaw;

    ProcessInfo(int pid) {
        this.pid = pid;
        this.threads = new int[] {pid};
    }

    /**
     * An opaque cache for the protocol layer: this row's last encoding and the groups it holds.
     * A row is immutable once published (a change makes a new row, see {@link #copy}), so its
     * encoding can be reused by every snapshot until the row is replaced; most rows are, between
     * two snapshots, processes that slept.
     */
    private volatile Encoding encoding;

    private record Encoding(long key, byte[] bytes) {
    }

    ProcessInfo copy() {
        try {
            ProcessInfo c = (ProcessInfo) super.clone(); // threads is copied on write, never mutated in place
            c.encoding = null; // the copy is about to change
            return c;
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
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

    public int pid() {
        return pid;
    }

    public long startTicks() {
        return startTicks;
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

    public int execCount() {
        return execCount;
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

    /** Thread count: the sampled value, or the tracked thread set when that is newer. */
    public int numThreads() {
        return Math.max(threads.length, 1);
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

    public long rss() {
        return rss;
    }

    public long minflt() {
        return minflt;
    }

    public long majflt() {
        return majflt;
    }

    /** System.nanoTime() of the last /proc/PID/stat sample, 0 if never sampled. */
    public long sampledAtNanos() {
        return sampledAtNanos;
    }

    public int[] threads() {
        return threads.clone();
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
