package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.taskstats.Taskstats;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How an accounting record finds its exit in the history: by its pid's own chain of exits, so a
 * record the taskstats reader delivers thousands of exits late (a storm) still joins, while one
 * for a new life never lands on an older life of the same pid that lost its record.
 */
class HistoryJoinTest {
    private static final long NOW = System.currentTimeMillis();

    private static ExitedProcess exit(History h, int pid, long startMs, long endMs) {
        return h.add(new ExitedProcess(h.nextSeq(), pid, 1, 0, 0, "p" + pid, "/bin/p", List.of("p", "" + pid), startMs,
                endMs, new WaitStatus(7 << 8), false, true, true, null, startMs * 1_000_000L));
    }

    private static Taskstats record(int pid, long lifetimeMs, long rssKiB) {
        return new Taskstats(14, false, pid, 1, 0, 0, "p" + pid, new WaitStatus(7 << 8), 0, 0, NOW / 1000,
                lifetimeMs * 1000, 0, 0, 0, 0, rssKiB, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, pid);
    }

    private static ExitedProcess find(History h, int pid, long startMs) {
        return h.newest(e -> e.pid() == pid && e.startEpochMs() == startMs, 1).getFirst();
    }

    @Test
    void aRecordThousandsOfExitsLateStillJoins() {
        History h = new History(10_000);
        exit(h, 500, NOW - 5, NOW - 2);
        for (int i = 0; i < 3_000; i++) { // the storm the taskstats reader is behind
            exit(h, 10_000 + i, NOW - 3, NOW - 1);
        }
        h.attach(record(500, 3, 1234));
        assertThat(find(h, 500, NOW - 5).taskstats()).isNotNull();
        assertThat(find(h, 500, NOW - 5).taskstats().hiwaterRssKiB()).isEqualTo(1234);
        assertThat(h.taskstatsUnjoined()).isZero();
    }

    @Test
    void lateRecordsOfOnePidsLivesJoinInOrder() {
        History h = new History(10_000);
        exit(h, 600, NOW - 9, NOW - 7); // two lives of pid 600, both ended before either record came
        for (int i = 0; i < 500; i++) {
            exit(h, 20_000 + i, NOW - 6, NOW - 5);
        }
        exit(h, 600, NOW - 4, NOW - 2);
        h.attach(record(600, 2, 111));
        h.attach(record(600, 2, 222));
        assertThat(find(h, 600, NOW - 9).taskstats().hiwaterRssKiB()).isEqualTo(111);
        assertThat(find(h, 600, NOW - 4).taskstats().hiwaterRssKiB()).isEqualTo(222);
    }

    @Test
    void aNewLivesRecordNeverJoinsAnOldLifeThatLostItsOwn() {
        History h = new History(10_000);
        exit(h, 700, NOW - 60_000, NOW - 30_000); // its record never came
        // a new life of pid 700 ends later: its record comes first (the kernel's order)
        h.attach(record(700, 4, 333));
        assertThat(find(h, 700, NOW - 60_000).taskstats()).as("the old life keeps none").isNull();
        ExitedProcess fresh = exit(h, 700, NOW - 6, NOW - 2);
        assertThat(fresh.taskstats()).as("the new life's exit takes the record that waited").isNotNull();
        assertThat(fresh.taskstats().hiwaterRssKiB()).isEqualTo(333);
    }

    @Test
    void theChainLeavesWithTheRing() {
        History h = new History(100);
        exit(h, 800, NOW - 5, NOW - 3);
        for (int i = 0; i < 250; i++) { // pid 800's exit leaves the ring
            exit(h, 30_000 + i, NOW - 3, NOW - 1);
        }
        h.attach(record(800, 2, 444)); // kept as early: no exit of 800 is held
        ExitedProcess again = exit(h, 800, NOW - 2, NOW);
        assertThat(again.taskstats()).isNotNull();
        assertThat(h.size()).isEqualTo(100);
    }
}
