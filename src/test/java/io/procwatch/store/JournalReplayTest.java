package io.procwatch.store;

import io.procwatch.table.JournalCodec;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.SyntheticLoad;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Journal.at against the table it journaled: the rows at every recorded instant equal the
 * table's rows then, field by field, with checkpoints written by entry count as well as by time
 * and queries answered from the cached checkpoint and from a fresh one alike. And a damaged
 * entry that claims a million threads per row is refused, not turned into gigabytes of tid arrays.
 */
class JournalReplayTest {
    private static String row(ProcessInfo p) {
        return p.pid() + " " + p.ppid() + " " + p.startNs() + " " + p.euid() + " " + p.comm() + " " + p.argv() + " "
                + p.state() + " " + p.utime() + " " + p.numThreads();
    }

    private static Map<Integer, String> rows(java.util.Collection<ProcessInfo> all) {
        Map<Integer, String> m = new TreeMap<>();
        for (ProcessInfo p : all) {
            m.put(p.pid(), row(p));
        }
        return m;
    }

    @Test
    void everyInstantReplaysToTheTableAsItWasThen() throws Exception {
        Path dir = Files.createTempDirectory("pw-journal-replay");
        Path db = dir.resolve("history.db");
        HistoryStore.open(db).close();
        // an entry bound of 500 entries: many checkpoints by count, few by time
        try (Journal j = Journal.open(db, new Journal.Settings(3_600_000, 0, 7L * 86_400_000L, 1L << 40, 500))) {
            SyntheticLoad load = new SyntheticLoad(System.currentTimeMillis() - 3_600_000L);
            j.attach(load.table());
            load.populate(300);
            j.flush(load.nowMs());
            List<Long> instants = new ArrayList<>();
            List<Map<Integer, String>> truth = new ArrayList<>();
            for (int batch = 0; batch < 40; batch++) {
                for (int i = 0; i < 20; i++) {
                    load.shortLived(1);
                }
                load.sample(30);
                load.advance(5);
                if (batch % 4 == 1) {
                    load.shortLived(0); // a change at the same ms as the instant below: it is in
                    instants.add(load.nowMs());
                    truth.add(rows(load.table().all()));
                    load.advance(1);
                }
                j.flush(load.nowMs());
            }
            assertThat(j.checkpoints.sum()).as("checkpoints by entry count").isGreaterThan(j.entries.sum() / 600);
            assertThat(j.dropped.sum()).isZero();
            for (int round = 0; round < 2; round++) { // the second round from cached checkpoints
                for (int i = 0; i < instants.size(); i++) {
                    assertThat(rows(j.at(instants.get(i)))).as("instant " + i + " round " + round).isEqualTo(truth.get(i));
                }
            }
            // backwards, so every query needs another checkpoint than the last one
            for (int i = instants.size() - 1; i >= 0; i--) {
                assertThat(rows(j.at(instants.get(i)))).isEqualTo(truth.get(i));
            }
        }
    }

    /**
     * CONFIRM bodies (when the sampled values of rows were last read): what is written reads
     * back pid for pid, raw and deflated; damaged or hostile bodies are refused with an error
     * (the replay turns it into "journal entry damaged"), never a crash or a huge allocation.
     */
    @Test
    void confirmEntriesReadBackAndHostileOnesAreRefused() {
        java.util.SortedMap<Long, List<Integer>> small = new TreeMap<>(Map.of(0L, List.of(7, 3, 12), 1500L, List.of(40)));
        Map<Integer, Long> got = new java.util.HashMap<>();
        Journal.decodeConfirm(10_000, Journal.encodeConfirm(small), got);
        assertThat(got).isEqualTo(Map.of(3, 10_000L, 7, 10_000L, 12, 10_000L, 40, 8_500L));
        // a pass over 10,000 processes: deflated, still about a byte a row at most
        List<Integer> many = new ArrayList<>();
        for (int pid = 100; pid < 40_100; pid += 4) {
            many.add(pid);
        }
        byte[] big = Journal.encodeConfirm(new TreeMap<>(Map.of(250L, many)));
        assertThat(big[0]).as("deflated").isEqualTo((byte) 1);
        assertThat(big.length).isLessThan(many.size());
        got.clear();
        Journal.decodeConfirm(1_000_000, big, got);
        assertThat(got).hasSize(many.size()).containsEntry(40_096, 999_750L);
        // hostile: unknown encoding, counts beyond the bytes, a pid of 0, trailing bytes, a bomb
        JournalCodec.Out countLie = new JournalCodec.Out();
        countLie.varint(0);
        countLie.varint(1);
        countLie.varint(0);
        countLie.varint(1L << 40);
        JournalCodec.Out zeroPid = new JournalCodec.Out();
        zeroPid.varint(0);
        zeroPid.varint(1);
        zeroPid.varint(0);
        zeroPid.varint(1);
        zeroPid.varint(0);
        byte[] trailing = java.util.Arrays.copyOf(Journal.encodeConfirm(small), Journal.encodeConfirm(small).length + 1);
        JournalCodec.Out bomb = new JournalCodec.Out();
        bomb.varint(1);
        bomb.raw(JournalCodec.deflate(new byte[64 << 20]));
        for (byte[] b : List.of(new byte[] {5}, countLie.bytes(), zeroPid.bytes(), trailing, bomb.bytes(), new byte[0])) {
            Map<Integer, Long> into = new java.util.HashMap<>();
            assertThatThrownBy(() -> Journal.decodeConfirm(0, b, into)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aHostileThreadCountIsRefusedNotAllocated() throws Exception {
        Path dir = Files.createTempDirectory("pw-journal-hostile");
        Path db = dir.resolve("history.db");
        HistoryStore.open(db).close();
        long at;
        List<Integer> pids = new ArrayList<>();
        try (Journal j = Journal.open(db, Journal.Settings.defaults())) {
            SyntheticLoad load = new SyntheticLoad(System.currentTimeMillis() - 600_000L);
            j.attach(load.table());
            load.populate(100);
            j.flush(load.nowMs());
            load.table().all().forEach(p -> pids.add(p.pid()));
            at = load.nowMs() + 10;
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            long seq;
            try (Statement st = c.createStatement(); ResultSet r = st.executeQuery("SELECT MAX(seq) FROM journal")) {
                r.next();
                seq = r.getLong(1);
            }
            // NLWP (field 21) = 2^20 for every row: 100 million tid slots if believed
            JournalCodec.Out o = new JournalCodec.Out();
            o.varint(1L << 21);
            o.zigzag(1 << 20);
            byte[] body = o.bytes();
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO journal (seq, ms, kind, pid, body) VALUES (?, ?, 2, ?, ?)")) {
                for (int pid : pids) {
                    ps.setLong(1, ++seq);
                    ps.setLong(2, at - 5);
                    ps.setInt(3, pid);
                    ps.setBytes(4, body);
                    ps.executeUpdate();
                }
            }
        }
        try (Journal j = Journal.open(db, Journal.Settings.defaults())) {
            assertThatThrownBy(() -> j.at(at)).isInstanceOf(java.sql.SQLException.class)
                    .hasMessageContaining("journal entry damaged").hasMessageContaining("threads");
            // an instant before the damage still answers
            assertThat(j.at(at - 8)).hasSize(100);
        }
    }

    @Test
    void changesTheFullQueueDroppedAreAGapNotAWrongAnswer() throws Exception {
        Path dir = Files.createTempDirectory("pw-journal-drop");
        Path db = dir.resolve("history.db");
        HistoryStore.open(db).close();
        try (Journal j = Journal.open(db, new Journal.Settings(3_600_000, 0, 7L * 86_400_000L, 1L << 40, 1L << 40))) {
            SyntheticLoad load = new SyntheticLoad(System.currentTimeMillis() - 3_600_000L);
            j.attach(load.table());
            load.populate(200);
            j.flush(load.nowMs());
            load.advance(10);
            long before = load.nowMs();
            Map<Integer, String> truthBefore = rows(load.table().all());
            load.advance(10);
            j.flush(load.nowMs()); // nothing new: the last batch on disk is this one
            // more changes than the queue holds (2^18), no flush in between: some are dropped
            for (int i = 0; i < 70_000; i++) {
                load.shortLived(1);
                load.advance(1);
            }
            long inside = load.nowMs() - 1000;
            assertThat(j.dropped.sum()).isPositive();
            j.flush(load.nowMs());
            j.flush(load.nowMs() + 1); // the rest of the queue
            load.advance(20_000);
            load.shortLived(1);
            load.advance(10);
            long after = load.nowMs();
            j.flush(after);
            assertThatThrownBy(() -> j.at(inside)).isInstanceOf(Journal.Unanswerable.class)
                    .hasMessageContaining("gap").hasMessageContaining("dropped");
            assertThat(rows(j.at(before))).isEqualTo(truthBefore);
            assertThat(rows(j.at(after))).isEqualTo(rows(load.table().all()));
        }
    }
}
