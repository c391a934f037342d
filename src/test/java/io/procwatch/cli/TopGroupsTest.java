package io.procwatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * top's group view against processes the test places itself in real cgroups of the unified
 * hierarchy, shaped as systemd units, Docker, containerd under a Kubernetes pod slice, Podman and
 * LXC lay them out: every group holds exactly the processes placed in it (N of N), its task count
 * is the threads the test started, its RES and %CPU are the sums of its members' rows in the same
 * answer, and its cgroup v2 values are the group's own files (cpu.stat between a reading before
 * and one after; PSI present and in range; memory.current exactly where the file exists).
 */
class TopGroupsTest {
    private static final String DOCKER = "d0c4e4000000000000000000000000000000000000000000000000000000beef";
    private static final String CONTAINERD = "c0a7a1de00000000000000000000000000000000000000000000000000000001";
    private static final String PODMAN = "90d3a40000000000000000000000000000000000000000000000000000000002";
    private static final String POD = "4321dcba-5678-90ef-1234-567890abcdef";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path root;
    private static String top;
    private static DaemonProcess daemon;
    /** cgroup path (from the unified root, with a leading /) -> the processes placed there, and their threads. */
    private static final Map<String, List<Process>> placed = new LinkedHashMap<>();
    private static final Map<Long, Integer> threadsOf = new HashMap<>();

    @BeforeAll
    static void place() throws Exception {
        root = io.procwatch.testing.Cgroups.unifiedRoot();
        top = "pwg" + ProcessHandle.current().pid() + ".slice";
        // leaf -> how many processes, the first with 3 threads (1 + 2 the test starts)
        Map<String, Integer> layout = new LinkedHashMap<>();
        layout.put(top + "/pwga.service", 3);
        layout.put(top + "/pwgb.service", 1);
        layout.put(top + "/docker-" + DOCKER + ".scope", 2);
        layout.put(top + "/kubepods-burstable.slice/kubepods-burstable-pod" + POD.replace('-', '_')
                + ".slice/cri-containerd-" + CONTAINERD + ".scope", 2);
        layout.put(top + "/libpod-" + PODMAN + ".scope/container", 1);
        layout.put(top + "/lxc.payload.pwweb2", 2);
        for (var e : layout.entrySet()) {
            Files.createDirectories(root.resolve(e.getKey()));
            List<Process> ps = new ArrayList<>();
            for (int i = 0; i < e.getValue(); i++) {
                Process p;
                if (i == 0) {
                    p = new ProcessBuilder("python3", "-c", "import threading,time\n"
                            + "for _ in range(2): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
                            + "print('ready', flush=True)\ntime.sleep(600)").start();
                    assertThat(p.inputReader().readLine()).isEqualTo("ready");
                    threadsOf.put(p.pid(), 3);
                } else {
                    p = new ProcessBuilder("sleep", "600").start();
                    threadsOf.put(p.pid(), 1);
                }
                Files.writeString(root.resolve(e.getKey()).resolve("cgroup.procs"), Long.toString(p.pid()));
                ps.add(p);
            }
            placed.put("/" + e.getKey(), ps);
        }
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void remove() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (List<Process> ps : placed.values()) {
            for (Process p : ps) {
                p.destroyForcibly().waitFor();
            }
        }
        if (root != null && top != null && Files.exists(root.resolve(top))) {
            try (var walk = Files.walk(root.resolve(top))) {
                for (Path d : walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(d);
                }
            }
        }
    }

    private static Set<Long> pidsIn(String... leaves) {
        Set<Long> s = new TreeSet<>();
        for (String leaf : leaves) {
            placed.get(leaf).forEach(p -> s.add(p.pid()));
        }
        return s;
    }

    private static String leaf(String suffix) {
        return placed.keySet().stream().filter(k -> k.endsWith(suffix)).findFirst().orElseThrow();
    }

    private static JsonNode frame(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("top", "--json", "-n", "1", "-d", "0.5", "--cgroup", "/" + top));
        a.addAll(List.of(args));
        Cli.Result r = Cli.run(daemon.socket(), a.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    private static Map<String, JsonNode> byName(JsonNode frame) {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        frame.get("groups").forEach(g -> m.put(g.get("group").asText(), g));
        return m;
    }

    private static Set<Long> pids(JsonNode group) {
        Set<Long> s = new TreeSet<>();
        group.get("pids").forEach(p -> s.add(p.asLong()));
        return s;
    }

    /** Each group's sums equal the sums of its members' rows in the same answer; tasks are the test's threads. */
    private static void sumsAreTheMembers(JsonNode frame) {
        Map<Long, JsonNode> rows = new HashMap<>();
        frame.get("processes").forEach(r -> rows.put(r.get("pid").asLong(), r));
        for (JsonNode g : frame.get("groups")) {
            long res = 0;
            long tenths = 0;
            long tasks = 0;
            for (long pid : pids(g)) {
                JsonNode r = rows.get(pid);
                assertThat(r).as("member " + pid + " is a row of the same answer").isNotNull();
                res += r.get("rss_kib").asLong();
                tenths += Math.round(r.get("cpu_percent_now").asDouble() * 10);
                tasks += threadsOf.get(pid);
            }
            assertThat(res).as("RES sum of " + g.get("group")).isPositive();
            assertThat(g.get("rss_kib").asLong()).as("RES of " + g.get("group")).isEqualTo(res);
            assertThat(Math.round(g.get("cpu_percent_now").asDouble() * 10)).as("%CPU of " + g.get("group")).isEqualTo(tenths);
            assertThat(g.get("tasks").asLong()).as("tasks of " + g.get("group")).isEqualTo(tasks);
            assertThat(g.get("processes").asInt()).isEqualTo(pids(g).size());
        }
        assertThat(frame.get("groups").findValues("pids").stream().mapToInt(JsonNode::size).sum())
                .as("every row in exactly one group").isEqualTo(frame.get("processes").size());
    }

    /** The group's cgroup v2 values: its own files, present and parseable where the files exist. */
    private static void v2ValuesAreTheGroupsFiles(JsonNode g, long usageBefore) throws Exception {
        String cg = g.get("cgroup").asText();
        Path dir = root.resolve(cg.substring(1));
        JsonNode v2 = g.get("cgroup_v2");
        long usage = v2.get("cpu_usage_usec").asLong(-1);
        long after = usage(cg);
        assertThat(usage).as("cpu.stat usage_usec of " + cg).isBetween(usageBefore, after);
        for (String psi : List.of("cpu_pressure", "memory_pressure", "io_pressure")) {
            assertThat(v2.get(psi).get("some_avg10").isNumber()).as(psi + " of " + cg).isTrue();
            assertThat(v2.get(psi).get("some_avg10").asDouble()).isBetween(0.0, 100.0);
            assertThat(v2.get(psi).get("full_avg10").isNumber()).isTrue();
        }
        // a hybrid machine binds the memory controller to v1: no memory.current, so null (never a guess)
        assertThat(v2.get("memory_current_bytes").isNull()).as("memory.current of " + cg)
                .isEqualTo(!Files.exists(dir.resolve("memory.current")));
    }

    private static long usage(String cg) throws Exception {
        for (String line : Files.readAllLines(root.resolve(cg.substring(1)).resolve("cpu.stat"))) {
            if (line.startsWith("usage_usec ")) {
                return Long.parseLong(line.substring(11).trim());
            }
        }
        throw new AssertionError("no usage_usec in " + cg);
    }

    @Test
    void byContainerEachGroupIsExactlyWhatWasPlaced() throws Exception {
        Map<String, Long> before = new HashMap<>();
        for (String c : List.of("/" + top + "/docker-" + DOCKER + ".scope", "/" + top + "/lxc.payload.pwweb2")) {
            before.put(c, usage(c));
        }
        JsonNode f = frame("--group", "container");
        assertThat(f.get("group_by").asText()).isEqualTo("container");
        Map<String, JsonNode> g = byName(f);
        assertThat(g.keySet()).containsExactlyInAnyOrder("-", "docker:d0c4e4000000", "containerd:c0a7a1de0000",
                "podman:90d3a4000000", "lxc:pwweb2");
        assertThat(pids(g.get("docker:d0c4e4000000"))).isEqualTo(pidsIn(leaf("docker-" + DOCKER + ".scope")));
        assertThat(pids(g.get("containerd:c0a7a1de0000"))).isEqualTo(pidsIn(leaf("cri-containerd-" + CONTAINERD + ".scope")));
        assertThat(pids(g.get("podman:90d3a4000000"))).isEqualTo(pidsIn(leaf("/container")));
        assertThat(pids(g.get("lxc:pwweb2"))).isEqualTo(pidsIn(leaf("lxc.payload.pwweb2")));
        assertThat(pids(g.get("-"))).isEqualTo(pidsIn(leaf("pwga.service"), leaf("pwgb.service")));
        // the container's own cgroup, not the leaf its process sits in (Podman's .../container)
        assertThat(g.get("podman:90d3a4000000").get("cgroup").asText()).isEqualTo("/" + top + "/libpod-" + PODMAN + ".scope");
        assertThat(g.get("containerd:c0a7a1de0000").get("cgroup").asText()).isEqualTo(leaf("cri-containerd-" + CONTAINERD + ".scope"));
        assertThat(g.get("-").get("cgroup").isNull()).isTrue();
        assertThat(g.get("-").get("cgroup_v2").get("cpu_usage_usec").isNull()).as("no cgroup: no values").isTrue();
        sumsAreTheMembers(f);
        for (var e : before.entrySet()) {
            JsonNode grp = f.get("groups").findParents("cgroup").stream()
                    .filter(n -> n.get("cgroup").asText().equals(e.getKey())).findFirst().orElseThrow();
            v2ValuesAreTheGroupsFiles(grp, e.getValue());
        }
        System.out.printf("TRUTH top --group container: %d groups, %d of %d processes where placed%n",
                g.size(), f.get("processes").size(), threadsOf.size());
    }

    @Test
    void byUnitAndByCgroup() throws Exception {
        long before = usage(leaf("pwga.service"));
        JsonNode f = frame("--group", "unit");
        Map<String, JsonNode> g = byName(f);
        assertThat(g.keySet()).containsExactlyInAnyOrder("pwga.service", "pwgb.service", "docker-" + DOCKER + ".scope",
                "cri-containerd-" + CONTAINERD + ".scope", "libpod-" + PODMAN + ".scope", "-");
        assertThat(pids(g.get("pwga.service"))).hasSize(3).isEqualTo(pidsIn(leaf("pwga.service")));
        assertThat(g.get("pwga.service").get("tasks").asInt()).isEqualTo(5);
        assertThat(pids(g.get("-"))).isEqualTo(pidsIn(leaf("lxc.payload.pwweb2"))); // no unit in that path
        sumsAreTheMembers(f);
        v2ValuesAreTheGroupsFiles(g.get("pwga.service"), before);

        f = frame("--group", "cgroup");
        g = byName(f);
        assertThat(g.keySet()).containsExactlyInAnyOrderElementsOf(placed.keySet());
        for (var e : placed.entrySet()) {
            assertThat(pids(g.get(e.getKey()))).as(e.getKey()).isEqualTo(pidsIn(e.getKey()));
            assertThat(g.get(e.getKey()).get("cgroup").asText()).isEqualTo(e.getKey());
        }
        sumsAreTheMembers(f);
    }

    /** The usual sort keys sort the groups; the group-only columns too. */
    @Test
    void sortedByTopsKeys() throws Exception {
        for (String[] sort : List.of(new String[] {"RES", "rss_kib"}, new String[] {"%MEM", "rss_kib"},
                new String[] {"PID", "processes"}, new String[] {"TASKS", "tasks"}, new String[] {"TIME+", "cpu_ticks"})) {
            JsonNode f = frame("--group", "cgroup", "-o", sort[0]);
            List<Long> v = new ArrayList<>();
            f.get("groups").forEach(n -> v.add(n.get(sort[1]).asLong()));
            assertThat(v).as("-o " + sort[0]).hasSize(placed.size()).isSortedAccordingTo(Comparator.reverseOrder());
            f = frame("--group", "cgroup", "-o", "-" + sort[0]);
            List<Long> up = new ArrayList<>();
            f.get("groups").forEach(n -> up.add(n.get(sort[1]).asLong()));
            assertThat(up).as("-o -" + sort[0]).isSorted();
        }
    }

    /** The text screen: the group header, and a row per group with its counts. */
    @Test
    void batchText() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "top", "-b", "-n", "2", "-d", "0.5", "--group", "unit",
                "--cgroup", "/" + top, "-o", "PROCS");
        assertThat(r.exit()).as(r.err()).isZero();
        String[] frames = r.out().split("\n\n(?=top - )");
        assertThat(frames).hasSize(2);
        for (String frame : frames) {
            List<String> lines = frame.lines().toList();
            assertThat(lines.get(8)).isEqualTo(TopGroups.header());
            List<String> rows = lines.subList(9, lines.size());
            assertThat(rows).hasSize(6);
            String[] first = rows.getFirst().trim().split("\\s+");
            assertThat(first[first.length - 1]).isEqualTo("pwga.service");
            assertThat(first[0]).isEqualTo("3"); // PROCS
            assertThat(first[1]).isEqualTo("5"); // TASKS
            assertThat(first[5]).as("CGTIME+").matches("\\d+:\\d\\d\\.\\d\\d");
            assertThat(first[6]).as("CGMEM").isEqualTo(Files.exists(root.resolve(top + "/pwga.service/memory.current")) ? first[6] : "-");
            assertThat(first[7]).as("PSICPU").matches("\\d+\\.\\d\\d");
            String none = rows.stream().filter(l -> l.endsWith(" -")).findFirst().orElseThrow();
            assertThat(none.trim().split("\\s+")[5]).as("no cgroup for the no-unit group").isEqualTo("-");
        }
        // the second frame's CG%CPU is a rate over the interval
        String pwga = frames[1].lines().filter(l -> l.endsWith(" pwga.service")).findFirst().orElseThrow();
        assertThat(pwga.trim().split("\\s+")[4]).matches("\\d+\\.\\d");
    }

    /** Key g in the real interactive top (tmux): cgroup, unit, container, off; M sorts the groups by RES; h documents g. */
    @Test
    void interactiveKeyG() throws Exception {
        String cmd = "env PROCWATCH_SOCKET=" + daemon.socket() + " LC_ALL=C.UTF-8 " + io.procwatch.testing.Spawn.javaBinary()
                + " --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -cp " + io.procwatch.testing.Spawn.projectClasspath()
                + " io.procwatch.cli.Main top -d 0.5 --cgroup /" + top + "; echo procwatch-exit=$?; sleep 600";
        tmux("new-session", "-d", "-s", "top", "-x", "320", "-y", "40", cmd);
        try {
            await("the process screen", s -> s.contains("PID USER") && s.contains("Tasks:"));
            tmux("send-keys", "-t", "top", "g");
            String screen = await("grouped by cgroup", s -> s.contains("Group by cgroup")
                    && groupRows(s).size() == placed.size());
            assertThat(screen).contains(TopGroups.header());
            Map<String, String[]> rows = groupRows(screen);
            for (var e : placed.entrySet()) {
                assertThat(rows.get(e.getKey())).as(e.getKey() + " on screen").isNotNull();
                assertThat(rows.get(e.getKey())[0]).as("PROCS of " + e.getKey()).isEqualTo(Integer.toString(e.getValue().size()));
            }
            tmux("send-keys", "-t", "top", "g");
            screen = await("grouped by unit", s -> s.contains("Group by unit") && groupRows(s).size() == 6 && groupRows(s).containsKey("pwga.service"));
            assertThat(groupRows(screen).get("pwga.service")[0]).isEqualTo("3");
            assertThat(groupRows(screen).get("pwga.service")[1]).as("TASKS").isEqualTo("5");
            tmux("send-keys", "-t", "top", "g");
            await("grouped by container", s -> s.contains("Group by container") && groupRows(s).size() == 5 && groupRows(s).containsKey("docker:d0c4e4000000"));
            tmux("send-keys", "-t", "top", "M");
            screen = await("sorted by RES", s -> s.contains("Sort: %MEM") && s.contains("Group: container (5)")
                    && groupRows(s).size() == 5);
            List<Long> res = new ArrayList<>();
            for (String[] r : groupRows(screen).values()) {
                res.add(Long.parseLong(r[3]));
            }
            assertThat(res).isSortedAccordingTo(Comparator.reverseOrder());
            tmux("send-keys", "-t", "top", "g");
            await("processes again", s -> s.contains("Group view Off") && s.contains("PID USER"));
            tmux("send-keys", "-t", "top", "h");
            await("the help names g", s -> s.contains("g group view: cycles cgroup, unit, container, off"));
            tmux("send-keys", "-t", "top", "Enter");
            tmux("send-keys", "-t", "top", "q");
            await("the exit", s -> s.contains("procwatch-exit=0"));
        } finally {
            tmux("kill-server");
        }
    }

    /** The rows under the group header: GROUP (the last column) -> the columns. */
    private static Map<String, String[]> groupRows(String screen) {
        Map<String, String[]> m = new LinkedHashMap<>();
        boolean after = false;
        for (String line : screen.lines().toList()) {
            if (line.startsWith(TopGroups.header())) {
                after = true;
            } else if (after && !line.isBlank()) {
                String[] f = line.trim().split("\\s+");
                m.put(f[f.length - 1], f);
            }
        }
        return m;
    }

    private static final String TMUX_SOCKET = "pwgroups-" + ProcessHandle.current().pid();

    private static String await(String what, java.util.function.Predicate<String> ok) throws Exception {
        String screen = "";
        for (int i = 0; i < 300; i++) {
            screen = tmux("capture-pane", "-p", "-t", "top");
            if (ok.test(screen)) {
                return screen;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the screen never showed " + what + "; last screen:\n" + screen);
    }

    private static String tmux(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("tmux", "-L", TMUX_SOCKET));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return out;
    }

    @Test
    void selectorsPickExactlyTheMembers() throws Exception {
        assertThat(selected("--container", "docker:d0c4e4000000")).isEqualTo(pidsIn(leaf("docker-" + DOCKER + ".scope")));
        assertThat(selected("--unit", "pwga.service,pwgb.service"))
                .isEqualTo(pidsIn(leaf("pwga.service"), leaf("pwgb.service")));
        assertThat(selected("--cgroup", "/" + top + "/kubepods-burstable.slice"))
                .isEqualTo(pidsIn(leaf("cri-containerd-" + CONTAINERD + ".scope")));
        assertThat(selected("--cgroup", "/" + top + "/")).isEqualTo(new TreeSet<>(threadsOf.keySet()));
        assertThat(selected("--container", "lxc:pwweb2", "--unit", "pwga.service")).as("kinds AND").isEmpty();
        Cli.Result bad = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--cgroup", "relative/path");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--cgroup takes a path from /");
        bad = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--unit");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--unit needs a value");
    }

    /** The pids of one top --json frame with these selectors (no --cgroup of the test's own added). */
    private static Set<Long> selected(String... selector) throws Exception {
        List<String> a = new ArrayList<>(List.of("top", "--json", "-n", "1", "-d", "0.2"));
        a.addAll(List.of(selector));
        Cli.Result r = Cli.run(daemon.socket(), a.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        Set<Long> s = new TreeSet<>();
        JSON.readTree(r.out()).get("processes").forEach(p -> s.add(p.get("pid").asLong()));
        return s;
    }

    @Test
    void badGroupOptions() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--group", "pods");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--group takes cgroup, unit or container, not 'pods'");
        r = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "-o", "CGMEM");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("sorts the group view");
        r = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--group", "unit", "-H");
        assertThat(r.exit()).isEqualTo(2);
    }
}
