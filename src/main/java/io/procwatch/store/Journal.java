package io.procwatch.store;

import io.procwatch.event.WaitStatus;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.sink.JournalSource;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.JournalCodec;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.ProcessTable;
import io.procwatch.table.TableEvent;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * The event journal (issue #17): every change of the live table, in order, so that the table at
 * any past instant can be rebuilt (`ps --at`). Kept in the history database's own SQLite file
 * (tables {@code journal}, {@code journal_gaps}, {@code journal_meta}; one file to place, protect
 * and back up), on connections of its own. Design and numbers: docs/journal.md.
 *
 * <ul>
 *   <li>The table's {@link ProcessTable.ChangeTap} queues each row change (before, after, the
 *       kernel event's time) on the thread that made it; nothing else happens there. A full queue
 *       drops the change, counts it, and forces a checkpoint at the next flush.</li>
 *   <li>{@link #flush} runs on the history writer thread (HistoryWriter) every ~250 ms: it encodes
 *       what was queued into entries with increasing sequence numbers and writes them in one
 *       transaction. A change of anything an event maintains (parent, ids, session, program, name,
 *       tracer, exit) is an entry at once, with the event's time; a change of sampled fields only
 *       (CPU, memory, state) is held per process and written at most every sample interval.</li>
 *   <li>Every checkpoint interval (and after a loss, a dropped change, or at start) a checkpoint
 *       entry holds the whole table, deflated, so a query replays at most one interval.</li>
 *   <li>Gaps: at start, the time from the previous run's last sign of life to this run's first
 *       checkpoint; while kernel events were lost, from the loss to the rescan that repaired the
 *       table. An instant inside one is answered with the gap, never a guess.</li>
 * </ul>
 */
public final class Journal implements JournalSource, AutoCloseable {
    /** Entry kinds (column {@code kind}). */
    static final int NEW = 1, CHANGE = 2, SAMPLE = 3, REMOVE = 4, CHECKPOINT = 5, GAP = 6, EXITED = 7;
    /**
     * When the sampled values the journal holds for some rows were last read from /proc (the
     * sampler found them unchanged, so no SAMPLE was written): what ps --at's sampled_age_ms is
     * made of. Body: {@link #encodeConfirm}.
     */
    static final int CONFIRM = 8;
    /** A CONFIRM body inflates to at most this (10,000 rows are ~15 KB). */
    private static final int MAX_CONFIRM_BYTES = 16 << 20;
    /** A checkpoint inflates to at most this (a 10,000-process table is ~1.5 MB): a bad blob cannot take the heap. */
    private static final int MAX_CHECKPOINT_BYTES = 256 << 20;
    private static final int QUEUE = 1 << 18;

    /**
     * @param checkpointMs how often the whole table is written (a query replays at most this long)
     * @param sampleMs     how often sampled fields of processes that changed are written
     * @param maxAgeMs     entries older than this are dropped (checkpoint by checkpoint)
     * @param maxBytes     and the oldest while the entries' bytes are above this
     */
    public record Settings(long checkpointMs, long sampleMs, long maxAgeMs, long maxBytes, long checkpointEntries) {
        /**
         * Entries between two checkpoints at most, whatever the time: what bounds the replay of a
         * query (JournalBench: ps --at latency grows with the entries replayed, ~4 µs each on a
         * busy 2-core machine, so a storm of 1,000 entries/s would otherwise replay 300,000).
         */
        public static final long CHECKPOINT_ENTRIES = 20_000;

        public Settings(long checkpointMs, long sampleMs, long maxAgeMs, long maxBytes) {
            this(checkpointMs, sampleMs, maxAgeMs, maxBytes, CHECKPOINT_ENTRIES);
        }

        public static Settings defaults() {
            return new Settings(300_000, 10_000, 7L * 86_400_000L, 1L << 30);
        }
    }

    /** Why an instant cannot be answered: a gap, or outside what the journal holds. */
    public static final class Unanswerable extends Exception {
        public Unanswerable(String m) {
            super(m);
        }
    }

    private record Change(long wallMs, long eventNs, ProcessInfo old, ProcessInfo now, ProcessInfo parent) {
    }

    private record Marker(long wallMs, TableEvent event) {
    }

    private record Pending(ProcessInfo row, long ms) {
    }

    /**
     * What the journal has written of a pid's row as of the last drained change: that row (the
     * same object the table held), and when the sampled values the journal holds for it were
     * read ({@code asOfMs}, -1 not known to a replay). A CONFIRM is written for the row only while
     * the table still holds that very object: a newer row not yet drained is not vouched for.
     */
    private static final class Seen {
        ProcessInfo row;
        long asOfMs;

        Seen(ProcessInfo row, long asOfMs) {
            this.row = row;
            this.asOfMs = asOfMs;
        }
    }

    private final Connection db;
    private final Connection reader;
    private final Object readLock = new Object();
    private final Settings settings;
    /** Linked: empty at rest, where an array of QUEUE slots would hold 1 MiB of heap (see HistoryWriter). */
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>(QUEUE);
    private final Map<Integer, Pending> pendingSamples = new LinkedHashMap<>();
    private final Map<Integer, Seen> seen = new java.util.HashMap<>();
    /** System.nanoTime() of the read a row's sampled values were last known current by (Sampler.sampledAt), 0 never; null: no CONFIRM entries. */
    private java.util.function.ToLongFunction<ProcessInfo> sampledAtNanos;
    private ProcessTable table;
    private long nextSeq;
    private long totalBytes;
    private long lastCheckpointMs;
    private long lastSampleMs;
    private long lastAliveWriteMs;
    private long lastRetentionMs;
    private boolean checkpointDue = true;
    /** Replayable entries (NEW, CHANGE, SAMPLE, REMOVE) written since the last checkpoint. */
    private long entriesSinceCheckpoint;
    /**
     * How late an entry was written at most, after its own time (the queue, the writer's batches,
     * samples held for the sample interval): entries of an instant can follow a checkpoint written
     * after it by this much, so a replay reads on that far. Kept in journal_meta ('lag_ms').
     */
    private long maxLagMs;
    /** The previous run's last sign of life (or -1): the gap closes at this run's first checkpoint. */
    private long previousAliveMs;
    private long lossStartMs = -1;
    private long lostInGap;
    /** Everything queued before this wall time is on disk. */
    private volatile long flushedUntilMs;
    public final LongAdder entries = new LongAdder();
    public final LongAdder bytes = new LongAdder();
    public final LongAdder dropped = new LongAdder();
    /** The highest history seq of an exit queued here (or dropped, which records a gap); see HistoryWriter. */
    private volatile long exitSeqQueued = -1;
    /** Every exit up to this history seq is committed here (or was dropped, and a gap says so). */
    private volatile long exitSeqCommitted = -1;
    public final LongAdder checkpoints = new LongAdder();
    public final LongAdder retired = new LongAdder();

    private Journal(Connection db, Connection reader, Settings settings) {
        this.db = db;
        this.reader = reader;
        this.settings = settings;
    }

    /** Opens the journal in the history database file (which HistoryStore.open has prepared). */
    public static Journal open(Path file, Settings settings) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        try (Statement st = c.createStatement()) {
            st.execute("PRAGMA journal_mode=WAL");
            st.execute("PRAGMA synchronous=NORMAL");
            st.execute("PRAGMA busy_timeout=5000");
            st.execute("PRAGMA cache_size=-" + DbFiles.WRITER_CACHE_KIB);
            st.execute("""
                    CREATE TABLE IF NOT EXISTS journal (
                      seq INTEGER PRIMARY KEY, ms INTEGER NOT NULL, kind INTEGER NOT NULL,
                      pid INTEGER NOT NULL, body BLOB NOT NULL)""");
            st.execute("CREATE INDEX IF NOT EXISTS journal_kind_ms ON journal (kind, ms)");
            st.execute("""
                    CREATE TABLE IF NOT EXISTS journal_gaps (
                      from_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL, lost INTEGER NOT NULL,
                      reason TEXT NOT NULL)""");
            st.execute("CREATE TABLE IF NOT EXISTS journal_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        Connection r = null;
        try {
            r = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement st = r.createStatement()) {
                st.execute("PRAGMA busy_timeout=5000");
                st.execute("PRAGMA query_only=1");
                st.execute("PRAGMA cache_size=-" + DbFiles.READER_CACHE_KIB);
            }
            return load(new Journal(c, r, settings));
        } catch (SQLException | RuntimeException e) {
            // neither connection is left open when the journal cannot be opened
            if (r != null) {
                r.close();
            }
            c.close();
            throw e;
        }
    }

    private static Journal load(Journal j) throws SQLException {
        Connection c = j.db;
        try (Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT MAX(seq), COALESCE(SUM(length(body)), 0) FROM journal")) {
                rs.next();
                long max = rs.getLong(1);
                j.nextSeq = rs.wasNull() ? 1 : max + 1;
                j.totalBytes = rs.getLong(2);
            }
            try (ResultSet rs = st.executeQuery("SELECT v FROM journal_meta WHERE k = 'alive_ms'")) {
                j.previousAliveMs = rs.next() ? rs.getLong(1) : -1;
            }
            try (ResultSet rs = st.executeQuery("SELECT v FROM journal_meta WHERE k = 'lag_ms'")) {
                j.maxLagMs = rs.next() ? Math.max(0, rs.getLong(1)) : 0;
            }
        }
        return j;
    }

    /** Starts journaling {@code t}'s changes; the first flush writes a checkpoint of it. */
    public void attach(ProcessTable t) {
        attach(t, null);
    }

    /**
     * As {@link #attach(ProcessTable)}, and with when each row's sampled values were last known
     * current (the sampler's confirmations included), so ps --at can say how old they are.
     */
    public void attach(ProcessTable t, java.util.function.ToLongFunction<ProcessInfo> sampledAtNanos) {
        this.sampledAtNanos = sampledAtNanos;
        this.table = t;
        t.setChangeTap((eventNs, old, now) -> {
            ProcessInfo parent = old == null && now != null ? t.get(now.ppid()) : null;
            if (!queue.offer(new Change(System.currentTimeMillis(), eventNs, old, now, parent))) {
                dropped.increment();
            }
        });
        t.addListener(ev -> {
            if (ev instanceof TableEvent.Lost || ev instanceof TableEvent.Resynced || ev instanceof TableEvent.Exited) {
                if (!queue.offer(new Marker(System.currentTimeMillis(), ev))) {
                    dropped.increment();
                }
                if (ev instanceof TableEvent.Exited x && x.exited().seq() > exitSeqQueued) {
                    exitSeqQueued = x.exited().seq(); // only this listener writes it
                }
            }
        });
    }

    /**
     * The history seq up to which every exit published to this journal is committed (or was
     * dropped from its full queue, which a gap entry reports): what the history writer may store
     * without getting ahead of the fleet topic. Long.MAX_VALUE before a table is attached.
     */
    public long exitSeqCommitted() {
        return table == null ? Long.MAX_VALUE : exitSeqCommitted;
    }

    private static long timeOf(long eventNs, long wallMs) {
        return eventNs > 0 ? SystemInfo.monotonicToEpochMillis(eventNs) : wallMs;
    }

    // ---- writing (the history writer thread) --------------------------------------------------

    private record Row(long ms, int kind, int pid, byte[] body) {
    }

    /** Writes what was queued; called by the history writer thread. */
    public void flush(long nowMs) throws SQLException {
        if (table == null) {
            return;
        }
        long drainedAt = System.currentTimeMillis();
        // read before the drain: the listener queues an exit before it raises exitSeqQueued
        long exitsUpTo = exitSeqQueued;
        List<Object> items = new ArrayList<>();
        queue.drainTo(items, 200_000);
        if (!queue.isEmpty()) {
            exitsUpTo = exitSeqCommitted; // not all drained: this batch may not hold every exit up to it
        }
        List<Row> out = new ArrayList<>();
        long droppedNow = dropped.sum();
        for (Object o : items) {
            if (o instanceof Change c) {
                change(c, out);
            } else if (o instanceof Marker m) {
                marker(m, out);
            }
        }
        if (droppedNow > droppedSeen) {
            // changes are missing: only a new checkpoint makes later answers right, and an instant
            // from the last batch on disk to that checkpoint has no right answer: a gap
            if (dropGapFromMs < 0) {
                dropGapFromMs = lastWrittenMs > 0 ? lastWrittenMs : nowMs;
            }
            dropsInGap += droppedNow - droppedSeen;
            droppedSeen = droppedNow;
            checkpointDue = true;
        }
        // every half interval: a value read by a sampler running at least that often is never
        // older than one interval at any instant (ps --at marks older ones)
        boolean sampleDue = nowMs - lastSampleMs >= Math.max(1, settings.sampleMs() / 2);
        if (sampleDue) {
            flushSamples(out);
            lastSampleMs = nowMs;
        }
        long lag = 0;
        for (Row r : out) {
            if (r.kind() <= REMOVE) {
                entriesSinceCheckpoint++;
                lag = Math.max(lag, drainedAt - r.ms());
            }
        }
        if (checkpointDue || nowMs - lastCheckpointMs >= settings.checkpointMs()
                || entriesSinceCheckpoint >= settings.checkpointEntries()) {
            flushSamples(out);
            List<ProcessInfo> rows = new ArrayList<>(table.all());
            out.add(new Row(nowMs, CHECKPOINT, 0, JournalCodec.checkpoint(rows)));
            checkpoints.increment();
            if (dropGapFromMs >= 0) {
                out.add(gapRow(dropGapFromMs, nowMs, dropsInGap, "the journal's queue was full or a write failed: changes were dropped"));
                dropGapFromMs = -1;
                dropsInGap = 0;
            }
            if (previousAliveMs >= 0) {
                // the previous run's end to this run's first complete table
                out.add(gapRow(previousAliveMs, nowMs, -1, "no daemon was running"));
                previousAliveMs = -1;
            }
            checkpointDue = false;
            lastCheckpointMs = nowMs;
            entriesSinceCheckpoint = 0;
            // a replay from this checkpoint holds exactly these rows and knows no read times:
            // the CONFIRM below gives them
            seen.clear();
            for (ProcessInfo p : rows) {
                seen.put(p.pid(), new Seen(p, -1));
            }
            sampleDue = true;
        }
        if (sampleDue) {
            confirm(out, nowMs);
        }
        boolean alive = nowMs - lastAliveWriteMs >= 1000;
        if (out.isEmpty() && !alive) {
            flushedUntilMs = drainedAt;
            lastWrittenMs = nowMs;
            exitSeqCommitted = Math.max(exitSeqCommitted, exitsUpTo);
            return;
        }
        write(out, nowMs, lag > maxLagMs ? lag : -1);
        flushedUntilMs = drainedAt;
        lastWrittenMs = nowMs;
        exitSeqCommitted = Math.max(exitSeqCommitted, exitsUpTo);
        if (nowMs - lastRetentionMs >= 60_000) {
            retain(nowMs);
            lastRetentionMs = nowMs;
        }
    }

    private long droppedSeen;
    /** Since when changes may be missing (dropped, or a failed write), until the next checkpoint; -1 none. */
    private long dropGapFromMs = -1;
    private long dropsInGap;
    /** The drain time of the last batch written: everything queued before it is on disk. */
    private long lastWrittenMs;

    private void change(Change c, List<Row> out) {
        long ms = timeOf(c.eventNs(), c.wallMs());
        if (c.now() == null) {
            seen.remove(c.old().pid());
            flushSample(c.old().pid(), out);
            JournalCodec.Out b = new JournalCodec.Out();
            b.zigzag(c.old().startNs());
            out.add(new Row(ms, REMOVE, c.old().pid(), b.bytes()));
        } else if (c.old() == null) {
            seen.put(c.now().pid(), new Seen(c.now(), -1)); // a replay knows no read time of a NEW row
            flushSample(c.now().pid(), out);
            out.add(new Row(ms, NEW, c.now().pid(), JournalCodec.full(c.now(), c.parent())));
        } else if (JournalCodec.identityChange(c.old(), c.now())) {
            Seen v = seen.get(c.now().pid());
            seen.put(c.now().pid(), new Seen(c.now(), v == null ? -1 : v.asOfMs));
            flushSample(c.now().pid(), out);
            for (byte[] b : JournalCodec.changes(c.old(), c.now())) {
                out.add(new Row(ms, CHANGE, c.now().pid(), b));
            }
        } else if (c.old().startNs() == c.now().startNs()) {
            pendingSamples.put(c.now().pid(), new Pending(c.now(), ms));
            seen.put(c.now().pid(), new Seen(c.now(), ms)); // a replay dates a SAMPLE by its ms
        }
    }

    /**
     * A CONFIRM entry for the rows whose sampled values the sampler has read (or found
     * unchanged) since the journal last dated them: only rows the table still holds as drained,
     * so the values a replay has for them are the ones that read saw.
     */
    private void confirm(List<Row> out, long nowMs) {
        if (sampledAtNanos == null) {
            return;
        }
        long nanoNow = System.nanoTime();
        long wallNow = System.currentTimeMillis();
        java.util.TreeMap<Long, List<Integer>> byAge = new java.util.TreeMap<>();
        for (ProcessInfo p : table.all()) {
            Seen v = seen.get(p.pid());
            if (v == null || v.row != p || p.leaderExited()) {
                continue;
            }
            long at = sampledAtNanos.applyAsLong(p);
            if (at == 0) {
                continue;
            }
            long atMs = wallNow - (nanoNow - at) / 1_000_000;
            if (atMs <= v.asOfMs) {
                continue;
            }
            v.asOfMs = atMs;
            byAge.computeIfAbsent(Math.max(0, nowMs - atMs), k -> new ArrayList<>()).add(p.pid());
        }
        if (!byAge.isEmpty()) {
            out.add(new Row(nowMs, CONFIRM, 0, encodeConfirm(byAge)));
        }
    }

    /**
     * A CONFIRM body: 0 then the payload, or 1 then it deflated (when that is smaller). Payload:
     * the number of groups; per group the age in ms (the entry's ms minus the read time), the
     * number of pids, the pids ascending as differences. The rows one sampler pass confirmed share
     * an age, so a pass over 10,000 processes is about one byte per process before deflating.
     */
    static byte[] encodeConfirm(java.util.SortedMap<Long, List<Integer>> byAge) {
        JournalCodec.Out o = new JournalCodec.Out();
        o.varint(byAge.size());
        for (Map.Entry<Long, List<Integer>> e : byAge.entrySet()) {
            List<Integer> pids = new ArrayList<>(e.getValue());
            pids.sort(null);
            o.varint(e.getKey());
            o.varint(pids.size());
            int prev = 0;
            for (int pid : pids) {
                o.varint(pid - prev);
                prev = pid;
            }
        }
        byte[] raw = o.bytes();
        JournalCodec.Out b = new JournalCodec.Out();
        byte[] d = raw.length > 256 ? JournalCodec.deflate(raw) : null;
        if (d != null && d.length < raw.length) {
            b.varint(1);
            b.raw(d);
        } else {
            b.varint(0);
            b.raw(raw);
        }
        return b.bytes();
    }

    /** Reads a CONFIRM body into {@code into} (pid to read time, ms); bounds-checked like every entry. */
    static void decodeConfirm(long entryMs, byte[] body, Map<Integer, Long> into) {
        JournalCodec.In head = new JournalCodec.In(body);
        long mode = head.varint();
        byte[] rest = java.util.Arrays.copyOfRange(body, body.length - head.remaining(), body.length);
        if (mode == 1) {
            rest = JournalCodec.inflate(rest, MAX_CONFIRM_BYTES);
        } else if (mode != 0) {
            throw new IllegalArgumentException("unknown CONFIRM encoding");
        }
        JournalCodec.In in = new JournalCodec.In(rest);
        long groups = in.varint();
        if (groups < 0 || groups > in.remaining()) {
            throw new IllegalArgumentException("bad CONFIRM group count");
        }
        for (long g = 0; g < groups; g++) {
            long age = in.varint();
            long n = in.varint();
            if (age < 0 || n < 0 || n > in.remaining()) {
                throw new IllegalArgumentException("bad CONFIRM group");
            }
            long pid = 0;
            for (long i = 0; i < n; i++) {
                pid += in.varint();
                if (pid <= 0 || pid > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("bad CONFIRM pid");
                }
                into.put((int) pid, entryMs - age);
            }
        }
        if (in.remaining() != 0) {
            throw new IllegalArgumentException("trailing bytes in a CONFIRM entry");
        }
    }

    private void flushSample(int pid, List<Row> out) {
        Pending p = pendingSamples.remove(pid);
        if (p != null) {
            out.add(new Row(p.ms(), SAMPLE, pid, JournalCodec.sample(p.row())));
        }
    }

    private void flushSamples(List<Row> out) {
        for (Map.Entry<Integer, Pending> e : pendingSamples.entrySet()) {
            out.add(new Row(e.getValue().ms(), SAMPLE, e.getKey(), JournalCodec.sample(e.getValue().row())));
        }
        pendingSamples.clear();
    }

    private void marker(Marker m, List<Row> out) {
        switch (m.event()) {
            case TableEvent.Lost l -> {
                long ms = timeOf(l.timestampNs(), m.wallMs());
                if (lossStartMs < 0) {
                    lossStartMs = ms;
                }
                lostInGap += Math.max(0, l.loss().lostEvents());
            }
            case TableEvent.Resynced r -> {
                if (lossStartMs >= 0) {
                    out.add(gapRow(lossStartMs, m.wallMs(), lostInGap, "kernel events were lost"));
                    lossStartMs = -1;
                    lostInGap = 0;
                }
                checkpointDue = true;
            }
            case TableEvent.Exited x -> out.add(new Row(timeOf(x.timestampNs(), x.exited().endEpochMs()), EXITED,
                    x.exited().pid(), encodeExited(x.exited())));
            default -> {
            }
        }
    }

    private Row gapRow(long fromMs, long untilMs, long lost, String reason) {
        JournalCodec.Out b = new JournalCodec.Out();
        b.zigzag(fromMs);
        b.zigzag(untilMs);
        b.zigzag(lost);
        b.string(reason);
        return new Row(untilMs, GAP, 0, b.bytes());
    }

    private void write(List<Row> rows, long nowMs, long newLagMs) throws SQLException {
        boolean auto = db.getAutoCommit();
        db.setAutoCommit(false);
        long seq = nextSeq;
        long added = 0;
        try {
            try (PreparedStatement ps = db.prepareStatement(
                    "INSERT INTO journal (seq, ms, kind, pid, body) VALUES (?, ?, ?, ?, ?)");
                 PreparedStatement gap = db.prepareStatement(
                         "INSERT INTO journal_gaps (from_ms, until_ms, lost, reason) VALUES (?, ?, ?, ?)")) {
                for (Row r : rows) {
                    ps.setLong(1, seq++);
                    ps.setLong(2, r.ms());
                    ps.setInt(3, r.kind());
                    ps.setInt(4, r.pid());
                    ps.setBytes(5, r.body());
                    ps.addBatch();
                    added += r.body().length;
                    if (r.kind() == GAP) {
                        JournalCodec.In in = new JournalCodec.In(r.body());
                        gap.setLong(1, in.zigzag());
                        gap.setLong(2, in.zigzag());
                        gap.setLong(3, in.zigzag());
                        gap.setString(4, in.string());
                        gap.executeUpdate();
                    }
                }
                ps.executeBatch();
            }
            try (PreparedStatement ps = db.prepareStatement(
                    "INSERT INTO journal_meta (k, v) VALUES ('alive_ms', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v")) {
                ps.setLong(1, nowMs);
                ps.executeUpdate();
            }
            if (newLagMs >= 0) {
                try (PreparedStatement ps = db.prepareStatement(
                        "INSERT INTO journal_meta (k, v) VALUES ('lag_ms', ?) ON CONFLICT (k) DO UPDATE SET v = MAX(v, excluded.v)")) {
                    ps.setLong(1, newLagMs);
                    ps.executeUpdate();
                }
            }
            db.commit();
            if (newLagMs >= 0) {
                maxLagMs = newLagMs;
            }
            nextSeq = seq;
            totalBytes += added;
            entries.add(rows.size());
            bytes.add(added);
            lastAliveWriteMs = nowMs;
            Runnable c = committed;
            if (c != null && !rows.isEmpty()) {
                c.run(); // the Kafka sink reads them now rather than at its next poll
            }
        } catch (SQLException e) {
            db.rollback();
            dropped.add(rows.size()); // not retried: the next checkpoint (forced) makes later answers right
            checkpointDue = true;
            throw e;
        } finally {
            db.setAutoCommit(auto);
        }
    }

    /** Drops whole checkpoint intervals: older than the age limit, then the oldest while over the size. */
    synchronized void retain(long nowMs) throws SQLException {
        long cut = -1;
        try (PreparedStatement ps = db.prepareStatement(
                "SELECT MAX(seq) FROM journal WHERE kind = " + CHECKPOINT + " AND ms <= ?")) {
            ps.setLong(1, nowMs - settings.maxAgeMs());
            try (ResultSet r = ps.executeQuery()) {
                if (r.next()) {
                    cut = r.getLong(1);
                    if (r.wasNull()) {
                        cut = -1;
                    }
                }
            }
        }
        if (cut > 0) {
            dropBefore(cut);
        }
        while (totalBytes > settings.maxBytes()) {
            long next;
            try (Statement st = db.createStatement(); ResultSet r = st.executeQuery(
                    "SELECT seq FROM journal WHERE kind = " + CHECKPOINT + " ORDER BY seq LIMIT 1 OFFSET 1")) {
                if (!r.next()) {
                    break; // only the newest checkpoint's interval is left: kept, whatever its size
                }
                next = r.getLong(1);
            }
            dropBefore(next);
        }
    }

    private void dropBefore(long seq) throws SQLException {
        long gone;
        int n;
        try (PreparedStatement ps = db.prepareStatement("SELECT COALESCE(SUM(length(body)), 0) FROM journal WHERE seq < ?")) {
            ps.setLong(1, seq);
            try (ResultSet r = ps.executeQuery()) {
                gone = r.next() ? r.getLong(1) : 0;
            }
        }
        try (PreparedStatement ps = db.prepareStatement("DELETE FROM journal WHERE seq < ?")) {
            ps.setLong(1, seq);
            n = ps.executeUpdate();
        }
        try (PreparedStatement ps = db.prepareStatement(
                "DELETE FROM journal_gaps WHERE until_ms < (SELECT MIN(ms) FROM journal WHERE kind = " + CHECKPOINT + ")")) {
            ps.executeUpdate();
        }
        totalBytes -= gone;
        retired.add(n);
    }

    /** Writes what is left and records a clean stop (the next run's gap starts now). */
    public void stop(long nowMs) {
        lastAliveWriteMs = 0;
        try {
            flush(nowMs);
        } catch (SQLException e) {
            System.err.println("procwatch daemon: journal: " + e.getMessage());
        }
    }

    public long totalBytes() {
        return totalBytes;
    }

    // ---- encoding of exits (for the journal's readers: JournalSource) -------------------------

    static byte[] encodeExited(ExitedProcess e) {
        JournalCodec.Out o = new JournalCodec.Out();
        o.zigzag(e.seq());
        o.zigzag(e.pid());
        o.zigzag(e.ppid());
        o.zigzag(e.uid());
        o.zigzag(e.gid());
        o.string(e.comm());
        o.string(e.exe());
        o.varint(e.argv().size());
        for (String a : e.argv()) {
            o.string(a);
        }
        o.zigzag(e.startEpochMs());
        o.zigzag(e.endEpochMs());
        o.zigzag(e.status() == null ? -1 : e.status().raw());
        o.varint((e.coreDumped() ? 1 : 0) | (e.exitObserved() ? 2 : 0) | (e.argvKnown() ? 4 : 0));
        o.zigzag(e.startNs());
        if (e.cgroup() != null) {
            o.string(e.cgroup()); // trailing and optional: entries written before it end here
        }
        return o.bytes();
    }

    static ExitedProcess decodeExited(byte[] b) {
        JournalCodec.In in = new JournalCodec.In(b);
        long seq = in.zigzag();
        int pid = (int) in.zigzag();
        int ppid = (int) in.zigzag();
        int uid = (int) in.zigzag();
        int gid = (int) in.zigzag();
        String comm = in.string();
        String exe = in.string();
        long n = in.varint();
        if (n < 0 || n > in.remaining()) {
            throw new IllegalArgumentException("bad argv count");
        }
        List<String> argv = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            argv.add(in.string());
        }
        long start = in.zigzag();
        long end = in.zigzag();
        long status = in.zigzag();
        long flags = in.varint();
        long startNs = in.zigzag();
        String cgroup = in.remaining() > 0 ? in.string() : null;
        return new ExitedProcess(seq, pid, ppid, uid, gid, comm, exe, List.copyOf(argv), start, end,
                status < 0 ? null : new WaitStatus((int) status), (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0,
                null, startNs, cgroup);
    }

    // ---- queries ------------------------------------------------------------------------------

    /** A gap recorded in the journal. */
    public record GapSpan(long fromMs, long untilMs, long lost, String reason) {
    }

    /**
     * A past table: its rows, when each row's sampled values were read (pid to epoch ms; a pid
     * missing was never dated: forked and not sampled since, or journaled before CONFIRM entries
     * existed), and the sample interval they are judged by.
     */
    public record Past(List<ProcessInfo> rows, Map<Integer, Long> sampledAtMs, long atMs, long sampleMs) {
        /** How old a row's sampled values are at the instant, or -1 if never dated. */
        public long sampledAgeMs(ProcessInfo p) {
            Long t = sampledAtMs.get(p.pid());
            return t == null ? -1 : Math.max(0, atMs - t);
        }

        /**
         * Whether ps --at marks the row's sampled columns: older than one sample interval, or
         * never dated. An exited row is not: its memory is gone (0) and its CPU times stop.
         */
        public boolean stale(ProcessInfo p) {
            if (p.leaderExited()) {
                return false;
            }
            long age = sampledAgeMs(p);
            return age < 0 || age > sampleMs;
        }
    }

    /**
     * The table as it was at {@code atMs}: the newest checkpoint at or before it, then every later
     * entry up to it, in journal order. Waits (up to 3 s) for entries still being written.
     */
    public List<ProcessInfo> at(long atMs) throws Unanswerable, SQLException {
        return past(atMs).rows();
    }

    /** One entry read for a replay: decoded after the read lock is released. */
    private record Raw(int kind, int pid, long ms, byte[] body) {
    }

    /**
     * As {@link #at}, with the read time of each row's sampled values. Under the read lock (the
     * reader connection is one, shared with gaps() and the JournalSource cursors) only the SQL
     * runs: the checkpoint's bytes (unless decoded already) and the entries' are copied out, and
     * the inflating and decoding happen after it is released.
     */
    public Past past(long atMs) throws Unanswerable, SQLException {
        long now = System.currentTimeMillis();
        if (atMs > now) {
            throw new Unanswerable("that time is in the future");
        }
        long deadline = System.nanoTime() + 3_000_000_000L;
        while (flushedUntilMs < atMs && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Unanswerable("interrupted");
            }
        }
        long cpSeq;
        JournalCodec.Base cached;
        byte[] cpBytes = null;
        List<Raw> raws = new ArrayList<>();
        long t0 = System.nanoTime();
        synchronized (readLock) {
            for (GapSpan g : gapsLocked(atMs, atMs)) {
                throw new Unanswerable(describe(g));
            }
            try (PreparedStatement ps = reader.prepareStatement(
                    "SELECT seq FROM journal WHERE kind = " + CHECKPOINT + " AND ms <= ? ORDER BY ms DESC, seq DESC LIMIT 1")) {
                ps.setLong(1, atMs);
                try (ResultSet r = ps.executeQuery()) {
                    if (!r.next()) {
                        throw new Unanswerable("the journal holds nothing that early (it begins "
                                + oldestCheckpointText() + ")");
                    }
                    cpSeq = r.getLong(1);
                }
            }
            // entries are in event order; those queued before a later checkpoint can follow it by
            // the writer's lag (the most it ever was, journal_meta 'lag_ms', a margin added), so the
            // replay reads on to the first checkpoint that much after atMs
            long untilSeq = Long.MAX_VALUE;
            try (PreparedStatement ps = reader.prepareStatement(
                    "SELECT MIN(seq) FROM journal WHERE kind = " + CHECKPOINT + " AND ms > ? AND seq > ?")) {
                ps.setLong(1, atMs + replayMarginMs());
                ps.setLong(2, cpSeq);
                try (ResultSet r = ps.executeQuery()) {
                    if (r.next()) {
                        long v = r.getLong(1);
                        if (!r.wasNull()) {
                            untilSeq = v;
                        }
                    }
                }
            }
            cached = baseSeq == cpSeq ? base.get() : null;
            if (cached == null) {
                try (PreparedStatement ps = reader.prepareStatement("SELECT body FROM journal WHERE seq = ?")) {
                    ps.setLong(1, cpSeq);
                    try (ResultSet r = ps.executeQuery()) {
                        if (!r.next()) {
                            throw new SQLException("journal: checkpoint " + cpSeq + " vanished (retention)");
                        }
                        cpBytes = r.getBytes(1);
                    }
                }
            }
            try (PreparedStatement ps = reader.prepareStatement(
                    "SELECT kind, pid, ms, body FROM journal WHERE seq > ? AND seq < ? AND ms <= ? AND kind IN ("
                            + NEW + "," + CHANGE + "," + SAMPLE + "," + REMOVE + "," + CONFIRM + ") ORDER BY seq")) {
                ps.setLong(1, cpSeq);
                ps.setLong(2, untilSeq);
                ps.setLong(3, atMs);
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        raws.add(new Raw(r.getInt(1), r.getInt(2), r.getLong(3), r.getBytes(4)));
                    }
                }
            }
        }
        long held = System.nanoTime() - t0;
        lockHeldNanos.add(held);
        lockHeldMaxNanos.accumulate(held);
        try {
            JournalCodec.Base b = cached;
            if (b == null) {
                b = JournalCodec.base(cpBytes, MAX_CHECKPOINT_BYTES);
                synchronized (readLock) {
                    base = new java.lang.ref.SoftReference<>(b);
                    baseSeq = cpSeq;
                }
            }
            JournalCodec.Replay replay = new JournalCodec.Replay(b);
            Map<Integer, Long> sampledAt = new java.util.HashMap<>();
            for (Raw e : raws) {
                switch (e.kind()) {
                    case NEW -> {
                        replay.added(e.pid(), e.body());
                        sampledAt.remove(e.pid());
                    }
                    case CHANGE -> replay.changed(e.pid(), e.body());
                    case SAMPLE -> {
                        replay.changed(e.pid(), e.body());
                        sampledAt.put(e.pid(), e.ms());
                    }
                    case REMOVE -> {
                        replay.removed(e.pid(), new JournalCodec.In(e.body()).zigzag());
                        sampledAt.remove(e.pid());
                    }
                    case CONFIRM -> decodeConfirm(e.ms(), e.body(), sampledAt);
                    default -> {
                    }
                }
            }
            List<ProcessInfo> rows = replay.rows();
            if (sampledAt.size() > rows.size()) {
                // a CONFIRM names the pids the table had then; keep only the replayed rows'
                java.util.Set<Integer> live = new java.util.HashSet<>();
                for (ProcessInfo p : rows) {
                    live.add(p.pid());
                }
                sampledAt.keySet().retainAll(live);
            }
            return new Past(rows, sampledAt, atMs, settings.sampleMs());
        } catch (IllegalArgumentException e) {
            throw new SQLException("journal entry damaged: " + e.getMessage(), e);
        }
    }

    /** How long past() held the read lock: the total and the longest (JournalBench prints them). */
    public final LongAdder lockHeldNanos = new LongAdder();
    public final java.util.concurrent.atomic.LongAccumulator lockHeldMaxNanos =
            new java.util.concurrent.atomic.LongAccumulator(Math::max, 0);

    /**
     * The checkpoint last replayed from, decoded: the next query of the same interval (diff's two
     * instants, top --replay's steps) starts from it. Softly held: the heap may take it back.
     * Both fields under readLock.
     */
    private long baseSeq = -1;
    private java.lang.ref.SoftReference<JournalCodec.Base> base = new java.lang.ref.SoftReference<>(null);

    private long replayMarginMs() throws SQLException {
        long lag = 0;
        try (Statement st = reader.createStatement();
             ResultSet r = st.executeQuery("SELECT v FROM journal_meta WHERE k = 'lag_ms'")) {
            if (r.next()) {
                lag = Math.max(0, r.getLong(1));
            }
        }
        return Math.max(lag, settings.sampleMs()) + 5_000;
    }

    private String oldestCheckpointText() throws SQLException {
        try (Statement st = reader.createStatement();
             ResultSet r = st.executeQuery("SELECT MIN(ms) FROM journal WHERE kind = " + CHECKPOINT)) {
            if (r.next()) {
                long v = r.getLong(1);
                if (!r.wasNull()) {
                    return "at " + java.time.Instant.ofEpochMilli(v) + ", @" + v / 1000;
                }
            }
            return "nowhere: it is empty";
        }
    }

    static String describe(GapSpan g) {
        return "no answer for that instant: it lies in a gap in the journal, from @" + g.fromMs() / 1000.0 + " ("
                + java.time.Instant.ofEpochMilli(g.fromMs()) + ") to @" + g.untilMs() / 1000.0 + " ("
                + java.time.Instant.ofEpochMilli(g.untilMs()) + "): " + g.reason()
                + (g.lost() > 0 ? " (" + g.lost() + ")" : "");
    }

    public List<GapSpan> gaps(long sinceMs, long untilMs) throws SQLException {
        synchronized (readLock) {
            return gapsLocked(sinceMs, untilMs);
        }
    }

    private List<GapSpan> gapsLocked(long sinceMs, long untilMs) throws SQLException {
        List<GapSpan> out = new ArrayList<>();
        try (PreparedStatement ps = reader.prepareStatement(
                "SELECT from_ms, until_ms, lost, reason FROM journal_gaps WHERE from_ms <= ? AND until_ms >= ? ORDER BY from_ms")) {
            ps.setLong(1, untilMs);
            ps.setLong(2, sinceMs);
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.add(new GapSpan(r.getLong(1), r.getLong(2), r.getLong(3), r.getString(4)));
                }
            }
        }
        return out;
    }

    // ---- JournalSource ------------------------------------------------------------------------

    @Override
    public long oldestSeq() {
        return seqBound("MIN");
    }

    @Override
    public long newestSeq() {
        return seqBound("MAX");
    }

    private long seqBound(String fn) {
        synchronized (readLock) {
            try (Statement st = reader.createStatement(); ResultSet r = st.executeQuery("SELECT " + fn + "(seq) FROM journal")) {
                long v = r.next() ? r.getLong(1) : 0;
                if (r.wasNull() || v == 0) {
                    return fn.equals("MIN") ? nextSeq : nextSeq - 1;
                }
                return v;
            } catch (SQLException e) {
                throw new IllegalStateException("journal: " + e.getMessage(), e);
            }
        }
    }

    /** Told after each commit of entries (the Kafka sink); null until one asks. */
    private volatile Runnable committed;

    @Override
    public void onCommit(Runnable r) {
        committed = r;
    }

    @Override
    public Cursor openAt(long seq) {
        return new PagedCursor(Math.max(seq, oldestSeq()));
    }

    /** Reads a page at a time: exits, gaps, execs, id changes and renames; other entries are skipped. */
    private final class PagedCursor implements Cursor {
        private long next;
        private final ArrayDeque<Entry> page = new ArrayDeque<>();

        PagedCursor(long from) {
            this.next = from;
        }

        @Override
        public Entry next() {
            if (page.isEmpty()) {
                fill();
            }
            return page.poll();
        }

        private void fill() {
            synchronized (readLock) {
                try (PreparedStatement ps = reader.prepareStatement(
                        "SELECT seq, ms, kind, pid, body FROM journal WHERE seq >= ? AND kind IN (" + CHANGE + "," + GAP
                                + "," + EXITED + ") ORDER BY seq LIMIT 500")) {
                    ps.setLong(1, next);
                    try (ResultSet r = ps.executeQuery()) {
                        while (r.next()) {
                            long seq = r.getLong(1);
                            next = seq + 1;
                            Object content = content(r.getInt(3), r.getInt(4), r.getBytes(5));
                            if (content != null) {
                                page.add(new Entry(seq, r.getLong(2), content));
                            }
                        }
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException("journal: " + e.getMessage(), e);
                }
            }
        }

        @Override
        public void close() {
            page.clear();
        }
    }

    static Object content(int kind, int pid, byte[] body) {
        try {
            switch (kind) {
                case EXITED -> {
                    return decodeExited(body);
                }
                case GAP -> {
                    JournalCodec.In in = new JournalCodec.In(body);
                    in.zigzag();
                    in.zigzag();
                    long lost = in.zigzag();
                    return new Gap(lost > 0 ? lost : -1);
                }
                case CHANGE -> {
                    JournalCodec.Fields f = JournalCodec.fields(pid, body);
                    long start = f.startNs() == null ? 0 : f.startNs();
                    if (f.exec()) {
                        return new Exec(pid, start, f.comm(), f.exe(), f.argv());
                    }
                    if (f.credsChanged()) {
                        return new IdChange(pid, start, f.ruid(), f.euid(), f.rgid(), f.egid());
                    }
                    if (f.renamed()) {
                        return new Rename(pid, start, f.comm());
                    }
                    if (f.cgroupChanged()) {
                        return new CgroupChange(pid, start, f.cgroupFrom(), f.cgroup());
                    }
                    return null;
                }
                default -> {
                    return null;
                }
            }
        } catch (IllegalArgumentException e) {
            return null; // a damaged entry is skipped, not a crash of the reader
        }
    }

    @Override
    public void close() {
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
