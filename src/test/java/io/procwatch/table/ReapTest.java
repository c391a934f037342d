package io.procwatch.table;

import io.procwatch.procfs.ProcFs;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reaping runs only while exited processes wait to vanish from /proc (no kernel event says when a
 * parent reaps a child). A zombie stays a Z row as long as /proc shows it, however long, and goes
 * once its parent has reaped it.
 */
class ReapTest {
    private static LiveTable live;
    private static final ProcFs PROC = ProcFs.system();

    @BeforeAll
    static void start() throws Exception {
        live = LiveTable.start(LiveTable.Config.defaults(), e -> { });
    }

    @AfterAll
    static void stop() {
        live.close();
    }

    @Test
    void zombieRowLastsWhileTheZombieDoesAndGoesWhenReaped() throws Exception {
        // perl forks a child that exits at once, and waits for it only when told (SIGUSR1): a
        // zombie until then. (Not by killing perl: init need not reap orphans in every container.)
        Process parent = new ProcessBuilder("perl", "-e",
                "$| = 1; my $c = fork; if ($c == 0) { exit 7 } $SIG{USR1} = sub { waitpid($c, 0) }; "
                        + "print \"$c\\n\"; while (1) { sleep 60 }").start();
        try {
            int child = Integer.parseInt(new BufferedReader(new InputStreamReader(parent.getInputStream())).readLine());
            awaitState(child, 'Z', 10);
            // Longer than the reaper's longest back-off (2 s): reaps that find it still there
            // must keep the row, as /proc keeps the zombie.
            Thread.sleep(3_000);
            ProcessInfo row = live.table().get(child);
            assertThat(row).as("row of the zombie %d", child).isNotNull();
            assertThat(row.leaderExited).isTrue();
            assertThat(row.state).isEqualTo('Z');
            assertThat(PROC.stat(child)).isPresent();
            assertThat(live.applier().exitedNotReaped()).isPositive();

            assertThat(Spawn.run("kill", "-USR1", Long.toString(parent.pid())).exitValue()).isZero();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (live.table().get(child) != null && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(PROC.stat(child)).as("/proc after the parent reaped it").isEmpty();
            assertThat(live.table().get(child)).as("the reaped zombie's row").isNull();
            assertThat(live.table().get((int) parent.pid())).as("the parent's row").isNotNull();
        } finally {
            parent.destroyForcibly();
        }
    }

    private static void awaitState(int pid, char state, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            ProcessInfo p = live.table().get(pid);
            if (p != null && p.state == state) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("process " + pid + " never became " + state + " in the table: " + live.table().get(pid));
    }
}
