package io.procwatch.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue #17: ps --at's sampled columns are as of the last sample before WHEN, and marked where
 * older than the sample interval. A Python child holds memory it allocates and frees at known
 * steps; the test records the truth itself (the child's VmRSS from /proc every 50 ms, with the
 * time) and, in the first phase, asks the daemon for fresh values every 300 ms (what top or ps
 * would do), then stops asking while the child grows again.
 *
 * <ul>
 *   <li>While something samples: at every instant checked, sampled_age_ms is within the sample
 *       interval, nothing is marked, and the RSS shown is what /proc said at the read time the
 *       age gives (then - age), so within one interval of the truth.</li>
 *   <li>After the asking stopped and the child grew: the RSS shown is the last one read (the
 *       truth from before), sampled_age_ms counts from the last ask, the JSON says stale, and
 *       the text marks the RSS cell (and only the sampled cells) with '~'.</li>
 * </ul>
 */
class SampledAgeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long SAMPLE_MS = 2_000;

    // each step: allocate or free, then say so; the test tells it when to go on
    private static final String CHILD = """
            import sys
            held = []
            def mib(n):
                b = bytearray(n << 20)
                for i in range(0, len(b), 4096):
                    b[i] = 1
                return b
            for line in sys.stdin:
                cmd = line.split()
                if cmd[0] == "alloc":
                    held.append(mib(int(cmd[1])))
                elif cmd[0] == "free":
                    held.clear()
                elif cmd[0] == "exit":
                    break
                print("done", cmd[0], flush=True)
            """;

    private record Truth(long ms, long rssKiB) {
    }

    @Test
    void sampledColumnsCarryTheirAgeAndAreMarkedWhenOlderThanTheInterval() throws Exception {
        Path dir = Files.createTempDirectory("pw-sampledage");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path sockDir = Files.createTempDirectory("pw-sampledage-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        Path script = dir.resolve("sa_child.py");
        Files.writeString(script, CHILD);
        DaemonProcess daemon = DaemonProcess.start(socket, "--history-db", dir.resolve("h.db").toString(),
                "--journal-checkpoint", "5", "--journal-sample", Long.toString(SAMPLE_MS / 1000));
        Process child = new ProcessBuilder("python3", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        int pid = (int) child.pid();
        List<Truth> truth = new CopyOnWriteArrayList<>();
        AtomicBoolean recording = new AtomicBoolean(true);
        Thread recorder = Thread.ofPlatform().daemon().start(() -> {
            Path status = Path.of("/proc", Integer.toString(pid), "status");
            while (recording.get()) {
                try {
                    for (String l : Files.readAllLines(status)) {
                        if (l.startsWith("VmRSS:")) {
                            truth.add(new Truth(System.currentTimeMillis(), Long.parseLong(l.replaceAll("\\D", ""))));
                        }
                    }
                    Thread.sleep(50);
                } catch (Exception e) {
                    return;
                }
            }
        });
        AtomicBoolean asking = new AtomicBoolean(true);
        AtomicLong lastAskMs = new AtomicLong();
        Thread asker = Thread.ofPlatform().daemon().start(() -> {
            try (ProcwatchClient c = daemon.client()) {
                while (asking.get()) {
                    long before = System.currentTimeMillis();
                    c.snapshot(Selector.all().withPids(List.of(pid)), Groups.BASE | Groups.STAT, Wire.F_FRESH);
                    lastAskMs.set(before);
                    Thread.sleep(300);
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        BufferedReader from = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        var to = child.getOutputStream();
        List<Long> sampledPhase = new ArrayList<>();
        List<Long> unsampledPhase = new ArrayList<>();
        long stoppedAsking;
        try {
            Thread.sleep(1_500);
            for (String step : List.of("alloc 30", "alloc 60", "free", "alloc 20")) {
                to.write((step + "\n").getBytes(StandardCharsets.UTF_8));
                to.flush();
                assertThat(from.readLine()).startsWith("done");
                long t = System.currentTimeMillis();
                for (int i = 1; i <= 5; i++) {
                    Thread.sleep(600);
                    sampledPhase.add(System.currentTimeMillis());
                }
                assertThat(System.currentTimeMillis() - t).isGreaterThan(2_900);
            }
            asking.set(false);
            asker.join(5_000);
            stoppedAsking = lastAskMs.get();
            Thread.sleep(500);
            to.write("alloc 80\n".getBytes(StandardCharsets.UTF_8));
            to.flush();
            assertThat(from.readLine()).startsWith("done");
            for (int i = 1; i <= 8; i++) {
                Thread.sleep(700);
                unsampledPhase.add(System.currentTimeMillis());
            }
            recording.set(false);
            recorder.join(2_000);

            // while sampled: fresh, unmarked, and what /proc said at the read time the age gives
            List<String> wrong = new ArrayList<>();
            for (long at : sampledPhase) {
                JsonNode row = one(socket, at, pid);
                long age = row.get("sampled_age_ms").asLong(-1);
                long rss = row.get("rss_kib").asLong();
                if (row.get("sampled_age_ms").isNull() || age > SAMPLE_MS || row.get("sampled_stale").asBoolean()) {
                    wrong.add("@" + at + ": age " + row.get("sampled_age_ms") + " stale " + row.get("sampled_stale"));
                    continue;
                }
                if (!matches(truth, at - age - 250, at - age + 250, rss)) {
                    wrong.add("@" + at + ": rss " + rss + " KiB, read at " + (at - age) + ", truth then "
                            + window(truth, at - age - 250, at - age + 250));
                }
            }
            assertThat(wrong).as("sampled instants").isEmpty();
            // the workload itself: memory did move by the steps (30, 90, freed, 20 MiB)
            assertThat(truth.stream().mapToLong(Truth::rssKiB).max().orElseThrow()).isGreaterThan(85 << 10);

            // not sampled since: the last value read, marked, and dated from the last ask
            long lastRead = lastReadRss(truth, stoppedAsking);
            int staleSeen = 0;
            for (long at : unsampledPhase) {
                JsonNode row = one(socket, at, pid);
                long age = row.get("sampled_age_ms").asLong(-1);
                assertThat(age).as("age @" + at + ": " + row).isBetween(at - stoppedAsking - 1_000, at - stoppedAsking + 1_500);
                assertThat(row.get("sampled_stale").asBoolean()).as("stale @" + at + ": " + row).isEqualTo(age > SAMPLE_MS);
                if (at > stoppedAsking + SAMPLE_MS + 1_500) {
                    staleSeen++;
                    assertThat(age).isGreaterThan(SAMPLE_MS);
                }
                assertThat(Math.abs(row.get("rss_kib").asLong() - lastRead)).as("rss @" + at + " vs last read " + lastRead)
                        .isLessThan(2048);
            }
            assertThat(staleSeen).as("instants more than an interval after the last ask").isGreaterThanOrEqualTo(3);
            // and truly stale: the child had grown by 80 MiB by the last of those instants
            assertThat(rssAt(truth, unsampledPhase.getLast()) - lastRead).isGreaterThan(70 << 10);

            // text: procps-shaped; the sampled cells of the stale row end in '~', nothing else does
            Cli.Result text = Cli.run(socket, "ps", "--at", at(unsampledPhase.getLast()), "-o", "pid,rss,comm", "-p",
                    Integer.toString(pid));
            assertThat(text.exit()).as(text.err()).isZero();
            String[] lines = text.out().strip().split("\n");
            assertThat(lines).hasSize(2);
            String[] cells = lines[1].trim().split("\\s+");
            assertThat(cells[0]).isEqualTo(Integer.toString(pid));
            assertThat(cells[1]).matches("\\d+~");
            assertThat(cells[2]).isEqualTo("python3");
            assertThat(text.err()).contains("~ marks sampled values older than the journal's sample interval");
            Cli.Result fresh = Cli.run(socket, "ps", "--at", at(sampledPhase.get(7)), "-o", "pid,rss,comm", "-p",
                    Integer.toString(pid));
            assertThat(fresh.exit()).as(fresh.err()).isZero();
            assertThat(fresh.out()).doesNotContain("~");
            assertThat(fresh.err()).isEmpty();
            System.out.println("SampledAgeTest: " + sampledPhase.size() + " sampled instants fresh and equal to /proc at their"
                    + " read time, unmarked; " + unsampledPhase.size() + " unsampled instants show the last value read, dated from the last ask, "
                    + staleSeen + " of them marked (older than the interval)");
            to.write("exit\n".getBytes(StandardCharsets.UTF_8));
            to.flush();
            assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        } finally {
            asking.set(false);
            recording.set(false);
            child.destroyForcibly();
            daemon.close();
        }
    }

    private static JsonNode one(Path socket, long at, int pid) throws Exception {
        Cli.Result r = Cli.run(socket, "ps", "--at", at(at), "-o", "pid,rss,stat", "-p", Integer.toString(pid), "--json");
        assertThat(r.exit()).as("ps --at " + at + ": " + r.err()).isZero();
        JsonNode arr = JSON.readTree(r.out());
        assertThat(arr).hasSize(1);
        return arr.get(0);
    }

    /** Whether /proc showed this RSS (to 1 MiB: the interpreter's own pages move a little) in the window. */
    private static boolean matches(List<Truth> truth, long fromMs, long untilMs, long rss) {
        return truth.stream().anyMatch(t -> t.ms() >= fromMs && t.ms() <= untilMs && Math.abs(t.rssKiB() - rss) < 1024);
    }

    private static List<Long> window(List<Truth> truth, long fromMs, long untilMs) {
        return truth.stream().filter(t -> t.ms() >= fromMs && t.ms() <= untilMs).map(Truth::rssKiB).toList();
    }

    private static long lastReadRss(List<Truth> truth, long beforeMs) {
        return truth.stream().filter(t -> t.ms() <= beforeMs).reduce((a, b) -> b).orElseThrow().rssKiB();
    }

    private static long rssAt(List<Truth> truth, long ms) {
        return lastReadRss(truth, ms);
    }

    private static String at(long ms) {
        return String.format(Locale.ROOT, "@%d.%03d", ms / 1000, ms % 1000);
    }
}
