package io.procwatch.table;

import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.ProcFs;
import io.procwatch.sys.ProcessControl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sampler with the BPF task scan reads stat only for processes that changed, yet its rows
 * stay what /proc says: for sleepers changed from outside (renice, re-parenting), for running
 * processes, and for every process whose stat line is stable across the comparison.
 */
class SamplerTaskScanTest {
    private static LiveTable live;
    private static final ProcFs PROC = ProcFs.system();

    @BeforeAll
    static void start() throws Exception {
        live = LiveTable.start(LiveTable.Config.defaults(), e -> { });
        assertThat(live.sampler().taskScanProblem()).as("task scan problem").isNull();
        live.sampler().sampleAll();
    }

    @AfterAll
    static void stop() {
        live.close();
    }

    private static ProcessInfo row(long pid) {
        return live.table().get((int) pid);
    }

    @Test
    void sleepersAreSkippedButChangesFromOutsideAreSeen() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        Process sh = new ProcessBuilder("sh", "-c", "sleep 60 & echo $!; read x").start();
        int orphan = Integer.parseInt(new java.io.BufferedReader(new java.io.InputStreamReader(sh.getInputStream())).readLine().trim());
        try {
            Thread.sleep(300);
            Sampler s = live.sampler();
            s.sampleAll();
            assertThat(row(sleeper.pid()).nice()).isZero();
            assertThat(row(orphan).ppid()).isEqualTo(sh.pid());

            long skips = s.statSkips();
            long reads = s.statReads();
            s.sampleAll();
            int tracked = live.table().size();
            // most processes slept through that pass; far fewer stat reads than processes
            assertThat(s.statSkips() - skips).isGreaterThan(tracked / 2);
            assertThat(s.statReads() - reads).isLessThan(tracked / 2);

            ProcessControl.renice((int) sleeper.pid(), 6);
            sh.getOutputStream().close();
            assertThat(sh.waitFor(10, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(200); // the exit event
            s.sampleAll();
            assertThat(row(sleeper.pid()).nice()).isEqualTo(6);
            assertThat(row(orphan).ppid()).isEqualTo(PROC.stat(orphan).orElseThrow().ppid()).isNotEqualTo(sh.pid());
        } finally {
            sleeper.destroyForcibly().waitFor();
            ProcessControl.kill(orphan, 9);
        }
    }

    @Test
    void aBusyProcessesTimesAdvance() throws Exception {
        Process spin = new ProcessBuilder("perl", "-e", "1 while 1").start();
        try {
            Thread.sleep(300);
            live.sampler().sampleAll();
            long before = row(spin.pid()).utime() + row(spin.pid()).stime();
            Thread.sleep(400);
            live.sampler().sampleAll();
            ProcessInfo after = row(spin.pid());
            assertThat(after.utime() + after.stime()).isGreaterThan(before);
            assertThat(after.state()).isEqualTo('R');
        } finally {
            spin.destroyForcibly().waitFor();
        }
    }

    /** The stat fields a row keeps. */
    record StatView(char state, int ppid, int pgrp, int session, int tty, int tpgid, int nice, int priority,
                    int threads, long rss, long vsize, long utime, long stime, long minflt, long majflt) {
        static StatView of(PidStat s) {
            return new StatView(s.state(), s.ppid(), s.pgrp(), s.session(), s.ttyNr(), s.tpgid(), s.nice(), s.priority(),
                    s.numThreads(), s.rss(), s.vsize(), s.utime(), s.stime(), s.minflt(), s.majflt());
        }

        static StatView of(ProcessInfo p) {
            return new StatView(p.state(), p.ppid(), p.pgrp(), p.session(), p.ttyNr(), p.tpgid(), p.nice(), p.priority(),
                    p.numThreads(), p.statRss, p.vsize(), p.utime(), p.stime(), p.minflt(), p.majflt()); // stat's own rss (the row shows status's exact one)
        }
    }

    @Test
    void everyStableProcesssRowEqualsItsStatLine() throws Exception {
        for (int round = 0; round < 3; round++) {
            live.sampler().sampleAll();
        }
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (int pid : PROC.pids()) {
            Optional<PidStat> before = PROC.stat(pid);
            live.sampler().sampleAll();
            ProcessInfo p = row(pid);
            Optional<PidStat> after = PROC.stat(pid);
            if (before.isEmpty() || after.isEmpty() || p == null || p.leaderExited) {
                continue;
            }
            StatView b = StatView.of(before.get());
            if (!b.equals(StatView.of(after.get()))) {
                continue; // it changed while we looked: no single right answer
            }
            compared++;
            if (!b.equals(StatView.of(p))) {
                mismatches.add(pid + ": /proc " + b + " vs row " + StatView.of(p));
            }
            if (compared >= 200) {
                break;
            }
        }
        assertThat(compared).isGreaterThan(10);
        assertThat(mismatches).isEmpty();
    }

    @Test
    void withoutTheScanEveryStatFileIsRead() throws Exception {
        try (LiveTable plain = LiveTable.start(new LiveTable.Config(1000, 8 << 20, 200, false), e -> { })) {
            assertThat(plain.sampler().taskScanProblem()).contains("--task-scan off");
            plain.sampler().sampleAll();
            plain.sampler().sampleAll();
            assertThat(plain.sampler().statSkips()).isZero();
            assertThat(plain.table().get((int) ProcessHandle.current().pid()).numThreads()).isGreaterThan(1);
        }
    }
}
