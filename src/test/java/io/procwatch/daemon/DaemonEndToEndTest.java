package io.procwatch.daemon;

import io.procwatch.client.DaemonErrorException;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.event.WaitStatus;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The real daemon process, spoken to over its real socket with the client library. */
class DaemonEndToEndTest {
    private static DaemonProcess daemon;
    private static final int SELF = (int) ProcessHandle.current().pid();

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        Path socket = daemon.socket();
        assertThat(daemon.stop()).as("daemon exit status after SIGTERM").isZero();
        assertThat(Files.exists(socket)).as("socket removed at shutdown").isFalse();
        daemon.close();
    }

    @Test
    void helloReportsVersionCapabilitiesAndPeer() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            Map<String, Object> h = c.hello();
            assertThat(h).containsEntry("protocol", Wire.VERSION).containsEntry("uid", 0);
            long caps = (long) h.get("capabilities");
            for (int t : List.of(Wire.HELLO, Wire.SNAPSHOT, Wire.SUBSCRIBE, Wire.HISTORY, Wire.WAIT, Wire.STATS)) {
                assertThat(caps & (1L << t)).isNotZero();
            }
        }
    }

    @Test
    void snapshotOfAllSelectorsAndGroups() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            var all = c.snapshot(Selector.all(), Groups.ALL, Wire.F_FRESH);
            assertThat(all.done().count()).isEqualTo(all.rows().size()).isGreaterThan(20);
            assertThat(all.done().sampleAgeMs()).isBetween(0L, 5_000L);
            ProcRow me = all.rows().stream().filter(r -> r.pid == SELF).findFirst().orElseThrow();
            assertThat(me.comm).isEqualTo("java");
            assertThat(me.ppid).isEqualTo((int) ProcessHandle.current().parent().orElseThrow().pid());
            List<String> myArgv = new ArrayList<>();
            myArgv.add(ProcessHandle.current().info().command().orElseThrow());
            myArgv.addAll(List.of(ProcessHandle.current().info().arguments().orElseThrow()));
            assertThat(me.argv).isEqualTo(myArgv);
            assertThat(me.exe).endsWith("/bin/java");
            assertThat(me.nlwp).isGreaterThan(1);
            assertThat(me.rssKiB).isPositive();
            assertThat(me.ioRchar).isPositive();
            assertThat(me.cgroup).isNotNull();

            // Groups not asked for are not sent.
            ProcRow bare = c.snapshot(Selector.all().withPids(List.of(SELF)), Groups.BASE, 0).rows().getFirst();
            assertThat(bare.argv).isNull();
            assertThat(bare.rssKiB).isEqualTo(-1);
            assertThat(bare.euid).isEqualTo(-1);

            assertThat(c.snapshot(Selector.all().withPids(List.of(1, SELF, 999_999_999)), Groups.BASE, 0).rows())
                    .extracting(r -> r.pid).containsExactly(1, SELF);
            assertThat(c.snapshot(Selector.all().withChildrenOf(SELF), Groups.BASE, 0).rows())
                    .allMatch(r -> r.ppid == SELF);
            assertThat(c.snapshot(Selector.all().withSubtreeOf(1), Groups.BASE, 0).rows()).extracting(r -> r.pid)
                    .contains(1, SELF);
            assertThat(c.snapshot(Selector.all().withUids(List.of(0)), Groups.CRED, 0).rows())
                    .isNotEmpty().allMatch(r -> r.euid == 0);
            assertThat(c.snapshot(Selector.all().withStates("I"), Groups.BASE, 0).rows())
                    .allMatch(r -> r.state == 'I');
            assertThat(c.snapshot(Selector.all().withName("java"), Groups.BASE, 0).rows())
                    .extracting(r -> r.pid).contains(SELF);
            assertThat(c.snapshot(Selector.all().withMatch("surefire"), Groups.BASE, 0).rows())
                    .extracting(r -> r.pid).contains(SELF);
            var threads = c.snapshot(Selector.all().withThreadsOf(SELF), Groups.BASE, 0).rows();
            assertThat(threads.size()).isGreaterThan(1);
            assertThat(threads).allMatch(r -> r.pid == SELF && r.tid > 0);
            assertThat(threads).extracting(r -> r.tid).contains(SELF);
        }
    }

    @Test
    void historyRecordsExitsWithStatusAndTaskstats() throws Exception {
        // lives long enough for the exec's command line to be read even on a loaded machine
        Process p = Spawn.run("/bin/sh", "-c", "sleep 1; exit 3");
        int pid = (int) p.pid();
        try (ProcwatchClient c = daemon.client()) {
            ProcRow e = awaitHistory(c, pid);
            assertThat(new WaitStatus(e.status).exitCode()).isEqualTo(3);
            assertThat(e.ppid).isEqualTo(SELF);
            assertThat(e.comm).isEqualTo("sh");
            assertThat(e.argv).containsExactly("/bin/sh", "-c", "sleep 1; exit 3");
            assertThat(e.endMs - e.startMs).isBetween(950L, 10_000L);
            assertThat(e.tsMaxRssKiB).isPositive();
            var failed = c.history(Selector.all(), 0, Long.MAX_VALUE, 100_000, true).rows();
            assertThat(failed).extracting(r -> r.pid).contains(pid);
            assertThat(failed).allMatch(r -> r.status != 0);
        }
    }

    private static ProcRow awaitHistory(ProcwatchClient c, int pid) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            var rows = c.history(Selector.all().withPids(List.of(pid)), 0, Long.MAX_VALUE, 10, false).rows();
            if (!rows.isEmpty() && rows.getLast().tsMaxRssKiB >= 0) {
                return rows.getLast();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("pid " + pid + " never reached the history");
    }

    @Test
    void waitForAnyProcessNotOnlyChildren() throws Exception {
        Process sleeper = Spawn.start("/bin/sh", "-c", "sleep 0.5; kill -TERM $$");
        try (ProcwatchClient c = daemon.client()) {
            List<ProcRow> seen = new ArrayList<>();
            var r = c.waitFor(List.of((int) sleeper.pid()), 10_000, seen::add);
            assertThat(r.rows()).hasSize(1);
            assertThat(new WaitStatus(seen.getFirst().status).signal()).isEqualTo(15);
            // Already gone: answered from the history at once.
            var again = c.waitFor(List.of((int) sleeper.pid()), 1_000, x -> { });
            assertThat(again.rows()).hasSize(1);
            assertThatThrownBy(() -> c.waitFor(List.of(999_999_999), 1_000, x -> { }))
                    .isInstanceOf(DaemonErrorException.class).hasMessageContaining("no such process");
        }
        Process forever = Spawn.start("/bin/sleep", "30");
        try (ProcwatchClient c = daemon.client()) {
            Thread.sleep(200);
            assertThatThrownBy(() -> c.waitFor(List.of((int) forever.pid()), 300, x -> { }))
                    .isInstanceOf(DaemonErrorException.class).hasMessageContaining("timed out");
            assertThat(c.hello()).containsKey("protocol"); // the connection goes on after an error
        } finally {
            forever.destroyForcibly();
        }
    }

    @Test
    void subscribeStreamsEnrichedEvents() throws Exception {
        List<ProcRow> events = new CopyOnWriteArrayList<>();
        int[] target = {0};
        Thread t;
        try (ProcwatchClient c = daemon.client()) {
            t = Thread.ofPlatform().start(() -> {
                try {
                    c.subscribe(Selector.all(), EventType.mask(EventType.all()), 0, item -> {
                        if (item instanceof ProcwatchClient.Event e) {
                            events.add(e.row());
                            return !(e.row().eventKind == EventType.EXIT.bit && e.row().pid == target[0]
                                    && !e.row().thread);
                        }
                        return true;
                    });
                } catch (Exception ex) {
                    throw new IllegalStateException(ex);
                }
            });
            Thread.sleep(300);
            Process p = Spawn.start("/bin/sh", "-c", "sleep 0.3; exit 6");
            target[0] = (int) p.pid(); // set long before the exit: the sink stops the stream on it
            p.waitFor();
            t.join(10_000);
            assertThat(t.isAlive()).as("stream ended at the exit event").isFalse();
        }
        List<ProcRow> mine = events.stream().filter(r -> r.pid == target[0] && !r.thread).toList();
        assertThat(mine).extracting(r -> r.eventKind).startsWith(EventType.FORK.bit).endsWith(EventType.EXIT.bit)
                .contains(EventType.EXEC.bit);
        ProcRow exec = mine.stream().filter(r -> r.eventKind == EventType.EXEC.bit).reduce((a, b) -> b).orElseThrow();
        assertThat(exec.argv).containsExactly("/bin/sh", "-c", "sleep 0.3; exit 6");
        ProcRow exit = mine.getLast();
        assertThat(new WaitStatus(exit.status).exitCode()).isEqualTo(6);
        assertThat(exit.endMs - exit.startMs).isGreaterThanOrEqualTo(250);
    }

    @Test
    void statsCountersAreThere() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            Map<String, Long> s = c.stats();
            assertThat(s).containsKeys("uptime_ms", "processes", "events_fork", "losses", "resyncs",
                    "history_size", "clients", "heap_used_bytes");
            assertThat(s.get("processes")).isGreaterThan(20);
            assertThat(s.get("clients")).isGreaterThanOrEqualTo(1);
            assertThat(s.get("daemon_pid")).isEqualTo(daemon.pid());
        }
    }

    @Test
    void secondDaemonRefusesAndStaleSocketIsReplaced() throws Exception {
        var second = new ProcessBuilder(io.procwatch.testing.Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED",
                "-cp", io.procwatch.testing.Spawn.projectClasspath(), "io.procwatch.cli.Main", "daemon",
                "--socket", daemon.socket().toString()).redirectErrorStream(true).start();
        String out = new String(second.getInputStream().readAllBytes());
        assertThat(second.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(second.exitValue()).isEqualTo(1);
        assertThat(out).contains("another procwatch daemon is already running");
        assertThat(daemon.isAlive()).isTrue();

        // A socket file left by a killed daemon is replaced.
        Path dir = Files.createTempDirectory("pw-stale");
        Path sock = dir.resolve("procwatch.sock");
        try (DaemonProcess first = DaemonProcess.start(sock)) {
            Runtime.getRuntime().exec(new String[] {"kill", "-9", Long.toString(first.pid())}).waitFor();
            Thread.sleep(300);
            assertThat(Files.exists(sock)).isTrue();
            try (DaemonProcess next = DaemonProcess.start(sock)) {
                assertThat(next.client().hello()).containsKey("protocol");
            }
        }
        // And a symlink where the socket should be is refused.
        dir = Files.createTempDirectory("pw-link");
        Path link = dir.resolve("link.sock");
        Files.createSymbolicLink(link, Path.of("/etc/passwd"));
        var refused = new ProcessBuilder(io.procwatch.testing.Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED",
                "-cp", io.procwatch.testing.Spawn.projectClasspath(), "io.procwatch.cli.Main", "daemon",
                "--socket", link.toString()).redirectErrorStream(true).start();
        String text = new String(refused.getInputStream().readAllBytes());
        refused.waitFor(30, TimeUnit.SECONDS);
        assertThat(refused.exitValue()).isEqualTo(1);
        assertThat(text).contains("refusing to replace");
        assertThat(Files.readString(Path.of("/etc/passwd"))).contains("root:");
        Files.deleteIfExists(link);
        Files.deleteIfExists(dir);
    }
}
