package io.procwatch.cli;

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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code procwatch diff T1 T2} against a workload of the test's own whose ground truth it writes
 * itself: between T1 and T2 it runs 20 short-lived processes (started and ended inside the
 * window), starts one that lives on, kills one that lived at T1, renames one (PR_SET_NAME), lets
 * one exec, one setuid() to nobody, and one exit before its child (re-parenting). Every one of
 * them must be in the diff with the right change, N of N, and no other process of the workload.
 * Then the same diff as nobody (another user's exec-time command lines are not shown), and
 * instants before the journal and in a gap (no daemon running): exit 1 with the reason.
 */
class DiffCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int NOBODY = 65534;
    private static final int SHORT = 20;

    private static final String WORKLOAD = """
            import ctypes, json, os, subprocess, sys, time
            def ready(n, truth):
                time.sleep(2)
                print("ready", n, json.dumps(truth), flush=True)
                if sys.stdin.readline().strip() != "go":
                    sys.exit(3)
                time.sleep(1)
            def child(after, before=None):
                # forks; the child does before() at once, then waits for a byte and does after()
                r, w = os.pipe()
                pr, pw = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(w); os.close(pr)
                    info = before() if before else 0
                    os.write(pw, b"%d\\n" % info); os.close(pw)
                    os.read(r, 1)
                    try:
                        after()
                    finally:
                        os._exit(0)
                os.close(r); os.close(pw)
                info = int(os.read(pr, 64).split()[0]); os.close(pr)
                return pid, w, info
            def rename():
                ctypes.CDLL(None).prctl(15, b"dfmark-ren", 0, 0, 0)   # PR_SET_NAME
                time.sleep(1000)
            def setuid():
                os.setgid(65534)
                os.setuid(65534)
                time.sleep(1000)
            def execer():
                os.execvp("sleep", ["sleep", "88805"])
            def grandchild():
                g = os.fork()
                if g == 0:
                    time.sleep(1000)
                    os._exit(0)
                return g
            def ppid(pid):
                with open("/proc/%d/stat" % pid) as f:
                    return int(f.read().rsplit(")", 1)[1].split()[1])
            killed = subprocess.Popen(["sleep", "88801"])
            ren, ren_w, _ = child(rename)
            ex, ex_w, _ = child(execer)
            su, su_w, _ = child(setuid)
            orph, orph_w, g = child(lambda: None, grandchild)
            with open("/proc/self/comm") as f:
                comm = f.read().strip()
            ready(1, {"all": [os.getpid(), killed.pid, ren, ex, su, orph, g], "comm": comm})
            short = []
            for i in range(20):
                p = subprocess.Popen(["true", "dfmark-short-%d" % i])
                p.wait()
                short.append([p.pid, ["true", "dfmark-short-%d" % i]])
            started = subprocess.Popen(["sleep", "88802"])
            killed.kill(); killed.wait()
            for w in (ren_w, ex_w, su_w, orph_w):
                os.write(w, b"x")
            os.waitpid(orph, 0)
            time.sleep(0.5)
            truth = {"short": short, "started": started.pid, "killed": killed.pid, "renamed": ren, "execd": ex,
                     "setuid": su, "orphaner": orph, "grandchild": g, "g_ppid_before": orph, "g_ppid_after": ppid(g)}
            ready(2, truth)
            ready(3, {})
            for p in (ren, ex, su, g):
                os.kill(p, 9)
            for p in (ren, ex, su):
                os.waitpid(p, 0)
            started.kill(); started.wait()
            """;

    @Test
    void diffListsEveryChangeOfTheWorkloadAndNothingElseOfIt() throws Exception {
        Path dir = Files.createTempDirectory("pw-diff");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path db = dir.resolve("history.db");
        Path sockDir = Files.createTempDirectory("pw-diff-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        Path script = dir.resolve("diff_workload.py");
        Files.writeString(script, WORKLOAD);
        String[] daemonArgs = {"--history-db", db.toString(), "--journal-checkpoint", "3", "--journal-sample", "1"};
        DaemonProcess daemon = DaemonProcess.start(socket, daemonArgs);
        Process w = new ProcessBuilder("python3", script.toString(), "dfmark").redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<Long> toKill = new ArrayList<>();
        try {
            BufferedReader from = new BufferedReader(new InputStreamReader(w.getInputStream(), StandardCharsets.UTF_8));
            OutputStream to = w.getOutputStream();
            JsonNode first = step(from, 1);
            first.get("all").forEach(p -> toKill.add(p.asLong()));
            String comm = first.get("comm").asText();
            long t1 = System.currentTimeMillis();
            go(to);
            JsonNode truth = step(from, 2);
            long t2 = System.currentTimeMillis();

            Set<Integer> workload = new HashSet<>();
            first.get("all").forEach(p -> workload.add(p.asInt()));
            truth.get("short").forEach(s -> workload.add(s.get(0).asInt()));
            workload.add(truth.get("started").asInt());

            Cli.Result res = Cli.run(socket, "diff", at(t1), at(t2), "--json");
            assertThat(res.exit()).as(res.err()).isZero();
            Map<Integer, JsonNode> got = byPid(JSON.readTree(res.out()), workload);

            // what the workload did, life by life: pid -> (change, check)
            Map<Integer, String> expected = new TreeMap<>();
            List<String> wrong = new ArrayList<>();
            int n = 0;
            for (JsonNode s : truth.get("short")) {
                int pid = s.get(0).asInt();
                expected.put(pid, "start+exit");
                JsonNode e = got.get(pid);
                n++;
                if (e == null || !e.get("change").asText().equals("start+exit") || !e.get("argv").equals(s.get(1))
                        || !e.get("status").asText().equals("exit 0")) {
                    wrong.add("short-lived " + pid + " " + s.get(1) + ": " + e);
                }
            }
            assertThat(truth.get("short")).hasSize(SHORT);
            n += check(got, expected, wrong, truth.get("started").asInt(), "started",
                    e -> e.get("argv").toString().equals("[\"sleep\",\"88802\"]") && e.get("end_ms").isNull());
            n += check(got, expected, wrong, truth.get("killed").asInt(), "exited",
                    e -> e.get("status").asText().equals("SIGKILL") && e.get("args").asText().equals("sleep 88801"));
            n += check(got, expected, wrong, truth.get("orphaner").asInt(), "exited",
                    e -> e.get("status").asText().equals("exit 0"));
            n += check(got, expected, wrong, truth.get("renamed").asInt(), "changed",
                    e -> changes(e).equals(Map.of("comm", List.of(comm, "dfmark-ren"))));
            n += check(got, expected, wrong, truth.get("execd").asInt(), "changed",
                    e -> List.of(comm, "sleep").equals(changes(e).get("comm"))
                            && changes(e).getOrDefault("args", List.of("", "")).get(1).equals("sleep 88805")
                            && changes(e).size() == 2);
            n += check(got, expected, wrong, truth.get("setuid").asInt(), "changed",
                    e -> changes(e).equals(Map.of("ruid", List.of("0", "65534"), "euid", List.of("0", "65534"),
                            "rgid", List.of("0", "65534"), "egid", List.of("0", "65534"))));
            n += check(got, expected, wrong, truth.get("grandchild").asInt(), "changed",
                    e -> changes(e).equals(Map.of("ppid", List.of(truth.get("g_ppid_before").asText(),
                            truth.get("g_ppid_after").asText()))));
            for (Map.Entry<Integer, JsonNode> e : got.entrySet()) {
                if (!expected.containsKey(e.getKey())) {
                    wrong.add("a workload process the workload did not change: " + e.getValue());
                }
            }
            assertThat(wrong).as("diff entries that differ from the workload's own record").isEmpty();
            assertThat(n).isEqualTo(SHORT + 7);

            // the table: the same lives, one line each, with the change named
            Cli.Result text = Cli.run(socket, "diff", at(t1), at(t2));
            assertThat(text.exit()).as(text.err()).isZero();
            assertThat(text.out()).startsWith("CHANGE ").contains("dfmark-short-7").contains("comm: " + comm + " -> dfmark-ren")
                    .contains("args: ").contains("sleep 88805");

            // as nobody: the same lives; another user's exec-time command line is not shown
            Cli.Result other = Cli.runAs(socket, List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                    "--clear-groups"), "diff", at(t1), at(t2), "--json");
            assertThat(other.exit()).as(other.err()).isZero();
            Map<Integer, JsonNode> seen = byPid(JSON.readTree(other.out()), workload);
            assertThat(seen.keySet()).isEqualTo(got.keySet());
            for (JsonNode s : truth.get("short")) {
                JsonNode e = seen.get(s.get(0).asInt());
                assertThat(e.get("argv").isNull()).as("root's exec-time argv, to nobody: " + e).isTrue();
                assertThat(e.get("args").asText()).doesNotContain("dfmark");
            }
            JsonNode ex = seen.get(truth.get("execd").asInt());
            assertThat(changes(ex)).containsOnlyKeys("comm"); // the name is everyone's; the command line is not
            assertThat(ex.toString()).doesNotContain("88805");
            assertThat(seen.get(truth.get("setuid").asInt()).get("argv").isNull())
                    .as("nobody's own process: its command line is nobody's to see").isFalse();

            // an instant before the journal, and one while no daemon ran: exit 1 and the reason
            Cli.Result early = Cli.run(socket, "diff", "@1000000000", at(t2));
            assertThat(early.exit()).isEqualTo(1);
            assertThat(early.err()).contains("nothing that early");
            Cli.Result backwards = Cli.run(socket, "diff", at(t2), at(t1));
            assertThat(backwards.exit()).isEqualTo(2);
            assertThat(daemon.stop()).isZero();
            Thread.sleep(2000);
            long down = System.currentTimeMillis() - 1000;
            daemon = DaemonProcess.start(socket, daemonArgs);
            Cli.Result gap = Cli.run(socket, "diff", at(t1), at(down));
            assertThat(gap.exit()).as(gap.out()).isEqualTo(1);
            assertThat(gap.err()).contains("gap").contains("no daemon was running");
            go(to);
            step(from, 3);
            go(to);
            assertThat(w.waitFor(60, TimeUnit.SECONDS)).isTrue();
            System.out.println("DiffCommandTest: " + n + " of " + n + " workload lives listed with the right change");
        } finally {
            w.destroyForcibly();
            for (long pid : toKill) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            daemon.close();
        }
    }

    private static JsonNode step(BufferedReader from, int n) throws Exception {
        String line = from.readLine();
        assertThat(line).as("workload step " + n).startsWith("ready " + n + " ");
        return JSON.readTree(line.substring(("ready " + n + " ").length()));
    }

    private static void go(OutputStream to) throws Exception {
        to.write("go\n".getBytes(StandardCharsets.UTF_8));
        to.flush();
    }

    private static int check(Map<Integer, JsonNode> got, Map<Integer, String> expected, List<String> wrong, int pid,
                             String change, java.util.function.Predicate<JsonNode> ok) {
        expected.put(pid, change);
        JsonNode e = got.get(pid);
        if (e == null || !e.get("change").asText().equals(change) || !ok.test(e)) {
            wrong.add(change + " " + pid + ": " + e);
        }
        return 1;
    }

    /** An entry's changes as field -> [from, to]. */
    private static Map<String, List<String>> changes(JsonNode e) {
        Map<String, List<String>> m = new HashMap<>();
        JsonNode ch = e.get("changes");
        if (ch != null) {
            ch.fields().forEachRemaining(f -> m.put(f.getKey(), List.of(f.getValue().get("from").asText(),
                    f.getValue().get("to").asText())));
        }
        return m;
    }

    /** The diff's entries for the workload's pids (a pid at most once: the workload reuses none). */
    private static Map<Integer, JsonNode> byPid(JsonNode diff, Set<Integer> pids) {
        Map<Integer, JsonNode> m = new HashMap<>();
        for (JsonNode p : diff.get("processes")) {
            int pid = p.get("pid").asInt();
            if (pids.contains(pid)) {
                assertThat(m.put(pid, p)).as("pid " + pid + " listed twice").isNull();
            }
        }
        return m;
    }

    private static String at(long ms) {
        return String.format(Locale.ROOT, "@%d.%03d", ms / 1000, ms % 1000);
    }
}
