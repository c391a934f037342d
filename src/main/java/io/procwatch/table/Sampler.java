package io.procwatch.table;

import io.procwatch.bpf.TaskScan;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.PidStatus;
import io.procwatch.sys.Libc;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refreshes the fields only /proc/PID/stat knows (state, CPU times, memory, threads, nice,
 * priority, processor, faults) for every live process.
 *
 * <p>It keeps each process's stat file open and re-reads it with pread: one syscall per process per
 * pass instead of open+read+close. An open stat descriptor stays bound to the process it was
 * opened for: once that process is gone, reads fail with ESRCH even if the pid is reused, so a
 * kept descriptor can never report another process.
 *
 * <p>A full pass first asks the kernel, through a BPF task iterator ({@link TaskScan}), for a
 * fingerprint of every task, and re-reads stat only for processes whose fingerprint moved since
 * their last read: most processes sleep, and reading their unchanged stat lines was most of a
 * pass's cost. A process is re-read at least every {@link #MAX_SKIP_NANOS} (spread by pid) as a
 * safety net. Without the iterator (no privileges, an older kernel, or {@code --no-task-scan})
 * every stat file is read each pass.
 *
 * <p>It samples only on demand: {@link #ensureFresh} for snapshot requests, and the periodic loop
 * while at least one client (a top) asks for an interval. Idle, it does nothing.
 */
public final class Sampler implements AutoCloseable {
    private static final int STAT_MAX = 1024;
    /**
     * Longest a process's stat line goes unread while its fingerprint stands still (half fixed,
     * half spread by pid, so the re-reads do not all fall on one pass). A safety net only: the
     * fingerprint covers every stat field procwatch shows that can change while a process does not
     * run. It is long so that at top's default 3 s delay the net costs few reads per pass.
     */
    static final long MAX_SKIP_NANOS = 60_000_000_000L;

    private final TaskScan taskScan;
    private final String taskScanProblem;
    private long scanPass;
    private long statReads;
    private long statSkips;

    private final ProcessTable table;
    private final String procRoot;
    private final io.procwatch.procfs.ProcFs proc;
    private final int pageSize;
    private final int maxOpen;
    private final Map<Integer, Handle> handles = new HashMap<>();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(STAT_MAX);
    private final byte[] bytes = new byte[STAT_MAX];
    private final Map<Object, Demand> demands = new ConcurrentHashMap<>();
    /** Rows found unchanged by a pass, and when: rows are immutable, so the time is kept here. */
    private final Map<Integer, Confirmation> confirmed = new ConcurrentHashMap<>();
    private final Thread loop;
    private volatile boolean closed;
    private volatile long lastPassNanos;
    private volatile long lastPassDurationNanos;
    private long passes;

    /** A kept-open stat file, and fingerprints of what it said last time and of the process's tasks. */
    private static final class Handle {
        final int fd;
        final long startTicks;
        long lastHash;
        /** The task scan pass {@link #scanSum} belongs to. */
        long scanPass;
        /** Sum of the fingerprints of this process's tasks in that pass (a sum: any order). */
        long scanSum;
        /** {@link #scanSum} as it was just before the last stat read; 0 if unknown. */
        long readScanSum;
        /** When stat must be read again even if nothing moved. */
        long readDueNanos;
        /** The leader's unified-hierarchy cgroup id in the scan pass {@link #scanPass}; 0 if unknown. */
        long scanCgroupId;

        Handle(int fd, long startTicks) {
            this.fd = fd;
            this.startTicks = startTicks;
        }
    }

    private record Demand(long intervalNanos, long expiresNanos) {
    }

    public Sampler(ProcessTable table, String procRoot, boolean useTaskScan) {
        this.table = table;
        this.procRoot = procRoot;
        this.proc = new io.procwatch.procfs.ProcFs(java.nio.file.Path.of(procRoot));
        this.pageSize = io.procwatch.procfs.SystemInfo.get().pageSize();
        this.maxOpen = Math.max(0, openFileLimit() - 1024);
        TaskScan scan = null;
        String problem = "turned off (--task-scan off)";
        if (useTaskScan) {
            try {
                scan = TaskScan.open();
                problem = null;
            } catch (IOException | RuntimeException e) {
                problem = e.getMessage();
            }
        }
        this.taskScan = scan;
        this.taskScanProblem = problem;
        this.loop = Thread.ofPlatform().name("procwatch-sampler").daemon(true).unstarted(this::run);
        loop.start();
    }

    /** The soft RLIMIT_NOFILE (the JVM raises it to the hard limit at start-up). */
    static int openFileLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String[] f = line.substring(14).trim().split("\\s+");
                    return f[0].equals("unlimited") ? 1 << 20 : Integer.parseInt(f[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return 1024;
    }

    /** Age of the newest full pass, in nanoseconds (Long.MAX_VALUE if never sampled). */
    public long ageNanos() {
        long last = lastPassNanos;
        return last == 0 ? Long.MAX_VALUE : System.nanoTime() - last;
    }

    public long lastPassDurationNanos() {
        return lastPassDurationNanos;
    }

    public synchronized long passes() {
        return passes;
    }

    public synchronized int openDescriptors() {
        return handles.size();
    }

    /** The task iterator passes use, or null without one (the rescan after a loss shares it). */
    TaskScan taskScan() {
        return taskScan;
    }

    /** Why full passes read every stat file (no task scan), or null while the task scan is in use. */
    public String taskScanProblem() {
        return taskScanProblem;
    }

    /** Stat files read by full passes so far. */
    public synchronized long statReads() {
        return statReads;
    }

    /** Stat reads full passes left out because the process's task fingerprints had not moved. */
    public synchronized long statSkips() {
        return statSkips;
    }

    /** Samples now unless the last pass is younger than {@code maxAgeNanos}. */
    public void ensureFresh(long maxAgeNanos) {
        if (ageNanos() > maxAgeNanos) {
            sampleAll();
        }
    }

    /**
     * Asks for a pass every {@code intervalMillis} on behalf of {@code client}, for the next
     * {@code leaseMillis} (a client renews while it is connected).
     */
    public void demand(Object client, long intervalMillis, long leaseMillis) {
        demands.put(client, new Demand(intervalMillis * 1_000_000L, System.nanoTime() + leaseMillis * 1_000_000L));
        synchronized (demands) {
            demands.notifyAll();
        }
    }

    public void release(Object client) {
        demands.remove(client);
    }

    /** A pass asked for by {@link #passSoon}, and the request time it serves. */
    private volatile boolean owed;
    private volatile long owedSince;

    /**
     * Runs a pass on the sampler's own thread soon, serving requests made since {@code since}:
     * after a rescan from the task list, the rows it kept take their stat values from this pass
     * (it re-reads only what moved), without holding up the caller (the event reader).
     */
    public void passSoon(long since) {
        owedSince = since;
        owed = true;
        synchronized (demands) {
            demands.notifyAll();
        }
    }

    private void run() {
        while (!closed) {
            if (owed) {
                owed = false;
                sampleAll(owedSince);
                continue;
            }
            long now = System.nanoTime();
            long interval = Long.MAX_VALUE;
            for (Iterator<Demand> it = demands.values().iterator(); it.hasNext(); ) {
                Demand d = it.next();
                if (d.expiresNanos < now) {
                    it.remove();
                } else {
                    interval = Math.min(interval, d.intervalNanos);
                }
            }
            try {
                if (interval == Long.MAX_VALUE) {
                    synchronized (demands) {
                        if (demands.isEmpty() && !owed) { // checked under the lock demand() and passSoon() notify with: no lost wake-up
                            demands.wait(); // nobody wants passes: sleep until someone does (or close)
                        }
                    }
                    continue;
                }
                long due = lastPassNanos + interval - System.nanoTime();
                if (due > 0) {
                    synchronized (demands) {
                        if (!owed) {
                            demands.wait(Math.max(1, due / 1_000_000L));
                        }
                    }
                    continue;
                }
                sampleAll();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private final Object passGate = new Object();
    private boolean passRunning;

    /**
     * One pass over every live process that starts no earlier than this call. Concurrent callers
     * share passes: one that finds a pass running waits for it, and is served by it if it started
     * after the call (else by the next, which the first waiter to wake runs); 100 clients asking
     * at once cost one or two passes, not 100.
     */
    public void sampleAll() {
        sampleAll(System.nanoTime());
    }

    /**
     * {@link #sampleAll()} for a request that arrived at {@code asked} (System.nanoTime()): values
     * read since then are as fresh as it asked. After a loss the request waits for the rescan,
     * which reads every new process's files after the request came; a pass that took only the
     * time of its own call would read them all again before the first answer.
     */
    public void sampleAll(long asked) {
        synchronized (passGate) {
            while (true) {
                if (closed || lastPassNanos - asked >= 0) {
                    return;
                }
                if (!passRunning) {
                    passRunning = true;
                    break;
                }
                try {
                    passGate.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        try {
            pass(asked);
        } finally {
            synchronized (passGate) {
                passRunning = false;
                passGate.notifyAll();
            }
        }
    }

    private synchronized void pass(long asked) {
        if (closed) {
            return;
        }
        long t0 = System.nanoTime();
        boolean scanned = scanTasks();
        oldestReused = t0;
        sample(table.all(), t0, scanned, asked);
        // close descriptors of processes no longer in the table
        // Every 16th pass, or sooner when there are clearly more than the table holds: at 10,000
        // processes these two sweeps (a table lookup per entry) were a fifth of a fresh pass, and
        // what they free (a descriptor and a few dozen bytes per exited process) can wait a little.
        if (passes % 16 == 0 || handles.size() > table.size() + 256 || confirmed.size() > table.size() + 256) {
            confirmed.keySet().removeIf(pid -> table.get(pid) == null);
            handles.entrySet().removeIf(e -> {
                if (table.get(e.getKey()) == null) {
                    Libc.closeQuietly(e.getValue().fd);
                    return true;
                }
                return false;
            });
        }
        passes++;
        table.counters.samples.increment();
        lastPassDurationNanos = System.nanoTime() - t0;
        // serves every request made before the pass began, or before the oldest row it took as read
        lastPassNanos = oldestReused;
    }

    /**
     * Takes over rows a rescan has just loaded from /proc with their stat files, still open,
     * and {@code scanSums}, the sums of their tasks' fingerprints from the rescan's task scan,
     * taken before those files were read. The next pass then re-reads only the rows whose
     * fingerprint moved since, as for rows it read itself; without this, a fresh answer after the
     * rescan would read all of them again. Every descriptor not kept is closed.
     */
    public synchronized void adopt(List<ProcReader.Loaded> loaded, Map<Integer, Long> scanSums) {
        long now = System.nanoTime();
        for (ProcReader.Loaded l : loaded) {
            ProcessInfo p = l.row();
            Long sum = scanSums.get(p.pid);
            if (closed || taskScan == null || sum == null || sum == 0 || handles.containsKey(p.pid)
                    || handles.size() >= maxOpen) {
                Libc.closeQuietly(l.statFd());
                continue;
            }
            Handle h = new Handle(l.statFd(), p.startTicks);
            h.lastHash = 0; // the next read parses and applies whatever the line says
            h.readScanSum = sum;
            h.readDueNanos = now + MAX_SKIP_NANOS / 2 + Math.floorMod(p.pid * 0x9E3779B1L, MAX_SKIP_NANOS / 2);
            handles.put(p.pid, h);
        }
    }

    /** Samples just these processes (a fresh snapshot of a selection). */
    public synchronized void sample(Iterable<ProcessInfo> selection) {
        sample(selection, System.nanoTime());
    }

    /** {@link #sample(Iterable)} for a request that arrived at {@code asked}: rows read since are not read again. */
    public synchronized void sample(Iterable<ProcessInfo> selection, long asked) {
        if (!closed) {
            sample(selection, System.nanoTime(), false, asked);
        }
    }

    /**
     * One task scan: adds up each kept process's task fingerprints into its handle. False when
     * there is no scan (or it failed: that pass then reads every stat file).
     */
    private boolean scanTasks() {
        if (taskScan == null) {
            return false;
        }
        long pass = ++scanPass;
        try {
            taskScan.scan((tid, tgid, fingerprint, cgroupId) -> {
                Handle h = handles.get(tgid);
                if (h != null) {
                    if (tid == tgid) {
                        h.scanCgroupId = cgroupId; // /proc/PID/cgroup shows the leader's cgroup
                    }
                    if (h.scanPass != pass) {
                        h.scanPass = pass;
                        if (tid != tgid) {
                            h.scanCgroupId = 0; // until the leader's record (the leader may be gone)
                        }
                        h.scanSum = fingerprint;
                    } else {
                        h.scanSum += fingerprint;
                    }
                }
            });
            return true;
        } catch (SyscallException e) {
            table.counters.samplerScanFailures.increment();
            return false;
        }
    }

    /** True when the task scan says this process cannot have changed since its stat line was last read. */
    private boolean stillSince(ProcessInfo p, long t0) {
        Handle h = handles.get(p.pid);
        return h != null && h.scanPass == scanPass && h.readScanSum == h.scanSum && h.readScanSum != 0
                && t0 - h.readDueNanos < 0 && ProcReader.sameStart(h.startTicks, p.startTicks);
    }

    /** The oldest read time of a row {@link #pass} took as it was (see freshSince), else the pass's start. */
    private long oldestReused;

    /**
     * Reads the selection's stat lines (and what moved). A row whose values were read from /proc
     * at or after {@code freshSince} (the asker's time) is already as fresh as asked: after a loss
     * the rescan has just loaded hundreds of rows, and reading them all again would double the
     * time to the first right answer.
     */
    private void sample(Iterable<ProcessInfo> selection, long t0, boolean scanned, long freshSince) {
        for (ProcessInfo p : selection) {
            if (p.leaderExited) {
                continue; // exited: the reaper removes it; its last sample stays
            }
            p = followCgroup(p, scanned);
            long readAt = p.sampledAtNanos();
            if (readAt != 0 && readAt - freshSince >= 0) {
                if (readAt - oldestReused < 0) {
                    oldestReused = readAt;
                }
                continue;
            }
            if (scanned) {
                if (stillSince(p, t0)) {
                    statSkips++;
                    confirm(p, t0); // the task scan says nothing stat shows has moved
                    continue;
                }
                statReads++;
            }
            PidStat s = read(p.pid, p.startTicks, scanned, t0);
            // A process that ran since the last look may have rewritten its argv (a scrubbed
            // --password=, setproctitle): /proc shows the new text, and so must the row. One that
            // did not run cannot have.
            List<String> argvNow = scanned || s != null ? argvIfChanged(p) : null;
            if (s == null) {
                if (argvNow != null) {
                    applyArgv(p, argvNow);
                }
                if (unchanged) {
                    confirm(p, t0); // the stat line is byte for byte what the row was last built from
                }
                continue;
            }
            ProcessInfo current = table.get(p.pid);
            if (current != null && !current.leaderExited && current.startExact
                    && ProcReader.sameStart(current.startTicks, s.starttime()) && !ProcReader.statDiffers(current, s)) {
                // Most processes sleep between passes: nothing to copy, index or lock for them.
                if (argvNow != null) {
                    applyArgv(p, argvNow);
                }
                confirm(p, t0);
                continue;
            }
            // stat's rss is the kernel's approximation; status has the exact sum (what procps shows)
            // and the locked size: read it for the processes whose stat moved, outside the lock
            PidStatus memory = proc.status(p.pid).orElse(null);
            table.writeLock.lock();
            try {
                ProcessInfo old = table.get(p.pid);
                // Only onto the row the read started from: an event applied since (a setsid, an
                // exec, a rename) is newer than this line, which would undo it. The next pass reads again.
                if (old != null && !old.leaderExited && old.sameLife(p) && old.eventGen == p.eventGen
                        && ProcReader.sameStart(old.startTicks, s.starttime())) {
                    ProcessInfo.Builder n = old.toBuilder();
                    ProcReader.applyStat(n, s, t0);
                    if (memory != null) {
                        ProcReader.applyMemory(n, memory, pageSize);
                    }
                    if (argvNow != null) {
                        n.argv = argvNow;
                    }
                    if (!n.startExact) {
                        n.startTicks = s.starttime();
                        n.startExact = true;
                    }
                    table.put(old, n.build());
                } else if (old != null && old.sameLife(p)) {
                    // not applied: the line's hash and scan sum were noted at the read, so without
                    // this the next pass would take the same line as already applied
                    forget(p.pid);
                }
            } finally {
                table.writeLock.unlock();
            }
        }
    }

    /**
     * Keeps the row's cgroup current: no kernel event reports a move (a write to cgroup.procs by
     * anyone), so a pass compares the cgroup id the task scan just gave for the process's leader
     * with the one the row's cgroup text was read at, and re-reads /proc/PID/cgroup for this
     * process only when they differ. Without the task scan every pass re-reads it (the slow path
     * reads every stat file anyway). Returns the row as it is now (the same when nothing changed).
     */
    private ProcessInfo followCgroup(ProcessInfo p, boolean scanned) {
        long id = 0;
        if (scanned) {
            Handle h = handles.get(p.pid);
            if (h == null || h.scanPass != scanPass || h.scanCgroupId == 0 || h.scanCgroupId == p.cgroupId) {
                return p; // not scanned yet (a new process: its first stat read makes the handle), or unmoved
            }
            id = h.scanCgroupId;
        } else if (taskScan != null && p.cgroup != null) {
            return p; // a failed scan: the next one looks again
        }
        String now = ProcReader.cgroup(proc, p.pid);
        if (now == null) {
            return p; // gone or unreadable: the reaper or the next pass decides
        }
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(p.pid);
            if (old == null || old.leaderExited || !old.sameLife(p)) {
                return p;
            }
            if (now.equals(old.cgroup) && id == old.cgroupId) {
                return old;
            }
            if (old.cgroup != null && !now.equals(old.cgroup)) {
                table.counters.cgroupMoves.increment();
            }
            ProcessInfo.Builder n = old.toBuilder();
            n.cgroup = now;
            n.cgroupId = id;
            ProcessInfo built = n.build();
            table.put(old, built);
            return built;
        } finally {
            table.writeLock.unlock();
        }
    }

    /** The process's command line now, when it is readable, not empty, and not what the row shows; else null. */
    private List<String> argvIfChanged(ProcessInfo p) {
        List<String> now = proc.cmdline(p.pid).orElse(List.of());
        return now.isEmpty() || now.equals(p.argv) ? null : List.copyOf(now);
    }

    /** Puts a re-read command line onto the row it was read for, if no event has changed that row since. */
    private void applyArgv(ProcessInfo p, List<String> argv) {
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(p.pid);
            if (old != null && !old.leaderExited && old.sameLife(p) && old.eventGen == p.eventGen) {
                ProcessInfo.Builder n = old.toBuilder();
                n.argv = argv;
                table.put(old, n.build());
            }
        } finally {
            table.writeLock.unlock();
        }
    }

    /** The next read of this process's stat line parses it even if it is what it was. */
    private void forget(int pid) {
        Handle h = handles.get(pid);
        if (h != null) {
            h.lastHash = 0;
            h.readScanSum = 0;
        }
    }

    /**
     * Notes that the row of {@code p} (if it is still that life) was found unchanged now. Rows are
     * immutable, so the time goes beside them: {@link #sampledAt}.
     */
    private void confirm(ProcessInfo p, long t0) {
        ProcessInfo current = table.get(p.pid);
        if (current != null && !current.leaderExited && current.startExact && current.sameLife(p)) {
            Confirmation c = confirmed.get(p.pid);
            if (c != null && c.startNs == current.startNs) {
                c.atNanos = t0; // the same life: no new object and no map write per row per pass
            } else {
                confirmed.put(p.pid, new Confirmation(current.startNs, t0));
            }
        }
    }

    /** When a life's row was last found current; only that life's time ever changes. */
    private static final class Confirmation {
        final long startNs;
        volatile long atNanos;

        Confirmation(long startNs, long atNanos) {
            this.startNs = startNs;
            this.atNanos = atNanos;
        }
    }

    /** When the stat values a row shows were last known current (System.nanoTime()), 0 if never sampled. */
    public long sampledAt(ProcessInfo p) {
        Confirmation c = confirmed.get(p.pid());
        long at = p.sampledAtNanos();
        return c != null && c.startNs == p.startNs() ? Math.max(at, c.atNanos) : at;
    }

    /** Set by {@link #read} when it returns null because the file said exactly what it said last time. */
    private boolean unchanged;

    /**
     * Reads a process's stat line; null when the process is gone or (with {@link #unchanged} set)
     * when the line is identical to the previous read of the same descriptor, which is the case
     * for every process that did not run since: no parsing then.
     */
    private PidStat read(int pid, long startTicks, boolean scanned, long t0) {
        unchanged = false;
        Handle h = handles.get(pid);
        if (h != null && !ProcReader.sameStart(h.startTicks, startTicks)) {
            Libc.closeQuietly(h.fd);
            handles.remove(pid);
            h = null;
        }
        boolean keep = true;
        if (h == null) {
            int fd;
            try (Arena tmp = Arena.ofConfined()) {
                fd = Libc.openReadOnly(tmp.allocateFrom(procRoot + "/" + pid + "/stat"));
            } catch (SyscallException e) {
                return null; // gone
            }
            h = new Handle(fd, startTicks);
            keep = handles.size() < maxOpen;
            if (keep) {
                handles.put(pid, h);
            }
        }
        long n = Libc.preadOrErrno(h.fd, buf, STAT_MAX, 0);
        if (!keep) {
            Libc.closeQuietly(h.fd);
        }
        if (n <= 0) {
            if (keep) {
                Libc.closeQuietly(h.fd);
                handles.remove(pid);
            }
            return null; // -ESRCH: the process this descriptor belongs to is gone
        }
        if (keep) {
            // What the scan said before this read: if the process changes after it, the next
            // scan differs from this and the line is read again.
            h.readScanSum = scanned && h.scanPass == scanPass ? h.scanSum : 0;
            h.readDueNanos = t0 + MAX_SKIP_NANOS / 2 + Math.floorMod(pid * 0x9E3779B1L, MAX_SKIP_NANOS / 2);
        }
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, bytes, 0, (int) n);
        long hash = fingerprint(bytes, (int) n);
        if (keep && hash == h.lastHash) {
            unchanged = true;
            return null;
        }
        h.lastHash = hash;
        PidStat s = PidStat.parse(bytes, (int) n);
        if (s != null && !ProcReader.sameStart(s.starttime(), startTicks)) {
            return null;
        }
        return s;
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** A 64-bit hash of the line (never 0 for a real line): equal lines, equal hashes; others, practically never. */
    static long fingerprint(byte[] b, int n) {
        long h = 0x9E3779B97F4A7C15L ^ n;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            h = Long.rotateLeft(h ^ ((long) LONGS.get(b, i) * 0xBF58476D1CE4E5B9L), 31) * 0x94D049BB133111EBL;
        }
        for (; i < n; i++) {
            h = (h ^ b[i]) * 0x100000001B3L;
        }
        h ^= h >>> 29;
        return h == 0 ? 1 : h;
    }


    @Override
    public synchronized void close() {
        closed = true;
        loop.interrupt();
        for (Handle h : handles.values()) {
            Libc.closeQuietly(h.fd);
        }
        handles.clear();
        if (taskScan != null) {
            taskScan.close();
        }
        arena.close();
    }
}
