package io.procwatch.bench;

import io.procwatch.connector.ConnectorReader;
import io.procwatch.connector.ProcConnector;
import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.testing.ForkStorm;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Events received vs. events generated at this machine's maximum fork+exit rate.
 * Usage: bin/bench storm [workers] [forksPerWorker] [receiveBufferBytes]
 */
public final class StormBench {
    private StormBench() {
    }

    public static void main(String[] args) throws Exception {
        int workers = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int perWorker = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        int rcvbuf = args.length > 2 ? Integer.parseInt(args[2]) : ProcConnector.Options.defaults().receiveBufferBytes();
        Set<Integer> parents = ConcurrentHashMap.newKeySet();
        Map<Integer, Integer> live = new ConcurrentHashMap<>();
        AtomicLong forks = new AtomicLong();
        AtomicLong exits = new AtomicLong();
        AtomicLong doubleFork = new AtomicLong();
        AtomicLong strayExit = new AtomicLong();
        List<Loss> losses = new CopyOnWriteArrayList<>();
        ProcConnector c = ProcConnector.open(ProcConnector.Options.defaults().withReceiveBuffer(rcvbuf));
        int granted = c.receiveBufferBytes();
        ConnectorReader reader = ConnectorReader.start(c, (ConnectorEvent e) -> {
            switch (e) {
                case ProcEvent.Fork f when !f.isThread() && parents.contains(f.parentTgid()) -> {
                    forks.incrementAndGet();
                    if (live.put(f.childTgid(), f.parentTgid()) != null) {
                        doubleFork.incrementAndGet();
                    }
                }
                // Matched by pid, not parentTgid: the kernel sends 0 there when the worker reaped
                // the child before the exit event went out.
                case ProcEvent.Exit x when !x.isThread() && live.remove(x.tgid()) != null -> {
                    exits.incrementAndGet();
                    if (x.parentTgid() == 0) {
                        strayExit.incrementAndGet();
                    }
                }
                case Loss l -> losses.add(l);
                default -> {
                }
            }
        }, ex -> System.err.println("reader failed: " + ex));
        ForkStorm.Result r = ForkStorm.run(workers, perWorker, parents::add);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (forks.get() + exits.get() < 2 * r.forks() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        reader.close();
        long lostKnown = losses.stream().mapToLong(l -> Math.max(0, l.lostEvents())).sum();
        System.out.printf("workers=%d forks=%d elapsed=%.2fs rate=%.0f forks/s rcvbuf=%d%n", workers, r.forks(),
                r.elapsedNanos() / 1e9, r.forksPerSecond(), granted);
        System.out.printf("generated=%d received=%d (fork=%d exit=%d) missing=%d doubleFork=%d exitsWithoutParent=%d "
                        + "unmatched=%s losses=%d knownLost=%d%n", 2 * r.forks(), forks.get() + exits.get(),
                forks.get(), exits.get(), 2 * r.forks() - forks.get() - exits.get(), doubleFork.get(),
                strayExit.get(), live.size() < 10 ? live : live.size(), losses.size(), lostKnown);
        System.out.println("connector " + c.stats());
    }
}
