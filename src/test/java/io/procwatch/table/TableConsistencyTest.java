package io.procwatch.table;

import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.PidStatus;
import io.procwatch.procfs.ProcFs;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The table, kept by events alone (plus one sampler pass for the /proc-only fields), equals a
 * fresh /proc scan after a busy workload: every row, every field compared.
 */
class TableConsistencyTest {
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

    /** The fields compared, as /proc shows them. */
    record Row(int pid, int ppid, int uid, int gid, String comm, List<String> argv, int nlwp, char stateClass) {
    }

    static Optional<Row> fromProc(int pid) {
        Optional<PidStat> stat = PROC.stat(pid);
        Optional<PidStatus> status = PROC.status(pid);
        Optional<List<String>> argv = PROC.cmdline(pid);
        if (stat.isEmpty() || status.isEmpty() || argv.isEmpty() || stat.get() == null || status.get() == null) {
            return Optional.empty();
        }
        ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
        b.state = stat.get().state();
        ProcessInfo tmp = b.build();
        return Optional.of(new Row(pid, stat.get().ppid(), status.get().euid(), status.get().egid(),
                stat.get().comm(), List.copyOf(argv.get()), PROC.tids(pid).size(), tmp.stateClass()));
    }

    static Row fromTable(ProcessInfo p) {
        return new Row(p.pid(), p.ppid(), p.euid(), p.egid(), p.comm(), p.argv(), p.numThreads(), p.stateClass());
    }

    @Test
    void tableEqualsProcAfterABusyWorkload() throws Exception {
        // Forks, execs, renames (prctl via perl's $0), uid changes, setsid, exits; a holder keeps
        // the long-lived ones until the comparison.
        String workload = String.join("\n",
                "for i in $(seq 40); do",
                "  ( : ) ; bash -c 'exit 3' ; /bin/true",
                "  setpriv --reuid=65534 --regid=65534 --clear-groups sleep 60 &",
                "  perl -e '$0 = \"pw-renamed\"; sleep 60' &",
                "  setsid sleep 60 &",
                "  sh -c 'sleep 60' &",
                "  (sleep 0.2; exit 4) &",
                "done",
                "sleep 1",
                "echo ready",
                "wait");
        Process holder = new ProcessBuilder("/bin/bash", "-c", workload).start();
        try {
            String ready = new String(holder.getInputStream().readNBytes(6));
            assertThat(ready).isEqualTo("ready\n");
            Thread.sleep(500); // let the table apply the tail of the event stream
            live.sampler().sampleAll();

            List<String> mismatches = new ArrayList<>();
            TreeSet<Integer> pids = new TreeSet<>(PROC.pids());
            for (ProcessInfo p : live.table().all()) {
                if (!p.leaderExited) {
                    pids.add(p.pid());
                }
            }
            int compared = 0;
            for (int pid : pids) {
                String diff = compare(pid);
                for (int attempt = 0; diff != null && attempt < 5; attempt++) {
                    // The system keeps moving (JVM threads, states): re-measure both sides before
                    // calling it a mismatch.
                    Thread.sleep(100);
                    live.sampler().sampleAll();
                    diff = compare(pid);
                }
                if (diff != null) {
                    mismatches.add(diff);
                }
                compared++;
            }
            System.out.printf("consistency: %d rows compared, %d mismatches%n", compared, mismatches.size());
            assertThat(mismatches).isEmpty();
            assertThat(compared).isGreaterThan(200);
            assertThat(live.table().named("pw-renamed")).hasSize(40);
            assertThat(live.table().ofUser(65534)).hasSizeGreaterThanOrEqualTo(40);
            assertThat(live.table().counters().losses.sum()).isZero();
        } finally {
            holder.descendants().forEach(ProcessHandle::destroyForcibly);
            holder.destroyForcibly();
        }
    }

    private static String compare(int pid) {
        Optional<Row> proc = fromProc(pid);
        ProcessInfo t = live.table().get(pid);
        boolean inTable = t != null && !t.leaderExited;
        if (proc.isEmpty() && !inTable) {
            return null; // gone from both
        }
        if (proc.isEmpty()) {
            return "only in table: " + t;
        }
        if (!inTable) {
            return "only in /proc: " + proc.get();
        }
        Row a = fromTable(t);
        return Objects.equals(a, proc.get()) ? null : "table " + a + " != proc " + proc.get();
    }
}
