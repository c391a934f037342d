package io.procwatch.daemon;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.function.LongSupplier;

/**
 * Gives heap the daemon no longer uses back to the kernel after a burst.
 *
 * <p>Why: the serial collector promotes into the old generation by growing it, up to -Xmx,
 * before it ever runs a full collection (uncommitted space counts as room for promotion), and it
 * shrinks the heap only at a full collection, which a daemon at rest never has. A storm of exits
 * promotes every exit record (they live in the in-memory ring until 10,000 later exits push them
 * out), so after 30,000 exits the heap is at its ceiling, mostly garbage: measured
 * (docs/benchmarks.md, "Footprint") 118 MiB committed, 15-20 MiB live. So when the old
 * generation holds much more than the last full collection left live, one full collection runs in
 * a quiet moment (~20-50 ms at the daemon's live heap), and up to three more a second apart, since
 * the collector gives the excess back in steps, counted in stats. (-XX:-ShrinkHeapInSteps would
 * do it in one, but for every full collection, also those a burst of requests forces, which then
 * shrink and regrow the heap under load: the one HostileAllAtOnceTest run with it had root's ps
 * at p99 143 ms, over its 100 ms bound; not repeated, so not proven the cause, but not worth it.)
 */
final class HeapReturn {
    /** Old-generation growth since the last full collection that is not worth a collection. */
    static final long SLACK_BYTES = 8L << 20;
    /** Exits and forks in one sweep interval above which a storm is running: wait for its end. */
    static final long STORM_EVENTS = 2_000;
    /** A request in this long before the collection would find it paused: wait for another moment. */
    static final long QUIET_MILLIS = 300;
    /** Full collections in a row that shrink the heap all the way (see check). */
    static final int STEPS = 4;
    private static final long FIRST_NANOS = 15_000_000_000L;
    private static final long MAX_NANOS = 600_000_000_000L;
    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    private final MemoryPoolMXBean old = oldGeneration();
    private final LongSupplier events;
    private final LongSupplier requests;
    private long intervalNanos = FIRST_NANOS;
    private long nextNanos = System.nanoTime() + FIRST_NANOS;
    private long lastEvents = -1;
    private volatile long collections;
    private volatile long returned;

    /**
     * @param events the process events seen so far (forks and exits): a storm is not at rest
     * @param requests the client requests begun so far: a collection waits for a moment without
     */
    HeapReturn(LongSupplier events, LongSupplier requests) {
        this.events = events;
        this.requests = requests;
    }

    /** The heap pool that is collected only by full collections (serial: "Tenured Gen"). */
    private static MemoryPoolMXBean oldGeneration() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getName().contains("Tenured")) {
                return p;
            }
        }
        return null; // another collector: the committed heap as a whole is the measure
    }

    /** Windows of {@link #QUIET_MILLIS} tried before a step gives up (about 6 s). */
    static final int QUIET_TRIES = 20;

    /**
     * Waits for {@link #QUIET_MILLIS} in which no request began, trying up to {@link #QUIET_TRIES}
     * windows. One try alone, then the next sweep 15 s later, lost the steps' sequence to a client
     * asking every second (the collector's shrink steps start over after the heap grows again):
     * the heap came back in CI by 2 steps of 4, and stayed at 86 of 128 MiB.
     */
    private boolean awaitQuiet() throws InterruptedException {
        for (int t = 0; t < QUIET_TRIES; t++) {
            long r0 = requests.getAsLong();
            Thread.sleep(QUIET_MILLIS);
            if (requests.getAsLong() == r0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Called by the daemon's periodic sweep (every 10 s, on its own thread, which may wait here).
     * Not during a storm (it would fill the heap again at once); not within {@link #QUIET_MILLIS}
     * of a request, since a full collection pauses every thread. When a collection gives nothing
     * back (the heap is live data, e.g. a large in-memory history) the wait doubles, up to 10
     * minutes.
     *
     * <p>Not "no young collection since the last sweep", as before: at 10,000 processes the
     * sampler alone fills the young generation every few seconds, and an operator's `ps` every
     * 10 s does too, so the heap was never returned at all there.
     */
    void check() throws InterruptedException {
        long now = System.nanoTime();
        long ev = events.getAsLong();
        boolean storm = lastEvents >= 0 && ev - lastEvents > STORM_EVENTS;
        lastEvents = ev;
        if (storm || now - nextNanos < 0 || !worthACollection()) {
            return;
        }
        MemoryUsage before = memory.getHeapMemoryUsage();
        // The collector shrinks the excess in steps over successive full collections (0 %, 10 %,
        // 40 %, then all of it: its damping against a program that collects between phases, which
        // also keeps a daemon under load from shrinking and regrowing); so up to four, a second
        // apart, each in a quiet moment of its own.
        for (int i = 0; i < STEPS; i++) {
            if (i > 0) {
                Thread.sleep(1000);
            }
            if (!awaitQuiet()) {
                break; // someone is being served all the time: the next sweep goes on
            }
            System.gc();
            collections++;
            if (!worthACollection()) {
                break;
            }
        }
        long gave = before.getCommitted() - memory.getHeapMemoryUsage().getCommitted();
        if (gave > 0) {
            returned += gave;
            intervalNanos = FIRST_NANOS;
        } else {
            intervalNanos = Math.min(MAX_NANOS, intervalNanos * 2);
        }
        nextNanos = System.nanoTime() + intervalNanos;
    }

    /**
     * Whether the old generation committed more than {@link #SLACK_BYTES} beyond what the last
     * full collection left live (before the first one: beyond nothing).
     */
    private boolean worthACollection() {
        if (old == null) {
            return memory.getHeapMemoryUsage().getCommitted() > 4 * SLACK_BYTES;
        }
        MemoryUsage after = old.getCollectionUsage();
        long live = after == null ? 0 : after.getUsed();
        return old.getUsage().getCommitted() - live > SLACK_BYTES + live / 4;
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
