package io.procwatch.table;

import io.procwatch.taskstats.Taskstats;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The last N exited processes, oldest dropped first (and counted). Taskstats totals arrive on
 * their own socket and may come before or after the exit event: whichever is second joins them.
 *
 * <p>Joining is per life, not per pid: the lives of one pid end one after another, and the kernel
 * sends each life's accounting record before that life's exit event, on one socket, in order. So
 * the records of a pid and its exits are paired first with first (a queue per pid on each side),
 * with a plausibility check on the lifetime. A thread's own record never joins a process, even
 * when its thread id has since become some process's pid.
 */
public final class History {
    /** Records kept for exits not yet seen, per pid (they meet within milliseconds; bounded all the same). */
    private static final int EARLY_MAX = 4096;
    /** How far back an arriving record looks for its exit. */
    private static final int JOIN_WINDOW = 256;

    private final ExitedProcess[] ring;
    private long added;
    private final ExitCounts exitCounts = new ExitCounts();
    private long nextSeq;
    private long dropped;
    private long earlyDropped;
    private final Map<Integer, ArrayDeque<Taskstats>> earlyTaskstats = new HashMap<>();
    private int earlyCount;
    /** Shares the repeated strings and statuses of the entries held (under this object's lock). */
    private final Dedup dedup = new Dedup();

    /** Told of every entry added or completed (taskstats joined): the persistent store's feed. */
    private Consumer<ExitedProcess> sink = e -> { };

    public History(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("history capacity must be at least 1, got " + capacity);
        }
        this.ring = new ExitedProcess[capacity];
    }

    public synchronized int capacity() {
        return ring.length;
    }

    /** Entries ever added (preloaded ones included). */
    public synchronized long added() {
        return added;
    }

    /** Exits added since start (not preloaded ones), by status and signal. */
    public ExitCounts exitCounts() {
        return exitCounts;
    }

    /** Entries pushed out by newer ones. */
    public synchronized long dropped() {
        return dropped;
    }

    /** Accounting records that never met their exit (its event was lost) and were let go. */
    public synchronized long taskstatsUnjoined() {
        return earlyDropped;
    }

    public synchronized int size() {
        return (int) Math.min(added, ring.length);
    }

    /** Sets the one consumer of new and completed entries (it must only queue them). */
    public synchronized void onChange(Consumer<ExitedProcess> sink) {
        this.sink = sink;
    }

    /**
     * Puts back entries from before a restart (oldest first) with the sequence numbers they were
     * stored with, without telling the sink: they come from it. New entries continue after
     * {@code nextSeqFloor} (the store's highest number plus one) and after every preloaded one.
     */
    public synchronized void preload(List<ExitedProcess> oldestFirst, long nextSeqFloor) {
        nextSeq = Math.max(nextSeq, nextSeqFloor);
        for (ExitedProcess e : oldestFirst) {
            ExitedProcess numbered = e.seq() >= 0 ? e : e.withSeq(nextSeq);
            nextSeq = Math.max(nextSeq, numbered.seq() + 1);
            put(numbered);
        }
    }

    private ExitedProcess put(ExitedProcess e) {
        e = dedup.exit(e);
        if (added >= ring.length) {
            dropped++;
        }
        ring[(int) (added % ring.length)] = e;
        added++;
        return e;
    }

    /** The oldest entry still held, or null when empty. */
    public synchronized ExitedProcess oldest() {
        if (added == 0) {
            return null;
        }
        return ring[(int) (Math.max(0, added - ring.length) % ring.length)];
    }

    synchronized long nextSeq() {
        return nextSeq;
    }

    /** The seq of the newest entry so far (-1 when none): what an answer "as of now" goes up to. */
    public synchronized long lastSeq() {
        return nextSeq - 1;
    }

    /** Adds an exit; its {@code seq} must be {@link #nextSeq()}. Joins taskstats that came early. */
    synchronized ExitedProcess add(ExitedProcess e) {
        if (e.exitObserved()) {
            ArrayDeque<Taskstats> q = earlyTaskstats.get(e.pid());
            while (q != null && !q.isEmpty()) {
                Taskstats t = q.pollFirst();
                earlyCount--;
                if (e.matches(t)) {
                    e = e.withTaskstats(t);
                    break;
                }
                earlyDropped++; // an older life's record whose exit event was lost
            }
            if (q != null && q.isEmpty()) {
                earlyTaskstats.remove(e.pid());
            }
        }
        nextSeq = Math.max(nextSeq, e.seq() + 1);
        e = put(e);
        exitCounts.count(e);
        sink.accept(e);
        return e;
    }

    /**
     * Attaches taskstats to the oldest recent exit of that pid still lacking them, or keeps them
     * until the exit arrives. A multi-threaded process's per-thread records are left out in favour
     * of its aggregate.
     */
    synchronized void attach(Taskstats t) {
        if (t.ofOtherThread()) {
            return;
        }
        ExitedProcess waiting = null;
        int at = -1;
        for (long s = added - 1; s >= Math.max(0, added - JOIN_WINDOW) && s >= added - ring.length; s--) {
            int i = (int) (s % ring.length);
            ExitedProcess e = ring[i];
            if (e.pid() != t.pid() || !e.exitObserved()) {
                continue;
            }
            if (e.taskstats() != null) {
                if (t.aggregate() && !e.taskstats().aggregate() && e.matches(t)) {
                    ring[i] = dedup.exit(e.withTaskstats(t.withMemoryOf(e.taskstats()))); // a group's total replaces its leader's record
                    sink.accept(ring[i]);
                    return;
                }
                break; // this life is complete: the record is for a life whose exit is still to come
            }
            waiting = e;
            at = i;
        }
        if (waiting != null && waiting.matches(t)) {
            ring[at] = dedup.exit(waiting.withTaskstats(t));
            sink.accept(ring[at]);
            return;
        }
        if (earlyCount >= EARLY_MAX) {
            earlyTaskstats.clear(); // never joined: their exits were lost; do not grow without bound
            earlyDropped += earlyCount;
            earlyCount = 0;
        }
        ArrayDeque<Taskstats> q = earlyTaskstats.computeIfAbsent(t.pid(), k -> new ArrayDeque<>(2));
        if (t.aggregate() && !q.isEmpty() && !q.peekLast().aggregate()) {
            t = t.withMemoryOf(q.pollLast()); // the group's total supersedes its leader's record, which came before
            earlyCount--;
        }
        q.addLast(t);
        earlyCount++;
    }

    /** Up to {@code limit} entries matching {@code filter}, newest first. */
    public synchronized List<ExitedProcess> newest(Predicate<ExitedProcess> filter, int limit) {
        List<ExitedProcess> out = new ArrayList<>();
        for (long s = added - 1; s >= 0 && s >= added - ring.length && out.size() < limit; s--) {
            ExitedProcess e = ring[(int) (s % ring.length)];
            if (filter.test(e)) {
                out.add(e);
            }
        }
        return out;
    }
}
