package io.procwatch.bench;

import io.procwatch.store.HistoryStore;
import io.procwatch.store.Journal;
import io.procwatch.table.JournalCodec;
import io.procwatch.table.SyntheticLoad;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;

/** Scratch: where Journal.at's time goes (not a benchmark). */
public class JournalProbe {
    public static void main(String[] a) throws Exception {
        int cps = Integer.parseInt(a[0]);
        Path dir = Files.createTempDirectory("pw-probe");
        Path db = dir.resolve("history.db");
        HistoryStore.open(db).close();
        Journal journal = Journal.open(db, new Journal.Settings(cps * 1000L, 10_000, 7L * 86_400_000L, 1L << 40));
        long start = System.currentTimeMillis() - 3_600_000L - 2L * cps * 1000 - 120_000;
        SyntheticLoad load = new SyntheticLoad(start);
        journal.attach(load.table());
        load.populate(10_000);
        journal.flush(load.nowMs());
        long first = load.nowMs();
        long until = first + 2L * cps * 1000 + 60_000;
        while (load.nowMs() < until) {
            for (int i = 0; i < 62; i++) load.shortLived(1);
            load.sample(25);
            load.advance(250 - 62 * 3);
            journal.flush(load.nowMs());
        }
        long atMs = first + cps * 1000L - 1;
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        for (int rep = 0; rep < 8; rep++) {
            long t0 = System.nanoTime();
            long cpSeq; byte[] cp;
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, body FROM journal WHERE kind = 5 AND ms <= ? ORDER BY ms DESC, seq DESC LIMIT 1")) {
                ps.setLong(1, atMs);
                try (ResultSet r = ps.executeQuery()) { r.next(); cpSeq = r.getLong(1); cp = r.getBytes(2); }
            }
            long t1 = System.nanoTime();
            JournalCodec.Replay replay = new JournalCodec.Replay();
            replay.checkpoint(cp, 256 << 20);
            long t2 = System.nanoTime();
            int n = 0, scanned = 0;
            try (PreparedStatement ps = c.prepareStatement("SELECT kind, pid, body FROM journal WHERE seq > ? AND ms <= ? AND kind IN (1,2,3,4) ORDER BY seq LIMIT 10000000")) {
                ps.setLong(1, cpSeq); ps.setLong(2, atMs);
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) { n++; int pid = r.getInt(2); byte[] body = r.getBytes(3);
                        switch (r.getInt(1)) { case 1 -> replay.added(pid, body); case 2, 3 -> replay.changed(pid, body);
                            case 4 -> replay.removed(pid, new JournalCodec.In(body).zigzag()); default -> {} } }
                }
            }
            long t3 = System.nanoTime();
            int rows = replay.rows().size();
            long t4 = System.nanoTime();
            long t5 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM journal WHERE seq > ? AND ms <= ?")) {
                ps.setLong(1, cpSeq); ps.setLong(2, atMs);
                try (ResultSet r = ps.executeQuery()) { r.next(); scanned = r.getInt(1); }
            }
            long t6 = System.nanoTime();
            long f0 = System.nanoTime(); long sum = 0;
            try (PreparedStatement ps = c.prepareStatement("SELECT kind, pid, body FROM journal WHERE seq > ? AND ms <= ? AND kind IN (1,2,3,4) ORDER BY seq")) {
                ps.setLong(1, cpSeq); ps.setLong(2, atMs);
                try (ResultSet r = ps.executeQuery()) { while (r.next()) { sum += r.getInt(1) + r.getInt(2) + r.getBytes(3).length; } }
            }
            long f1 = System.nanoTime();
            System.out.printf("fetch only %.1f ms; ", (f1 - f0) / 1e6);
            long g0 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement("SELECT kind << 32 | pid, body FROM journal WHERE seq > ? AND seq < ? AND ms <= ? AND kind IN (1,2,3,4)")) {
                ps.setLong(1, cpSeq); ps.setLong(2, cpSeq + 40000); ps.setLong(3, atMs);
                try (ResultSet r = ps.executeQuery()) { while (r.next()) { sum += r.getLong(1) + r.getBytes(2).length; } }
            }
            long g1 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement("SELECT kind, pid, body FROM journal WHERE seq > ? AND seq < ? AND ms <= ? AND kind IN (1,2,3,4)")) {
                ps.setLong(1, cpSeq); ps.setLong(2, cpSeq + 40000); ps.setLong(3, atMs);
                try (ResultSet r = ps.executeQuery()) { while (r.next()) { sum += r.getInt(1) + r.getInt(2) + r.getBytes(3).length; } }
            }
            long g2 = System.nanoTime();
            System.out.printf("packed %.1f ms, 3 cols bounded %.1f ms; ", (g1 - g0) / 1e6, (g2 - g1) / 1e6);
            long j0 = System.nanoTime(); journal.at(atMs); long j1 = System.nanoTime();
            System.out.printf("cp query %.1f ms, cp decode %.1f ms (%d bytes), replay %d entries %.1f ms, rows() %d %.1f ms, count-scan %.1f ms; Journal.at %.1f ms%n",
                    (t1 - t0) / 1e6, (t2 - t1) / 1e6, cp.length, n, (t3 - t2) / 1e6, rows, (t4 - t3) / 1e6, (t6 - t5) / 1e6, (j1 - j0) / 1e6);
        }
    }
}
