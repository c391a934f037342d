package io.procwatch.table;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@link EventApplier#reap()} only while exited processes wait to vanish from /proc, so that
 * an idle daemon's reaper thread sleeps instead of waking every few hundred milliseconds.
 *
 * <p>A new exit is looked at after {@code baseMillis}. A process whose parent leaves it a zombie
 * keeps the timer running; while reaps remove nothing the delay doubles up to {@code maxMillis}.
 */
final class ReapTimer implements AutoCloseable {
    private final EventApplier applier;
    private final long baseMillis;
    private final long maxMillis;
    private final ScheduledThreadPoolExecutor timer;
    private ScheduledFuture<?> next;
    private long delayMillis;

    ReapTimer(EventApplier applier, long baseMillis, long maxMillis) {
        this.applier = applier;
        this.baseMillis = baseMillis;
        this.maxMillis = Math.max(baseMillis, maxMillis);
        this.delayMillis = baseMillis;
        this.timer = new ScheduledThreadPoolExecutor(1,
                r -> Thread.ofPlatform().name("procwatch-reaper").daemon(true).unstarted(r));
        timer.setRemoveOnCancelPolicy(true); // a cancelled reap must not wake the thread later
        applier.onExitPending(this::exitSeen);
    }

    /** A process exited: reap within the base delay, even if a slower reap was planned. */
    private synchronized void exitSeen() {
        delayMillis = baseMillis;
        if (next != null && next.getDelay(TimeUnit.MILLISECONDS) <= baseMillis) {
            return;
        }
        if (next != null) {
            next.cancel(false);
        }
        schedule();
    }

    private void schedule() {
        if (!timer.isShutdown()) {
            next = timer.schedule(this::run, delayMillis, TimeUnit.MILLISECONDS);
        }
    }

    private void run() {
        synchronized (this) {
            next = null;
        }
        int before = applier.exitedNotReaped();
        try {
            applier.reap();
        } catch (RuntimeException e) {
            // keep going: the same processes are looked at again on the next run
        }
        int after = applier.exitedNotReaped();
        synchronized (this) {
            if (after == 0 || next != null) {
                return; // nothing left, or a new exit already planned the next run
            }
            delayMillis = after < before ? baseMillis : Math.min(maxMillis, delayMillis * 2);
            schedule();
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
