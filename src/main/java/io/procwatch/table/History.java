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
    /**
     * How long after its exit an exit still waits for its record: the records of a storm arrive
     * up to a few seconds behind its exit events; an older exit without one lost it.
     */
    static final long JOIN_MAX_AGE_MS = 5_000;

    private final ExitedProcess[] ring;
    /**
     * An arriving record finds its pid's exits through these, however many exits came between
     * (the taskstats reader runs behind the event reader by thousands of exits in a storm; a
     * window of the last 256 exits left ~5 % of records unjoined in an hour with 1.5 M exits):
     * for each ring position, the position of the previous observed exit of the same pid (-1:
     * none), and for each pid the newest. A position that has left the ring ends a walk.
     */
    private final long[] previousOfPid;
    private final Map<Integer, Long> newestOfPid = new HashMap<>();
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
        this.previousOfPid = new long[capacity];
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
        int slot = (int) (added % ring.length);
        if (added >= ring.length) {
            dropped++;
            ExitedProcess leaving = ring[slot];
            Long newest = newestOfPid.get(leaving.pid());
            if (newest != null && newest == added - ring.length) {
                newestOfPid.remove(leaving.pid()); // its pid's last exit in the ring: the map stays bounded by it
            }
        }
        ring[slot] = e;
        if (e.exitObserved()) {
            Long before = newestOfPid.put(e.pid(), added);
            previousOfPid[slot] = before == null ? -1 : before;
        } else {
            previousOfPid[slot] = -1;
        }
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
        Long newest = newestOfPid.get(t.pid());
        long oldestHeld = added - ring.length;
        long recent = System.currentTimeMillis() - JOIN_MAX_AGE_MS;
        for (long s = newest == null ? -1 : newest; s >= 0 && s >= oldestHeld; s = previousOfPid[(int) (s % ring.length)]) {
            int i = (int) (s % ring.length);
            ExitedProcess e = ring[i];
            if (e.pid() != t.pid() || !e.exitObserved() || e.endEpochMs() < recent) {
                // an older exit lacking its record lost it (or came from the database): a record
                // arriving now belongs to a life that ended since, or is still to end
                break;
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
