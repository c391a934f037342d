package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.WaitStatus;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.ForkStorm;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon within its heap (bin/procwatch's daemon_heap): huge HISTORY requests at once are
 * streamed, not built in memory, and do not hold up the history writer; and the footprint at rest.
 */
class MemoryBudgetTest {
    static final int STORED = 150_000;

    /** A database with STORED exits with long command lines, as a busy machine's would hold. */
    static void fill(Path db) throws Exception {
        try (HistoryStore s = HistoryStore.open(db)) {
            long now = System.currentTimeMillis() - STORED;
            List<ExitedProcess> batch = new ArrayList<>();
            for (int i = 0; i < STORED; i++) {
                Taskstats t = new Taskstats(0, true, 1000 + i, 1, 0, 0, "job" + i % 50, new WaitStatus(0), 0, 0, 0, 0,
                        1000, 2000, 0, 0, 4096, 0, 0, 0, 0, 0, 8192, 16384, 0, 3, 4, 1000 + i);
                batch.add(new ExitedProcess(i, 1000 + i % 30000, 1, 0, 0, "job" + i % 50, "/usr/local/bin/job" + i % 50,
                        List.of("/usr/local/bin/job" + i % 50, "--input=/var/lib/jobs/input-" + i + ".dat",
                                "--output=/var/lib/jobs/output-" + i + ".dat", "--verbose", "x".repeat(64)),
                        now + i, now + i + 1, new WaitStatus(0), false, true, true, t, (long) i * 1_000_000L));
                if (batch.size() == 10_000) {
                    s.write(batch);
                    batch.clear();
                }
            }
            s.runStarted(now);
        }
    }

    /** One HISTORY with A_LIMIT 1,000,000: the rows received, until DONE. */
    private static long hugeHistory(ProcwatchClient c) throws Exception {
        c.send(new MessageBuilder().u32(Wire.A_LIMIT, 1_000_000).build(Wire.HISTORY, 0, 7));
        long rows = 0;
        while (true) {
            Message m = c.receive();
            if (m.type() == Wire.EXITED) {
                rows++;
            } else if (m.type() == Wire.DONE) {
                return rows;
            } else if (m.type() == Wire.ERROR) {
                throw new AssertionError("HISTORY answered ERROR after " + rows + " rows");
            }
        }
    }

    private static void gc(DaemonProcess d) throws Exception {
        Path jcmd = Path.of(Spawn.javaBinary()).resolveSibling("jcmd");
        new ProcessBuilder(jcmd.toString(), String.valueOf(d.pid()), "GC.run").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }

    @Test
    void eightHugeHistoryRequestsAreStreamedWithinTheHeapAndTheWriterGoesOn() throws Exception {
        Path dir = Files.createTempDirectory("pw-mem");
        Path db = dir.resolve("history.db");
        try {
            fill(db);
            // a ring of 10,000: the other 90,000 rows of each answer come from the database
            try (DaemonProcess daemon = DaemonProcess.start("--history-db", db.toString(), "--history", "10000")) {
                long rssStart = daemon.rssKiB();
                AtomicLong peakRss = new AtomicLong(rssStart);
                AtomicLong peakHeap = new AtomicLong();
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
                List<Future<Long>> answers = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int i = 0; i < 8; i++) {
                    answers.add(pool.submit(() -> {
                        try (ProcwatchClient c = daemon.client()) {
                            return hugeHistory(c);
                        }
                    }));
                }
                // while they run: exits to write, and how soon the writer has them
                long written0;
                try (ProcwatchClient c = daemon.client()) {
                    written0 = c.stats().get("history_db_written");
                }
                ForkStorm.run(1, 300, pid -> { });
                long stormEnd = System.nanoTime();
                boolean readsRunning = !answers.stream().allMatch(Future::isDone);
                long writerLagMs = -1;
                try (ProcwatchClient c = daemon.client()) {
                    while (System.nanoTime() - stormEnd < 20_000_000_000L) {
                        Map<String, Long> s = c.stats();
                        peakHeap.accumulateAndGet(s.get("heap_used_bytes"), Math::max);
                        peakRss.accumulateAndGet(daemon.rssKiB(), Math::max);
                        if (writerLagMs < 0 && s.get("history_db_written") >= written0 + 300) {
                            writerLagMs = (System.nanoTime() - stormEnd) / 1_000_000L;
                        }
                        if (writerLagMs >= 0 && answers.stream().allMatch(Future::isDone)) {
                            break;
                        }
                        Thread.sleep(100);
                    }
                }
                for (Future<Long> f : answers) {
                    assertThat(f.get()).as("rows of one answer: capped at 100,000").isEqualTo(100_000);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                pool.shutdown();
                Map<String, Long> after;
                try (ProcwatchClient c = daemon.client()) {
                    after = c.stats();
                }
                System.out.printf("memory: 8 x HISTORY A_LIMIT=1000000 -> 8 x 100000 rows in %.1f s; RSS %d -> peak %d KiB;"
                                + " heap used peak %d KiB (max %d KiB); writer had the 300 storm exits %d ms after the"
                                + " storm, reads running when the storm ended: %s%n", secs, rssStart, peakRss.get(),
                        peakHeap.get() / 1024, after.get("heap_max_bytes") / 1024, writerLagMs, readsRunning);
                assertThat(readsRunning).as("the storm's exits were written while the reads ran").isTrue();
                assertThat(daemon.isAlive()).isTrue();
                assertThat(after.get("internal_errors")).isZero();
                assertThat(writerLagMs).as("the writer is not held up behind the readers").isBetween(0L, 3_000L);
                assertThat(peakRss.get()).as("RSS peak, KiB").isLessThan(256 * 1024);
                assertThat(daemon.log()).doesNotContain("OutOfMemoryError");
                // The answers left the heap grown (the serial collector fills what it may before
                // collecting the old generation): it goes back while a client keeps asking every
                // second, as an operator's `watch procwatch ps` would (HeapReturn waits for a
                // quiet moment, not for a sweep interval without any collection).
                long grown = after.get("heap_committed_bytes");
                Map<String, Long> s = after;
                long deadline = System.nanoTime() + 120_000_000_000L;
                try (ProcwatchClient c = daemon.client()) {
                    while (System.nanoTime() < deadline) {
                        c.snapshot(Selector.all(), 1, 0);
                        s = c.stats();
                        if (s.get("heap_committed_bytes") < grown / 2) {
                            break;
                        }
                        Thread.sleep(1000);
                    }
                }
                System.out.printf("memory: heap committed %d KiB after the answers, %d KiB after %d return"
                                + " collection(s) while a client asked every second; RSS %d KiB%n", grown / 1024,
                        s.get("heap_committed_bytes") / 1024, s.get("heap_return_collections"), daemon.rssKiB());
                assertThat(grown).as("the answers grew the heap (else the return shows nothing)").isGreaterThan(64L << 20);
                assertThat(s.get("heap_committed_bytes")).as("committed heap after the return").isLessThan(grown / 2);
            }
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void footprintAtRestAfterTenThousandExits() throws Exception {
        try (DaemonProcess daemon = DaemonProcess.start()) {
            ForkStorm.run(2, 5000, pid -> { });
            Thread.sleep(2000);
            Map<String, Long> s;
            try (ProcwatchClient c = daemon.client()) {
                c.snapshot(Selector.all(), 1, 0);
                s = c.stats();
            }
            gc(daemon);
            Thread.sleep(1000);
            Map<String, Long> s2;
            try (ProcwatchClient c = daemon.client()) {
                s2 = c.stats();
            }
            long rss = daemon.rssKiB();
            System.out.printf("memory: at rest, %d processes, %d exits in history: RSS %d KiB, heap used %d KiB"
                            + " after a GC, committed %d KiB, max %d KiB%n", s2.get("processes"), s2.get("history_size"),
                    rss, s2.get("heap_used_bytes") / 1024, s2.get("heap_committed_bytes") / 1024,
                    s2.get("heap_max_bytes") / 1024);
            assertThat(s.get("history_size")).isGreaterThanOrEqualTo(10_000);
            assertThat(s2.get("heap_used_bytes")).as("live heap at rest").isLessThan(64L << 20);
            assertThat(rss).as("RSS at rest, KiB").isLessThan(200 * 1024);
        }
    }

}
