package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.testing.ForkStorm;
import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * At this machine's maximum fork+exit rate, every event our storm generates is either received or
 * accounted for by a reported loss: the event source is never silently incomplete.
 */
class ForkStormAccountingTest {

    @Test
    void everyStormEventIsReceivedOrReportedLost() throws Exception {
        Set<Integer> workers = ConcurrentHashMap.newKeySet();
        Set<Integer> children = ConcurrentHashMap.newKeySet();
        AtomicLong forks = new AtomicLong();
        AtomicLong exits = new AtomicLong();
        AtomicLong losses = new AtomicLong();
        AtomicLong lostKnown = new AtomicLong();
        AtomicLong overruns = new AtomicLong();
        ConnectorReader reader = ConnectorReader.start(ProcConnector.open(ProcConnector.Options.defaults()),
                (ConnectorEvent e) -> {
                    switch (e) {
                        case ProcEvent.Fork f when !f.isThread() && workers.contains(f.parentTgid()) -> {
                            children.add(f.childTgid());
                            forks.incrementAndGet();
                        }
                        // Not by parentTgid: it is 0 when the worker reaped the child before the
                        // kernel sent the exit event.
                        case ProcEvent.Exit x when !x.isThread() && children.remove(x.tgid()) ->
                                exits.incrementAndGet();
                        case Loss l -> {
                            losses.incrementAndGet();
                            if (l.reason() == Loss.Reason.OVERRUN) {
                                overruns.incrementAndGet(); // the kernel does not say how many
                            }
                            lostKnown.addAndGet(Math.max(l.lostEvents(), 0));
                        }
                        default -> {
                        }
                    }
                }, ex -> losses.addAndGet(1_000_000));
        ForkStorm.Result r;
        try {
            r = ForkStorm.run(2, 3_000, workers::add);
        } finally {
            Thread.sleep(500);
            reader.close();
        }
        long generated = 2 * r.forks();
        long received = forks.get() + exits.get();
        System.out.printf("storm: %d forks in %.2f s (%.0f forks/s), events generated=%d received=%d "
                        + "(forks=%d exits=%d, unmatched children=%s) losses=%d knownLost=%d%n", r.forks(),
                r.elapsedNanos() / 1e9, r.forksPerSecond(), generated, received, forks.get(), exits.get(),
                children.size() < 10 ? children : children.size(), losses.get(), lostKnown.get());
        assertThat(reader.sinkErrors()).isZero();
        assertThat(received).as("more storm events than the storm made").isLessThanOrEqualTo(generated);
        long missing = generated - received;
        if (overruns.get() == 0) {
            // Every missing event must be inside a reported sequence gap (the gaps also count other
            // processes' events, so they may report more than our storm missed, never less).
            assertThat(missing).as("events missing beyond the %d the loss reports counted", lostKnown.get())
                    .isLessThanOrEqualTo(lostKnown.get());
        }
        // 6,000 events fit the default 32 MiB receive buffer many times over: with a reader that
        // keeps up, none may be lost at all.
        assertThat(missing).as("lost events (overruns %d, known lost %d)", overruns.get(), lostKnown.get()).isZero();
    }
}
