package io.procwatch.sys;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A signal through a pidfd reaches the process the descriptor was opened for, and once that
 * process is gone it fails with ESRCH instead of reaching whoever has the pid next (what top's
 * k key relies on).
 */
class PidfdSignalTest {

    @Test
    void signalsTheProcessItWasOpenedForAndNoLaterOne() throws Exception {
        Process p = new ProcessBuilder("sleep", "30").start();
        int fd = ProcessControl.pidfdOpen((int) p.pid());
        try {
            ProcessControl.pidfdSignal(fd, 15);
            assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(128 + 15);
            // reaped: the descriptor now names nothing, whatever process gets the pid next
            assertThatThrownBy(() -> ProcessControl.pidfdSignal(fd, 15))
                    .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ESRCH));
        } finally {
            Libc.closeQuietly(fd);
        }
        assertThatThrownBy(() -> ProcessControl.pidfdOpen(Integer.MAX_VALUE))
                .isInstanceOf(SyscallException.class);
    }
}
