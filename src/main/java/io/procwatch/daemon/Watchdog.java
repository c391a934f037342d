package io.procwatch.daemon;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One thread that closes connections whose client kept the daemon waiting too long (see
 * {@link ClientWatch}), four times a second, counting each kind in the daemon's stats.
 */
final class Watchdog implements AutoCloseable {
    private final Set<ClientWatch> watched = ConcurrentHashMap.newKeySet();
    private final Limits limits;
    private final DaemonContext.Counters counters;
    private final Thread thread;

    Watchdog(Limits limits, DaemonContext.Counters counters) {
        this.limits = limits;
        this.counters = counters;
        this.thread = Thread.ofPlatform().name("procwatch-client-watchdog").daemon(true).start(this::run);
    }

    void add(ClientWatch w) {
        watched.add(w);
    }

    void remove(ClientWatch w) {
        watched.remove(w);
    }

    private void run() {
        while (true) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (ClientWatch w : watched) {
                ClientWatch.Expiry e = w.expired(now, limits);
                if (e != null && watched.remove(w)) {
                    switch (e) {
                        case READ -> counters.readTimeouts.increment();
                        case IDLE -> counters.idleClosed.increment();
                        case WRITE -> counters.writeTimeouts.increment();
                    }
                    w.close();
                }
            }
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
