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
 * answer: at exec (cmdline, exe), at start-up and after a loss (a full rescan).
 */
public final class EventApplier implements Consumer<ConnectorEvent> {
    private final ProcessTable table;
    private final ProcReader reader;
    private final SystemInfo sys = SystemInfo.get();
    /** Processes that exited but may still be zombies in /proc (not yet reaped by their parent). */
    private final Set<Integer> exited = ConcurrentHashMap.newKeySet();
    /** Told when {@link #exited} gains a process, so that reaping runs only while there is some to do. */
    private volatile Runnable exitPending = () -> { };

    public EventApplier(ProcessTable table, io.procwatch.procfs.ProcFs proc) {
        this.table = table;
        this.reader = new ProcReader(proc);
    }

    @Override
    public void accept(ConnectorEvent e) {
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

    /**
     * Rebuilds the table from a /proc scan. At start-up (initial) it just fills the table; after a
     * loss it reconciles: pids found gone go to the history as "exit not observed", new pids are
     * added, and the others are refreshed. Events that arrived during the scan are applied after
     * it and are idempotent against it (a fork of a pid already loaded with the same start is a no-op).
     */
    public void resync(boolean initial) throws IOException {
        Map<Integer, ProcessInfo> scanned = new HashMap<>();
        for (int pid : reader.procFs().pids()) {
            ProcessInfo p = reader.load(pid);
            if (p != null) {
                scanned.put(pid, p);
            }
        }
        int added = 0;
        int vanished = 0;
        table.writeLock.lock();
        try {
            for (ProcessInfo old : new ArrayList<>(table.all())) {
                ProcessInfo s = scanned.get(old.pid);
                if (s == null || !ProcReader.sameStart(old.startTicks, s.startTicks)) {
                    table.remove(old);
                    if (!initial && !old.leaderExited) {
                        vanished++;
                        table.counters.exitsNotObserved.increment();
                        addHistory(old, null, 0, false);
                    }
                    exited.remove(old.pid);
                }
            }
            for (ProcessInfo s : scanned.values()) {
                ProcessInfo old = table.get(s.pid);
                if (old == null) {
                    added++;
                } else {
                    s.forkMonotonicNs = old.forkMonotonicNs;
                    s.execCount = old.execCount;
                }
                if (s.state == 'Z') {
                    s.leaderExited = true;
                    exited.add(s.pid);
                    exitPending.run();
                }
                table.put(old, s);
            }
        } finally {
            table.writeLock.unlock();
        }
        if (!initial) {
            table.counters.resyncs.increment();
            table.publish(new TableEvent.Resynced(0, added, vanished));
        }
    }

    private void onLoss(Loss l) {
        table.counters.losses.increment();
        if (l.lostEvents() > 0) {
            table.counters.lostEvents.add(l.lostEvents());
        }
        table.publish(new TableEvent.Lost(0, l));
        try {
            resync(false);
        } catch (IOException e) {
            // /proc unreadable: the next loss or event retries; counted as a loss already
        }
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
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(f.childTgid());
            if (old != null) {
                if (ProcReader.sameStart(old.startTicks, startTicks) && !old.leaderExited) {
                    return; // the start-up scan already loaded this process
                }
                // The pid was freed and reused: the old entry is a reaped zombie, or its exit was lost.
                table.remove(old);
                exited.remove(old.pid);
                if (!old.leaderExited) {
                    table.counters.exitsNotObserved.increment();
                    addHistory(old, null, 0, false);
                }
            }
            ProcessInfo parent = table.get(f.parentTgid());
            if (parent != null) {
                // A fork copies the parent: same program, arguments, credentials, session.
                child = parent.copy();
                child.pid = f.childTgid();
                child.ppid = f.parentTgid();
                child.threads = new int[] {f.childPid()};
                child.state = 'R';
                child.utime = 0;
                child.stime = 0;
                child.minflt = 0;
                child.majflt = 0;
                child.numThreads = 1;
                child.processor = f.cpu();
                child.sampledAtNanos = 0;
                child.leaderExited = false;
                child.coreDumping = false;
                child.exitStatusRaw = 0;
                child.execCount = 0;
                child.tracerPid = 0;
            } else {
                child = reader.load(f.childTgid()); // parent unknown: ask /proc (rare)
                if (child == null) {
                    child = new ProcessInfo(f.childTgid());
                    child.ppid = f.parentTgid();
                    child.argvKnown = false;
                }
            }
            child.startTicks = startTicks;
            child.startExact = false;
            child.forkMonotonicNs = f.timestampNs();
            table.put(null, child);
        } finally {
            table.writeLock.unlock();
        }
        table.publish(new TableEvent.Forked(f.timestampNs(), child, false, f.childPid()));
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
        // Read /proc before taking the lock. stat comes last: if it still shows the same, living
        // process, the cmdline and exe read before it are that process's, not a successor's. A
        // stat read first as well catches a second exec in between (the JDK's spawn helper execs
        // the real program at once): if the name changed, the command line read may be the first
        // program's while the name is the second's, so neither is claimed; the second exec's own
        // event brings both.
        var proc = reader.procFs();
        Optional<PidStat> statBefore = proc.stat(pid);
        Optional<List<String>> argv = proc.cmdlineAsExeced(pid);
        Optional<String> exe = proc.exe(pid);
        Optional<PidStat> stat = proc.stat(pid);
        boolean execedAgain = statBefore.isPresent() && stat.isPresent() && statBefore.get() != null
                && stat.get() != null && !statBefore.get().comm().equals(stat.get().comm());
        ProcessInfo published = update(pid, p -> {
            p.execCount++;
            p.threads = new int[] {pid}; // exec kills the other threads; the exec'ing one becomes the leader
            if (stat.isEmpty() || stat.get() == null || !ProcReader.sameStart(p.startTicks, stat.get().starttime())) {
                // Gone (or the pid is someone else's now): the new program is unknown. Say so rather
                // than keep the parent's name; the exit's taskstats record brings the real comm.
                table.counters.execsTooLate.increment();
                p.comm = "";
                p.exe = "";
                p.argv = List.of();
                p.argvKnown = false;
                return;
            }
            PidStat s = stat.get();
            p.comm = s.comm();
            if (!p.startExact) {
                p.startTicks = s.starttime();
                p.startExact = true;
            }
            boolean zombie = s.state() == 'Z' || s.state() == 'X';
            if (zombie || execedAgain || argv.isEmpty() || argv.get().isEmpty()) {
                table.counters.execsTooLate.increment();
                p.argv = List.of();
                p.argvKnown = false;
            } else {
                p.argv = List.copyOf(argv.get());
                p.argvKnown = true;
            }
            p.exe = execedAgain ? "" : exe.orElse("");
        });
        if (published != null) {
            table.publish(new TableEvent.Execed(x.timestampNs(), published));
        }
    }

    // ---- exit ---------------------------------------------------------------------------------

    private void onExit(ProcEvent.Exit x) {
        int tgid = x.tgid();
        ProcessInfo finished = null;
        ProcessInfo after;
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(tgid);
            if (old == null) {
                table.counters.eventsForUnknownPids.increment();
                return;
            }
            ProcessInfo p = old.copy();
            p.threads = remove(p.threads, x.pid());
            if (x.pid() == tgid) {
                p.leaderExited = true;
                p.exitStatusRaw = x.status().raw();
            }
            if (p.leaderExited && p.threads.length == 0) {
                p.state = 'Z';
                finished = p.copy(); // history keeps the command line and last sample
                // A zombie has released its memory and its command line; /proc (and so ps) shows
                // neither any more, and the live row must not either.
                p.argv = List.of();
                p.argvKnown = true;
                p.vsize = 0;
                p.rss = 0;
                exited.add(tgid);
                exitPending.run();
                table.counters.exits.increment();
            } else if (x.pid() != tgid) {
                table.counters.threadExits.increment();
            }
            table.put(old, p);
            after = p;
        } finally {
            table.writeLock.unlock();
        }
        if (finished != null) {
            ExitedProcess e = addHistory(finished, new WaitStatus(finished.exitStatusRaw), x.timestampNs(), true);
            table.publish(new TableEvent.Exited(x.timestampNs(), e));
        } else if (x.pid() != tgid) {
            table.publish(new TableEvent.ThreadExited(x.timestampNs(), after, x.pid()));
        }
    }

    /**
     * Records an exit. The end is wall-clock time; the start is the end minus the lifetime, which
     * is measured on the monotonic clock (fork and exit event timestamps, or the start tick).
     * Going through /proc's boot time instead would add its rounding to whole seconds and any
     * clock adjustment since boot: a 1 ms process would show a lifetime of up to seconds.
     *
     * @param exitMonotonicNs the exit event's timestamp, or 0 when the exit was not observed (now)
     */
    private ExitedProcess addHistory(ProcessInfo p, WaitStatus status, long exitMonotonicNs, boolean observed) {
        long nowMono = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        long exitMono = exitMonotonicNs > 0 ? exitMonotonicNs : nowMono;
        long endEpochMs = System.currentTimeMillis() - (nowMono - exitMono) / 1_000_000L;
        long startMono = p.forkMonotonicNs > 0 ? p.forkMonotonicNs
                : p.startTicks > 0 ? sys.startTicksToMonotonicNanos(p.startTicks) : exitMono;
        long start = endEpochMs - Math.max(0, exitMono - startMono) / 1_000_000L;
        History h = table.history();
        synchronized (h) {
            return h.add(new ExitedProcess(h.nextSeq(), p.pid, p.ppid, p.euid, p.egid, p.comm, p.exe, p.argv,
                    start, endEpochMs, status, status != null && (status.coreDumped()), observed,
                    p.argvKnown, null));
        }
    }

    // ---- uid, gid, sid, comm, ptrace, coredump ------------------------------------------------

    private void onChange(ProcEvent e, EventType kind, Consumer<ProcessInfo> edit) {
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
     * argv too (perl's $0, setproctitle), which no event reports: re-read the cmdline now.
     */
    private void onRename(ProcEvent.CommChange c) {
        if (c.pid() != c.tgid()) {
            onChange(c, EventType.COMM, p -> { });
            return;
        }
        Optional<List<String>> argv = reader.procFs().cmdline(c.tgid());
        onChange(c, EventType.COMM, p -> {
            p.comm = c.comm();
            if (argv.isPresent() && !argv.get().isEmpty()) {
                p.argv = List.copyOf(argv.get());
            }
        });
    }

    /** Copies the process, edits the copy, publishes it; null if the pid is not in the table. */
    private ProcessInfo update(int pid, Consumer<ProcessInfo> edit) {
        table.writeLock.lock();
        try {
            ProcessInfo old = table.get(pid);
            if (old == null) {
                table.counters.eventsForUnknownPids.increment();
                return null;
            }
            ProcessInfo p = old.copy();
            edit.accept(p);
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
     */
    public void reap() {
        for (Integer pid : exited) {
            ProcessInfo p = table.get(pid);
            if (p == null) {
                exited.remove(pid);
                continue;
            }
            Optional<PidStat> s = reader.procFs().stat(pid);
            boolean gone = s.isEmpty() || s.get() == null || !ProcReader.sameStart(p.startTicks, s.get().starttime());
            if (gone) {
                table.writeLock.lock();
                try {
                    ProcessInfo now = table.get(pid);
                    if (now != null && now.leaderExited) {
                        table.remove(now);
                    }
                } finally {
                    table.writeLock.unlock();
                }
                exited.remove(pid);
            }
        }
    }

    /** Processes waiting to be reaped (for tests and stats). */
    public int exitedNotReaped() {
        return exited.size();
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
