package io.procwatch.truth;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cases 5 and 6 of the truth suite: one identity per process life. Three lives of one pid within a
 * few ms (clone3 set_tid), and thread ids reused as pids: every history entry carries its own
 * life's name, argv, status and accounting, in the in-memory ring and after it rolled over into
 * SQLite ({@code --history 100 --history-db}), and no answer has a hole while the ring rolls over.
 */
class IdentityTruthTest {
    private static DaemonProcess daemon;
    private static Path db;

    @BeforeAll
    static void startDaemon() throws Exception {
        // a directory of its own (0700, as createTempDirectory makes it): the daemon refuses one others may write
        db = Files.createTempDirectory("pw-truth-history").resolve("history.db");
        daemon = DaemonProcess.start("--history", "100", "--history-db", db.toString());
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        daemon.close();
        Files.deleteIfExists(db);
        Files.deleteIfExists(Path.of(db + "-wal"));
        Files.deleteIfExists(Path.of(db + "-shm"));
        Files.deleteIfExists(db.getParent());
    }

    /**
     * Case 5, identity: every life once in history, with its own exit status, and {@code history
     * --pid} gives the same answer from the ring and after the ring rolled over into SQLite. (Its
     * argv and name, which come from the exec path, are counted in {@link ExecArgvTruthTest}.)
     */
    @Test
    void pidReusedThreeTimes() throws Exception {
        ReusedLives.Counts n = ReusedLives.run(daemon, 200, true);
        Report.line("pid_reuse_3_lives", n.lives() - n.extraOrMissing() - n.wrongStatus(), n.lives(), "extra or missing "
                + n.extraOrMissing() + ", wrong statuses " + n.wrongStatus() + ", history --pid unchanged after the ring"
                + " rolled into SQLite " + n.sameAfterRollover() + " of " + n.pids() + " (at once: "
                + n.sameAtOnceAfterRollover() + " of " + n.pids() + "); exec data: argv unknown "
                + n.argvUnknown() + ", another life's argv or comm " + n.otherLifeArgvOrComm()
                + "; lives whose exit event came after the next life's fork " + n.overtaken()
                + (n.example().isEmpty() ? "" : "; e.g. " + n.example()));
        assertThat(n.extraOrMissing()).as(n.why()).isZero();
        assertThat(n.wrongStatus()).isZero();
        assertThat(n.sameAfterRollover()).isEqualTo(n.pids());
        assertThat(n.sameAtOnceAfterRollover()).isEqualTo(n.pids());
    }

    /**
     * Case 5, continued: while exits come faster than the 100-entry ring holds them, the history
     * (ring and SQLite merged) never has a hole. Every exit gets the next seq, so a hole in the seq
     * numbers of an answer is an exit that answer lost.
     */
    @Test
    void historyHasNoHoleWhileTheRingRollsOver() throws Exception {
        int queries = 0;
        int withHole = 0;
        long missing = 0;
        String example = "";
        try (ProcwatchClient c = daemon.client()) {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread storm = Thread.ofPlatform().start(() -> {
                try {
                    io.procwatch.testing.ForkStorm.run(2, 1500, pid -> { });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    done.set(true);
                }
            });
            while (!done.get()) {
                List<Long> seqs = Lookup.history(c).stream().map(r -> r.seq).sorted().toList();
                queries++;
                long holes = 0;
                for (int i = 1; i < seqs.size(); i++) {
                    holes += Math.max(0, seqs.get(i) - seqs.get(i - 1) - 1);
                }
                if (holes > 0) {
                    withHole++;
                    missing += holes;
                    if (example.isEmpty()) {
                        example = holes + " exits missing from an answer of " + seqs.size();
                    }
                }
            }
            storm.join();
        }
        Report.line("history_no_hole_while_ring_rolls", queries - withHole, queries, "answers with a hole " + withHole
                + ", exits missing in them " + missing + (example.isEmpty() ? "" : "; e.g. " + example));
        assertThat(queries).isPositive();
        assertThat(withHole).isZero();
    }

    /** Case 6: 300 threads named STALEn exit, their ids become pids of a tiny program. */
    @Test
    void threadIdsReusedAsPids() throws Exception {
        int n = 300;
        try (Workload w = Workload.start("tidreuse", Workload.binary("pwtiny").toString(), Integer.toString(n))) {
            assertThat(w.finish()).isZero();
            List<Truth> reused = w.truth("reused");
            assertThat(w.truth("failed")).isEmpty();
            assertThat(reused).hasSize(n);
            Map<Integer, Long> ownRss = new HashMap<>();
            w.truth("tiny").forEach(t -> ownRss.put(t.pid(), t.number("maxrss_kib")));
            int workload = (int) w.pid();
            int matched = 0;
            int threadName = 0;
            int badRss = 0;
            int wrongStatus = 0;
            long maxRss = 0;
            String example = "";
            try (ProcwatchClient c = daemon.client()) {
                for (Truth t : reused) {
                    List<ProcRow> h = Lookup.awaitHistory(c, t.pid(), r -> r.ppid == workload, 1, 5000);
                    ProcRow r = h.size() == 1 ? h.getFirst() : null;
                    long own = Objects.requireNonNullElse(ownRss.get(t.pid()), -1L);
                    boolean name = r != null && "pwtiny".equals(r.comm);
                    boolean stale = r != null && r.comm != null && r.comm.startsWith("STALE");
                    // the workload held 64 MiB when the threads ran: a thread's record would show it
                    boolean rss = r != null && own > 0 && r.tsMaxRssKiB > 0 && r.tsMaxRssKiB <= 2 * own + 1024;
                    boolean status = r != null && r.status == t.integer("status");
                    threadName += stale ? 1 : 0;
                    badRss += rss ? 0 : 1;
                    wrongStatus += status ? 0 : 1;
                    if (r != null) {
                        maxRss = Math.max(maxRss, r.tsMaxRssKiB);
                    }
                    if (name && rss && status) {
                        matched++;
                    } else if (example.isEmpty()) {
                        example = "pid " + t.pid() + " (was thread " + t.get("thread") + "): " + (r == null ? h.size()
                                + " entries" : "comm " + r.comm + " max rss " + r.tsMaxRssKiB + " KiB (own " + own
                                + ") status " + r.status);
                    }
                }
            }
            Report.line("thread_id_reuse", matched, n, "thread's name " + threadName + ", implausible max rss " + badRss
                    + " (largest " + maxRss + " KiB), wrong statuses " + wrongStatus
                    + (example.isEmpty() ? "" : "; e.g. " + example));
            assertThat(threadName).isZero();
            assertThat(badRss).isZero();
            assertThat(wrongStatus).isZero();
            assertThat(matched).isEqualTo(n);
        }
    }

}
