package io.procwatch.table;

import io.procwatch.event.WaitStatus;

import java.util.Map;
import java.util.TreeMap;

/**
 * Exits this daemon saw since it started, by exit status and by killing signal: the counters
 * behind /metrics' exit series. Keyed by small integers (a status is 0-255, a signal 1-64), so
 * the label sets are bounded by the kernel, not by what processes do. Exits a rescan found (their
 * status is unknown) are counted apart.
 */
public final class ExitCounts {
    private final long[] byStatus = new long[256];
    private final long[] bySignal = new long[128];
    private long unknown;

    synchronized void count(ExitedProcess e) {
        WaitStatus s = e.status();
        if (!e.exitObserved() || s == null) {
            unknown++;
        } else if (s.signaled()) {
            bySignal[s.signal() & 127]++;
        } else {
            byStatus[s.exitCode() & 255]++;
        }
    }

    /** Status -> exits, only statuses seen. */
    public synchronized Map<Integer, Long> byStatus() {
        return nonZero(byStatus);
    }

    /** Signal -> exits, only signals seen. */
    public synchronized Map<Integer, Long> bySignal() {
        return nonZero(bySignal);
    }

    public synchronized long unknown() {
        return unknown;
    }

    private static Map<Integer, Long> nonZero(long[] a) {
        Map<Integer, Long> m = new TreeMap<>();
        for (int i = 0; i < a.length; i++) {
            if (a[i] != 0) {
                m.put(i, a[i]);
            }
        }
        return m;
    }
}
