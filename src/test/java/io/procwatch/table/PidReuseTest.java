package io.procwatch.table;

import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same pid for two processes in quick succession (forced through
 * /proc/sys/kernel/ns_last_pid, no pid namespace): each keeps its own identity in the table and in
 * the history.
 */
class PidReuseTest {

    @Test
    void reusedPidNeverMixesTwoProcesses() throws Exception {
        try (LiveTable live = LiveTable.start(LiveTable.Config.defaults(), e -> { })) {
            String script = String.join("\n",
                    "for my $try (1..50) {",
                    "  my $p = fork(); if ($p == 0) { exec('/bin/sh', '-c', 'sleep 0.2; exit 7', 'pw-first'); }",
                    "  waitpid($p, 0);",
                    "  open(my $f, '>', '/proc/sys/kernel/ns_last_pid') or die; print $f ($p - 1); close($f);",
                    "  my $q = fork(); if ($q == 0) { exec('/bin/sh', '-c', 'sleep 0.3; exit 9', 'pw-second'); }",
                    "  if ($q == $p) { print \"$p\\n\"; waitpid($q, 0); exit 0; }",
                    "  waitpid($q, 0);",
                    "}",
                    "exit 1;");
            Process perl = Spawn.start("perl", "-e", script);
            String out = new String(perl.getInputStream().readAllBytes()).trim();
            assertThat(perl.waitFor()).as("perl could not get the same pid twice: %s", out).isZero();
            int pid = Integer.parseInt(out);
            Thread.sleep(800);

            List<ExitedProcess> both = live.table().history().newest(e -> e.pid() == pid && e.ppid() == perl.pid(), 10);
            assertThat(both).hasSizeGreaterThanOrEqualTo(2);
            ExitedProcess second = both.get(0);
            ExitedProcess first = both.get(1);
            assertThat(first.argv()).containsExactly("/bin/sh", "-c", "sleep 0.2; exit 7", "pw-first");
            assertThat(first.status().exitCode()).isEqualTo(7);
            assertThat(second.argv()).containsExactly("/bin/sh", "-c", "sleep 0.3; exit 9", "pw-second");
            assertThat(second.status().exitCode()).isEqualTo(9);
            assertThat(second.startEpochMs()).isGreaterThanOrEqualTo(first.startEpochMs());
            assertThat(first.exitObserved()).isTrue();
            assertThat(second.exitObserved()).isTrue();
            assertThat(live.table().counters().exitsNotObserved.sum()).isZero();
        }
    }
}
