package io.procwatch.store;

import io.procwatch.event.WaitStatus;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

/**
 * Exited processes on disk, in SQLite, so that history survives restarts and reboots. One row per
 * process, keyed by (boot, pid, start): writing the same exit twice (its taskstats arrive later,
 * or a batch is retried) updates the row instead of adding one. The daemon's runs are recorded
 * too, so the time while no daemon was watching is known and shown as a gap.
 *
 * <p>Used by one writer thread and by request threads for queries. They have a connection each
 * (WAL mode: readers do not block the writer, nor it them), each serialized by its own lock, so a
 * client's history query never holds up the writer; queries read in pages (see {@link #page}).
 */
public final class HistoryStore implements AutoCloseable {
    /** A time when no daemon was recording exits. */
    public record Gap(long fromMs, long untilMs, boolean cleanStop) {
    }

    /** What a history query asks for; null for "any". {@code offset} skips that many of the newest matches. */
    public record Query(long sinceMs, long untilMs, Integer uid, String name, Integer pid, boolean failedOnly,
                        int limit, int offset) {
        public Query(long sinceMs, long untilMs, Integer uid, String name, Integer pid, boolean failedOnly, int limit) {
            this(sinceMs, untilMs, uid, name, pid, failedOnly, limit, 0);
        }
    }

    private static final String SEP = "\u0000";

    /**
     * Schema 1: a life is keyed by its start to the nanosecond (start_ns, CLOCK_MONOTONIC of its
     * boot), since several lives of one pid can start within a millisecond; seq numbers the
     * history across daemon runs. Schema 0 keyed by start_ms and had no seq. Schema 2 adds the
     * cgroup an entry exited in (NULL in rows written before: not known); {@link #addCgroup}.
     */
    static final int SCHEMA_VERSION = 2;

    private static final String EXITS_TABLE = """
            CREATE TABLE IF NOT EXISTS %s (
              id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
              boot_id TEXT NOT NULL, pid INTEGER NOT NULL, ppid INTEGER NOT NULL,
              uid INTEGER NOT NULL, gid INTEGER NOT NULL, comm TEXT NOT NULL, exe TEXT NOT NULL,
              argv TEXT NOT NULL, argv_known INTEGER NOT NULL,
              start_ns INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
              status INTEGER, core INTEGER NOT NULL, observed INTEGER NOT NULL, failed INTEGER NOT NULL,
              cpu_user_us INTEGER, cpu_sys_us INTEGER, max_rss_kib INTEGER, read_bytes INTEGER,
              write_bytes INTEGER, nvcsw INTEGER, nivcsw INTEGER, cgroup TEXT,
              UNIQUE (boot_id, pid, start_ns))""";

    /**
     * Schema 1 to 2: the cgroup column, added in place (SQLite's ADD COLUMN rewrites nothing: old
     * rows read it as NULL), so an old database opens at once and stays readable by its rows.
     */
    private static void addCgroup(Statement st) throws SQLException {
        boolean has = false;
        try (ResultSet r = st.executeQuery("PRAGMA table_info(exits)")) {
            while (r.next()) {
                has |= "cgroup".equals(r.getString("name"));
            }
        }
        if (!has) {
            st.execute("ALTER TABLE exits ADD COLUMN cgroup TEXT");
        }
    }

    /** Moves a schema 0 table to schema 1 in one transaction (its rows keep their order; seq = id). */
    private static void migrate(Statement st) throws SQLException {
        int version;
        try (ResultSet r = st.executeQuery("PRAGMA user_version")) {
            version = r.next() ? r.getInt(1) : 0;
        }
        boolean old;
        try (ResultSet r = st.executeQuery("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'exits'")) {
            old = r.next();
        }
        if (version >= SCHEMA_VERSION || !old) {
            return;
        }
        st.execute("BEGIN");
        try {
            st.execute(EXITS_TABLE.formatted("exits_v1"));
            st.execute("""
                    INSERT INTO exits_v1 (id, seq, boot_id, pid, ppid, uid, gid, comm, exe, argv, argv_known,
                      start_ns, start_ms, end_ms, status, core, observed, failed, cpu_user_us, cpu_sys_us,
                      max_rss_kib, read_bytes, write_bytes, nvcsw, nivcsw)
                    SELECT id, id, boot_id, pid, ppid, uid, gid, comm, exe, argv, argv_known,
                      start_ms * 1000000, start_ms, end_ms, status, core, observed, failed, cpu_user_us, cpu_sys_us,
                      max_rss_kib, read_bytes, write_bytes, nvcsw, nivcsw FROM exits""");
            st.execute("DROP TABLE exits");
            st.execute("ALTER TABLE exits_v1 RENAME TO exits");
            st.execute("COMMIT");
        } catch (SQLException e) {
            st.execute("ROLLBACK");
            throw e;
        }
    }

    /** The highest seq stored, or -1 when empty: new entries are numbered after it. */
    public long maxSeq() throws SQLException {
        synchronized (readLock) {
            try (Statement st = reader.createStatement(); ResultSet r = st.executeQuery("SELECT MAX(seq) FROM exits")) {
                if (r.next()) {
                    long v = r.getLong(1);
                    return r.wasNull() ? -1 : v;
                }
                return -1;
            }
        }
    }

    /** The lowest seq stored, or -1 when empty: what retention has not yet dropped. */
    public long minSeq() throws SQLException {
        synchronized (readLock) {
            try (Statement st = reader.createStatement(); ResultSet r = st.executeQuery("SELECT MIN(seq) FROM exits")) {
                if (r.next()) {
                    long v = r.getLong(1);
                    return r.wasNull() ? -1 : v;
                }
                return -1;
            }
        }
    }

    private final Connection db;
    /** For queries: its own connection and lock, never the writer's. */
    private final Connection reader;
    private final Object readLock = new Object();
    private final String bootId;
    private long runId = -1;

    private HistoryStore(Connection db, Connection reader, String bootId) {
        this.db = db;
        this.reader = reader;
        this.bootId = bootId;
    }

    /** Where a corrupt database found at open was moved, or null. */
    private Path movedAside;

    /**
     * Opens (or creates) the database: its files 0600 in a directory of root's (see
     * {@link DbFiles}). A database that SQLite finds corrupt or not a database at all (checked
     * with quick_check at open) is moved aside to {@code NAME.corrupt-<time>}, said on stderr, and
     * a new one started: the daemon runs on rather than exit, and under systemd crash-loop, on
     * the same bad file.
     */
    public static HistoryStore open(Path file) throws IOException {
        Path abs = file.toAbsolutePath();
        boolean empty = !DbFiles.prepare(abs) && Files.size(abs) == 0;
        try {
            HistoryStore s = openChecked(abs);
            if (empty) {
                // not a database we wrote (it would have a header): say so rather than start empty silently
                System.err.println("procwatch daemon: history database " + abs + " was an empty file (0 bytes),"
                        + " not a database; started a new one there");
            }
            return s;
        } catch (CorruptDatabase e) {
            Path aside = DbFiles.moveAside(abs);
            System.err.println("procwatch daemon: history database " + abs + " is corrupt (" + e.getMessage()
                    + "); moved it to " + aside + " (kept for inspection) and started a new, empty database");
            DbFiles.prepare(abs);
            try {
                HistoryStore s = openChecked(abs);
                s.movedAside = aside;
                return s;
            } catch (CorruptDatabase again) {
                throw new IOException("cannot open the history database " + file + ": " + again.getMessage(), again);
            }
        }
    }

    /** The database is damaged or not a database: SQLITE_CORRUPT, SQLITE_NOTADB or a failed quick_check. */
    private static final class CorruptDatabase extends Exception {
        CorruptDatabase(String m, Throwable cause) {
            super(m, cause);
        }
    }

    private static final int SQLITE_CORRUPT = 11;
    private static final int SQLITE_NOTADB = 26;

    private static boolean corrupt(SQLException e) {
        int code = e.getErrorCode() & 0xff; // extended codes carry the primary one in the low byte
        String m = String.valueOf(e.getMessage());
        return code == SQLITE_CORRUPT || code == SQLITE_NOTADB || m.contains("SQLITE_CORRUPT")
                || m.contains("SQLITE_NOTADB");
    }

    private static HistoryStore openChecked(Path file) throws IOException, CorruptDatabase {
        Connection c = null;
        try {
            c = DriverManager.getConnection("jdbc:sqlite:" + file);
            try (Statement st = c.createStatement()) {
                // Reads every page's structure (not the index contents): a damaged page anywhere
                // is found now, not later by a query, as an "internal error" that ends the daemon.
                try (ResultSet r = st.executeQuery("PRAGMA quick_check(3)")) {
                    StringBuilder found = new StringBuilder();
                    while (r.next()) {
                        found.append(found.isEmpty() ? "" : "; ").append(r.getString(1).replace('\n', ' '));
                    }
                    if (!found.toString().equals("ok")) {
                        throw new CorruptDatabase("quick_check: " + found, null);
                    }
                }
                st.execute("PRAGMA journal_mode=WAL");
                st.execute("PRAGMA synchronous=NORMAL"); // WAL: a crash loses at most the last commits, never corrupts
                st.execute("PRAGMA busy_timeout=5000");
                st.execute("PRAGMA cache_size=-" + DbFiles.WRITER_CACHE_KIB);
                migrate(st);
                st.execute(EXITS_TABLE.formatted("exits"));
                addCgroup(st);
                st.execute("CREATE INDEX IF NOT EXISTS exits_end ON exits (end_ms)");
                st.execute("CREATE INDEX IF NOT EXISTS exits_seq ON exits (seq)");
                st.execute("CREATE INDEX IF NOT EXISTS exits_uid ON exits (uid, end_ms)");
                st.execute("CREATE INDEX IF NOT EXISTS exits_comm ON exits (comm, end_ms)");
                st.execute("CREATE INDEX IF NOT EXISTS exits_failed ON exits (failed, end_ms)");
                st.execute("CREATE INDEX IF NOT EXISTS exits_pid ON exits (pid, end_ms)");
                st.execute("PRAGMA user_version = " + SCHEMA_VERSION);
                st.execute("""
                        CREATE TABLE IF NOT EXISTS runs (
                          id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL, pid INTEGER NOT NULL,
                          started_ms INTEGER NOT NULL, alive_ms INTEGER NOT NULL, stopped_ms INTEGER)""");
            }
            Connection r = DriverManager.getConnection("jdbc:sqlite:" + file);
            try (Statement st = r.createStatement()) {
                st.execute("PRAGMA busy_timeout=5000");
                st.execute("PRAGMA query_only=1");
                st.execute("PRAGMA cache_size=-" + DbFiles.READER_CACHE_KIB);
            }
            return new HistoryStore(c, r, bootId());
        } catch (SQLException e) {
            closeQuietly(c);
            if (corrupt(e)) {
                throw new CorruptDatabase(e.getMessage(), e);
            }
            throw new IOException("cannot open the history database " + file + ": " + e.getMessage(), e);
        } catch (CorruptDatabase e) {
            closeQuietly(c);
            throw e;
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing a connection we give up on
            }
        }
    }

    /** Where a corrupt database found at open was moved (NAME.corrupt-TIME), or null. */
    public Path movedAside() {
        return movedAside;
    }

    /** This boot's identity: pids and start times repeat across boots, never within one. */
    static String bootId() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Records that a daemon started watching now. */
    public synchronized void runStarted(long nowMs) throws SQLException {
        try (PreparedStatement ps = db.prepareStatement(
                "INSERT INTO runs (boot_id, pid, started_ms, alive_ms) VALUES (?, ?, ?, ?)",
                Statement.RETURN_GENERATED_KEYS)) {
            ps.setString(1, bootId);
            ps.setLong(2, ProcessHandle.current().pid());
            ps.setLong(3, nowMs);
            ps.setLong(4, nowMs);
            ps.executeUpdate();
            try (ResultSet k = ps.getGeneratedKeys()) {
                runId = k.next() ? k.getLong(1) : -1;
            }
        }
    }

    /** Moves this run's "still watching" time forward (a killed daemon's gap starts there). */
    public synchronized void alive(long nowMs) throws SQLException {
        try (PreparedStatement ps = db.prepareStatement("UPDATE runs SET alive_ms = ? WHERE id = ?")) {
            ps.setLong(1, nowMs);
            ps.setLong(2, runId);
            ps.executeUpdate();
        }
    }

    public synchronized void runStopped(long nowMs) throws SQLException {
        try (PreparedStatement ps = db.prepareStatement("UPDATE runs SET alive_ms = ?, stopped_ms = ? WHERE id = ?")) {
            ps.setLong(1, nowMs);
            ps.setLong(2, nowMs);
            ps.setLong(3, runId);
            ps.executeUpdate();
        }
    }

    /** Writes (or completes) these exits in one transaction. */
    public synchronized void write(List<ExitedProcess> batch) throws SQLException {
        if (batch.isEmpty()) {
            return;
        }
        boolean auto = db.getAutoCommit();
        db.setAutoCommit(false);
        try (PreparedStatement ps = db.prepareStatement("""
                INSERT INTO exits (seq, boot_id, pid, ppid, uid, gid, comm, exe, argv, argv_known, start_ns,
                  start_ms, end_ms, status, core, observed, failed, cpu_user_us, cpu_sys_us, max_rss_kib,
                  read_bytes, write_bytes, nvcsw, nivcsw, cgroup)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (boot_id, pid, start_ns) DO UPDATE SET
                  comm = excluded.comm, core = excluded.core, cpu_user_us = excluded.cpu_user_us,
                  cpu_sys_us = excluded.cpu_sys_us, max_rss_kib = excluded.max_rss_kib,
                  read_bytes = excluded.read_bytes, write_bytes = excluded.write_bytes,
                  nvcsw = excluded.nvcsw, nivcsw = excluded.nivcsw,
                  cgroup = COALESCE(excluded.cgroup, cgroup)""")) {
            for (ExitedProcess e : batch) {
                int i = 1;
                ps.setLong(i++, e.seq());
                ps.setString(i++, bootId);
                ps.setInt(i++, e.pid());
                ps.setInt(i++, e.ppid());
                ps.setInt(i++, e.uid());
                ps.setInt(i++, e.gid());
                ps.setString(i++, e.comm());
                ps.setString(i++, e.exe());
                ps.setString(i++, String.join(SEP, e.argv()));
                ps.setInt(i++, e.argvKnown() ? 1 : 0);
                ps.setLong(i++, e.startNs());
                ps.setLong(i++, e.startEpochMs());
                ps.setLong(i++, e.endEpochMs());
                if (e.status() == null) {
                    ps.setNull(i++, Types.INTEGER);
                } else {
                    ps.setInt(i++, e.status().raw());
                }
                ps.setInt(i++, e.coreDumped() ? 1 : 0);
                ps.setInt(i++, e.exitObserved() ? 1 : 0);
                ps.setInt(i++, e.failed() || !e.exitObserved() ? 1 : 0);
                Taskstats t = e.taskstats();
                long[] ts = t == null ? null : new long[] {t.userMicros(), t.systemMicros(), t.hiwaterRssKiB(),
                        t.readBytes(), t.writeBytes(), t.voluntarySwitches(), t.involuntarySwitches()};
                for (int k = 0; k < 7; k++) {
                    if (ts == null) {
                        ps.setNull(i++, Types.INTEGER);
                    } else {
                        ps.setLong(i++, ts[k]);
                    }
                }
                ps.setString(i++, e.cgroup());
                ps.addBatch();
            }
            ps.executeBatch();
            if (runId >= 0) {
                try (PreparedStatement alive = db.prepareStatement("UPDATE runs SET alive_ms = ? WHERE id = ?")) {
                    alive.setLong(1, System.currentTimeMillis());
                    alive.setLong(2, runId);
                    alive.executeUpdate();
                }
            }
            db.commit();
        } catch (SQLException e) {
            db.rollback();
            throw e;
        } finally {
            db.setAutoCommit(auto);
        }
    }

    /** Newest first, at most {@code q.limit()}. */
    public List<ExitedProcess> query(Query q) throws SQLException {
        // no time bound: the seq index gives the newest directly; through the end_ms index SQLite
        // sorted every row first (the daemon's start-up restore of the newest 10,000 took 5.5 s
        // on a database of 1.8 M exits, 0.5 ms this way)
        boolean unbounded = q.sinceMs() <= 0 && q.untilMs() == Long.MAX_VALUE;
        return select(q, Long.MIN_VALUE, Long.MAX_VALUE, false, unbounded);
    }

    /**
     * One page of a query by seq instead of offset: at most {@code q.limit()} rows with
     * {@code fromSeq <= seq < untilSeq}, newest first or (ascending) oldest first. A caller pages
     * on by moving the bound past the last row it got; it never holds more than a page.
     */
    public List<ExitedProcess> page(Query q, long fromSeq, long untilSeq, boolean ascending) throws SQLException {
        return select(q, fromSeq, untilSeq, ascending, true);
    }

    private List<ExitedProcess> select(Query q, long fromSeq, long untilSeq, boolean ascending, boolean bySeq)
            throws SQLException {
        // Paging by seq: "+end_ms" keeps SQLite off the end_ms index, which would make it sort the
        // whole time range for every page; the seq index gives the order and the page directly.
        StringBuilder sql = new StringBuilder(bySeq ? "SELECT * FROM exits WHERE +end_ms >= ? AND +end_ms <= ?"
                : "SELECT * FROM exits WHERE end_ms >= ? AND end_ms <= ?");
        List<Object> args = new ArrayList<>(List.of(q.sinceMs(), q.untilMs()));
        if (q.uid() != null) {
            sql.append(" AND uid = ?");
            args.add(q.uid());
        }
        if (q.name() != null) {
            sql.append(" AND comm = ?");
            args.add(q.name());
        }
        if (q.pid() != null) {
            sql.append(" AND pid = ?");
            args.add(q.pid());
        }
        if (q.failedOnly()) {
            sql.append(" AND failed = 1");
        }
        if (fromSeq != Long.MIN_VALUE) {
            sql.append(" AND seq >= ?");
            args.add(fromSeq);
        }
        if (untilSeq != Long.MAX_VALUE) {
            sql.append(" AND seq < ?");
            args.add(untilSeq);
        }
        sql.append(ascending ? " ORDER BY seq ASC" : " ORDER BY seq DESC").append(" LIMIT ? OFFSET ?");
        args.add(q.limit());
        args.add(q.offset());
        synchronized (readLock) {
            try (PreparedStatement ps = reader.prepareStatement(sql.toString())) {
                for (int i = 0; i < args.size(); i++) {
                    ps.setObject(i + 1, args.get(i));
                }
                List<ExitedProcess> out = new ArrayList<>();
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        out.add(row(r));
                    }
                }
                return out;
            }
        }
    }

    private static ExitedProcess row(ResultSet r) throws SQLException {
        String argv = r.getString("argv");
        List<String> args = argv.isEmpty() ? List.of() : List.of(argv.split(SEP, -1));
        int status = r.getInt("status");
        WaitStatus ws = r.wasNull() ? null : new WaitStatus(status);
        Taskstats t = null;
        long user = r.getLong("cpu_user_us");
        if (!r.wasNull()) {
            t = new Taskstats(0, true, r.getInt("pid"), r.getInt("ppid"), r.getInt("uid"), r.getInt("gid"),
                    r.getString("comm"), ws, 0, 0, 0, 0, user, r.getLong("cpu_sys_us"), 0, 0,
                    r.getLong("max_rss_kib"), 0, 0, 0, 0, 0, r.getLong("read_bytes"), r.getLong("write_bytes"), 0,
                    r.getLong("nvcsw"), r.getLong("nivcsw"), r.getInt("pid"));
        }
        return new ExitedProcess(r.getLong("seq"), r.getInt("pid"), r.getInt("ppid"), r.getInt("uid"), r.getInt("gid"),
                r.getString("comm"), r.getString("exe"), args, r.getLong("start_ms"), r.getLong("end_ms"), ws,
                r.getInt("core") != 0, r.getInt("observed") != 0, r.getInt("argv_known") != 0, t, r.getLong("start_ns"),
                r.getString("cgroup"));
    }

    /**
     * The times between two daemon runs that overlap [since, until]: from when the earlier run was
     * last seen alive (or stopped) to when the next one started.
     */
    public List<Gap> gaps(long sinceMs, long untilMs) throws SQLException {
        synchronized (readLock) {
            return gapsLocked(sinceMs, untilMs);
        }
    }

    private List<Gap> gapsLocked(long sinceMs, long untilMs) throws SQLException {
        List<Gap> out = new ArrayList<>();
        try (Statement st = reader.createStatement();
             ResultSet r = st.executeQuery("SELECT started_ms, alive_ms, stopped_ms FROM runs ORDER BY started_ms")) {
            long prevEnd = -1;
            boolean prevClean = false;
            while (r.next()) {
                long started = r.getLong(1);
                if (prevEnd >= 0 && started > prevEnd && started >= sinceMs && prevEnd <= untilMs) {
                    out.add(new Gap(prevEnd, started, prevClean));
                }
                long stopped = r.getLong(3);
                prevClean = !r.wasNull();
                prevEnd = prevClean ? stopped : r.getLong(2);
            }
        }
        return out;
    }

    /** Deletes exits older than {@code maxAgeMs} and beyond the newest {@code maxRows}; returns how many. */
    public synchronized int retain(long nowMs, long maxAgeMs, long maxRows) throws SQLException {
        int n = 0;
        try (PreparedStatement ps = db.prepareStatement("DELETE FROM exits WHERE end_ms < ?")) {
            ps.setLong(1, nowMs - maxAgeMs);
            n += ps.executeUpdate();
        }
        try (PreparedStatement ps = db.prepareStatement(
                "DELETE FROM exits WHERE id <= (SELECT id FROM exits ORDER BY id DESC LIMIT 1 OFFSET ?)")) {
            ps.setLong(1, maxRows);
            n += ps.executeUpdate();
        }
        return n;
    }

    public long count() throws SQLException {
        synchronized (readLock) {
            try (Statement st = reader.createStatement(); ResultSet r = st.executeQuery("SELECT count(*) FROM exits")) {
                return r.next() ? r.getLong(1) : 0;
            }
        }
    }

    @Override
    public synchronized void close() {
        try {
            db.close();
        } catch (SQLException ignored) {
            // closing
        }
        synchronized (readLock) {
            try {
                reader.close();
            } catch (SQLException ignored) {
                // closing
            }
        }
    }
}
