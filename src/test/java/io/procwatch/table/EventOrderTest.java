package io.procwatch.table;

import io.procwatch.event.ProcEvent;
import io.procwatch.event.WaitStatus;
import io.procwatch.procfs.ProcFs;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Event orders the kernel produces but that a quiet machine rarely shows, applied to a real
 * table. The kernel sends a process's exit event only after exit_notify has woken its parent
 * (kernel/exit.c: exit_notify, then proc_exit_connector), so on a busy machine the parent can reap
 * it and fork the same pid again (clone3 set_tid, or a pid wrap) on the other CPU first: the new
 * life's fork, even its exec, arrive before the old life's exit. CI saw exactly this for the
 * pid-reuse truth case (life 1's status on life 2's entry, life 3 missing). The pid used here is
 * one /proc does not have (the applier reads /proc only for what events do not say).
 */
class EventOrderTest {
    private static final int PARENT = Math.toIntExact(ProcessHandle.current().pid());
    /** Above the kernel's largest pid_max: no process has it. */
    private static final int PID = 4_194_305;

    private final ProcessTable table = new ProcessTable(1000);
    private final EventApplier applier = new EventApplier(table, new ProcFs(Path.of("/proc")));

    private static ProcEvent.Fork fork(long ts) {
        return new ProcEvent.Fork(ts, 0, PARENT, PARENT, PID, PID);
    }

    private static ProcEvent.Exit exit(long ts, int code) {
        return new ProcEvent.Exit(ts, 1, PID, PID, new WaitStatus(code << 8), 17, PARENT, PARENT);
    }

    private List<ExitedProcess> history() {
        return table.history().newest(e -> e.pid() == PID, 100).stream()
                .sorted(Comparator.comparingLong(ExitedProcess::seq)).toList();
    }

    @Test
    void aLateExitGoesToTheLifeItEndsNotToTheNextOne() {
        long t = System.nanoTime();
        applier.accept(fork(t));
        applier.accept(new ProcEvent.Exec(t + 100_000, 0, PID, PID));
        applier.accept(fork(t + 3_000_000));              // life 2, 3 ms later: same clock tick or the next
        applier.accept(new ProcEvent.Exec(t + 3_100_000, 0, PID, PID));
        applier.accept(exit(t + 3_200_000, 1));           // life 1's exit, late
        applier.accept(fork(t + 6_000_000));              // life 3 overtakes life 2's exit too
        applier.accept(exit(t + 6_100_000, 2));           // life 2's
        applier.accept(exit(t + 9_000_000, 3));           // life 3's, in order

        List<ExitedProcess> h = history();
        assertThat(h).extracting(ExitedProcess::startNs).containsExactly(t, t + 3_000_000, t + 6_000_000);
        assertThat(h).extracting(e -> e.status().exitCode()).containsExactly(1, 2, 3);
        assertThat(h).allMatch(ExitedProcess::exitObserved);
        assertThat(h.get(0).endEpochMs() - h.get(0).startEpochMs()).isBetween(3L, 4L);
        assertThat(table.counters().exitsOvertaken.sum()).isEqualTo(2);
        assertThat(table.counters().exitsLateApplied.sum()).isEqualTo(2);
        assertThat(table.counters().exitsNotObserved.sum()).isZero();
    }

    @Test
    void aForkInTheSameTickAsAnExecdLifeIsANewLife() {
        long t = System.nanoTime();
        applier.accept(fork(t));
        applier.accept(new ProcEvent.Exec(t + 50_000, 0, PID, PID));
        applier.accept(exit(t + 100_000, 4));
        applier.accept(fork(t + 200_000)); // 0.2 ms later: the same 10 ms tick
        applier.accept(exit(t + 300_000, 5));

        assertThat(history()).extracting(e -> e.status().exitCode()).containsExactly(4, 5);
        assertThat(history()).extracting(ExitedProcess::startNs).containsExactly(t, t + 200_000);
    }

    @Test
    void aLifeWhoseExitNeverComesGoesToHistoryAsNotObserved() throws Exception {
        long t = System.nanoTime();
        applier.accept(fork(t));
        applier.accept(fork(t + 1_000_000)); // life 1's exit event was lost
        assertThat(history()).isEmpty();     // it may still come
        Thread.sleep(3_100);
        applier.reap();
        List<ExitedProcess> h = history();
        assertThat(h).hasSize(1);
        assertThat(h.getFirst().startNs()).isEqualTo(t);
        assertThat(h.getFirst().exitObserved()).isFalse();
        assertThat(table.counters().exitsNotObserved.sum()).isEqualTo(1);
        assertThat(applier.exitedNotReaped()).isZero();
    }

    @Test
    void atMost4096LivesWaitAndTheOldestGiveWayFirst() {
        long t = System.nanoTime();
        int forks = 4096 + 4;
        for (int i = 0; i < forks; i++) {
            applier.accept(fork(t + i * 1_000L)); // each overtakes the one before: 4,099 wait
        }
        List<ExitedProcess> h = history();
        assertThat(h).extracting(ExitedProcess::startNs).containsExactly(t, t + 1_000L, t + 2_000L);
        assertThat(h).noneMatch(ExitedProcess::exitObserved);
        applier.accept(exit(t + forks * 1_000L, 9)); // the oldest still waiting gets it
        assertThat(history()).hasSize(4);
        assertThat(history().getLast().startNs()).isEqualTo(t + 3_000L);
        assertThat(history().getLast().status().exitCode()).isEqualTo(9);
        assertThat(applier.exitedNotReaped()).isEqualTo(4096 - 1);
    }
}
