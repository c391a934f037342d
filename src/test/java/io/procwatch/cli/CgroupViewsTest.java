package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Processes placed in cgroups shaped as systemd, Docker, Podman, containerd under Kubernetes and
 * LXC lay them out (made by the test in the unified hierarchy; no runtime needed): procwatch's
 * unit, uunit, slice, lsession and ouid columns equal procps's (libsystemd's reading), its
 * container and pod columns name what the path says, and --cgroup, --container, --unit and --pod
 * select exactly those processes.
 */
class CgroupViewsTest {
    private static final String DOCKER = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final String CONTAINERD = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static final String PODMAN = "aaaa456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final String POD = "1234abcd-5678-90ef-1234-567890abcdef";
    private static Path root;
    private static String top;
    private static DaemonProcess daemon;
    /** cgroup path (below the unified root) to the process placed in it. */
    private static final Map<String, Process> placed = new LinkedHashMap<>();

    @BeforeAll
    static void place() throws Exception {
        root = io.procwatch.testing.Cgroups.unifiedRoot();
        top = "pwt" + ProcessHandle.current().pid() + ".slice";
        for (String leaf : List.of(
                top + "/pwtest.service",
                top + "/user-1000.slice/user@1000.service/app.slice/pwapp.service",
                top + "/user-1000.slice/session-7.scope",
                top + "/docker-" + DOCKER + ".scope",
                top + "/kubepods-burstable.slice/kubepods-burstable-pod" + POD.replace('-', '_') + ".slice/cri-containerd-"
                        + CONTAINERD + ".scope",
                top + "/libpod-" + PODMAN + ".scope/container",
                top + "/lxc.payload.web1")) {
            Files.createDirectories(root.resolve(leaf));
            Process p = new ProcessBuilder("sleep", "120").start();
            Files.writeString(root.resolve(leaf).resolve("cgroup.procs"), Long.toString(p.pid()));
            placed.put(leaf, p);
        }
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void remove() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (Process p : placed.values()) {
            p.destroyForcibly().waitFor();
        }
        if (root != null && top != null && Files.exists(root.resolve(top))) {
            try (var walk = Files.walk(root.resolve(top))) {
                for (Path d : walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(d); // rmdir: cgroup directories hold only kernel files
                }
            }
        }
    }

    private static String pids() {
        return placed.values().stream().map(p -> Long.toString(p.pid())).collect(Collectors.joining(","));
    }

    @Test
    void systemdColumnsAreWhatProcpsSays() throws Exception {
        String fmt = "pid,unit,slice,uunit,lsession,ouid";
        Process ps = new ProcessBuilder("ps", "-o", fmt, "-p", pids()).start();
        String theirs = new String(ps.getInputStream().readAllBytes());
        assertThat(ps.waitFor()).isZero();
        Cli.Result ours = Cli.run(daemon.socket(), "ps", "-o", fmt, "-p", pids());
        assertThat(ours.exit()).as(ours.err()).isZero();
        assertThat(ours.out()).isEqualTo(theirs);
        assertThat(theirs).contains("pwtest.service").contains("pwapp.service").contains("user-1000.slice");
        System.out.printf("TRUTH systemd columns: %d of %d rows equal procps%n", theirs.lines().count() - 1, placed.size());
    }

    @Test
    void containerAndPodNameWhatThePathSays() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "ps", "-o", "pid=,container=,pod=", "-p", pids());
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, String> byPid = new LinkedHashMap<>();
        for (String line : r.out().lines().toList()) {
            String[] f = line.trim().split("\\s+", 2);
            byPid.put(f[0], f[1].trim());
        }
        List<String> want = List.of("- -", "- -", "- -", "docker:0123456789ab -", "containerd:fedcba987654 " + POD,
                "podman:aaaa456789ab -", "lxc:web1 -");
        List<String> got = new ArrayList<>();
        for (Process p : placed.values()) {
            got.add(byPid.get(Long.toString(p.pid())).replaceAll("\\s+", " "));
        }
        assertThat(got).containsExactlyElementsOf(want);
    }

    private static List<String> selected(String... selector) throws Exception {
        List<String> args = new ArrayList<>(List.of("ps", "-o", "pid="));
        args.addAll(List.of(selector));
        Cli.Result r = Cli.run(daemon.socket(), args.toArray(String[]::new));
        return r.out().lines().map(String::trim).filter(s -> !s.isEmpty()).sorted().toList();
    }

    private static List<String> pidsOf(int... index) {
        List<Process> all = new ArrayList<>(placed.values());
        List<String> out = new ArrayList<>();
        for (int i : index) {
            out.add(Long.toString(all.get(i).pid()));
        }
        return out.stream().sorted().toList();
    }

    @Test
    void selectorsPickExactlyTheMembers() throws Exception {
        assertThat(selected("--cgroup", "/" + top)).isEqualTo(pidsOf(0, 1, 2, 3, 4, 5, 6));
        assertThat(selected("--cgroup", "/" + top + "/user-1000.slice")).isEqualTo(pidsOf(1, 2));
        assertThat(selected("--container", "docker:0123456789ab")).isEqualTo(pidsOf(3));
        assertThat(selected("--container", CONTAINERD.substring(0, 8) + ",web1")).isEqualTo(pidsOf(4, 6));
        assertThat(selected("--unit", "pwapp.service")).isEqualTo(pidsOf(1));
        assertThat(selected("--unit", "pwtest.service,session-7.scope")).isEqualTo(pidsOf(0, 2));
        assertThat(selected("--pod", POD)).isEqualTo(pidsOf(4));
        assertThat(selected("--pod", POD, "--container", "docker:0123456789ab")).isEmpty(); // kinds AND
        Cli.Result bad = Cli.run(daemon.socket(), "ps", "--cgroup", "relative/path");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--cgroup takes a path from /");
    }

    /** The same selectors in the protocol: the daemon narrows, and refuses malformed ones. */
    @Test
    void daemonSideSelectorsAndTheirLimits() throws Exception {
        try (io.procwatch.client.ProcwatchClient c = daemon.client()) {
            io.procwatch.protocol.Selector sel = io.procwatch.protocol.Selector.all().withMember(
                    new io.procwatch.protocol.Membership(List.of("/" + top + "/user-1000.slice"), List.of(), List.of()));
            List<String> got = c.snapshot(sel, io.procwatch.protocol.Groups.BASE, 0).rows().stream()
                    .map(r -> Integer.toString(r.pid)).sorted().toList();
            assertThat(got).isEqualTo(pidsOf(1, 2));
            sel = io.procwatch.protocol.Selector.all().withMember(
                    new io.procwatch.protocol.Membership(List.of(), List.of("podman:aaaa456789ab", "web1"), List.of("pwtest.service")));
            assertThat(c.snapshot(sel, io.procwatch.protocol.Groups.BASE, 0).rows()).isEmpty(); // kinds AND: none is both
            sel = io.procwatch.protocol.Selector.all().withMember(
                    new io.procwatch.protocol.Membership(List.of(), List.of("podman:aaaa456789ab", "web1"), List.of()));
            assertThat(c.snapshot(sel, io.procwatch.protocol.Groups.BASE, 0).rows().stream()
                    .map(r -> Integer.toString(r.pid)).sorted().toList()).isEqualTo(pidsOf(5, 6));
            io.procwatch.protocol.Selector relative = io.procwatch.protocol.Selector.all().withMember(
                    new io.procwatch.protocol.Membership(List.of("system.slice"), List.of(), List.of()));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.snapshot(relative, io.procwatch.protocol.Groups.BASE, 0))
                    .hasMessageContaining("not a path from /");
            List<String> many = new ArrayList<>();
            for (int i = 0; i < 65; i++) {
                many.add("c" + i);
            }
            io.procwatch.protocol.Selector tooMany = io.procwatch.protocol.Selector.all().withMember(
                    new io.procwatch.protocol.Membership(List.of(), many, List.of()));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.snapshot(tooMany, io.procwatch.protocol.Groups.BASE, 0))
                    .hasMessageContaining("at most 64");
        }
    }

    /** events --container: an exec inside the container's cgroup is streamed, one outside is not. */
    @Test
    void eventsForAContainerOnly() throws Exception {
        Process events = Cli.start(daemon.socket(), "events", "--type", "exec", "--container", "docker:0123456789ab",
                "--json", "--count", "1");
        Thread.sleep(1500); // subscribed
        Path procs = root.resolve(top + "/docker-" + DOCKER + ".scope/cgroup.procs");
        new ProcessBuilder("sh", "-c", "exec /bin/echo pw-outside").start().waitFor();
        Process inside = new ProcessBuilder("sh", "-c", "echo $$ > " + procs + "; exec /bin/echo pw-inside").start();
        inside.waitFor();
        assertThat(events.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).as("one event came").isTrue();
        String out = new String(events.getInputStream().readAllBytes());
        assertThat(out).contains("pw-inside").doesNotContain("pw-outside");
    }

    /** No event says a process moved to another cgroup; the next answer still says where it is now. */
    @Test
    void aMoveBetweenCgroupsShowsWithoutAnEvent() throws Exception {
        Path a = root.resolve(top + "/pwmove-a.service");
        Path b = root.resolve(top + "/pwmove-b.service");
        Files.createDirectories(a);
        Files.createDirectories(b);
        Process p = new ProcessBuilder("sleep", "120").start();
        try {
            String pid = Long.toString(p.pid());
            Files.writeString(a.resolve("cgroup.procs"), pid);
            assertThat(selected("--unit", "pwmove-a.service")).containsExactly(pid);
            Files.writeString(b.resolve("cgroup.procs"), pid); // a sleeping process, moved by someone else
            assertThat(selected("--unit", "pwmove-a.service")).isEmpty();
            assertThat(selected("--unit", "pwmove-b.service")).containsExactly(pid);
            assertThat(Cli.run(daemon.socket(), "ps", "-o", "unit=", "-p", pid).out().strip()).isEqualTo("pwmove-b.service");
        } finally {
            p.destroyForcibly().waitFor();
        }
    }
}
