package io.procwatch.cli;

import io.procwatch.client.DaemonErrorException;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Namespace selectors ({@code S_NAMESPACE}, {@code ps --ns TYPE:INODE}) pick exactly the processes
 * the test put in new namespaces with {@code unshare}: a shell and its children in new net, uts and
 * ipc namespaces (the shell reports its pid, its children's and its namespaces' inodes itself), and
 * a process in a new pid namespace. Values are validated and bounded, and a viewer who may not
 * read a process's namespaces (ptrace rule) cannot select it by one. The same selection in HTTP
 * ({@code ?ns=}), {@code events --ns} (exits included: the stream remembers who was in) and
 * {@code top --ns}.
 */
class NamespaceSelectorTest {
    private static final int CHILDREN = 3;
    private static DaemonProcess daemon;
    private static Process shell;
    private static Process pidNs;
    /** What the shell said: its pid and its children's. */
    private static final Set<Long> inNew = new TreeSet<>();
    private static String net;
    private static String uts;
    private static String ipc;
    private static String http;
    /** uid 65534's own process in a user and net namespace it made. */
    private static Process nobodysNs;
    private static final List<String> NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");

    @BeforeAll
    static void start() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        http = "http://127.0.0.1:" + port;
        daemon = DaemonProcess.start("--http", "127.0.0.1:" + port);
        shell = new ProcessBuilder("unshare", "--net", "--uts", "--ipc", "sh", "-c",
                "for i in 1 2 3; do sleep 300 & echo child $!; done; echo self $$; "
                        + "echo ns $(readlink /proc/$$/ns/net) $(readlink /proc/$$/ns/uts) $(readlink /proc/$$/ns/ipc); wait")
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(shell.getInputStream(), StandardCharsets.UTF_8));
        for (int i = 0; i < CHILDREN + 2; i++) {
            String[] f = out.readLine().strip().split(" ");
            switch (f[0]) {
                case "child", "self" -> inNew.add(Long.parseLong(f[1]));
                case "ns" -> {
                    net = f[1];
                    uts = f[2];
                    ipc = f[3];
                }
                default -> throw new AssertionError("workload said " + String.join(" ", f));
            }
        }
        assertThat(inNew).hasSize(CHILDREN + 1);
        assertThat(net).startsWith("net:[");
        pidNs = new ProcessBuilder("unshare", "--pid", "--fork", "sleep", "300").start();
        List<String> cmd = new ArrayList<>(NOBODY);
        cmd.addAll(List.of("unshare", "--user", "--map-root-user", "--net", "sleep", "300"));
        nobodysNs = new ProcessBuilder(cmd).start();
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : new Process[] {shell, pidNs, nobodysNs}) {
            if (p != null) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    private static Set<Long> ps(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("ps"));
        Collections.addAll(a, args);
        a.addAll(List.of("-o", "pid="));
        Cli.Result r = Cli.run(daemon.socket(), a.toArray(String[]::new));
        // as procps: 0 when something was selected, 1 when nothing was
        assertThat(r.exit()).as(String.join(" ", a) + ": " + r.err()).isEqualTo(r.out().isBlank() ? 1 : 0);
        Set<Long> out = new TreeSet<>();
        r.out().lines().map(String::strip).filter(l -> !l.isEmpty()).forEach(l -> out.add(Long.parseLong(l)));
        return out;
    }

    private static String inode(String link) {
        return link.substring(link.indexOf('[') + 1, link.length() - 1);
    }

    @Test
    void eachTypeSelectsExactlyTheProcessesInTheNewNamespace() throws Exception {
        assertThat(ps("--ns", net)).isEqualTo(inNew); // readlink's own form
        assertThat(ps("--ns", "netns:" + inode(net))).isEqualTo(inNew); // ps's column name
        assertThat(ps("--ns", "uts:" + inode(uts))).isEqualTo(inNew);
        assertThat(ps("--ns", "ipc:" + inode(ipc) + ",net:" + inode(net))).isEqualTo(inNew);
        // values of one type are alternatives; two types must both hold
        // this JVM's own namespace (pid 1's may not be ours to read in a container)
        String hostNet = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        Set<Long> hostAndNew = ps("--ns", net + "," + hostNet);
        assertThat(hostAndNew).containsAll(inNew).contains(ProcessHandle.current().pid());
        assertThat(ps("--ns", "uts:" + inode(uts), "--ns", hostNet)).isEmpty();
        // and with the other selectors: ANDed
        long one = inNew.iterator().next();
        assertThat(ps("--ns", net, "-p", Long.toString(one))).containsExactly(one);

        // a new pid namespace: only unshare's child is in it (unshare itself stays outside)
        long child = -1;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (child < 0 && System.nanoTime() < deadline) {
            child = pidNs.children().map(ProcessHandle::pid).findFirst().orElse(-1L);
            Thread.sleep(50);
        }
        assertThat(child).isPositive();
        String pidLink = Files.readSymbolicLink(Path.of("/proc/" + child + "/ns/pid")).toString();
        assertThat(pidLink).isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString());
        assertThat(ps("--ns", "pid:" + inode(pidLink))).containsExactly(child);
    }

    @Test
    void theDaemonAppliesTheRuleItselfAndRefusesBadValues() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            Set<Long> got = new TreeSet<>();
            c.snapshot(Selector.all().withNamespaces(List.of("net:" + inode(net))), Groups.BASE, 0).rows()
                    .forEach(r -> got.add((long) r.pid));
            assertThat(got).isEqualTo(inNew);
            for (String bad : List.of("bogus:1", "net:0", "net:abc", "net", "net:4294967296", ":5")) {
                assertThatThrownBy(() -> c.snapshot(Selector.all().withNamespaces(List.of(bad)), Groups.BASE, 0))
                        .as(bad).isInstanceOf(DaemonErrorException.class);
            }
            List<String> many = new ArrayList<>();
            for (int i = 1; i <= 65; i++) {
                many.add("net:" + i);
            }
            assertThatThrownBy(() -> c.snapshot(Selector.all().withNamespaces(many), Groups.BASE, 0))
                    .isInstanceOf(DaemonErrorException.class).hasMessageContaining("at most 64");
            // the connection is still good after the refusals
            assertThat(c.snapshot(Selector.all().withPids(List.of(1)), Groups.BASE, 0).rows()).hasSize(1);
        }
        Cli.Result usage = Cli.run(daemon.socket(), "ps", "--ns", "netz:5");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("unknown namespace type");
    }

    @Test
    void aViewerWhoMayNotReadTheNamespacesCannotSelectByThem() throws Exception {
        Cli.Result r = Cli.runAs(daemon.socket(), List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
                "ps", "--ns", net, "-o", "pid=");
        assertThat(r.exit()).as("nothing selected: 1, as procps's ps; " + r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("error");
        assertThat(r.out().strip()).isEmpty(); // root's processes: their namespaces are not nobody's to read
        assertThat(shell.isAlive()).isTrue();
        assertThat(shell.waitFor(0, TimeUnit.SECONDS)).isFalse();
    }
    /** GET as this JVM (root) or, with {@code prefix}, through curl run as another user. */
    private static String[] get(List<String> prefix, String path) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("curl", "-s", "-g", "-o", "-", "-w", "\n%{http_code}", http + path));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        int nl = out.lastIndexOf('\n');
        return new String[] {out.substring(nl + 1).strip(), out.substring(0, nl)};
    }

    private static Set<Long> pidsOf(String json) throws Exception {
        Set<Long> out = new TreeSet<>();
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).forEach(n -> out.add(n.get("pid").asLong()));
        return out;
    }

    private static String nsOf(long pid, String type) throws Exception {
        return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + type)).toString();
    }

    @Test
    void httpSelectsByNamespaceThroughTheSameRule() throws Exception {
        String[] r = get(List.of(), "/api/v1/processes?ns=" + net);
        assertThat(r[0]).as(r[1]).isEqualTo("200");
        assertThat(pidsOf(r[1])).isEqualTo(inNew);
        assertThat(pidsOf(get(List.of(), "/api/v1/processes?ns=netns:" + inode(net) + ",uts:" + inode(uts))[1])).isEqualTo(inNew);
        long one = inNew.iterator().next();
        assertThat(pidsOf(get(List.of(), "/api/v1/processes?ns=net:" + inode(net) + "&pid=" + one)[1])).containsExactly(one);
        // uid 65534's own namespace: it selects its process there, and none of root's in root's
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (nsOf(nobodysNs.pid(), "net").equals(nsOf(ProcessHandle.current().pid(), "net")) && System.nanoTime() < deadline) {
            Thread.sleep(50); // until unshare has made it and exec'd sleep
        }
        String theirs = nsOf(nobodysNs.pid(), "net");
        assertThat(theirs).isNotEqualTo(nsOf(ProcessHandle.current().pid(), "net"));
        assertThat(pidsOf(get(NOBODY, "/api/v1/processes?ns=" + theirs)[1])).containsExactly(nobodysNs.pid());
        assertThat(pidsOf(get(List.of(), "/api/v1/processes?ns=" + theirs)[1])).containsExactly(nobodysNs.pid());
        String[] hidden = get(NOBODY, "/api/v1/processes?ns=" + net);
        assertThat(hidden[0]).isEqualTo("200");
        assertThat(pidsOf(hidden[1])).as("root's processes, selected by a namespace nobody may not read").isEmpty();
        // bad values: a 400 that says which rule, and the server goes on
        for (var bad : java.util.Map.of("ns=bogus:1", "unknown namespace type", "ns=net:abc", "the inode is a number",
                "ns=", "needs a value", "ns=net:0", "the inode is a number", "ns=net", "is not TYPE:INODE",
                "ns=net:1," + "net:2,".repeat(64) + "net:3", "at most 64", "ns=" + net + "&at=10m", "not journaled").entrySet()) {
            String[] b = get(List.of(), "/api/v1/processes?" + bad.getKey());
            assertThat(b[0]).as(bad.getKey()).isEqualTo("400");
            assertThat(b[1]).as(bad.getKey()).contains(bad.getValue());
        }
        String[] h = get(List.of(), "/api/v1/history?ns=" + net);
        assertThat(h[0]).isEqualTo("400");
        assertThat(h[1]).contains("does not record namespaces");
        assertThat(get(List.of(), "/api/v1/processes?pid=1")[0]).isEqualTo("200");
    }

    @Test
    void eventsByNamespaceIncludeTheExitsOfItsProcesses() throws Exception {
        String nsPath = "--net=/proc/" + inNew.iterator().next() + "/ns/net";
        // in the namespace before the stream begins: its exit is reported from what the stream found
        Process before = new ProcessBuilder("nsenter", nsPath, "sleep", "300").start();
        Thread.sleep(300);
        assertThat(nsOf(before.pid(), "net")).isEqualTo(net);
        Process events = Cli.start(daemon.socket(), "events", "--ns", net, "--json");
        List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread reader = Thread.ofVirtual().start(() -> new BufferedReader(new InputStreamReader(events.getInputStream(),
                StandardCharsets.UTF_8)).lines().forEach(lines::add));
        try {
            Thread.sleep(1500); // subscribed
            Process inside = new ProcessBuilder("nsenter", nsPath, "sh", "-c", "sleep 0.2; exit 7").start();
            Process outside = new ProcessBuilder("sh", "-c", "sleep 0.2; exit 7").start();
            assertThat(inside.waitFor()).isEqualTo(7);
            assertThat(outside.waitFor()).isEqualTo(7);
            before.destroy();
            before.waitFor();
            long deadline = System.nanoTime() + 15_000_000_000L;
            while (System.nanoTime() < deadline && !(exited(lines, inside.pid(), 7) && exited(lines, before.pid(), null))) {
                Thread.sleep(100);
            }
            assertThat(exited(lines, inside.pid(), 7)).as("the exit of sh in the namespace: " + lines).isTrue();
            assertThat(exited(lines, before.pid(), null)).as("the exit of a process in it before the stream: " + lines).isTrue();
            List<com.fasterxml.jackson.databind.JsonNode> all = parsed(lines);
            assertThat(all).anyMatch(n -> n.get("event").asText().equals("exec") && n.get("pid").asLong() == inside.pid());
            // nothing from outside: not the other sh, not its sleep
            assertThat(all).noneMatch(n -> n.get("pid").asLong() == outside.pid() || n.get("ppid").asLong() == outside.pid());
        } finally {
            events.destroy();
            events.waitFor();
            reader.join(5000);
            before.destroyForcibly();
        }
        Cli.Result usage = Cli.run(daemon.socket(), "events", "--ns", "net:x");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("--ns").contains("the inode is a number");
    }

    private static List<com.fasterxml.jackson.databind.JsonNode> parsed(List<String> lines) throws Exception {
        List<com.fasterxml.jackson.databind.JsonNode> out = new ArrayList<>();
        synchronized (lines) {
            for (String l : lines) {
                out.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(l));
            }
        }
        return out;
    }

    /** Whether an exit event of {@code pid} (with that exit code, if not null) was streamed. */
    private static boolean exited(List<String> lines, long pid, Integer code) throws Exception {
        return parsed(lines).stream().anyMatch(n -> n.get("event").asText().equals("exit") && n.get("pid").asLong() == pid
                && (code == null || n.get("exit_code").asInt(-1) == code));
    }

    @Test
    void topSelectsByNamespace() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "top", "--json", "-n", "1", "--ns", net);
        assertThat(r.exit()).as(r.err()).isZero();
        Set<Long> shown = new TreeSet<>();
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out()).get("processes")
                .forEach(n -> shown.add(n.get("pid").asLong()));
        assertThat(shown).isEqualTo(inNew);
        Cli.Result batch = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--ns", "uts:" + inode(uts), "-p",
                Long.toString(inNew.iterator().next()));
        assertThat(batch.exit()).as(batch.err()).isZero();
        String one = Long.toString(inNew.iterator().next());
        assertThat(batch.out().lines().filter(l -> l.strip().matches("\\d+ .*")).map(l -> l.strip().split(" ")[0]))
                .containsExactly(one);
        Cli.Result usage = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--ns", "bogus:1");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("unknown namespace type");
        Cli.Result replay = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "--replay", "1m", "--ns", net);
        assertThat(replay.exit()).isEqualTo(2);
        assertThat(replay.err()).contains("not journaled");
    }
}
