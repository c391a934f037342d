package io.procwatch.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The time forms of --since/--until, @EPOCH seconds (journalctl's form) among them, and their limits. */
class HistoryWhenTest {
    private static final long NOW = 1_764_670_000_123L;

    @Test
    void epochSecondsWithAnAtSign() throws Exception {
        assertThat(HistoryCommand.when("--since", "@1764670000", NOW)).isEqualTo(1_764_670_000_000L);
        assertThat(HistoryCommand.when("--since", "@1764670000.5", NOW)).isEqualTo(1_764_670_000_500L);
        assertThat(HistoryCommand.when("--since", "@1764670000.123", NOW)).isEqualTo(1_764_670_000_123L);
        assertThat(HistoryCommand.when("--since", "@0", NOW)).isZero();
        // the other forms are unchanged
        assertThat(HistoryCommand.when("--since", "10m", NOW)).isEqualTo(NOW - 600_000L);
        assertThat(HistoryCommand.when("--since", "1764670000123", NOW)).isEqualTo(1_764_670_000_123L);
    }

    @Test
    void outOfRangeOrMalformedIsAUsageError() {
        assertThatThrownBy(() -> HistoryCommand.when("--since", "@999999999999", NOW)).isInstanceOf(UsageException.class);
        assertThatThrownBy(() -> HistoryCommand.when("--since", "@12.3456", NOW)).isInstanceOf(UsageException.class)
                .hasMessageContaining("@EPOCH");
        assertThatThrownBy(() -> HistoryCommand.when("--since", "@", NOW)).isInstanceOf(UsageException.class);
        assertThatThrownBy(() -> HistoryCommand.when("--since", "@-5", NOW)).isInstanceOf(UsageException.class);
    }
}
