package io.procwatch.truth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.event.WaitStatus;
import io.procwatch.protocol.Selector;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import io.procwatch.testing.StableProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cases 3, 4 and 10 of the truth suite: exit status as waitpid returned it (a leader that
 * exited before its last thread, signals with and without a core), and one start time everywhere.
 */
class StatusTruthTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        daemon.close();
    }

    /** Case 3: main thread pthread_exit, the other thread exit(5). */
    @Test
    void leaderExitsFirstThenExit5() throws Exception {
        int n = 10;
        try (Workload w = Workload.start("zleader", Integer.toString(n))) {
            w.await("ready");
            List<Integer> pids = new ArrayList<>();
            try (var lines = Files.lines(Path.of("/proc/" + w.pid() + "/task/" + w.pid() + "/children"))) {
                lines.flatMap(l -> java.util.Arrays.stream(l.trim().split(" "))).filter(s -> !s.isEmpty())
                        .forEach(s -> pids.add(Integer.parseInt(s)));
            }
            assertThat(pids).hasSize(n);
            String list = String.join(",", pids.stream().map(String::valueOf).toList());
            // while it runs: procwatch's ps against procps's, for the pids unchanged across both reads
            try (ProcwatchClient c = daemon.client()) {
                Lookup.sync(c);
            }
            StableProcesses before = StableProcesses.read();
            String procps = Spawn.output("ps", "-o", "pid=,stat=,nlwp=,args=", "-p", list);
            Cli.Result ours = Cli.run(daemon.socket(), "ps", "-o", "pid=,stat=,nlwp=,args=", "-p", list);
            Set<Integer> stable = before.unchangedIn(StableProcesses.read());
            Map<Integer, String> theirs = byPid(procps);
            Map<Integer, String> mine = byPid(ours.out());
            int psMatched = 0;
            int compared = 0;
            String example = "";
            for (int pid : pids) {
                if (!stable.contains(pid)) {
                    continue;
                }
                compared++;
                if (theirs.get(pid) != null && theirs.get(pid).equals(mine.get(pid))
                        && theirs.get(pid).contains("Zl") && theirs.get(pid).endsWith("<defunct>")) {
                    psMatched++;
                } else if (example.isEmpty()) {
                    example = "pid " + pid + " procps '" + theirs.get(pid) + "' procwatch '" + mine.get(pid) + "'";
                }
            }
            w.finish();
            List<Truth> truth = w.truth("child");
            assertThat(truth).hasSize(n);
            int historyMatched = 0;
            int waitMatched = 0;
            try (ProcwatchClient c = daemon.client()) {
                for (Truth t : truth) {
                    List<ProcRow> h = Lookup.awaitHistory(c, t.pid(), r -> r.ppid == w.pid(), 1, 5000);
                    if (h.size() == 1 && h.getFirst().status == t.integer("status")) {
                        historyMatched++;
                    } else if (example.isEmpty()) {
                        example = "pid " + t.pid() + " history " + h.stream().map(r -> r.status).toList()
                                + " truth " + t.integer("status");
                    }
                }
            }
            for (Truth t : truth) {
                Cli.Result wait = Cli.run(daemon.socket(), "wait", Integer.toString(t.pid()));
                if (wait.exit() == new WaitStatus(t.integer("status")).shellStatus()) {
                    waitMatched++;
                }
            }
            Report.line("leader_pthread_exit_then_exit5", historyMatched, n, "wait " + waitMatched + " of " + n
                    + ", ps stat/args equal procps " + psMatched + " of " + compared + " stable"
                    + (example.isEmpty() ? "" : "; e.g. " + example));
            assertThat(truth).allMatch(t -> new WaitStatus(t.integer("status")).exitCode() == 5);
            assertThat(historyMatched).isEqualTo(n);
            assertThat(waitMatched).isEqualTo(n);
            assertThat(compared).isPositive();
            assertThat(psMatched).isEqualTo(compared);
        }
    }

    /** Case 4: signals with and without a core, and plain exit codes: the wait status, exactly. */
    @Test
    void signalsWithAndWithoutCore() throws Exception {
        String pattern = Files.readString(Path.of("/proc/sys/kernel/core_pattern")).strip();
        Path cores = Files.createTempDirectory("pw-truth-cores");
        try (Workload w = Workload.start("signals", cores.toString())) {
            assertThat(w.finish()).isZero();
            List<Truth> truth = w.truth("child");
            int matched = 0;
            int wrongStatus = 0;
            int wrongCore = 0;
            String example = "";
            try (ProcwatchClient c = daemon.client()) {
                for (Truth t : truth) {
                    List<ProcRow> h = Lookup.awaitHistory(c, t.pid(), r -> r.ppid == w.pid(), 1, 5000);
                    ProcRow r = h.size() == 1 ? h.getFirst() : null;
                    boolean statusOk = r != null && r.status == t.integer("status");
                    boolean coreOk = r != null && r.coreDumped == (t.integer("core") == 1);
                    // wait answers for an exited pid from the history: the same status
                    ProcRow waited = c.waitFor(List.of(t.pid()), 1000, x -> { }).rows().stream().findFirst().orElse(null);
                    boolean waitOk = waited != null && waited.status == t.integer("status")
                            && waited.coreDumped == (t.integer("core") == 1);
                    wrongStatus += statusOk && waitOk ? 0 : 1;
                    wrongCore += coreOk ? 0 : 1;
                    if (statusOk && coreOk && waitOk) {
                        matched++;
                    } else if (example.isEmpty()) {
                        example = "pid " + t.pid() + " truth status " + t.integer("status") + " core " + t.integer("core")
                                + ", history " + (r == null ? h.size() + " entries" : r.status + " core " + r.coreDumped)
                                + ", wait " + (waited == null ? "none" : waited.status + " core " + waited.coreDumped);
                    }
                }
            }
            long withCore = truth.stream().filter(t -> t.integer("core") == 1).count();
            Report.line("signals_and_core", matched, truth.size(), "wrong statuses " + wrongStatus + ", wrong core flags "
                    + wrongCore + ", " + withCore + " dumped a core (core_pattern '" + pattern + "')"
                    + (example.isEmpty() ? "" : "; e.g. " + example));
            assertThat(truth).hasSize(17);
            if (!pattern.startsWith("|")) {
                // a plain pattern written in the child's working directory: the kernel dumps
                assertThat(withCore).as("cores dumped").isPositive();
            }
            assertThat(wrongStatus).isZero();
            assertThat(wrongCore).isZero();
            assertThat(matched).isEqualTo(truth.size());
        } finally {
            new ProcessBuilder("rm", "-rf", cores.toString()).start().waitFor();
        }
    }

    /**
     * Case 10: a process's start time is one number in ps --json, the fork event and history, and
     * it lies between the workload's CLOCK_REALTIME readings around fork (a few ms of slack: the
     * daemon maps the kernel's monotonic start time to the wall clock with one reading).
     */
    @Test
    void startTimeAgreesEverywhere() throws Exception {
        int n = 20;
        long slackMs = 5;
        Map<Integer, ProcRow> forks = new ConcurrentHashMap<>();
        try (ProcwatchClient sub = daemon.client()) {
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                try {
                    sub.subscribe(Selector.all(), EventType.FORK.bit, 0, item -> {
                        if (item instanceof ProcwatchClient.Event e && !e.row().thread) {
                            forks.put(e.row().pid, e.row());
                        }
                        return true;
                    });
                } catch (Exception closed) {
                    // the test closed the connection
                }
            });
            Thread.sleep(300); // subscribed before the first fork
            try (Workload w = Workload.start("start", Integer.toString(n))) {
                w.await("ready");
                List<Truth> truth = w.truth("child");
                assertThat(truth).hasSize(n);
                String list = String.join(",", truth.stream().map(x -> Integer.toString(x.pid())).toList());
                Cli.Result ps = Cli.run(daemon.socket(), "ps", "--json", "-o", "pid,start", "-p", list);
                assertThat(ps.exit()).as(ps.err()).isZero();
                Map<Integer, Long> psStart = new HashMap<>();
                for (JsonNode row : JSON.readTree(ps.out())) {
                    psStart.put(row.path("pid").asInt(), row.path("start").asLong(-1));
                }
                w.finish();
                int matched = 0;
                long worstMs = 0;
                String example = "";
                try (ProcwatchClient c = daemon.client()) {
                    for (Truth x : truth) {
                        List<ProcRow> h = Lookup.awaitHistory(c, x.pid(), r -> r.ppid == w.pid(), 1, 5000);
                        long hist = h.size() == 1 ? h.getFirst().startMs : -2;
                        ProcRow fork = forks.get(x.pid());
                        long event = fork == null ? -3 : fork.startMs;
                        long live = psStart.getOrDefault(x.pid(), -4L);
                        long before = x.number("before_ns") / 1_000_000;
                        long after = (x.number("after_ns") + 999_999) / 1_000_000;
                        long off = live < before ? before - live : Math.max(0, live - after);
                        worstMs = Math.max(worstMs, off);
                        if (live == event && event == hist && off <= slackMs) {
                            matched++;
                        } else if (example.isEmpty()) {
                            example = "pid " + x.pid() + " ps " + live + " event " + event + " history " + hist
                                    + ", fork between " + before + " and " + after;
                        }
                    }
                }
                Report.line("start_ms", matched, n, "largest distance from the workload's clock " + worstMs + " ms"
                        + (example.isEmpty() ? "" : "; e.g. " + example));
                assertThat(matched).isEqualTo(n);
            }
        }
    }

    private static Map<Integer, String> byPid(String out) {
        Map<Integer, String> m = new HashMap<>();
        for (String line : out.split("\n")) {
            String s = line.strip();
            int sp = s.indexOf(' ');
            if (sp > 0) {
                m.put(Integer.parseInt(s.substring(0, sp)), s.substring(sp).strip().replaceAll("\\s+", " "));
            }
        }
        return m;
    }

}
