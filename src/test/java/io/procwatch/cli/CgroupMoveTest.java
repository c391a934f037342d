package io.procwatch.cli;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A move between cgroups sends no proc connector event: sleeping processes the test moves by
 * writing their pids to another cgroup's cgroup.procs (they do nothing themselves) must show the
 * new cgroup in the daemon's own rows by the next pass (counted in {@code cgroup_moves}), so that
 * the journal has the move and {@code ps --at} answers with the cgroup of each instant, and
 * {@code --cgroup} at a past instant selects by the cgroup of then.
 */
class CgroupMoveTest {
    private static final int N = 6;
    private static Path root;
    private static Path a;
    private static Path b;
    private static DaemonProcess daemon;
    private static Path db;
    private static final List<Process> sleepers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        root = io.procwatch.testing.Cgroups.unifiedRoot();
        a = root.resolve("pwmove" + ProcessHandle.current().pid() + "a");
        b = root.resolve("pwmove" + ProcessHandle.current().pid() + "b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        Path dir = Files.createTempDirectory("pw-cgmove");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        db = dir.resolve("history.db");
        daemon = DaemonProcess.start(dir.resolve("procwatch.sock"), "--history-db", db.toString(),
                // checkpoints only at the start (and by entry count): the instants asked replay the
                // moves' own entries, which a checkpoint between a move and the instant would hide
                "--journal-checkpoint", "600", "--journal-sample", "1");
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : sleepers) {
            p.destroyForcibly().waitFor();
        }
        if (daemon != null) {
            daemon.close();
        }
        Files.deleteIfExists(a);
        Files.deleteIfExists(b);
    }

    private static String pids() {
        return sleepers.stream().map(p -> Long.toString(p.pid())).collect(Collectors.joining(","));
    }

    private static String cg(Path dir) {
        return "0::/" + root.relativize(dir);
    }

    /** pid to the cgroup column ps printed, for the sleepers. */
    private static Map<Long, String> cgroups(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("ps"));
        args.addAll(List.of(extra));
        args.addAll(List.of("-p", pids(), "-o", "pid=,cgroup:200="));
        Cli.Result r = Cli.run(daemon.socket(), args.toArray(String[]::new));
        assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
        Map<Long, String> out = new LinkedHashMap<>();
        for (String line : r.out().strip().split("\n")) {
            String[] f = line.strip().split("\\s+", 2);
            if (f.length == 2) {
                out.put(Long.parseLong(f[0]), f[1]);
            }
        }
        return out;
    }

    /** Whether every sleeper's cgroup column names {@code dir} (on a hybrid machine the v1 lines come first). */
    private static boolean allIn(Map<Long, String> seen, Path dir) {
        return seen.size() == N && seen.values().stream().allMatch(v -> List.of(v.split(",")).contains(cg(dir)));
    }

    private static long moves() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            return c.stats().get("cgroup_moves");
        }
    }

    private static String at(long ms) {
        return String.format(Locale.ROOT, "@%d.%03d", ms / 1000, ms % 1000);
    }

    /** Full passes (what a top does): the sampler's task scan runs in these. */
    private static void pass() throws Exception {
        assertThat(Cli.run(daemon.socket(), "ps", "-e", "-o", "pid").exit()).isZero();
    }

    @Test
    void aMoveWithoutAnEventShowsAtTheNextPassAndInThePast() throws Exception {
        for (int i = 0; i < N; i++) {
            Process p = new ProcessBuilder("sleep", "300").start();
            sleepers.add(p);
            Files.writeString(a.resolve("cgroup.procs"), Long.toString(p.pid()));
        }
        // the rows learn A (the fork gave them the test's own cgroup): seen in the journal
        long deadline = System.nanoTime() + 30_000_000_000L;
        Map<Long, String> pastA = Map.of();
        while (System.nanoTime() < deadline) {
            pass();
            Thread.sleep(1500); // past the journal's 1 s flush
            pastA = cgroups("--at", at(System.currentTimeMillis() - 200));
            if (allIn(pastA, a)) {
                break;
            }
        }
        assertThat(allIn(pastA, a)).as("ps --at after placing in A: " + pastA).isTrue();
        Thread.sleep(1000);
        long t1 = System.currentTimeMillis();
        Thread.sleep(1000);

        long before = moves();
        for (Process p : sleepers) {
            Files.writeString(b.resolve("cgroup.procs"), Long.toString(p.pid()));
        }
        // a fresh request reads /proc: it sees the move at once
        Map<Long, String> fresh = cgroups();
        assertThat(allIn(fresh, b)).as("ps right after the move: " + fresh).isTrue();
        // one full pass after the move: the task scan's cgroup ids differ, the rows are updated
        pass();
        long after = moves();
        assertThat(after - before).as("cgroup_moves after one pass").isGreaterThanOrEqualTo(N);

        Thread.sleep(2500); // the journal's flush, and an instant clearly after the move
        long t2 = System.currentTimeMillis() - 500;
        Map<Long, String> pastB = cgroups("--at", at(t2));
        assertThat(allIn(pastB, b)).as("ps --at after the move: " + pastB).isTrue();
        Map<Long, String> stillA = cgroups("--at", at(t1));
        assertThat(allIn(stillA, a)).as("ps --at before the move: " + stillA).isTrue();

        // --cgroup at a past instant: the membership of then, exactly the sleepers
        for (long t : new long[] {t1, t2}) {
            Path want = t == t1 ? a : b;
            Path other = t == t1 ? b : a;
            Cli.Result sel = Cli.run(daemon.socket(), "ps", "--at", at(t), "--cgroup", "/" + root.relativize(want), "-o", "pid=");
            assertThat(sel.exit()).as(sel.err()).isZero();
            List<Long> got = sel.out().lines().map(String::strip).filter(l -> !l.isEmpty()).map(Long::parseLong).sorted().toList();
            assertThat(got).as("ps --at " + at(t) + " --cgroup " + want)
                    .containsExactlyElementsOf(sleepers.stream().map(Process::pid).sorted().toList());
            Cli.Result none = Cli.run(daemon.socket(), "ps", "--at", at(t), "--cgroup", "/" + root.relativize(other), "-o", "pid=");
            assertThat(none.out().strip()).as("nobody in the other cgroup then").isEmpty();
        }
    
        // the journal's entries, as the Kafka sink reads them (JournalSource), and the records it makes
        Map<Long, String> moved = new LinkedHashMap<>();
        io.procwatch.sink.HostIdentity host = new io.procwatch.sink.HostIdentity("h1", "host-one", "boot");
        java.util.Set<Long> mine = sleepers.stream().map(Process::pid).collect(Collectors.toSet());
        try (io.procwatch.store.Journal j = io.procwatch.store.Journal.open(db, io.procwatch.store.Journal.Settings.defaults());
             io.procwatch.sink.JournalSource.Cursor c = j.openAt(0)) {
            for (io.procwatch.sink.JournalSource.Entry e; (e = c.next()) != null; ) {
                if (e.content() instanceof io.procwatch.sink.JournalSource.CgroupChange cc && mine.contains((long) cc.pid())
                        && List.of(cc.to().split(",")).contains(cg(b))) {
                    assertThat(List.of(cc.from().split(","))).as("moved from").contains(cg(a));
                    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(io.procwatch.sink.FleetRecord.of(host, e).json());
                    assertThat(json.get("procwatch.event").asText()).isEqualTo("cgroup_change");
                    assertThat(json.get("process.pid").asLong()).isEqualTo(cc.pid());
                    assertThat(json.get("procwatch.cgroup.previous").asText()).isEqualTo("/" + root.relativize(a));
                    assertThat(moved.put((long) cc.pid(), json.get("process.linux.cgroup").asText())).as("one move each").isNull();
                }
            }
        }
        assertThat(moved.keySet()).containsExactlyInAnyOrderElementsOf(mine);
        assertThat(moved.values()).allMatch(v -> v.equals("/" + root.relativize(b)));
    }
}
