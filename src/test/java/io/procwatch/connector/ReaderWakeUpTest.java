package io.procwatch.connector;

import io.procwatch.event.EventType;
import io.procwatch.event.ProcEvent;
import io.procwatch.taskstats.TaskstatsExitListener;
import io.procwatch.testing.EventRecorder;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon's netlink readers wait without a timeout (an idle daemon should not wake up a few
 * times a second to look at a stop flag). These tests show such a reader still receives, and that
 * a wake-up from another thread ends its wait: otherwise close would hang.
 */
class ReaderWakeUpTest {

    interface Poll {
        int once() throws Exception;
    }

    /** On another thread, polls until a poll returns no events (0: timeout or wake-up) and returns that. */
    private static CompletableFuture<Integer> pollUntilNothing(Poll poll) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                int n;
                while ((n = poll.once()) > 0) {
                    // events from elsewhere on the machine: poll again
                }
                return n;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void readerWithoutTimeoutReceivesAndStopsAtClose() throws Exception {
        EventRecorder r = EventRecorder.start(); // poll timeout 0, as in the daemon
        try {
            Process p = Spawn.run("/bin/sh", "-c", "exit 6");
            ProcEvent.Exit exit = r.awaitExit((int) p.pid());
            assertThat(exit.status().exitCode()).isEqualTo(6);
            assertThat(r.reader().isRunning()).isTrue();
        } finally {
            r.close();
        }
        // close() waits up to 5 s for the thread; without the wake-up it would still sit in poll(2)
        assertThat(r.reader().isRunning()).as("reader thread after close").isFalse();
        assertThat(r.failures()).isEmpty();
    }

    @Test
    void wakeUpEndsAPollThatHasNoTimeout() throws Exception {
        // Only failed exits are delivered (a kernel filter), so the poll has nothing to return
        // unless something on the machine fails meanwhile; the loop then polls again.
        ProcConnector.Options quiet = ProcConnector.Options.defaults()
                .withEvents(EnumSet.of(EventType.NONZERO_EXIT)).withPollTimeout(0);
        try (ProcConnector c = ProcConnector.open(quiet)) {
            CompletableFuture<Integer> polled = pollUntilNothing(() -> c.poll(e -> { }));
            Thread.sleep(300);
            assertThat(polled).as("a poll without timeout is still waiting").isNotDone();
            c.wakeUp();
            assertThat(polled.get(5, TimeUnit.SECONDS)).isZero();
            // the wake-up is consumed: the socket still delivers afterwards
            Process bad = Spawn.run("/bin/sh", "-c", "exit 8");
            boolean[] seen = {false};
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!seen[0] && System.nanoTime() < deadline) {
                c.poll(e -> seen[0] |= e instanceof ProcEvent.Exit x && x.pid() == (int) bad.pid()
                        && x.status().exitCode() == 8);
            }
            assertThat(seen[0]).isTrue();
        }
    }

    @Test
    void wakeUpEndsATaskstatsWaitAndAfterCloseIsHarmless() throws Exception {
        TaskstatsExitListener l = TaskstatsExitListener.open(1 << 20, 0);
        try {
            CompletableFuture<Integer> polled = pollUntilNothing(() -> l.poll(t -> { }));
            Thread.sleep(300);
            l.wakeUp();
            assertThat(polled.get(5, TimeUnit.SECONDS)).isZero();
        } finally {
            l.close();
        }
        l.wakeUp(); // after close: must neither throw nor write to a descriptor number now reused
    }
}
