package io.procwatch.store;

import io.procwatch.event.WaitStatus;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The SQLite store on a real database file: upsert, queries, retention, run gaps, bad files. */
class HistoryStoreTest {
    private Path dir;

    @BeforeEach
    void dir() throws Exception {
        dir = Files.createTempDirectory("pw-store");
    }

    @AfterEach
    void clean() throws Exception {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    private static ExitedProcess exit(int pid, long endMs, int status, Taskstats t) {
        return new ExitedProcess(pid, pid, 1, 1000, 1000, "job" + pid % 3, "/bin/job", List.of("job", "a b", ""),
                endMs - 50, endMs, new WaitStatus(status), false, true, true, t, (endMs - 50) * 1_000_000L);
    }

    /**
     * A database written by schema 1 (before the history kept cgroups), made here with that
     * schema's own statements: it opens, its rows read as before (cgroup not known), new rows keep
     * their cgroup, and it stays so after another open; the version moves to 2.
     */
    @Test
    void aSchemaOneDatabaseOpensAndGainsTheCgroupColumn() throws Exception {
        Path file = dir.resolve("v1.db");
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
             java.sql.Statement st = c.createStatement()) {
            st.execute("""
                    CREATE TABLE exits (
                      id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
                      boot_id TEXT NOT NULL, pid INTEGER NOT NULL, ppid INTEGER NOT NULL,
                      uid INTEGER NOT NULL, gid INTEGER NOT NULL, comm TEXT NOT NULL, exe TEXT NOT NULL,
                      argv TEXT NOT NULL, argv_known INTEGER NOT NULL,
                      start_ns INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
                      status INTEGER, core INTEGER NOT NULL, observed INTEGER NOT NULL, failed INTEGER NOT NULL,
                      cpu_user_us INTEGER, cpu_sys_us INTEGER, max_rss_kib INTEGER, read_bytes INTEGER,
                      write_bytes INTEGER, nvcsw INTEGER, nivcsw INTEGER,
                      UNIQUE (boot_id, pid, start_ns))""");
            st.execute("PRAGMA user_version = 1");
            st.execute("""
                    INSERT INTO exits (seq, boot_id, pid, ppid, uid, gid, comm, exe, argv, argv_known, start_ns,
                      start_ms, end_ms, status, core, observed, failed)
                    VALUES (7, 'b', 4242, 1, 1000, 1000, 'old', '/bin/old', 'old', 1, 5000000, 5, 900, 0, 0, 1, 0)""");
        }
        String cg = "1:cpu:/,0::/pwtest.slice/a.service";
        ExitedProcess fresh = new ExitedProcess(8, 4343, 1, 1000, 1000, "new", "/bin/new", List.of("new"), 950, 1000,
                new WaitStatus(0), false, true, true, null, 950_000_000L, cg);
        try (HistoryStore s = HistoryStore.open(file)) {
            List<ExitedProcess> old = s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, false, 10));
            assertThat(old).hasSize(1);
            assertThat(old.getFirst().pid()).isEqualTo(4242);
            assertThat(old.getFirst().comm()).isEqualTo("old");
            assertThat(old.getFirst().cgroup()).isNull();
            s.write(List.of(fresh));
        }
        try (HistoryStore s = HistoryStore.open(file)) {
            List<ExitedProcess> all = s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, false, 10));
            assertThat(all).extracting(ExitedProcess::pid).containsExactly(4343, 4242);
            assertThat(all.get(0).cgroup()).isEqualTo(cg);
            assertThat(all.get(1).cgroup()).isNull();
            // an upsert without a cgroup (taskstats arriving later) keeps the one stored
            s.write(List.of(new ExitedProcess(8, 4343, 1, 1000, 1000, "new", "/bin/new", List.of("new"), 950, 1000,
                    new WaitStatus(0), false, true, true, null, 950_000_000L)));
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, 4343, false, 10)).getFirst().cgroup())
                    .isEqualTo(cg);
        }
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
             java.sql.Statement st = c.createStatement(); java.sql.ResultSet r = st.executeQuery("PRAGMA user_version")) {
            assertThat(r.next()).isTrue();
            assertThat(r.getInt(1)).isEqualTo(2);
        }
    }

    @Test
    void upsertCompletesAnExitInsteadOfAddingOne() throws Exception {
        try (HistoryStore s = HistoryStore.open(dir.resolve("h.db"))) {
            s.write(List.of(exit(10, 1000, 3 << 8, null)));
            Taskstats t = new Taskstats(0, true, 10, 1, 1000, 1000, "job1", new WaitStatus(3 << 8), 0, 0, 0, 0, 1234,
                    56, 0, 0, 2048, 0, 0, 0, 0, 0, 7, 8, 0, 9, 10, 10);
            s.write(List.of(exit(10, 1000, 3 << 8, t)));
            assertThat(s.count()).isEqualTo(1);
            ExitedProcess e = s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, 10, false, 10)).getFirst();
            assertThat(e.taskstats().userMicros()).isEqualTo(1234);
            assertThat(e.status().exitCode()).isEqualTo(3);
            assertThat(e.argv()).containsExactly("job", "a b", ""); // arguments keep their spaces and empties
        }
    }

    @Test
    void queriesFilterByTimeUidNameAndFailure() throws Exception {
        try (HistoryStore s = HistoryStore.open(dir.resolve("h.db"))) {
            List<ExitedProcess> batch = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                batch.add(exit(100 + i, 10_000 + i * 10L, i % 10 == 0 ? 9 : 0, null));
            }
            s.write(batch);
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, false, 5)))
                    .extracting(ExitedProcess::pid).containsExactly(399, 398, 397, 396, 395);
            assertThat(s.query(new HistoryStore.Query(10_000, 10_090, null, null, null, false, 1000))).hasSize(10);
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, true, 1000)))
                    .hasSize(30).allMatch(e -> e.status().signaled());
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, "job0", null, false, 1000)))
                    .allMatch(e -> e.comm().equals("job0")).hasSize(100);
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, 0, null, null, false, 1000))).isEmpty();
        }
    }

    @Test
    void retentionDropsByAgeThenBySize() throws Exception {
        try (HistoryStore s = HistoryStore.open(dir.resolve("h.db"))) {
            List<ExitedProcess> batch = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                batch.add(exit(1000 + i, 1_000_000 + i * 1000L, 0, null));
            }
            s.write(batch);
            // older than 50 s before "now" = the first 40; then at most 30 of the rest
            assertThat(s.retain(1_090_000, 50_000, 1_000)).isEqualTo(40);
            assertThat(s.count()).isEqualTo(60);
            assertThat(s.retain(1_090_000, 50_000, 30)).isEqualTo(30);
            assertThat(s.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, false, 1000)))
                    .extracting(ExitedProcess::pid).hasSize(30).contains(1099).doesNotContain(1069);
        }
    }

    @Test
    void runsLeaveGapsAndKnowHowTheyEnded() throws Exception {
        Path db = dir.resolve("h.db");
        try (HistoryStore s = HistoryStore.open(db)) {
            s.runStarted(1000);
            s.alive(5000); // then killed: no stop recorded
        }
        try (HistoryStore s = HistoryStore.open(db)) {
            s.runStarted(9000);
            s.runStopped(12_000);
        }
        try (HistoryStore s = HistoryStore.open(db)) {
            s.runStarted(20_000);
            assertThat(s.gaps(0, Long.MAX_VALUE)).containsExactly(new HistoryStore.Gap(5000, 9000, false),
                    new HistoryStore.Gap(12_000, 20_000, true));
            assertThat(s.gaps(13_000, 14_000)).containsExactly(new HistoryStore.Gap(12_000, 20_000, true));
            assertThat(s.gaps(21_000, 30_000)).isEmpty();
        }
    }

    @Test
    void aFileThatIsNotADatabaseIsMovedAsideAndANewOneStarted() throws Exception {
        Path junk = dir.resolve("junk.db");
        String text = "this is not a database, just text that is long enough to look like one....";
        Files.writeString(junk, text);
        try (HistoryStore s = HistoryStore.open(junk)) {
            assertThat(s.movedAside()).isNotNull();
            assertThat(s.movedAside().getFileName().toString()).startsWith("junk.db.corrupt-");
            assertThat(Files.readString(s.movedAside())).isEqualTo(text);
            assertThat(s.count()).isZero();
        }
    }
}
