package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.taskstats.Taskstats;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The history's sharing of repeated values: an entry read back is equal to what was added, field
 * for field, and equal strings of different exits are then one object (what saves the heap).
 */
class DedupTest {
    /** A fresh copy of a string, as /proc or a database row hands each exit its own. */
    private static String copy(String s) {
        return s == null ? null : new String(s.toCharArray());
    }

    private static final long NOW = System.currentTimeMillis();

    private static ExitedProcess exit(long seq, int pid, String comm, List<String> argv, String cgroup, int status) {
        List<String> args = new ArrayList<>();
        for (String a : argv) {
            args.add(copy(a));
        }
        Taskstats t = new Taskstats(13, true, pid, 1, 0, 0, copy(comm), new WaitStatus(status), 0, 0, 1_700_000_000L,
                1500, 10, 20, 30, 0, 2048, 4096, 1, 2, 3, 4, 5, 6, 0, 7, 8, pid);
        // ended a moment ago: an exit older than History.JOIN_MAX_AGE_MS no longer takes a record
        return new ExitedProcess(seq, pid, 1, 0, 0, copy(comm), copy("/usr/bin/" + comm), args, NOW - 1000 + seq,
                NOW + seq, new WaitStatus(status), false, true, true, t, 5_000_000L + seq, copy(cgroup));
    }

    @Test
    void entriesReadBackEqualAndShareTheirRepeatedValues() {
        History h = new History(100);
        String cg = "0::/system.slice/cron.service,1:name=systemd:/system.slice/cron.service";
        List<ExitedProcess> added = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            String comm = i % 2 == 0 ? "true" : "grep";
            List<String> argv = i % 2 == 0 ? List.of("/bin/true", "--x") : List.of("grep", "-q", "p" + i);
            ExitedProcess e = exit(i, 100 + i, comm, argv, i % 5 == 0 ? null : cg, i % 3 == 0 ? 0 : 256);
            added.add(e);
            synchronized (h) {
                h.add(e);
            }
        }
        List<ExitedProcess> held = h.newest(e -> true, 100).reversed();
        assertThat(held).isEqualTo(added); // records: every field, the taskstats included
        ExitedProcess a = held.get(2);
        ExitedProcess b = held.get(4);
        assertThat(a.comm()).isSameAs(b.comm());
        assertThat(a.exe()).isSameAs(b.exe());
        assertThat(a.cgroup()).isSameAs(b.cgroup());
        assertThat(a.argv()).isSameAs(b.argv());
        assertThat(a.taskstats().comm()).isSameAs(b.comm());
        assertThat(held.get(3).status()).isSameAs(held.get(9).status());
        // different values stay apart: the grep lines differ in their last argument only
        assertThat(held.get(1).argv()).isNotEqualTo(held.get(3).argv());
        assertThat(held.get(1).argv().get(0)).isSameAs(held.get(3).argv().get(0));
        assertThat(held.get(0).cgroup()).isNull();
    }

    @Test
    void aJoinedRecordIsSharedToo() {
        History h = new History(10);
        ExitedProcess e = exit(0, 4242, "make", List.of("make", "-j2"), "0::/user.slice", 0);
        ExitedProcess bare = new ExitedProcess(e.seq(), e.pid(), e.ppid(), e.uid(), e.gid(), e.comm(), e.exe(),
                e.argv(), e.startEpochMs(), e.endEpochMs(), e.status(), false, true, true, null, e.startNs(), e.cgroup());
        synchronized (h) {
            h.add(bare);
            h.attach(e.taskstats());
        }
        ExitedProcess got = h.newest(x -> true, 1).getFirst();
        assertThat(got).isEqualTo(e);
        assertThat(got.taskstats().comm()).isSameAs(got.comm());
        assertThat(got.taskstats().status()).isSameAs(got.status());
    }
}
