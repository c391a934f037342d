package io.procwatch.daemon;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAccumulator;

/**
 * Request latencies in logarithmic buckets (8 per power of two, so about 9% resolution) from 1 us
 * to about an hour: lock-free to record, small, and good enough for p50/p99/p999.
 */
final class LatencyHistogram {
    private static final int SUB = 8;
    private static final int BUCKETS = 32 * SUB;
    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
    private final LongAccumulator max = new LongAccumulator(Math::max, 0);

    void record(long nanos) {
        long us = Math.max(1, nanos / 1000);
        max.accumulate(us);
        counts.incrementAndGet(bucket(us));
    }

    static int bucket(long us) {
        int exp = 63 - Long.numberOfLeadingZeros(us);           // floor(log2)
        int frac = exp >= 3 ? (int) ((us >> (exp - 3)) & (SUB - 1)) : (int) ((us << (3 - exp)) & (SUB - 1));
        return Math.min(BUCKETS - 1, exp * SUB + frac);
    }

    /** Upper edge of a bucket, in microseconds. */
    static long upper(int bucket) {
        int exp = bucket / SUB;
        int frac = bucket % SUB;
        double v = Math.pow(2, exp) * (1 + (frac + 1) / (double) SUB);
        return (long) Math.ceil(v);
    }

    long count() {
        long n = 0;
        for (int i = 0; i < BUCKETS; i++) {
            n += counts.get(i);
        }
        return n;
    }

    long percentileMicros(double p) {
        long total = count();
        if (total == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(total * p / 100.0);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts.get(i);
            if (seen >= rank) {
                return Math.min(upper(i), maxMicros());
            }
        }
        return maxMicros();
    }

    long maxMicros() {
        return max.get();
    }
}
