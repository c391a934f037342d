package io.procwatch.table;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The live process table: every process /proc would list, keyed by pid, with indexes by state
 * class, uid, parent and name so that a query for one of those costs O(matches), plus the history
 * of exited processes.
 *
 * <p>Reads never lock (entries are immutable {@link ProcessInfo}s in a concurrent map). Writes come
 * from the event applier, the sampler and the reaper, serialized by {@link #writeLock}.
 */
public final class ProcessTable {
    private final ConcurrentHashMap<Integer, ProcessInfo> live = new ConcurrentHashMap<>();
    private final Index<Character> byState = new Index<>();
    private final Index<Integer> byUid = new Index<>();
    private final Index<Integer> byParent = new Index<>();
    private final Index<String> byName = new Index<>();
    private final History history;
    private final List<Consumer<TableEvent>> listeners = new CopyOnWriteArrayList<>();
    final ReentrantLock writeLock = new ReentrantLock();
    final Counters counters = new Counters();

    /**
     * Sees every row change (the journal, issue #17): called under the write lock with the row
     * before (null for a new row) and after (null for a removed row), so nothing that edits the
     * table (events, sampler, reaper, rescans, re-parenting) is missed. It must only enqueue.
     */
    public interface ChangeTap {
        /** @param eventNs the kernel event's CLOCK_MONOTONIC time, or 0 when no event caused it */
        void changed(long eventNs, ProcessInfo old, ProcessInfo now);
    }

    private volatile ChangeTap tap;
    /** The event being applied, and the thread applying it (the connector's): see {@link #eventTime}. */
    private volatile Thread eventThread;
    private long eventNs;

    public void setChangeTap(ChangeTap t) {
        tap = t;
    }

    /** Set by the event applier around one event: the changes it makes carry the event's time. */
    void eventTime(long ns) {
        eventThread = Thread.currentThread();
        eventNs = ns;
    }

    private long currentEventNs() {
        return Thread.currentThread() == eventThread ? eventNs : 0;
    }

    /** Builds a table holding {@code rows} (a past instant, rebuilt from the journal), for queries only. */
    public static ProcessTable of(Collection<ProcessInfo> rows) {
        ProcessTable t = new ProcessTable(1);
        t.writeLock.lock();
        try {
            for (ProcessInfo p : rows) {
                t.put(t.get(p.pid), p);
            }
        } finally {
            t.writeLock.unlock();
        }
        return t;
    }

    public ProcessTable(int historyCapacity) {
        this.history = new History(historyCapacity);
    }

    /** Event and maintenance counters, for {@code procwatch stats}. */
    public static final class Counters {
        public final LongAdder forks = new LongAdder();
        public final LongAdder threadForks = new LongAdder();
        public final LongAdder execs = new LongAdder();
        public final LongAdder exits = new LongAdder();
        public final LongAdder threadExits = new LongAdder();
        public final LongAdder idChanges = new LongAdder();
        public final LongAdder commChanges = new LongAdder();
        public final LongAdder other = new LongAdder();
        public final LongAdder losses = new LongAdder();
        public final LongAdder lostEvents = new LongAdder();
        public final LongAdder resyncs = new LongAdder();
        /** Of those, the ones that took which lives exist from the BPF task scan (not a stat read of every pid). */
        public final LongAdder resyncsFromTaskScan = new LongAdder();
        /**
         * The last rescan after a loss that changed the table: how long it took (µs), how many new
         * pids it read from /proc, how many rows it found gone.
         */
        public volatile long lastResyncMicros;
        public volatile long lastResyncLoaded;
        public volatile long lastResyncVanished;
        public final LongAdder exitsNotObserved = new LongAdder();
        /** Lives whose pid a new fork took before their exit event came (see EventApplier.overtake). */
        public final LongAdder exitsOvertaken = new LongAdder();
        /** Of those, the ones whose late exit event then came and was given to them. */
        public final LongAdder exitsLateApplied = new LongAdder();
        public final LongAdder eventsForUnknownPids = new LongAdder();
        public final LongAdder execsTooLate = new LongAdder();
        public final LongAdder samples = new LongAdder();
        public final LongAdder samplerScanFailures = new LongAdder();
        /** Processes the sampler found in another cgroup than their row said (no event reports a move). */
        public final LongAdder cgroupMoves = new LongAdder();
        /** Children given a new parent after their parent exited (read from their stat lines). */
        public final LongAdder reparented = new LongAdder();
        /** Exec events whose argv came from the BPF capture, and those that fell back to /proc. */
        public final LongAdder execsCaptured = new LongAdder();
        public final LongAdder execsFromProc = new LongAdder();
        /** Exec events the capture had no record for (they fell back to /proc). */
        public final LongAdder execsUncaptured = new LongAdder();
        /** Captured records no event claimed: their event was lost, or they were another life's. */
        public final LongAdder execCaptureUnclaimed = new LongAdder();
        /** Captured argvs longer than the capture's cap. */
        public final LongAdder execsArgvTruncated = new LongAdder();
        /** Listener calls that threw (the listener stays; the failure is logged once a minute). */
        public final LongAdder listenerFailures = new LongAdder();
    }

    public Counters counters() {
        return counters;
    }

    public History history() {
        return history;
    }

    public void addListener(Consumer<TableEvent> l) {
        listeners.add(l);
    }

    public void removeListener(Consumer<TableEvent> l) {
        listeners.remove(l);
    }

    private volatile long lastListenerLogNanos;

    /**
     * Tells every listener. A listener that throws must not stop the table, nor lose its later
     * events (a WAIT would then never return): it stays subscribed, and the failure is counted
     * ({@code listener_failures} in stats) and logged, at most once a minute.
     */
    void publish(TableEvent e) {
        for (Consumer<TableEvent> l : listeners) {
            try {
                l.accept(e);
            } catch (RuntimeException ex) {
                counters.listenerFailures.increment();
                long now = System.nanoTime();
                if (lastListenerLogNanos == 0 || now - lastListenerLogNanos > 60_000_000_000L) {
                    lastListenerLogNanos = now;
                    System.err.println("procwatch daemon: a table listener failed on " + e.getClass().getSimpleName()
                            + " (" + counters.listenerFailures.sum() + " failures so far): " + ex);
                }
            }
        }
    }

    // ---- reads --------------------------------------------------------------------------------

    public ProcessInfo get(int pid) {
        return live.get(pid);
    }

    public int size() {
        return live.size();
    }

    public Collection<ProcessInfo> all() {
        return live.values();
    }

    /** Live processes whose state class (R S D T Z I) is {@code cls}. */
    public List<ProcessInfo> inState(char cls) {
        return resolve(byState.get(cls), p -> p.stateClass() == cls);
    }

    public List<ProcessInfo> ofUser(int uid) {
        return resolve(byUid.get(uid), p -> p.euid == uid);
    }

    public List<ProcessInfo> childrenOf(int ppid) {
        return resolve(byParent.get(ppid), p -> p.ppid == ppid);
    }

    public List<ProcessInfo> named(String comm) {
        return resolve(byName.get(comm), p -> p.comm.equals(comm));
    }

    /** The process and all its descendants, parents before children. */
    public List<ProcessInfo> subtree(int pid) {
        List<ProcessInfo> out = new ArrayList<>();
        ProcessInfo root = live.get(pid);
        if (root == null) {
            return out;
        }
        Deque<ProcessInfo> todo = new ArrayDeque<>();
        todo.add(root);
        Set<Integer> seen = new java.util.HashSet<>();
        while (!todo.isEmpty()) {
            ProcessInfo p = todo.poll();
            if (seen.add(p.pid)) {
                out.add(p);
                todo.addAll(childrenOf(p.pid));
            }
        }
        return out;
    }

    /** Live process counts by state class, e.g. {R=2, S=120, I=40}. */
    public Map<Character, Integer> countsByState() {
        Map<Character, Integer> m = new TreeMap<>();
        for (Character c : byState.keys()) {
            int n = byState.count(c);
            if (n > 0) {
                m.put(c, n);
            }
        }
        return m;
    }

    private List<ProcessInfo> resolve(Set<Integer> pids, java.util.function.Predicate<ProcessInfo> recheck) {
        List<ProcessInfo> out = new ArrayList<>(pids.size());
        for (Integer pid : pids) {
            ProcessInfo p = live.get(pid);
            if (p != null && recheck.test(p)) {
                out.add(p);
            }
        }
        return out;
    }

    // ---- writes (hold writeLock) ---------------------------------------------------------------

    /** Publishes {@code now} for its pid, replacing {@code old} (null for a new pid) in every index. */
    void put(ProcessInfo old, ProcessInfo now) {
        assert writeLock.isHeldByCurrentThread();
        int pid = now.pid;
        if (old == null) {
            byState.add(now.stateClass(), pid);
            byUid.add(now.euid, pid);
            byParent.add(now.ppid, pid);
            byName.add(now.comm, pid);
        } else {
            byState.move(old.stateClass(), now.stateClass(), pid);
            byUid.move(old.euid, now.euid, pid);
            byParent.move(old.ppid, now.ppid, pid);
            byName.move(old.comm, now.comm, pid);
        }
        live.put(pid, now);
        ChangeTap t = tap;
        if (t != null) {
            t.changed(currentEventNs(), old, now);
        }
    }

    void remove(ProcessInfo old) {
        assert writeLock.isHeldByCurrentThread();
        if (live.remove(old.pid, old)) {
            byState.remove(old.stateClass(), old.pid);
            byUid.remove(old.euid, old.pid);
            byParent.remove(old.ppid, old.pid);
            byName.remove(old.comm, old.pid);
            ChangeTap t = tap;
            if (t != null) {
                t.changed(currentEventNs(), old, null);
            }
        }
    }
}
