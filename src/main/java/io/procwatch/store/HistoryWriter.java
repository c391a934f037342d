package io.procwatch.store;

import io.procwatch.table.ExitedProcess;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Moves exits from the in-memory history to the store on a thread of its own, in batches (one
 * transaction per batch, at most every {@link #FLUSH_MS}), so that a burst of exits costs a few
 * commits instead of one per process. The queue is bounded: if the disk cannot keep up, exits
 * beyond it are dropped from the store (never from memory) and counted.
 */
public final class HistoryWriter implements AutoCloseable {
    static final long FLUSH_MS = 250;
    private static final int QUEUE = 1 << 18;
    private static final int BATCH = 10_000;
    /** How long an exit waits for the journal at most before the history takes it anyway. */
    static final long HOLD_MAX_MS = 2_000;

    /** How long and how many exits the store keeps. */
    public record Retention(long maxAgeMs, long maxRows) {
    }

    private final HistoryStore store;
    private final Retention retention;
    /**
     * Linked, not an array: an array of {@code QUEUE} slots is 1 MiB of heap held for the
     * daemon's life, where the queue is empty at rest (a node per queued exit instead, during a burst).
     */
    private final BlockingQueue<ExitedProcess> queue = new LinkedBlockingQueue<>(QUEUE);
    /**
     * Exits queued or being written, by life (latest version): a small in-memory ring drops an
     * exit long before the next batch reaches the store (at least {@link #FLUSH_MS}), and a history
     * answer in that window must still find it here. Bounded by what the queue and one batch hold.
     */
    private final Map<String, ExitedProcess> inFlight = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean closing;
    /** The event journal (issue #17), written on this thread after each batch of exits; null if none. */
    private volatile Journal journal;
    public final LongAdder written = new LongAdder();
    public final LongAdder dropped = new LongAdder();
    public final LongAdder failures = new LongAdder();
    public final LongAdder retired = new LongAdder();
    /** Exits written to the history before the journal had them (held back HOLD_MAX_MS in vain). */
    public final LongAdder aheadOfJournal = new LongAdder();

    public HistoryWriter(HistoryStore store, Retention retention) {
        this.store = store;
        this.retention = retention;
        this.thread = Thread.ofPlatform().name("procwatch-history-writer").daemon(true).start(this::run);
    }

    /** Journals the table's changes on this thread from now on (docs/journal.md). */
    public void journal(Journal j) {
        journal = j;
    }

    public Journal journal() {
        return journal;
    }

    /** Queues an exit (new, or completed by its taskstats). Never blocks. */
    public void offer(ExitedProcess e) {
        if (queue.offer(e)) {
            inFlight.put(lifeKey(e), e);
        } else {
            dropped.increment();
        }
    }

    private void run() {
        long lastAlive = 0;
        long lastRetention = 0;
        List<ExitedProcess> drained = new ArrayList<>();
        while (true) {
            try {
                ExitedProcess first = queue.poll(FLUSH_MS, TimeUnit.MILLISECONDS);
                if (first != null) {
                    drained.add(first);
                    if (!closing) {
                        Thread.sleep(FLUSH_MS); // let a burst, and its taskstats, gather
                    }
                }
            } catch (InterruptedException e) {
                closing = true;
            }
            queue.drainTo(drained, Math.max(0, BATCH - drained.size()));
            long now = System.currentTimeMillis();
            try {
                // The journal first: its exits go on to the fleet topic, and a daemon killed between
                // the two commits must not leave an exit in the history that the topic never gets
                // (FleetTest). The table publishes an exit to the journal's listener just after the
                // history hands it here, so an exit the journal has not committed yet is held back
                // to the next batch (still answered from inFlight); one held for HOLD_MAX_MS (a
                // journal that fails, an exit never published) is written anyway, and counted.
                Journal j = journal;
                long journaledUpTo = Long.MAX_VALUE;
                if (j != null) {
                    try {
                        j.flush(now);
                    } catch (SQLException e) {
                        System.err.println("procwatch daemon: journal: " + e.getMessage());
                    }
                    journaledUpTo = j.exitSeqCommitted();
                }
                List<ExitedProcess> ready = drained;
                List<ExitedProcess> held = List.of();
                if (!closing && journaledUpTo != Long.MAX_VALUE) {
                    ready = new ArrayList<>(drained.size());
                    held = new ArrayList<>();
                    for (ExitedProcess e : drained) {
                        if (e.seq() <= journaledUpTo) {
                            ready.add(e);
                        } else if (now - e.endEpochMs() >= HOLD_MAX_MS) {
                            ready.add(e);
                            aheadOfJournal.increment();
                        } else {
                            held.add(e);
                        }
                    }
                }
                if (!ready.isEmpty()) {
                    List<ExitedProcess> batch = coalesce(ready);
                    store.write(batch); // also moves the run's "alive" time
                    written.add(batch.size());
                    for (ExitedProcess e : batch) {
                        inFlight.remove(lifeKey(e), e); // a newer version offered since stays
                    }
                    drained.clear();
                    drained.addAll(held);
                    lastAlive = now;
                } else if (now - lastAlive >= 1000) {
                    store.alive(now);
                    lastAlive = now;
                }
                if (now - lastRetention >= 3_600_000) {
                    retired.add(store.retain(now, retention.maxAgeMs(), retention.maxRows()));
                    lastRetention = now;
                }
            } catch (SQLException e) {
                failures.increment();
                System.err.println("procwatch daemon: history database: " + e.getMessage()
                        + (drained.isEmpty() ? "" : "; " + drained.size() + " exits will be retried"));
                if (drained.size() > 4 * BATCH) {
                    dropped.add(drained.size());
                    for (ExitedProcess lost : drained) {
                        inFlight.remove(lifeKey(lost), lost);
                    }
                    drained.clear();
                }
                sleepQuietly(1000);
            }
            if (closing && queue.isEmpty() && drained.isEmpty()) {
                return;
            }
        }
    }

    /**
     * The latest version of each exit (an exit and its taskstats completion often share a batch).
     * A life is its pid and start to the nanosecond, as the table's UNIQUE key: two lives of one
     * pid often start within the same millisecond (pid reuse), and keyed by the millisecond the
     * earlier one was dropped from the batch, so it never reached the database.
     */
    private static List<ExitedProcess> coalesce(List<ExitedProcess> in) {
        Map<String, ExitedProcess> byKey = new LinkedHashMap<>();
        for (ExitedProcess e : in) {
            byKey.put(lifeKey(e), e);
        }
        return new ArrayList<>(byKey.values());
    }

    /** One life: the pid and its start to the nanosecond, as the store's UNIQUE key (and the ms, for old rows). */
    static String lifeKey(ExitedProcess e) {
        return e.pid() + "/" + e.startNs() + "/" + e.startEpochMs();
    }

    /** The exits not yet in the store (queued or in the batch being written); a live view. */
    public Collection<ExitedProcess> inFlight() {
        return Collections.unmodifiableCollection(inFlight.values());
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public int queued() {
        return queue.size();
    }

    /** Writes what is queued, records a clean stop, and closes the store. */
    @Override
    public void close() {
        closing = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Journal j = journal;
        if (j != null) {
            j.stop(System.currentTimeMillis());
            j.close();
        }
        try {
            store.runStopped(System.currentTimeMillis());
        } catch (SQLException e) {
            System.err.println("procwatch daemon: history database: " + e.getMessage());
        }
        store.close();
    }
}
