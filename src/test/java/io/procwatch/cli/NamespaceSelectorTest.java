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
 * read a process's namespaces (ptrace rule) cannot select it by one.
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

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
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
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : new Process[] {shell, pidNs}) {
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
}
