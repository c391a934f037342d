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
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The history records the cgroup a process exited in: processes the test moves into a cgroup
 * (no event says so; the sampler's next pass does) and children forked there exit in it, and
 * {@code history --cgroup} / {@code --unit} select exactly them, from the in-memory ring and,
 * after a daemon restart, from SQLite; their entries carry the cgroup in --json.
 */
class CgroupHistoryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SLEEPERS = 5;
    private static final int CHILDREN = 3;

    @Test
    void exitsInACgroupAreSelectedByItFromTheRingAndTheDatabase() throws Exception {
        Path root = io.procwatch.testing.Cgroups.unifiedRoot();
        String unit = "pwhist" + ProcessHandle.current().pid() + ".service";
        Path slice = root.resolve("pwhist" + ProcessHandle.current().pid() + ".slice");
        Path cg = slice.resolve(unit);
        Path elsewhere = slice.resolve("other.service");
        Files.createDirectories(cg);
        Files.createDirectories(elsewhere);
        Path dir = Files.createTempDirectory("pw-cghist");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = dir.resolve("procwatch.sock");
        String[] args = {"--history-db", dir.resolve("history.db").toString(), "--journal-checkpoint", "3",
                "--journal-sample", "1"};
        DaemonProcess daemon = DaemonProcess.start(socket, args);
        List<Process> started = new ArrayList<>();
        try {
            // ground truth: the pids the test started, moved and killed, and the children's own $$
            Map<Long, String> truth = new HashMap<>(); // pid -> how it ended
            List<Process> sleepers = new ArrayList<>();
            for (int i = 0; i < SLEEPERS; i++) {
                Process p = new ProcessBuilder("sleep", "300").start();
                started.add(p);
                sleepers.add(p);
                Files.writeString(cg.resolve("cgroup.procs"), Long.toString(p.pid()));
            }
            // a shell in the cgroup forks children there when told; one outside does the same
            Process forker = new ProcessBuilder("sh", "-c",
                    "read x; for i in 1 2 3; do sh -c 'echo $$'; done; read y").start();
            started.add(forker);
            Files.writeString(cg.resolve("cgroup.procs"), Long.toString(forker.pid()));
            Process outsider = new ProcessBuilder("sleep", "300").start();
            started.add(outsider);
            Files.writeString(elsewhere.resolve("cgroup.procs"), Long.toString(outsider.pid()));

            // a pass finds the moves (what top's refreshes do; ps -e asks for one): the daemon's own
            // rows then say so, which the journal shows (ps --at), while /proc is not asked
            String moved = "0::/" + root.relativize(cg);
            List<Long> inCg = new ArrayList<>(sleepers.stream().map(Process::pid).toList());
            inCg.add(forker.pid());
            String list = String.join(",", inCg.stream().map(String::valueOf).toList());
            long deadline = System.nanoTime() + 30_000_000_000L;
            boolean seen = false;
            String last = "";
            while (!seen && System.nanoTime() < deadline) {
                assertThat(Cli.run(socket, "ps", "-e", "-o", "pid").exit()).isZero();
                Thread.sleep(1500); // the journal's flush
                long then = System.currentTimeMillis() - 200;
                Cli.Result r = Cli.run(socket, "ps", "--at", String.format(java.util.Locale.ROOT, "@%d.%03d", then / 1000, then % 1000),
                        "-p", list, "-o", "pid=,cgroup:300=");
                last = r.out() + r.err();
                seen = r.exit() == 0 && r.out().lines().filter(l -> l.strip().contains(" ") && List.of(l.strip().split("\\s+", 2)[1].split(",")).contains(moved))
                        .count() == inCg.size();
            }
            assertThat(seen).as("the daemon's rows show the moves: " + last).isTrue();

            OutputStream in = forker.getOutputStream();
            in.write("go\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
            BufferedReader out = new BufferedReader(new InputStreamReader(forker.getInputStream(), StandardCharsets.UTF_8));
            for (int i = 0; i < CHILDREN; i++) {
                truth.put(Long.parseLong(out.readLine().strip()), "exit 0");
            }
            for (Process p : sleepers) {
                p.destroyForcibly();
                assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
                truth.put(p.pid(), "signal 9");
            }
            in.write("done\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
            assertThat(forker.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(forker.exitValue()).isZero();
            truth.put(forker.pid(), "exit 0");
            outsider.destroyForcibly().waitFor();

            Set<Long> want = new TreeSet<>(truth.keySet());
            String path = "/" + root.relativize(cg);
            // from the ring (the exits are seconds old), by cgroup and by unit
            assertThat(waitForHistory(socket, want, "--cgroup", path)).as("history --cgroup " + path).isEqualTo(want);
            assertThat(pids(history(socket, "--unit", unit))).as("history --unit " + unit).isEqualTo(want);
            assertThat(pids(history(socket, "--cgroup", "/" + root.relativize(slice)))).as("the slice holds both")
                    .containsAll(want).contains(outsider.pid()).hasSize(want.size() + 1);
            for (JsonNode e : history(socket, "--cgroup", path)) {
                assertThat(List.of(e.get("cgroup").asText().split(","))).contains("0::" + path);
                String how = truth.get(e.get("pid").asLong());
                assertThat(how.equals("exit 0") ? "exit " + e.get("exit_code").asInt() : "signal " + e.get("signal").asInt())
                        .isEqualTo(how);
            }

            // a new daemon on the same database: the ring is empty, the answer is SQLite's
            assertThat(daemon.stop()).isZero();
            daemon = DaemonProcess.start(socket, args);
            assertThat(pids(history(socket, "--cgroup", path))).as("after a restart").isEqualTo(want);
            assertThat(pids(history(socket, "--unit", unit))).as("--unit after a restart").isEqualTo(want);
            assertThat(pids(history(socket, "--cgroup", "/" + root.relativize(elsewhere))))
                    .containsExactly(outsider.pid());
        } finally {
            for (Process p : started) {
                p.destroyForcibly().waitFor();
            }
            daemon.close();
            try (var walk = Files.walk(slice)) {
                for (Path d : walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(d);
                }
            }
        }
    }

    private static JsonNode history(Path socket, String... filter) throws Exception {
        List<String> a = new ArrayList<>(List.of("history", "--json", "--since", "10m"));
        a.addAll(List.of(filter));
        Cli.Result r = Cli.run(socket, a.toArray(String[]::new));
        assertThat(r.exit()).as(String.join(" ", a) + ": " + r.err()).isZero();
        JsonNode all = JSON.readTree(r.out());
        List<JsonNode> entries = new ArrayList<>();
        all.forEach(e -> {
            if (!e.has("gap")) {
                entries.add(e);
            }
        });
        return JSON.valueToTree(entries);
    }

    private static Set<Long> pids(JsonNode entries) {
        Set<Long> out = new TreeSet<>();
        entries.forEach(e -> out.add(e.get("pid").asLong()));
        return out;
    }

    /** The exit events reach the history a moment after waitpid returns: poll, with a deadline. */
    private static Set<Long> waitForHistory(Path socket, Set<Long> want, String... filter) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        Set<Long> got = Set.of();
        while (System.nanoTime() < deadline) {
            got = pids(history(socket, filter));
            if (got.containsAll(want)) {
                return got;
            }
            Thread.sleep(200);
        }
        return got;
    }
}
