package io.procwatch.daemon;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LatencyHistogramTest {
    @Test
    void percentilesWithinTenPercent() {
        LatencyHistogram h = new LatencyHistogram();
        for (int us = 1; us <= 10_000; us++) {
            h.record(us * 1000L);
        }
        assertThat(h.count()).isEqualTo(10_000);
        assertThat((double) h.percentileMicros(50)).isCloseTo(5_000, within(500.0));
        assertThat((double) h.percentileMicros(99)).isCloseTo(9_900, within(990.0));
        assertThat(h.maxMicros()).isEqualTo(10_000);
        assertThat(h.percentileMicros(100)).isEqualTo(10_000);
    }

    @Test
    void emptyAndTiny() {
        LatencyHistogram h = new LatencyHistogram();
        assertThat(h.percentileMicros(99)).isZero();
        h.record(10);
        assertThat(h.percentileMicros(50)).isEqualTo(1);
    }
}
