package io.procwatch.truth;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Case 9 of the truth suite: forced loss and recovery. The daemon (64 KiB event buffer) is
 * stopped with SIGSTOP while 200 processes it knows exit and 20,000 more fork and exit, and 200
 * new ones start; then SIGCONT. Stats must report the loss; from the first answer after SIGCONT
 * (measured, goal: within 100 ms) {@code ps -e} serves none of the workload's reaped processes
 * and every live one; the exits it did not see keep the name it knew.
 */
class LossRecoveryTruthTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws Exception {
        daemon = DaemonProcess.start("--receive-buffer", "65536");
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        signal("CONT"); // whatever happened, never leave it stopped
        daemon.close();
    }

    @Test
    void lossThenRecovery() throws Exception {
        int keepers = 200;
        int storm = 20_000;
        int live = 200;
        try (Workload w = Workload.start("storm", Workload.dir().toString(), Integer.toString(keepers),
                Integer.toString(storm), Integer.toString(live))) {
            w.await("ready");
            int workload = (int) w.pid();
            List<Integer> keeperPids = w.truth("keeper").stream().map(Truth::pid).toList();
            assertThat(keeperPids).hasSize(keepers);
            Map<String, Long> before;
            long baselineMs;
            try (ProcwatchClient c = daemon.client()) {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (Lookup.live(c, keeperPids, Groups.BASE).values().stream().filter(r -> "pwkeep".equals(r.comm))
                        .count() < keepers) {
                    assertThat(System.nanoTime() < deadline).as("the daemon knows the keepers by name").isTrue();
                    Thread.sleep(50);
                }
                before = c.stats();
                long t = System.nanoTime();
                c.snapshot(Selector.all(), Groups.BASE, Wire.F_FRESH);
                baselineMs = (System.nanoTime() - t) / 1_000_000;
            }
            long contNs;
            Set<Integer> gone = new HashSet<>();
            Set<Integer> alive = new HashSet<>();
            signal("STOP");
            try {
                w.tell("go");
                w.await("done");
                // read the ground truth while the daemon is still stopped: the clock below must
                // measure the daemon, not this test parsing 20,000 lines
                w.truth("gone").forEach(t -> gone.add(t.pid()));
                w.truth("live").forEach(t -> alive.add(t.pid()));
            } finally {
                signal("CONT");
                contNs = System.nanoTime();
            }
            assertThat(gone).hasSizeGreaterThan(keepers); // pids of the storm repeat; each counts once
            assertThat(alive).hasSize(live);
            gone.removeAll(alive); // a reaped pid may have been reused by a live one

            // Poll ps -e until it is right; the first answer is the one that counts.
            int firstGoneServed = -1;
            int firstLiveMissing = -1;
            long firstAnswerMs = -1;
            long rightAfterMs = -1;
            int answers = 0;
            long deadline = contNs + 10_000_000_000L;
            long helloMs;
            try (ProcwatchClient c = daemon.client()) {
                c.hello(); // answered by the connection's thread, not the event reader: how soon the daemon runs again
                helloMs = (System.nanoTime() - contNs) / 1_000_000;
                while (System.nanoTime() < deadline) {
                    List<ProcRow> rows = c.snapshot(Selector.all(), Groups.BASE, Wire.F_FRESH).rows();
                    long at = (System.nanoTime() - contNs) / 1_000_000;
                    int goneServed = 0;
                    Set<Integer> served = new HashSet<>();
                    for (ProcRow r : rows) {
                        if (r.ppid == workload) {
                            served.add(r.pid);
                            if (gone.contains(r.pid)) {
                                goneServed++; // the workload has reaped it: no child of it has that pid
                            }
                        }
                    }
                    int liveMissing = 0;
                    for (int p : alive) {
                        liveMissing += served.contains(p) ? 0 : 1;
                    }
                    if (answers++ == 0) {
                        firstGoneServed = goneServed;
                        firstLiveMissing = liveMissing;
                        firstAnswerMs = at;
                    }
                    if (goneServed == 0 && liveMissing == 0) {
                        rightAfterMs = at;
                        break;
                    }
                }
                Map<String, Long> after = c.stats();
                long losses = after.get("losses") - before.get("losses");
                long lostKnown = after.get("lost_events_known") - before.get("lost_events_known");
                // the keepers' exits: observed or not, the history has their name
                w.finish();
                List<ProcRow> kept = Lookup.awaitChildren(c, workload, keepers, 5000).stream()
                        .filter(r -> keeperPids.contains(r.pid) && r.startMs > 0).toList();
                Set<Integer> keeperSet = new HashSet<>(keeperPids);
                int named = 0;
                int unobserved = 0;
                Set<Integer> seen = new HashSet<>();
                for (ProcRow r : kept) {
                    if (keeperSet.contains(r.pid) && seen.add(r.pid)) {
                        named += "pwkeep".equals(r.comm) ? 1 : 0;
                        unobserved += r.exitUnobserved ? 1 : 0;
                    }
                }
                Report.line("loss_recovery", (firstGoneServed == 0 ? 1 : 0) + (firstLiveMissing == 0 ? 1 : 0), 2,
                        "a fresh ps -e takes " + baselineMs + " ms before the storm; hello answered " + helloMs + " ms after SIGCONT; first answer " + firstAnswerMs + " ms after SIGCONT: gone served " + firstGoneServed
                                + " of " + gone.size() + ", live missing " + firstLiveMissing + " of " + live
                                + "; right after " + rightAfterMs + " ms, " + (rightAfterMs - helloMs) + " ms after the hello ("
                                + answers + " answers); losses " + losses
                                + ", events known lost " + lostKnown + "; rescans " + (after.get("resyncs") - before.get("resyncs"))
                                + " (" + (after.get("resyncs_from_task_scan") - before.get("resyncs_from_task_scan"))
                                + " from the task scan), the one that repaired the table took " + after.get("resync_last_us") / 1000
                                + " ms (" + after.get("resync_last_loaded") + " new pids read, " + after.get("resync_last_vanished")
                                + " rows gone); keepers' exits in history with their name "
                                + named + " of " + keepers + " (" + unobserved + " not observed)");
                assertThat(losses).as("stats report the loss").isPositive();
                // CI runs as root on a kernel with BPF task iterators (TaskScanTest): the rescan
                // must take which lives exist from the kernel's task list, not a stat read of each pid
                assertThat(after.get("resyncs_from_task_scan") - before.get("resyncs_from_task_scan"))
                        .as("rescans from the task scan").isPositive();
                assertThat(firstGoneServed).as("gone processes served at the first answer").isZero();
                assertThat(rightAfterMs).as("ps -e right within 10 s").isNotNegative();
                assertThat(named).isEqualTo(keepers);
                // a fresh answer while the table is stale rescans first, so it has the processes
                // whose fork events were lost as well as none of the gone ones
                assertThat(firstLiveMissing).as("live processes missing at the first answer").isZero();
                if (Goals.ALL) {
                    // met in every run of the A/B of branch loss2 (docs/fidelity.md, case 9:
                    // 24-59 ms at load 2-2.6, 55-79 ms at load 4.4-10), but 222 ms once at load
                    // 7-8 on this shared 2-core machine: CPU the daemon waits for, not work
                    assertThat(rightAfterMs).isBetween(0L, 100L);
                }
            }
        }
    }

    private static void signal(String sig) throws Exception {
        new ProcessBuilder("kill", "-" + sig, Long.toString(daemon.pid())).inheritIO().start().waitFor();
    }
}
