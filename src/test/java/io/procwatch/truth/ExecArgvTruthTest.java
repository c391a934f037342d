package io.procwatch.truth;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.protocol.Selector;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The truth suite's exec cases: argv (and the name the exec gave) for every exec, of its own
 * program. These depend on how the daemon gets an exec's argv: with the /proc read at exec a
 * process that lives ~1 ms is often gone or already another life or program when the read
 * happens; the BPF exec capture takes it at the exec itself.
 *
 * <p>Every method measures and prints its TRUTH line and asserts the goal (N of N, nothing of
 * another program's or life's).
 */
class ExecArgvTruthTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        daemon.close();
    }

    /** Case 5, exec data: each of three lives of one pid carries its own name and argv, or argv unknown. */
    @Test
    void pidReuseLivesCarryTheirOwnArgvAndName() throws Exception {
        ReusedLives.Counts n = ReusedLives.run(daemon, 200, false);
        Report.line("pid_reuse_3_lives_argv", n.exact(), n.lives(), "argv unknown " + n.argvUnknown()
                + ", with another life's argv or comm " + n.otherLifeArgvOrComm() + ", wrong comm " + n.wrongComm()
                + ", wrong known argv " + n.wrongArgv() + ", extra or missing " + n.extraOrMissing()
                + "; lives whose exit event came after the next life's fork " + n.overtaken()
                + (n.example().isEmpty() ? "" : "; e.g. " + n.example()));
        assertThat(n.extraOrMissing()).as(n.why()).isZero();
        assertThat(n.otherLifeArgvOrComm()).isZero();
        assertThat(n.wrongComm()).isZero();
        assertThat(n.wrongArgv()).isZero();
        assertThat(n.exact()).isEqualTo(n.lives());
    }

    /**
     * Case 7: {@code sh -c 'exec pwchain chain OUT b c'} -> pwchain (b c) -> pwchain (c) -> pwchain,
     * as fast as exec goes. Every exec event must carry its own program's argv or say argv unknown;
     * never a later program's argv marked known.
     */
    @Test
    void execChainsCarryTheirOwnArgv() throws Exception {
        int n = 70;
        Map<Integer, List<ProcRow>> execs = new ConcurrentHashMap<>();
        try (ProcwatchClient sub = daemon.client()) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    sub.subscribe(Selector.all(), EventType.EXEC.bit, 0, item -> {
                        if (item instanceof ProcwatchClient.Event e && !e.row().thread) {
                            execs.computeIfAbsent(e.row().pid, k -> new CopyOnWriteArrayList<>()).add(e.row());
                        }
                        return true;
                    });
                } catch (Exception closed) {
                    // the test closed the connection
                }
            });
            Thread.sleep(300); // subscribed before the first exec
            try (Workload w = Workload.start("chains", Workload.binary("pwchain").toString(), Integer.toString(n))) {
                assertThat(w.finish()).isZero();
                Map<Integer, List<Truth>> truth = new HashMap<>();
                w.truth("exec").forEach(t -> truth.computeIfAbsent(t.pid(), k -> new ArrayList<>()).add(t));
                assertThat(truth).hasSize(n);
                assertThat(truth.values()).allMatch(l -> l.size() == 4);
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (System.nanoTime() < deadline && truth.keySet().stream()
                        .anyMatch(p -> execs.getOrDefault(p, List.of()).size() < 4)) {
                    Thread.sleep(50);
                }
                int events = 0;
                int known = 0;
                int unknown = 0;
                int laterProgram = 0;
                int otherWrong = 0;
                int missing = 0;
                String example = "";
                for (var e : truth.entrySet()) {
                    List<ProcRow> got = execs.getOrDefault(e.getKey(), List.of());
                    List<Truth> want = e.getValue();
                    missing += Math.max(0, want.size() - got.size());
                    for (int i = 0; i < Math.min(got.size(), want.size()); i++) {
                        ProcRow r = got.get(i);
                        events++;
                        if (r.argvUnknown) {
                            unknown++;
                        } else if (want.get(i).argv().equals(r.argv)) {
                            known++;
                        } else {
                            boolean later = false;
                            for (int j = i + 1; j < want.size(); j++) {
                                later |= want.get(j).argv().equals(r.argv);
                            }
                            laterProgram += later ? 1 : 0;
                            otherWrong += later ? 0 : 1;
                            if (example.isEmpty()) {
                                example = "pid " + e.getKey() + " exec " + (i + 1) + ": " + r.argv + " marked known, truth "
                                        + want.get(i).argv();
                            }
                        }
                    }
                }
                Report.line("exec_chains", known, n * 4L, "argv unknown " + unknown + ", a later program's argv marked known "
                        + laterProgram + ", other wrong argv " + otherWrong + ", events missing " + missing
                        + (example.isEmpty() ? "" : "; e.g. " + example));
                assertThat(missing).isZero();
                assertThat(events).isEqualTo(n * 4);
                assertThat(laterProgram).isZero();
                assertThat(otherWrong).isZero();
                assertThat(known).isEqualTo(n * 4);
            }
        }
    }

    /**
     * Case 8: 2,000 processes that live ~1 ms each, from two parents, while 10,000 idle processes
     * exist: the history's argv of each is known and its own.
     */
    @Test
    void oneMillisecondProcessesAmongTenThousandIdle() throws Exception {
        int n = 2000;
        try (Workload idle = Workload.start("idle", "10000")) {
            idle.await("ready");
            try (Workload w = Workload.start("blips", Workload.binary("pwblip").toString(), Integer.toString(n))) {
                assertThat(w.finish()).isZero();
                List<Truth> truth = w.truth("blip");
                assertThat(truth).hasSize(n);
                Map<Integer, Integer> parents = new HashMap<>();
                truth.forEach(t -> parents.merge(t.integer("ppid"), 1, Integer::sum));
                assertThat(parents).hasSize(2);
                Map<String, ProcRow> byLife = new HashMap<>();
                try (ProcwatchClient c = daemon.client()) {
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    do {
                        byLife.clear();
                        for (int ppid : parents.keySet()) {
                            for (ProcRow r : Lookup.children(c, ppid)) {
                                byLife.put(r.pid + "/" + r.ppid, r);
                            }
                        }
                    } while (byLife.size() < n && System.nanoTime() < deadline && sleep(100));
                }
                int known = 0;
                int unknown = 0;
                int wrong = 0;
                int missing = 0;
                String example = "";
                for (Truth t : truth) {
                    ProcRow r = byLife.get(t.pid() + "/" + t.integer("ppid"));
                    if (r == null) {
                        missing++;
                    } else if (r.argvUnknown) {
                        unknown++;
                    } else if (t.argv().equals(r.argv)) {
                        known++;
                    } else {
                        wrong++;
                        if (example.isEmpty()) {
                            example = "pid " + t.pid() + ": " + r.argv + " marked known, truth " + t.argv();
                        }
                    }
                }
                Report.line("argv_1ms_among_10000_idle", known, n, "argv unknown " + unknown + ", wrong argv marked known "
                        + wrong + ", missing from history " + missing + (example.isEmpty() ? "" : "; e.g. " + example));
                assertThat(missing).isZero();
                assertThat(wrong).isZero();
                assertThat(known).isEqualTo(n);
            }
        }
    }

    private static boolean sleep(long ms) throws InterruptedException {
        Thread.sleep(ms);
        return true;
    }
}
