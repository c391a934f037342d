package io.procwatch.store;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.ForkStorm;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The history database survives a daemon killed with SIGKILL in the middle of a fork storm:
 * every row written before the kill is intact after a restart, nothing is duplicated, the
 * database is consistent, and the time without a daemon is reported as a gap.
 */
class PersistentHistoryTest {

    @Test
    void sigkillDuringForkStormLosesNoWrittenRowAndDuplicatesNothing() throws Exception {
        Path dir = Files.createTempDirectory("pw-history");
        Path db = dir.resolve("history.db");
        DaemonProcess first = DaemonProcess.start("--history-db", db.toString());
        CompletableFuture<ForkStorm.Result> storm = CompletableFuture.supplyAsync(() -> {
            try {
                return ForkStorm.run(2, 2500, pid -> { });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Map<String, String> before;
        try {
            // let the storm's exits reach the database, then read it and kill the daemon at once
            long deadline = System.nanoTime() + 60_000_000_000L;
            do {
                Thread.sleep(500);
                before = rows(db);
            } while (before.size() < 1000 && System.nanoTime() < deadline);
            assertThat(before.size()).as("exits written before the kill").isGreaterThanOrEqualTo(1000);
            first.kill();
        } finally {
            if (first.isAlive()) {
                first.kill();
            }
        }
        ForkStorm.Result done = storm.get();
        System.out.printf("persistent history: %d rows in the database when the daemon was killed during a storm of %d"
                + " forks%n", before.size(), done.forks());

        try (DaemonProcess second = DaemonProcess.start("--history-db", db.toString())) {
            new ProcessBuilder("sh", "-c", "exit 4").start().waitFor();
            Thread.sleep(1500); // one flush of the writer
            Map<String, String> after = rows(db);
            // every row written before the kill is there, unchanged (taskstats may have completed a
            // row whose exit was written first; the identity and exit fields never change)
            for (var e : before.entrySet()) {
                assertThat(after).as("row %s after the restart", e.getKey()).containsKey(e.getKey());
                assertThat(identity(after.get(e.getKey()))).isEqualTo(identity(e.getValue()));
            }
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
                ResultSet dup = st.executeQuery("SELECT count(*) - count(DISTINCT boot_id || '/' || pid || '/' || start_ms)"
                        + " FROM exits");
                assertThat(dup.getLong(1)).as("duplicate exits").isZero();
                assertThat(st.executeQuery("PRAGMA integrity_check").getString(1)).isEqualTo("ok");
                ResultSet runs = st.executeQuery("SELECT count(*), sum(stopped_ms IS NULL) FROM runs");
                assertThat(runs.getInt(1)).isEqualTo(2);
                assertThat(runs.getInt(2)).as("runs without a clean stop").isEqualTo(2); // killed, and still running
            }
            // the restarted daemon answers for exits from before the kill, and says where it was blind
            Cli.Result r = Cli.run(second.socket(), "history", "--limit", "100000");
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out()).contains("no daemon was running (it ended without stopping: killed or crashed)");
            assertThat(r.out()).contains("exit 4");
            String anyBefore = before.keySet().iterator().next();
            String pid = anyBefore.split("/")[1];
            assertThat(r.out()).containsPattern("(?m)^\\S+ \\S+ +" + pid + " ");
            assertThat(second.stop()).isZero();
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
                assertThat(st.executeQuery("SELECT count(*) FROM runs WHERE stopped_ms IS NOT NULL").getInt(1))
                        .as("the second daemon's clean stop").isEqualTo(1);
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
    void queriesBeyondTheMemoryRingComeFromTheDatabaseWithEveryFilter() throws Exception {
        Path dir = Files.createTempDirectory("pw-history");
        Path db = dir.resolve("history.db");
        // a ring of 5: almost everything below is only in the database
        try (DaemonProcess d = DaemonProcess.start("--history", "5", "--history-db", db.toString())) {
            for (int i = 0; i < 30; i++) {
                new ProcessBuilder("sh", "-c", "sleep 0.05; exit " + (i % 3), "pw-ring-" + i).start().waitFor();
            }
            Thread.sleep(1000); // one flush of the writer
            // --match is not an indexed column: the daemon filters the database's rows page by page
            Cli.Result r = Cli.run(d.socket(), "history", "--match", "pw-ring-", "--limit", "100", "--json");
            assertThat(r.exit()).as(r.err()).isZero();
            var rows = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
            long shells = 0;
            for (var row : rows) {
                if (row.get("comm").asText().equals("sh")) {
                    shells++;
                }
            }
            assertThat(shells).as("all 30 shells, though the ring holds 5").isEqualTo(30);
            Cli.Result failed = Cli.run(d.socket(), "history", "--match", "pw-ring-", "--failed", "--limit", "100");
            assertThat(failed.out().lines().filter(l -> l.contains(" sh -c "))).hasSize(20);
        } finally {
            try (var s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** Every exit row, keyed by boot/pid/start, as its column values joined. */
    private static Map<String, String> rows(Path db) throws Exception {
        Map<String, String> out = new HashMap<>();
        if (!Files.exists(db)) {
            return out;
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement();
             ResultSet r = st.executeQuery("SELECT * FROM exits")) {
            ResultSetMetaData md = r.getMetaData();
            while (r.next()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    sb.append(md.getColumnName(i)).append('=').append(r.getString(i)).append('\u0001');
                }
                out.put(r.getString("boot_id") + "/" + r.getInt("pid") + "/" + r.getLong("start_ms"), sb.toString());
            }
        }
        return out;
    }

    /** The columns an exit is written with and never rewritten. */
    private static String identity(String row) {
        StringBuilder sb = new StringBuilder();
        for (String kv : row.split("\u0001")) {
            String k = kv.substring(0, kv.indexOf('='));
            if (!k.startsWith("cpu_") && !k.equals("max_rss_kib") && !k.endsWith("_bytes") && !k.startsWith("nv")
                    && !k.startsWith("niv") && !k.equals("comm") && !k.equals("core")) {
                sb.append(kv).append('\u0001');
            }
        }
        return sb.toString();
    }
}
