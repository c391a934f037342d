package io.procwatch.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue #17's "must show": the real {@code ps -eo pid,ppid,user,comm,args} (procps) recorded at
 * instants T1..T10 while a workload of the test's own changes the process table (long- and
 * short-lived processes, a shell that exits before its child, a rename with PR_SET_NAME, a child
 * that setuid()s to nobody, an exec), across a daemon restart; then {@code procwatch ps --at Ti}
 * must print the same rows for every Ti: every row of the workload's processes, exactly, and of
 * the other processes those that every recording shows unchanged (CI is a busy machine). An
 * instant while no daemon ran must be answered as a gap (exit 1), not guessed.
 *
 * <p>The workload changes something, waits 2 s, says "ready"; the test runs ps and tells it to go
 * on: every change lies seconds away from every instant, and nothing depends on a tighter timing.
 */
class TimeTravelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String WORKLOAD = """
            import ctypes, os, signal, subprocess, sys, time
            def ready(n):
                time.sleep(2)
                print("ready", n, flush=True)
                if sys.stdin.readline().strip() != "go":
                    sys.exit(3)
            def fork_then(fn):
                pid = os.fork()
                if pid == 0:
                    try:
                        fn()
                    finally:
                        os._exit(0)
                return pid
            def renamer():
                ctypes.CDLL(None).prctl(15, b"tt-renamed", 0, 0, 0)   # PR_SET_NAME
                time.sleep(1000)
            def setuider():
                os.setgid(65534)
                os.setuid(65534)
                time.sleep(1000)
            orphans = []
            def orphan(arg):
                out = subprocess.run(["sh", "-c", "sleep %s >/dev/null 2>&1 & echo $!; exit 0" % arg],
                                     capture_output=True, text=True).stdout
                orphans.append(int(out.strip()))
                with open(sys.argv[2], "a") as f:
                    f.write(out)
            def execer():
                time.sleep(1)
                os.execvp("sleep", ["sleep", "77705"])
            long1 = subprocess.Popen(["sleep", "77701"])
            ready(1)
            for i in range(30):                      # short-lived: between two instants, never at one
                subprocess.run(["true", "ttmark-short-%d" % i])
            orphan("77702")                          # the shell exits first: re-parenting
            ready(2)
            ren = fork_then(renamer)
            ready(3)
            uid = fork_then(setuider)
            ready(4)
            long1.kill(); long1.wait()
            ex = fork_then(execer)
            ready(5)
            long3 = subprocess.Popen(["sleep", "77703"])
            ready(6)
            # the daemon is stopped now: these changes fall in the gap
            os.kill(ren, signal.SIGKILL); os.waitpid(ren, 0)
            long4 = subprocess.Popen(["sleep", "77704"])
            ready(7)
            # the daemon runs again
            long3.kill(); long3.wait()
            orphan("77706")
            ready(8)
            ren2 = fork_then(renamer)
            ready(9)
            os.kill(uid, signal.SIGKILL); os.waitpid(uid, 0)
            ready(10)
            for p in (long4,):
                p.kill(); p.wait()
            os.kill(ren2, signal.SIGKILL); os.waitpid(ren2, 0)
            os.kill(ex, signal.SIGKILL); os.waitpid(ex, 0)
            for o in orphans:
                os.kill(o, signal.SIGKILL)
            """;

    /** One instant: when, what procps printed then (pid -> row), and whether a daemon ran. */
    private record Recording(int step, long atMs, Map<Integer, List<String>> rows, boolean daemonDown) {
    }

    @Test
    void psAtEveryInstantMatchesWhatPsPrintedThen() throws Exception {
        Path dir = Files.createTempDirectory("pw-timetravel");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path db = dir.resolve("history.db");
        Path sockDir = Files.createTempDirectory("pw-timetravel-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        Path script = dir.resolve("tt_workload.py");
        Files.writeString(script, WORKLOAD);
        String[] daemonArgs = {"--history-db", db.toString(), "--journal-checkpoint", "3", "--journal-sample", "1"};

        List<Recording> recs = new ArrayList<>();
        DaemonProcess daemon = DaemonProcess.start(socket, daemonArgs);
        Path orphans = dir.resolve("orphans");
        Process w = new ProcessBuilder("python3", script.toString(), "ttmark", orphans.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader from = new BufferedReader(new InputStreamReader(w.getInputStream(), StandardCharsets.UTF_8));
            OutputStream to = w.getOutputStream();
            long gapFrom = 0;
            long gapUntil = 0;
            for (int step = 1; step <= 10; step++) {
                String line = from.readLine();
                assertThat(line).as("workload step " + step).isEqualTo("ready " + step);
                recs.add(record(step, step == 7));
                if (step == 6) {
                    gapFrom = System.currentTimeMillis();
                    assertThat(daemon.stop()).isZero();
                }
                if (step == 7) {
                    daemon = DaemonProcess.start(socket, daemonArgs);
                    gapUntil = System.currentTimeMillis();
                }
                to.write("go\n".getBytes(StandardCharsets.UTF_8));
                to.flush();
            }
            assertThat(w.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(w.exitValue()).isZero();
            assertThat(gapUntil).isGreaterThan(gapFrom);

            // the rows of other processes that every recording shows the same (busy machine)
            Map<Integer, List<String>> stable = null;
            for (Recording r : recs) {
                if (stable == null) {
                    stable = new LinkedHashMap<>(r.rows());
                } else {
                    stable.entrySet().removeIf(e -> !e.getValue().equals(r.rows().get(e.getKey())));
                }
            }
            assertThat(stable).as("processes unchanged across the recording").isNotEmpty();

            int compared = 0;
            List<String> wrong = new ArrayList<>();
            for (Recording r : recs) {
                Cli.Result res = Cli.run(socket, "ps", "--at", at(r.atMs()), "-eo", "pid,ppid,user,comm,args");
                if (r.daemonDown()) {
                    assertThat(res.exit()).as("an instant while no daemon ran: " + res.out()).isEqualTo(1);
                    assertThat(res.err()).contains("gap").contains("no daemon was running");
                    continue;
                }
                assertThat(res.exit()).as("ps --at T" + r.step() + ": " + res.err()).isZero();
                Map<Integer, List<String>> got = parse(res.out());
                Set<Integer> pids = new TreeSet<>();
                for (Map.Entry<Integer, List<String>> e : r.rows().entrySet()) {
                    if (workload(e.getValue()) || stable.containsKey(e.getKey())) {
                        pids.add(e.getKey());
                    }
                }
                for (Map.Entry<Integer, List<String>> e : got.entrySet()) {
                    if (workload(e.getValue())) {
                        pids.add(e.getKey()); // a workload process procwatch shows and ps did not
                    }
                }
                for (int pid : pids) {
                    List<String> truth = r.rows().get(pid);
                    List<String> seen = got.get(pid);
                    compared++;
                    if (truth == null || !truth.equals(seen)) {
                        wrong.add("T" + r.step() + " pid " + pid + ": ps then " + truth + ", ps --at " + seen);
                    }
                }
            }
            assertThat(wrong).as("rows that differ").isEmpty();
            System.out.println("TimeTravelTest: " + compared + " rows compared over " + (recs.size() - 1)
                    + " instants, all equal; the gap instant answered as a gap");

            // what each instant had of the workload (the test itself: the changes did happen)
            assertThat(recs.get(2).rows().values()).anyMatch(r -> r.get(3).equals("tt-renamed"));
            assertThat(recs.get(3).rows().values()).anyMatch(r -> r.get(2).equals("nobody") && r.get(4).contains("ttmark"));
            assertThat(recs.get(1).rows().values()).anyMatch(r -> r.get(4).equals("sleep 77702") && !r.get(1).equals(
                    Long.toString(w.pid())));
            assertThat(recs.get(4).rows().values()).anyMatch(r -> r.get(4).equals("sleep 77705"));

            // --json, as ps has it, for one instant
            Recording r4 = recs.get(3);
            int uidPid = r4.rows().entrySet().stream().filter(e -> e.getValue().get(2).equals("nobody")
                    && e.getValue().get(4).contains("ttmark")).findFirst().orElseThrow().getKey();
            Cli.Result js = Cli.run(socket, "ps", "--at", at(r4.atMs()), "-o", "pid,user,comm,args", "-p",
                    Integer.toString(uidPid), "--json");
            assertThat(js.exit()).as(js.err()).isZero();
            JsonNode arr = JSON.readTree(js.out());
            assertThat(arr).hasSize(1);
            assertThat(arr.get(0).get("pid").asInt()).isEqualTo(uidPid);
            assertThat(arr.get(0).get("user").asText()).isEqualTo("nobody");

            // tree --at: the re-parented sleep is under its new parent, not the exited shell
            Cli.Result tree = Cli.run(socket, "tree", "--at", at(recs.get(1).atMs()), "--args");
            assertThat(tree.exit()).as(tree.err()).isZero();
            assertThat(tree.out()).contains("sleep 77702");
        } finally {
            w.destroyForcibly();
            // the workload's orphans (their shells exited), by pid: not left behind by a failed run
            if (Files.exists(orphans)) {
                for (String pid : Files.readAllLines(orphans)) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
            }
            daemon.close();
        }
    }

    private static String at(long ms) {
        return String.format(Locale.ROOT, "@%d.%03d", ms / 1000, ms % 1000);
    }

    private static boolean workload(List<String> row) {
        return row.get(4).contains("ttmark") || row.get(4).matches("sleep 7770\\d") || row.get(3).equals("tt-renamed");
    }

    /** Runs procps ps; the instant is the middle of its run (nothing of the workload changes for seconds around it). */
    private static Recording record(int step, boolean down) throws Exception {
        long before = System.currentTimeMillis();
        Process p = new ProcessBuilder("ps", "-eo", "pid,ppid,user,comm,args").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        long after = System.currentTimeMillis();
        Map<Integer, List<String>> rows = parse(out);
        rows.remove((int) p.pid()); // ps itself
        return new Recording(step, (before + after) / 2, rows, down);
    }

    private static Map<Integer, List<String>> parse(String out) {
        Map<Integer, List<String>> rows = new LinkedHashMap<>();
        Set<Integer> seen = new HashSet<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+", 5);
            if (f.length < 4 || !f[0].matches("\\d+")) {
                continue;
            }
            int pid = Integer.parseInt(f[0]);
            if (seen.add(pid)) {
                rows.put(pid, List.of(f[0], f[1], f[2], f[3], f.length == 5 ? f[4] : ""));
            }
        }
        return rows;
    }
}
