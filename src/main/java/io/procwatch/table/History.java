package io.procwatch.table;

import io.procwatch.taskstats.Taskstats;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The last N exited processes, oldest dropped first (and counted). Taskstats totals arrive on
 * their own socket and may come before or after the exit event: whichever is second joins them.
 */
public final class History {
    private final ExitedProcess[] ring;
    private long nextSeq;
    private long dropped;
    /** Taskstats that arrived before their exit event, by pid (small: they meet within milliseconds). */
    private final java.util.HashMap<Integer, Taskstats> earlyTaskstats = new java.util.HashMap<>();

    /** Told of every entry added or completed (taskstats joined): the persistent store's feed. */
    private java.util.function.Consumer<ExitedProcess> sink = e -> { };

    public History(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("history capacity must be at least 1, got " + capacity);
        }
        this.ring = new ExitedProcess[capacity];
    }

    public synchronized int capacity() {
        return ring.length;
    }

    /** Entries ever added. */
    public synchronized long added() {
        return nextSeq;
    }

    /** Entries pushed out by newer ones. */
    public synchronized long dropped() {
        return dropped;
    }

    public synchronized int size() {
        return (int) Math.min(nextSeq, ring.length);
    }

    /** Sets the one consumer of new and completed entries (it must only queue them). */
    public synchronized void onChange(java.util.function.Consumer<ExitedProcess> sink) {
        this.sink = sink;
    }

    /**
     * Puts back entries from before a restart (oldest first), renumbered, without telling the
     * sink: they come from it.
     */
    public synchronized void preload(List<ExitedProcess> oldestFirst) {
        for (ExitedProcess e : oldestFirst) {
            ExitedProcess renumbered = new ExitedProcess(nextSeq, e.pid(), e.ppid(), e.uid(), e.gid(), e.comm(),
                    e.exe(), e.argv(), e.startEpochMs(), e.endEpochMs(), e.status(), e.coreDumped(),
                    e.exitObserved(), e.argvKnown(), e.taskstats());
            if (nextSeq >= ring.length) {
                dropped++;
            }
            ring[(int) (nextSeq % ring.length)] = renumbered;
            nextSeq++;
        }
    }

    /** The oldest entry still held, or null when empty. */
    public synchronized ExitedProcess oldest() {
        if (nextSeq == 0) {
            return null;
        }
        return ring[(int) (Math.max(0, nextSeq - ring.length) % ring.length)];
    }

    synchronized long nextSeq() {
        return nextSeq;
    }

    /** Adds an exit; its {@code seq} must be {@link #nextSeq()}. Joins taskstats that came early. */
    synchronized ExitedProcess add(ExitedProcess e) {
        Taskstats early = earlyTaskstats.remove(e.pid());
        if (early != null) {
            e = e.withTaskstats(early);
        }
        if (nextSeq >= ring.length) {
            dropped++;
        }
        ring[(int) (nextSeq % ring.length)] = e;
        nextSeq++;
        sink.accept(e);
        return e;
    }

    /**
     * Attaches taskstats to the most recent exit of that pid still lacking them, or keeps them
     * until the exit arrives. Per-thread records of multi-threaded processes are ignored in favour
     * of the aggregate.
     */
    synchronized void attach(Taskstats t) {
        for (long s = nextSeq - 1; s >= Math.max(0, nextSeq - 256) && s >= nextSeq - ring.length; s--) {
            int i = (int) (s % ring.length);
            ExitedProcess e = ring[i];
            if (e.exitObserved() && e.matches(t)) {
                if (e.taskstats() == null || (t.aggregate() && !e.taskstats().aggregate())) {
                    ring[i] = e.withTaskstats(t);
                    sink.accept(ring[i]);
                }
                return;
            }
        }
        if (earlyTaskstats.size() > 4096) {
            earlyTaskstats.clear(); // never joined: their exits were lost; do not grow without bound
        }
        Taskstats prev = earlyTaskstats.get(t.pid());
        if (prev == null || t.aggregate()) {
            earlyTaskstats.put(t.pid(), t);
        }
    }

    /** Up to {@code limit} entries matching {@code filter}, newest first. */
    public synchronized List<ExitedProcess> newest(Predicate<ExitedProcess> filter, int limit) {
        List<ExitedProcess> out = new ArrayList<>();
        for (long s = nextSeq - 1; s >= 0 && s >= nextSeq - ring.length && out.size() < limit; s--) {
            ExitedProcess e = ring[(int) (s % ring.length)];
            if (filter.test(e)) {
                out.add(e);
            }
        }
        return out;
    }

    /** The entry with this sequence number, if still held. */
    public synchronized ExitedProcess bySeq(long seq) {
        if (seq < 0 || seq >= nextSeq || seq < nextSeq - ring.length) {
            return null;
        }
        return ring[(int) (seq % ring.length)];
    }
}
