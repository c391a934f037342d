package io.procwatch.daemon;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;

/**
 * Gives heap the daemon no longer uses back to the kernel after a burst.
 *
 * <p>Why: with the serial collector the heap shrinks (to MaxHeapFreeRatio) only at a full
 * collection, and a daemon at rest never has one. A fork storm promotes short-lived event
 * objects into the old generation, which then stays committed: measured (bin/bench-footprint,
 * 100,000 exits, then 8 minutes of use) 16 MiB live in 80 MiB committed, RSS 146 MiB. So while
 * the committed heap is above {@link #FLOOR_BYTES}, a full collection runs now and then (~20 ms
 * at the daemon's live heap), counted in stats.
 */
final class HeapReturn {
    /** A committed heap at or below this is left alone (the daemon's ordinary working size). */
    static final long FLOOR_BYTES = 32L << 20;
    private static final long FIRST_NANOS = 15_000_000_000L;
    private static final long MAX_NANOS = 600_000_000_000L;
    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    private long intervalNanos = FIRST_NANOS;
    private long nextNanos = System.nanoTime() + FIRST_NANOS;
    private volatile long collections;
    private volatile long returned;

    /**
     * Called by the daemon's periodic sweep. The serial collector shrinks the old generation in
     * steps over successive full collections, so while one gives memory back the next follows in
     * 15 s; when one gives nothing (the heap is live data, e.g. a large in-memory history) the
     * wait doubles, up to 10 minutes. Only after a sweep interval (10 s) without any collection:
     * a daemon that is allocating is serving someone, and a full collection would stall them.
     */
    void check() {
        long now = System.nanoTime();
        long gcs = collectionsSoFar();
        boolean busy = gcs != lastGcs; // the heap filled since the last sweep: requests or a storm run
        lastGcs = gcs;
        if (busy || now - nextNanos < 0) {
            return; // a full collection pauses every thread: never while clients are being served
        }
        MemoryUsage before = memory.getHeapMemoryUsage();
        if (before.getCommitted() <= FLOOR_BYTES) {
            intervalNanos = FIRST_NANOS;
            nextNanos = now + intervalNanos;
            return;
        }
        System.gc();
        collections++;
        lastGcs = collectionsSoFar();
        long gave = before.getCommitted() - memory.getHeapMemoryUsage().getCommitted();
        if (gave > 0) {
            returned += gave;
            intervalNanos = FIRST_NANOS;
        } else {
            intervalNanos = Math.min(MAX_NANOS, intervalNanos * 2);
        }
        nextNanos = System.nanoTime() + intervalNanos;
    }

    private long lastGcs = -1;

    private static long collectionsSoFar() {
        long n = 0;
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    /** Full collections this ran. */
    long collections() {
        return collections;
    }

    /** Heap bytes they gave back in all. */
    long returnedBytes() {
        return returned;
    }
}
