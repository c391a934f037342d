package io.procwatch.table;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.EventType;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.event.WaitStatus;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.sys.Libc;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Keeps the {@link ProcessTable} equal to what /proc would say, from kernel events: this is where
 * a fork becomes a row, an exec refreshes it, and an exit moves it to the history.
 *
 * <p>Runs on the connector's reader thread. /proc is read only when an event cannot tell the
 * answer: at exec when no exec capture runs (cmdline, exe), for the children of an exited process
 * (the kernel re-parented them; no event says to whom), at start-up and after a loss.
 */
public final class EventApplier implements Consumer<ConnectorEvent> {
    private final ProcessTable table;
    private final ProcReader reader;
    private final SystemInfo sys = SystemInfo.get();
    /** Processes that exited but may still be zombies in /proc (not yet reaped by their parent). */
    private final Set<Integer> exited = ConcurrentHashMap.newKeySet();
    /** Told when {@link #exited} gains a process, so that reaping runs only while there is some to do. */
    private volatile Runnable exitPending = () -> { };
    /** Where an exec's argv, name and program come from; the /proc reader unless BPF capture runs. */
    private volatile ExecSource execs;
    /**
     * Set when events were lost and the table may hold processes that are gone (their exits were
     * among the lost) until the rescan after the backlog. While set, queries check each row
     * against /proc before serving it ({@link #mayBeStale}).
     */
    private volatile boolean stale;
    private volatile boolean resyncPending;
    private long resyncDueNanos;

    public EventApplier(ProcessTable table, io.procwatch.procfs.ProcFs proc) {
        this.table = table;
        this.reader = new ProcReader(proc);
        this.execs = new ProcExecSource(reader, table.counters);
    }

    /** Uses {@code s} for the argv of every exec from now on (the BPF capture). */
    public void useExecSource(ExecSource s) {
        execs = s;
    }

    /** Pairs every exec from now on with the kernel's record of it (the BPF capture), /proc as fallback. */
    public void useExecCapture(io.procwatch.bpf.ExecCapture capture) {
        execs = new CapturedExecSource(capture, reader, table.counters);
    }

    public ExecSource execSource() {
        return execs;
    }

    @Override
    public void accept(ConnectorEvent e) {
        table.eventTime(e instanceof ProcEvent pe ? pe.timestampNs() : 0);
        try {
            dispatch(e);
        } finally {
            table.eventTime(0);
        }
    }

    private void dispatch(ConnectorEvent e) {
        switch (e) {
            case Loss l -> onLoss(l);
            case ProcEvent.Fork f -> onFork(f);
            case ProcEvent.Exec x -> onExec(x);
            case ProcEvent.Exit x -> onExit(x);
            case ProcEvent.UidChange u -> onChange(u, EventType.UID, p -> {
                p.ruid = u.ruid();
                p.euid = u.euid();
            });
            case ProcEvent.GidChange g -> onChange(g, EventType.GID, p -> {
                p.rgid = g.rgid();
                p.egid = g.egid();
            });
            case ProcEvent.SidChange s -> onChange(s, EventType.SID, p -> {
                // setsid(): new session and process group led by the caller, no controlling tty
                p.session = s.tgid();
                p.pgrp = s.tgid();
                p.ttyNr = 0;
                p.tpgid = -1;
            });
            case ProcEvent.CommChange c -> onRename(c);
            case ProcEvent.Ptrace t -> onChange(t, EventType.PTRACE, p -> p.tracerPid = t.tracerTgid());
            case ProcEvent.Coredump c -> onChange(c, EventType.COREDUMP, p -> p.coreDumping = true);
        }
    }

    // ---- start-up and losses ------------------------------------------------------------------

    /** The kernel's task list (BPF task iterator) for the rescan; null: read every stat file. */
    private volatile io.procwatch.bpf.TaskScan lives;
    /** Told after a rescan from the task list, with its start time (asks the sampler for a pass soon). */
    private volatile java.util.function.LongConsumer afterRescan = t -> { };
    /**
     * Given the rows a rescan loaded with their open stat files and their fingerprint sums from
     * its task scan (the sampler keeps them); it must close every descriptor it does not keep.
     */
    private volatile java.util.function.BiConsumer<List<ProcReader.Loaded>, Map<Integer, Long>> adoptLoaded =
            (loaded, sums) -> loaded.forEach(l -> Libc.closeQuietly(l.statFd()));

    /**
     * Rescans after a loss from the kernel's task list instead of every /proc/PID/stat: one pass
     * tells which lives exist (pid + start time), so only new pids are read from /proc, and the
     * stat values of known ones are left to {@code after} (the sampler, which re-reads only what
     * its own task scan saw move). At 10,000 processes the stat read of every pid took ~180 ms on
     * a loaded 2-core machine, most of the time to the first right answer after a loss.
     */
    public void useTaskScan(io.procwatch.bpf.TaskScan scan, java.util.function.LongConsumer after,
                            java.util.function.BiConsumer<List<ProcReader.Loaded>, Map<Integer, Long>> adopt) {
        this.lives = scan != null && scan.hasStartTimes() ? scan : null;
        this.afterRescan = after;
        this.adoptLoaded = adopt;
    }

    /**
     * What a rescan found of one pid: its life's start tick, its stat line when it was read (else
     * from the task iterator: whether every task of it has exited, its leader's cgroup id, and the
     * sum of its tasks' fingerprints as the sampler adds them up).
     */
    private record Seen(long startTicks, PidStat stat, boolean groupEnded, long cgroupId, long scanSum) {
    }

    /**
     * The lives that exist now, by pid: from the task iterator when there is one (not at
     * start-up, which reads every process's files anyway), else from a stat read of each pid.
     */
    private Map<Integer, Seen> present(boolean initial, boolean[] fromTasks) throws IOException {
        io.procwatch.bpf.TaskScan scan = lives;
        if (!initial && scan != null) {
            try {
                Map<Integer, Seen> seen = presentFromTasks(scan);
                fromTasks[0] = true;
                return seen;
            } catch (io.procwatch.sys.SyscallException | IllegalStateException e) {
                // the iterator failed (or was closed with the sampler at shutdown): read /proc
                table.counters.samplerScanFailures.increment();
            }
        }
        Map<Integer, Seen> present = new HashMap<>();
        for (int pid : reader.procFs().pids()) {
            PidStat s = reader.stat(pid);
            if (s != null) {
                present.put(pid, new Seen(s.starttime(), s, false, 0, 0));
            }
        }
        return present;
    }

    private Map<Integer, Seen> presentFromTasks(io.procwatch.bpf.TaskScan scan) throws io.procwatch.sys.SyscallException {
        long tickNs = 1_000_000_000L / sys.clockTicks(); // stat's starttime is start_boottime in these
        Map<Integer, long[]> leaders = new HashMap<>(); // tgid -> {start tick, cgroup id}
        Map<Integer, Integer> running = new HashMap<>(); // tgid -> its tasks that have not exited
        Map<Integer, Long> sums = new HashMap<>(); // tgid -> sum of its tasks' fingerprints
        scan.lives((tid, tgid, startNs, exitState, cgroupId, fingerprint) -> {
            if (tid == tgid) {
                leaders.put(tgid, new long[] {startNs / tickNs, cgroupId});
            }
            if (exitState == 0) {
                running.merge(tgid, 1, Integer::sum);
            }
            sums.merge(tgid, fingerprint, Long::sum);
        });
        Map<Integer, Seen> present = new HashMap<>(leaders.size() * 2);
        for (Map.Entry<Integer, long[]> e : leaders.entrySet()) {
            long[] v = e.getValue();
            present.put(e.getKey(), new Seen(v[0], null, !running.containsKey(e.getKey()), v[1], sums.get(e.getKey())));
        }
        return present;
    }

    /**
     * Rebuilds the table from a scan of what exists. At start-up (initial) it just fills the
     * table; after a loss it reconciles: rows whose life is gone go to the history as "exit not
     * observed" (with the name and argv last known), new pids are loaded, and rows of lives still
     * running keep what events taught them and take /proc's values for the rest (from the stat
     * line read here, or with the task iterator from the pass run after). Events that arrived
     * during the scan are applied after it and are idempotent against it (a fork of a pid already
     * loaded with the same start is a no-op); a row an event changed while the scan ran is newer
     * than the scan and left as the event made it.
     */
    public void resync(boolean initial) throws IOException {
        resyncPending = false;
        long losses = lossCount; // after the flag: a loss from here on leaves the table stale (see the end)
        long scanStarted = System.nanoTime(); // no stat line in present is older than this
        // The rows as they were before the scan (rows are immutable: the same object means no event
        // has touched that pid since). A row made after this (a fork applied meanwhile by the event
        // reader, when a query runs the rescan) is newer than the scan and must not be dropped.
        Map<Integer, ProcessInfo> before = new HashMap<>();
        for (ProcessInfo p : table.all()) {
            before.put(p.pid, p);
        }
        boolean[] tasks = {false};
        Map<Integer, Seen> present = present(initial, tasks);
        boolean fromTasks = tasks[0];
        int added = 0;
        int vanished = 0;
        List<ProcessInfo> toLoad = new ArrayList<>();
        List<ExitedProcess> gone = new ArrayList<>();
        table.writeLock.lock();
        try {
            for (ProcessInfo old : new ArrayList<>(table.all())) {
                Seen s = present.get(old.pid);
                if (s != null && ProcReader.sameStart(old.startTicks, s.startTicks())) {
                    if (s.groupEnded() && !old.leaderExited) {
                        // a zombie whose exit event was lost (or is still queued): the reaper
                        // watches it, and drops it once its parent's wait has removed it from /proc
                        exited.add(old.pid);
                        exitPending.run();
                    }
                    continue;
                }
                if (!old.sameLife(before.get(old.pid))) {
                    continue; // made by an event after the scan began: the scan cannot have seen it
                }
                table.remove(old);
                if (!initial && !old.leaderExited) {
                    vanished++;
                    table.counters.exitsNotObserved.increment();
                    gone.add(addHistory(old, null, 0, false));
                }
                exited.remove(old.pid);
            }
        } finally {
            table.writeLock.unlock();
        }
        // an exit not observed is an exit all the same: waiters, subscribers and the journal (and
        // through it the fleet topic) get it, marked unobserved, as the history has it
        gone.forEach(e -> table.publish(new TableEvent.Exited(0, e)));
        // Load new lives outside the lock (several files each); keep the known ones' event data.
        List<Integer> unknown = new ArrayList<>();
        for (int pid : present.keySet()) {
            if (table.get(pid) == null) {
                unknown.add(pid);
            }
        }
        List<ProcReader.Loaded> loaded = load(unknown, present);
        for (ProcReader.Loaded l : loaded) {
            toLoad.add(l.row());
        }
        table.writeLock.lock();
        try {
            for (ProcessInfo p : toLoad) {
                ProcessInfo old = table.get(p.pid);
                if (old != null) {
                    continue; // an event added it meanwhile: the event's row is newer
                }
                added++;
                if (p.leaderExited) {
                    exited.add(p.pid);
                    exitPending.run();
                }
                table.put(null, p);
            }
            if (!fromTasks) {
                for (ProcessInfo old : new ArrayList<>(table.all())) {
                    Seen seen = present.get(old.pid);
                    PidStat s = seen == null ? null : seen.stat();
                    if (s != null && ProcReader.sameStart(old.startTicks, s.starttime()) && !old.leaderExited
                            && ProcReader.statDiffers(old, s)) {
                        ProcessInfo.Builder b = old.toBuilder();
                        ProcReader.applyStat(b, s, scanStarted);
                        table.put(old, b.build());
                    }
                }
            }
        } finally {
            table.writeLock.unlock();
        }
        if (!loaded.isEmpty()) {
            // the rows just loaded, their open stat files and the fingerprints taken before the
            // files were read: the sampler's next pass reads again only those that moved since (a
            // first answer that came after the rescan would otherwise read all of them again)
            Map<Integer, Long> sums = new HashMap<>();
            for (ProcReader.Loaded l : loaded) {
                Seen seen = present.get(l.row().pid);
                sums.put(l.row().pid, seen == null ? 0L : seen.scanSum());
            }
            adoptLoaded.accept(loaded, sums);
        }
        if (fromTasks) {
            // the known lives' stat values (parents after lost exits, states, times), read only
            // where the sampler's task scan saw them move; the rows just loaded count as read.
            // Not here and now: the event reader must get back to its socket (a 64 KiB buffer
            // overflows again within tens of ms on a busy machine), and a fresh answer runs the
            // pass itself (or shares this one).
            afterRescan.accept(scanStarted);
        }
        if (!initial) {
            table.counters.resyncs.increment();
            if (fromTasks) {
                table.counters.resyncsFromTaskScan.increment();
            }
            if (added + vanished > 0) { // not the quick ones that find nothing to repair after it
                table.counters.lastResyncMicros = (System.nanoTime() - scanStarted) / 1000;
                table.counters.lastResyncLoaded = added;
                table.counters.lastResyncVanished = vanished;
            }
            if (lossCount == losses) {
                // not when events were lost again while this scan ran (the reader goes on reading
                // meanwhile): that loss's rescan, pending since, clears it
                stale = false;
            }
            table.publish(new TableEvent.Resynced(0, added, vanished));
        }
    }

    /** How many processes one round of {@link #rehearse} loads at most. */
    private static final int REHEARSAL_PIDS = 300;
    /** How many loads {@link #rehearse} makes in all (C1 compiles a method after a few hundred calls). */
    private static final int REHEARSAL_LOADS = 1200;

    /**
     * Runs the code of a rescan after a loss (the task scan of lives, the load of new processes
     * on the loaders' pool) over processes that exist now, changing nothing: rounds of up to
     * {@value #REHEARSAL_PIDS} processes until {@value #REHEARSAL_LOADS} loads were made. The
     * daemon runs on C1 alone, which compiles a method only after a few hundred calls; without
     * this, the first loss loaded its new processes largely interpreted, and that load is what
     * the first answer after a loss waits for (200 new processes: 66-75 ms of CPU cold, 12-19 ms
     * compiled). Costs some tens of ms of CPU once, at start-up.
     */
    public void rehearse() {
        List<Integer> pids = new ArrayList<>();
        for (ProcessInfo p : table.all()) {
            if (pids.size() >= REHEARSAL_PIDS) {
                break;
            }
            pids.add(p.pid);
        }
        if (pids.isEmpty()) {
            return;
        }
        for (int made = 0; made < REHEARSAL_LOADS; made += pids.size()) {
            io.procwatch.bpf.TaskScan scan = lives;
            if (scan != null) {
                try {
                    presentFromTasks(scan);
                } catch (io.procwatch.sys.SyscallException | IllegalStateException e) {
                    // closed at shutdown, or failing: a rescan reads /proc then; nothing to warm
                }
            }
            for (ProcReader.Loaded l : load(pids, Map.of())) {
                Libc.closeQuietly(l.statFd());
            }
        }
    }

    /** Loads of new pids after a loss run on this many threads at most (no lock is taken by a load). */
    private static final int LOADERS = Math.max(2, Runtime.getRuntime().availableProcessors());
    private static volatile java.util.concurrent.ForkJoinPool loaders;

    /**
     * Reads the rows of pids the table does not have. Each load reads five or six files and takes
     * no lock, so when there are many (a storm's new processes after a loss) they are read on
     * several threads: on a machine shared with other work that is also a larger share of the
     * CPU while the first answer waits for them.
     */
    private List<ProcReader.Loaded> load(List<Integer> pids, Map<Integer, Seen> present) {
        // its stat again, not the one the scan saw: the pid may have been reused since, and the
        // other files must be read after the stat line that proves which life they are
        java.util.function.Function<Integer, ProcReader.Loaded> one = pid -> {
            Seen seen = present.get(pid);
            return reader.loadOpen(pid, seen == null ? 0 : seen.cgroupId());
        };
        if (pids.size() < 32) {
            List<ProcReader.Loaded> out = new ArrayList<>(pids.size());
            for (int pid : pids) {
                ProcReader.Loaded l = one.apply(pid);
                if (l != null) {
                    out.add(l);
                }
            }
            return out;
        }
        java.util.concurrent.ForkJoinPool pool = loaders;
        if (pool == null) {
            synchronized (EventApplier.class) {
                if (loaders == null) {
                    loaders = new java.util.concurrent.ForkJoinPool(LOADERS);
                }
                pool = loaders;
            }
        }
        try {
            return pool.submit(() -> pids.parallelStream().map(one).filter(java.util.Objects::nonNull).toList()).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return pids.stream().map(one).filter(java.util.Objects::nonNull).toList();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    /**
     * A loss: the table is stale from now until a rescan. The rescan waits until the backlog of
     * events queued behind the loss is applied ({@link #caughtUp}, or a second at the most), so
     * that one rescan serves a whole storm instead of one per overrun.
     */
    private void onLoss(Loss l) {
        table.counters.losses.increment();
        if (l.lostEvents() > 0) {
            table.counters.lostEvents.add(l.lostEvents());
        }
        table.publish(new TableEvent.Lost(0, l));
        stale = true;
        lossCount++;
        if (!resyncPending) {
            resyncPending = true;
            resyncDueNanos = System.nanoTime() + 1_000_000_000L;
        } else if (System.nanoTime() - resyncDueNanos > 0) {
            rescanSoon();
        }
    }

    /** Losses seen by the reader (written by it alone); a rescan clears {@link #stale} only if none came while it ran. */
    private volatile long lossCount;

    /** Called by the event reader when it has applied every event queued so far (it is about to wait). */
    public void caughtUp() {
        if (resyncPending) {
            rescanSoon();
        }
    }

    /** A rescan is queued on {@link #rescanSoon}'s thread and has not begun. */
    private final java.util.concurrent.atomic.AtomicBoolean rescanQueued = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Rescans on a thread of its own, not the event reader's: a rescan after a storm reads the
     * files of every new process (tens of ms on a loaded machine), and a reader held that long
     * let a small receive buffer overflow again (a second loss, and a second rescan the first
     * answer waited for, after nearly every storm). The reader goes on applying events
     * meanwhile, which a rescan allows for (a row an event made or changed after the scan began
     * is left as the event made it); a fresh answer waits for the rescan ({@link #resyncForQuery}).
     */
    private void rescanSoon() {
        if (rescanQueued.compareAndSet(false, true)) {
            Thread.ofPlatform().name("procwatch-rescan").daemon(true).start(() -> {
                rescanQueued.set(false);
                try {
                    resyncNow();
                } catch (RuntimeException e) {
                    // on the reader this would have ended the event source; here the next loss
                    // or catch-up tries again, and answers meanwhile check rows against /proc
                    resyncPending = true;
                    System.err.println("procwatch daemon: rescan after a loss failed: " + e);
                }
            });
        }
    }

    private final Object resyncGate = new Object();

    /**
     * A request came while the table is stale: rescan now rather than after the backlog (whose
     * events apply idempotently after a scan), so the answer has the processes whose forks were
     * lost, not only fewer of the gone ones. One rescan at a time; later callers find it done.
     */
    public void resyncForQuery() {
        // Not "stale && resyncPending": a rescan that is running has already cleared
        // resyncPending, and an answer must wait for it (resyncNow waits on its gate) rather than
        // be served from the table it has not finished (CI: a first answer after a loss without
        // the 200 processes whose forks were lost, 100 ms before the rescan added them).
        if (stale) {
            resyncNow();
        }
    }

    private void resyncNow() {
        synchronized (resyncGate) {
            if (!resyncPending) {
                return; // another thread's rescan, started after the loss, has just done it
            }
            resyncGuarded();
        }
    }

    private void resyncGuarded() {
        try {
            resync(false);
        } catch (IOException e) {
            // /proc unreadable: counted as a loss already; the next loss or catch-up retries
            resyncPending = true;
            resyncDueNanos = System.nanoTime() + 1_000_000_000L;
        }
    }

    /** Waits while events were lost and not yet rescanned ({@link #mayBeStale}), at most {@code maxMillis}. */
    public void awaitResynced(long maxMillis) {
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        while (stale && System.nanoTime() - deadline < 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(500_000);
        }
    }

    /** True while events were lost and not yet reconciled: rows may describe processes already gone. */
    public boolean mayBeStale() {
        return stale;
    }

    /** Whether the life {@code p} describes still exists in /proc (for queries while {@link #mayBeStale}). */
    public boolean stillExists(ProcessInfo p) {
        PidStat s = reader.stat(p.pid);
        return s != null && ProcReader.sameStart(p.startTicks, s.starttime());
    }

    // ---- fork ---------------------------------------------------------------------------------

    private void onFork(ProcEvent.Fork f) {
        if (f.isThread()) {
            table.counters.threadForks.increment();
            ProcessInfo published = update(f.childTgid(), p -> {
                if (Arrays.stream(p.threads).noneMatch(t -> t == f.childPid())) {
                    p.threads = append(p.threads, f.childPid());
                }
            });
            if (published != null) {
                table.publish(new TableEvent.Forked(f.timestampNs(), published, true, f.childPid()));
            }
            return;
        }
        table.counters.forks.increment();
        long startTicks = sys.startTicksFromFork(f.timestampNs());
        ProcessInfo child;
        List<ExitedProcess> gaveWay = List.of();
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(f.childTgid());
            if (old != null) {
                if (isThisFork(old, f, startTicks)) {
                    return; // the start-up scan (or a rescan) already loaded this process
                }
                // The pid was freed and reused: the old entry is a reaped zombie, or a life whose
                // exit event is still to come (see overtake), or one whose exit was lost.
                table.remove(old);
                exited.remove(old.pid);
                if (!(old.leaderExited && old.threads.length == 0)) {
                    gaveWay = overtake(old);
                }
            }
            ProcessInfo parent = table.get(f.parentTgid());
            ProcessInfo.Builder b;
            if (parent != null) {
                // A fork copies the parent: same program, arguments, credentials, session, group.
                b = parent.toBuilder();
                b.pid = f.childTgid();
                b.ppid = f.parentTgid();
                b.threads = new int[] {f.childPid()};
                b.state = 'R';
                b.utime = 0;
                b.stime = 0;
                b.minflt = 0;
                b.majflt = 0;
                b.numThreads = 1;
                b.processor = f.cpu();
                b.sampledAtNanos = 0;
                b.leaderExited = false;
                b.coreDumping = false;
                b.exitStatusRaw = 0;
                b.execCount = 0;
                b.tracerPid = 0;
                b.eventGen = 0;
            } else {
                ProcessInfo loaded = reader.load(f.childTgid()); // parent unknown: ask /proc (rare)
                if (loaded != null) {
                    b = loaded.toBuilder();
                } else {
                    b = new ProcessInfo.Builder(f.childTgid());
                    b.ppid = f.parentTgid();
                    b.argvKnown = false;
                }
            }
            b.startTicks = startTicks;
            b.startExact = false;
            b.startNs = f.timestampNs();
            b.forkKeyed = true;
            child = b.build();
            table.put(null, child);
        } finally {
            table.writeLock.unlock();
        }
        gaveWay.forEach(e -> table.publish(new TableEvent.Exited(0, e)));
        table.publish(new TableEvent.Forked(f.timestampNs(), child, false, f.childPid()));
    }

    /**
     * Whether a fork event is the fork of the life the table already has for its pid. A row made
     * from a fork event is that event's only (its key is the event's timestamp): a fork with another
     * timestamp is a new life, even in the same clock tick (a pid reused within 10 ms: the tick
     * cannot tell the lives apart). A row loaded from /proc is this fork's life when it started in
     * the fork's tick and was read after the fork (a scan that raced the event queue).
     */
    private static boolean isThisFork(ProcessInfo old, ProcEvent.Fork f, long forkTicks) {
        if (old.startNs == f.timestampNs()) {
            return true;
        }
        if (old.forkKeyed) {
            return false;
        }
        return !old.leaderExited && ProcReader.sameStart(old.startTicks, forkTicks)
                && old.sampledAtNanos - f.timestampNs() > 0;
    }

    // ---- lives whose exit event comes after the next life's fork ------------------------------

    /** How long a life waits for its late exit event before it goes to history as not observed. */
    private static final long OVERTAKEN_WAIT_NANOS = 3_000_000_000L;
    /** At most this many lives wait (a storm of losses must not grow the heap); the oldest go first. */
    private static final int OVERTAKEN_MAX = 4096;

    /** A life waiting for its late exit event; {@code row} takes its threads' exits meanwhile. */
    private static final class Overtaken {
        ProcessInfo row;
        final long sinceNanos;
        boolean done;

        Overtaken(ProcessInfo row, long sinceNanos) {
            this.row = row;
            this.sinceNanos = sinceNanos;
        }
    }

    /**
     * Lives whose pid a newer fork took before their exit event arrived, oldest first per pid.
     * Guarded by the table's write lock. Why this happens: the kernel sends the exit event only
     * after exit_notify has told the parent, and the parent may reap the child and fork again (the
     * same pid, with clone3 set_tid or a quick pid wrap) on another CPU before the exiting task
     * reaches proc_exit_connector; so the new life's fork event can arrive first, and even its
     * exec. The late exit belongs to the oldest life still owed one, not to the row now in the table.
     */
    private final Map<Integer, java.util.ArrayDeque<Overtaken>> overtaken = new HashMap<>();
    /** The same lives in the order they were overtaken (so oldest first): what expiry walks. */
    private final java.util.ArrayDeque<Overtaken> overtakenOrder = new java.util.ArrayDeque<>();
    private volatile int overtakenCount; // written under the write lock; read by the reaper's timer

    /** Under the write lock; returns what had to give way to the bound (to publish after the lock). */
    private List<ExitedProcess> overtake(ProcessInfo old) {
        Overtaken o = new Overtaken(old, System.nanoTime());
        overtaken.computeIfAbsent(old.pid, k -> new java.util.ArrayDeque<>()).addLast(o);
        overtakenOrder.addLast(o);
        overtakenCount++;
        table.counters.exitsOvertaken.increment();
        exitPending.run(); // the reaper's timer gives up on it if its exit never comes
        return overtakenCount > OVERTAKEN_MAX ? expireOvertaken(0, overtakenCount - OVERTAKEN_MAX)
                : List.of();
    }

    /** Takes a waiting life out of both structures. Under the write lock. */
    private void settle(Overtaken o) {
        o.done = true;
        overtakenCount--;
        java.util.ArrayDeque<Overtaken> lives = overtaken.get(o.row.pid);
        if (lives != null) {
            lives.remove(o);
            if (lives.isEmpty()) {
                overtaken.remove(o.row.pid);
            }
        }
        while (!overtakenOrder.isEmpty() && overtakenOrder.peekFirst().done) {
            overtakenOrder.pollFirst();
        }
    }

    /**
     * Applies an exit event to the oldest overtaken life of its pid that has the exiting thread;
     * false when no such life waits (the event is the table row's). Under the write lock.
     */
    private boolean exitOfOvertaken(ProcEvent.Exit x, List<ExitedProcess> ended) {
        java.util.ArrayDeque<Overtaken> lives = overtaken.get(x.tgid());
        if (lives == null) {
            return false;
        }
        for (Overtaken o : lives) {
            ProcessInfo r = o.row;
            if (x.pid() != x.tgid() && Arrays.stream(r.threads).noneMatch(t -> t == x.pid())) {
                continue;
            }
            ProcessInfo.Builder p = r.toBuilder();
            p.threads = remove(p.threads, x.pid());
            if (x.pid() == x.tgid()) {
                p.leaderExited = true;
                p.exitStatusRaw = x.status().raw();
            } else {
                table.counters.threadExits.increment();
            }
            if (p.leaderExited && p.threads.length == 0) {
                settle(o);
                p.state = 'Z';
                table.counters.exits.increment();
                table.counters.exitsLateApplied.increment();
                ended.add(addHistory(p.build(), new WaitStatus(groupStatus(x, r)), x.timestampNs(), true));
            } else {
                o.row = p.build(); // still owed its other threads' exits
            }
            return true;
        }
        return false;
    }

    /**
     * Gives up on overtaken lives: the oldest {@code count} (the bound), or all waiting since
     * before {@code olderThanNanos} when count is negative (the reaper). Each goes to history as
     * exit not observed, with the last known name and argv. Under the write lock.
     */
    private List<ExitedProcess> expireOvertaken(long olderThanNanos, int count) {
        List<ExitedProcess> out = new ArrayList<>();
        while (!overtakenOrder.isEmpty()) {
            Overtaken oldest = overtakenOrder.peekFirst();
            if (count >= 0 ? out.size() >= count : oldest.sinceNanos - olderThanNanos >= 0) {
                break;
            }
            settle(oldest);
            ProcessInfo r = oldest.row;
            table.counters.exitsNotObserved.increment();
            out.add(addHistory(r, r.leaderExited ? new WaitStatus(r.exitStatusRaw) : null, 0, false));
        }
        return out;
    }

    // ---- exec: where the row gets its program -------------------------------------------------

    private void onExec(ProcEvent.Exec x) {
        table.counters.execs.increment();
        int pid = x.tgid();
        ProcessInfo known = table.get(pid);
        if (known == null) {
            table.counters.eventsForUnknownPids.increment();
            return;
        }
        ExecSource.Program prog = execs.program(x, known); // /proc or the BPF capture, outside the lock
        ProcessInfo published = updateLife(known, p -> {
            p.execCount++;
            // exec kills the other threads; the exec'ing one becomes the leader (de_thread), so an
            // exit event of the old leader seen just before does not end the process
            p.threads = new int[] {pid};
            p.leaderExited = false;
            p.exitStatusRaw = 0;
            p.coreDumping = false;
            if (p.state == 'Z') {
                p.state = 'R';
            }
            if (prog.comm() != null) {
                p.comm = prog.comm();
            }
            if (prog.startTicks() > 0 && !p.startExact) {
                p.startTicks = prog.startTicks();
                p.startExact = true;
            }
            if (prog.creds() != null) {
                int[] c = prog.creds();
                p.ruid = c[0];
                p.euid = c[1];
                p.rgid = c[2];
                p.egid = c[3];
            }
            p.argvKnown = prog.argvKnown();
            p.argv = prog.argvKnown() ? prog.argv() : List.of();
            p.execArgv = p.argv;
            p.exe = prog.exe() == null ? "" : prog.exe();
        });
        if (published != null) {
            table.publish(new TableEvent.Execed(x.timestampNs(), published));
        }
    }

    // ---- exit ---------------------------------------------------------------------------------

    private void onExit(ProcEvent.Exit x) {
        int tgid = x.tgid();
        ExitedProcess ended = null;
        ProcessInfo after;
        boolean groupEnded = false;
        List<ExitedProcess> lateEnded = new ArrayList<>(1);
        table.writeLock.lock();
        try {
            if (exitOfOvertaken(x, lateEnded)) {
                ended = lateEnded.isEmpty() ? null : lateEnded.getFirst();
                groupEnded = ended != null;
                after = null;
            } else {
            ProcessInfo old = table.get(tgid);
            if (old == null) {
                table.counters.eventsForUnknownPids.increment();
                return;
            }
            ProcessInfo.Builder p = old.toBuilder();
            p.eventGen++;
            p.threads = remove(p.threads, x.pid());
            if (x.pid() == tgid) {
                p.leaderExited = true;
                p.exitStatusRaw = x.status().raw();
            }
            if (p.leaderExited && p.threads.length == 0) {
                groupEnded = true;
                WaitStatus status = new WaitStatus(groupStatus(x, old));
                p.state = 'Z';
                // history keeps the command line, name and last sample of the life that ended
                ProcessInfo last = p.build();
                // A zombie has released its memory and its command line; /proc (and so ps) shows
                // neither any more, and the live row must not either.
                p.argv = List.of();
                p.argvKnown = true;
                p.vsize = 0;
                p.rss = 0;
                exited.add(tgid);
                exitPending.run();
                table.counters.exits.increment();
                table.put(old, p.build());
                after = p.build();
                ended = addHistory(last, status, x.timestampNs(), true);
            } else {
                if (x.pid() == tgid) {
                    // The leader ended while other threads run: /proc shows it as a zombie leader
                    // with no command line (procps: Zl and "[comm] <defunct>") until the last thread ends.
                    p.state = 'Z';
                    p.argv = List.of();
                    p.argvKnown = true;
                    p.vsize = 0;
                    p.rss = 0;
                    exited.add(tgid); // if the other threads' exits are lost, the reaper still ends it
                    exitPending.run();
                } else {
                    table.counters.threadExits.increment();
                }
                after = p.build();
                table.put(old, after);
            }
            }
        } finally {
            table.writeLock.unlock();
        }
        if (groupEnded) {
            table.publish(new TableEvent.Exited(x.timestampNs(), ended));
            adoptOrphans(tgid);
        } else if (x.pid() != tgid && after != null) {
            table.publish(new TableEvent.ThreadExited(x.timestampNs(), after, x.pid()));
        }
    }

    /**
     * What waitpid(2) returns for a process whose last thread just exited. When the group exited
     * together (exit_group, a fatal signal) every thread still running then carries the group's
     * code, so the last one's is the answer; otherwise (each thread left by itself) it is the
     * leader's own. A last thread that leaves with 0 after a leader that left first means the
     * group did not exit as one (a group exit gives every thread the same code), so the leader's
     * code stands.
     */
    private static int groupStatus(ProcEvent.Exit last, ProcessInfo before) {
        if (last.pid() == last.tgid()) {
            return last.status().raw();
        }
        int code = last.status().raw();
        return code != 0 ? code : before.exitStatusRaw;
    }

    /**
     * The kernel has re-parented the children of a process whose last thread exited (to the
     * nearest child subreaper, or to the namespace's init) before it sent the exit event; no event
     * says to whom. Their stat lines do: read them now, for these children only, so every index
     * (children, subtree) shows the new parent as soon as the kernel has made it.
     */
    private void adoptOrphans(int parentTgid) {
        List<ProcessInfo> orphans = table.childrenOf(parentTgid);
        if (orphans.isEmpty()) {
            return;
        }
        Map<Integer, PidStat> stats = new HashMap<>();
        for (ProcessInfo c : orphans) {
            PidStat s = reader.stat(c.pid);
            if (s != null && ProcReader.sameStart(c.startTicks, s.starttime())) {
                stats.put(c.pid, s);
            }
        }
        table.writeLock.lock();
        try {
            for (ProcessInfo c : orphans) {
                PidStat s = stats.get(c.pid);
                ProcessInfo now = table.get(c.pid);
                if (s == null || now == null || !now.sameLife(c) || s.ppid() == now.ppid) {
                    continue;
                }
                ProcessInfo.Builder b = now.toBuilder();
                ProcReader.applyFamily(b, s);
                table.put(now, b.build());
                table.counters.reparented.increment();
            }
        } finally {
            table.writeLock.unlock();
        }
    }

    /**
     * Records an exit. Start and end are the life's start and end on the monotonic clock (the
     * fork event, or the start tick for a process found by a scan; the exit event), both turned
     * into wall-clock time with one reading of the clocks, so the lifetime is exact and the start
     * equals what the live row said.
     *
     * @param exitMonotonicNs the exit event's timestamp, or 0 when the exit was not observed (now)
     */
    private ExitedProcess addHistory(ProcessInfo p, WaitStatus status, long exitMonotonicNs, boolean observed) {
        long nowMono = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        long offsetNs = SystemInfo.realtimeOffsetNs(); // the offset rows and events use: the same start ms everywhere
        long exitMono = exitMonotonicNs > 0 ? exitMonotonicNs : nowMono;
        long startMono = p.startNs > 0 ? Math.min(p.startNs, exitMono) : exitMono;
        long endEpochMs = Math.floorDiv(exitMono + offsetNs, 1_000_000L);
        long startEpochMs = Math.floorDiv(startMono + offsetNs, 1_000_000L);
        // What the process itself last showed in /proc (it may have scrubbed a secret or retitled
        // itself, and /proc then showed every user that text); the argv it was exec'd with went
        // out in its exec event. A zombie's empty command line is not its last.
        List<String> argv = p.argv.isEmpty() ? p.execArgv : p.argv;
        History h = table.history();
        synchronized (h) {
            return h.add(new ExitedProcess(h.nextSeq(), p.pid, p.ppid, p.euid, p.egid, p.comm, p.exe, argv,
                    startEpochMs, endEpochMs, status, status != null && status.coreDumped(), observed,
                    p.argvKnown, null, p.startNs, p.cgroup));
        }
    }

    // ---- uid, gid, sid, comm, ptrace, coredump ------------------------------------------------

    private void onChange(ProcEvent e, EventType kind, Consumer<ProcessInfo.Builder> edit) {
        switch (kind) {
            case UID, GID -> table.counters.idChanges.increment();
            case COMM -> table.counters.commChanges.increment();
            default -> table.counters.other.increment();
        }
        // Credentials, names and tracers of a process are its leader's; thread-level changes only
        // matter for per-thread views, which read /proc/PID/task on demand.
        ProcessInfo published = e.pid() == e.tgid() || kind == EventType.COREDUMP
                ? update(e.tgid(), edit) : table.get(e.tgid());
        if (published != null) {
            table.publish(new TableEvent.Changed(e.timestampNs(), kind, published, e.pid()));
        }
    }

    /**
     * A process renamed itself (prctl PR_SET_NAME). Programs that do so usually retitle their
     * argv too (perl's $0, setproctitle), which no event reports: re-read the cmdline now. The
     * argv it was exec'd with stays what the history keeps.
     */
    private void onRename(ProcEvent.CommChange c) {
        if (c.pid() != c.tgid()) {
            onChange(c, EventType.COMM, p -> { });
            return;
        }
        Optional<List<String>> argv = reader.procFs().cmdline(c.tgid());
        onChange(c, EventType.COMM, p -> {
            p.comm = c.comm();
            if (argv.isPresent() && !argv.get().isEmpty() && !p.leaderExited) {
                p.argv = List.copyOf(argv.get());
            }
        });
    }

    /** Builds a new row from the pid's current one with {@code edit} applied and publishes it; null if the pid is not in the table. */
    private ProcessInfo update(int pid, Consumer<ProcessInfo.Builder> edit) {
        ProcessInfo now = table.get(pid);
        if (now == null) {
            table.counters.eventsForUnknownPids.increment();
            return null;
        }
        return updateLife(now, edit);
    }

    /** As {@link #update}, but only while the pid's row is still the life {@code life} (null otherwise). */
    private ProcessInfo updateLife(ProcessInfo life, Consumer<ProcessInfo.Builder> edit) {
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(life.pid);
            if (old == null || !old.sameLife(life)) {
                table.counters.eventsForUnknownPids.increment(); // another life took the pid meanwhile
                return null;
            }
            ProcessInfo.Builder b = old.toBuilder();
            b.eventGen++;
            edit.accept(b);
            ProcessInfo p = b.build();
            table.put(old, p);
            return p;
        } finally {
            table.writeLock.unlock();
        }
    }

    // ---- reaping ------------------------------------------------------------------------------

    /** Calls {@code r} (on the event thread, so it must be quick) whenever an exited process waits to be reaped. */
    public void onExitPending(Runnable r) {
        exitPending = r;
    }

    /**
     * Drops exited processes that /proc no longer lists (their parent reaped them). There is no
     * kernel event for reaping, so this runs on a timer; the set it walks holds only recent exits.
     * A leader that exited while its threads ran, and whose process is gone without the last
     * thread's exit reaching us (lost events), ends here with the leader's status; a process a
     * rescan found a zombie without its exit event ends here with the status unknown.
     */
    public void reap() {
        if (overtakenCount > 0) {
            List<ExitedProcess> given;
            table.writeLock.lock();
            try {
                given = expireOvertaken(System.nanoTime() - OVERTAKEN_WAIT_NANOS, -1);
            } finally {
                table.writeLock.unlock();
            }
            given.forEach(e -> table.publish(new TableEvent.Exited(0, e)));
        }
        for (Integer pid : exited) {
            ProcessInfo p = table.get(pid);
            if (p == null) {
                exited.remove(pid);
                continue;
            }
            PidStat s = reader.stat(pid);
            boolean gone = s == null || !ProcReader.sameStart(p.startTicks, s.starttime());
            if (gone) {
                ExitedProcess unfinished = null;
                table.writeLock.lock();
                try {
                    ProcessInfo now = table.get(pid);
                    if (now != null && now.sameLife(p)) {
                        table.remove(now);
                        if (!now.leaderExited || now.threads.length > 0) {
                            // its last exit never came: a leader whose threads' exits were lost, or
                            // a process the rescan found a zombie after its exit event was lost
                            table.counters.exitsNotObserved.increment();
                            unfinished = addHistory(now, now.leaderExited ? new WaitStatus(now.exitStatusRaw) : null,
                                    0, false);
                        }
                    }
                } finally {
                    table.writeLock.unlock();
                }
                if (unfinished != null) {
                    table.publish(new TableEvent.Exited(0, unfinished));
                }
                exited.remove(pid);
            }
        }
    }

    /** Processes waiting to be reaped (for tests and stats). */
    public int exitedNotReaped() {
        return exited.size() + overtakenCount;
    }

    private static int[] append(int[] a, int v) {
        int[] b = Arrays.copyOf(a, a.length + 1);
        b[a.length] = v;
        return b;
    }

    private static int[] remove(int[] a, int v) {
        int n = 0;
        int[] b = new int[a.length];
        for (int x : a) {
            if (x != v) {
                b[n++] = x;
            }
        }
        return n == a.length ? a : Arrays.copyOf(b, n);
    }
}
