package io.procwatch.cli;

import io.procwatch.client.ProcRow;

import java.nio.charset.Charset;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lines {@code ps} printed inside the daemon, kept for the next run with the same columns. A row
 * the daemon made from its own table row alone carries that table row as its
 * {@link ProcRow#origin}; table rows are immutable and replaced whenever anything about the process
 * changes, so while the origin is the same object and every column is a function of the row (no
 * clock: STIME, ELAPSED, %CPU and TIME are not), the line is byte for byte the one printed before.
 * At 10,000 processes formatting the lines anew was two fifths of a thin {@code ps}'s time in the
 * daemon.
 *
 * <p>Bounded, since any user may run ps in the root daemon: at most {@link #CONTEXTS} column sets
 * of at most {@link #MAX_COLUMNS} columns, lines of at most {@link #MAX_LINE} bytes, at most
 * {@link #MAX_BYTES} of lines per set (a run that would keep more publishes nothing), and a set
 * unused for {@link #IDLE_NANOS} is dropped at the next run. A run publishes only the lines it
 * printed, so the rows of processes that are gone go with the next run.
 */
final class PsLines {
    /** JSON names of the columns whose text depends only on the row (and this process's name tables). */
    private static final Set<String> ROW_ONLY = Set.of("pid", "ppid", "tid", "pgid", "sid", "tpgid", "user", "ruser",
            "uid", "ruid", "gid", "group", "tty", "stat", "state", "comm", "args", "rss_kib", "vsz_kib", "sz_pages",
            "nlwp", "nice", "pri", "opri", "psr", "majflt", "minflt", "tracer_pid");
    private static final int CONTEXTS = 4;
    static final int MAX_COLUMNS = 32;
    static final int MAX_LINE = 1024;
    static final long MAX_BYTES = 4L << 20;
    private static final long IDLE_NANOS = 60_000_000_000L;

    /** What a line depends on besides its row: the columns, the reader (for safety), the text encoding. */
    private record Key(int uid, List<Columns.Col> cols, boolean utf8, Charset charset) {
    }

    /** One set's lines, and when a run last used them (System.nanoTime()). */
    private record Kept(Map<Object, byte[]> lines, long usedNanos) {
    }

    private static final Map<Key, Kept> KEPT = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Kept> eldest) {
            return size() > CONTEXTS;
        }
    };

    private final Key key;
    private final Map<Object, byte[]> last;
    private final IdentityHashMap<Object, byte[]> next = new IdentityHashMap<>();
    private long bytes;
    private boolean over;

    private PsLines(Key key, Map<Object, byte[]> last) {
        this.key = key;
        this.last = last;
    }

    /** A run's view of the kept lines, or null when these columns cannot be kept (a clock in them). */
    static PsLines open(List<Columns.Col> cols, int uid, boolean utf8, Charset charset) {
        if (cols.size() > MAX_COLUMNS) {
            return null;
        }
        for (Columns.Col c : cols) {
            if (!ROW_ONLY.contains(c.field().json())) {
                return null;
            }
        }
        Key k = new Key(uid, List.copyOf(cols), utf8, charset);
        Kept last;
        long now = System.nanoTime();
        synchronized (KEPT) {
            KEPT.values().removeIf(kept -> now - kept.usedNanos() > IDLE_NANOS);
            last = KEPT.get(k);
        }
        return new PsLines(k, last == null ? Map.of() : last.lines());
    }



    /** The line (with its newline) printed last time for this row, or null. */
    byte[] get(ProcRow r) {
        return r.origin == null ? null : last.get(r.origin);
    }

    void keep(ProcRow r, byte[] line) {
        if (r.origin == null || over) {
            return;
        }
        bytes += line.length;
        if (line.length > MAX_LINE || bytes > MAX_BYTES) {
            over = true; // this set is not worth keeping (or not affordable): keep none of it
            next.clear();
            return;
        }
        next.put(r.origin, line);
    }

    /** Publishes this run's lines for the next run (never changed after: runs read them unlocked). */
    void close() {
        synchronized (KEPT) {
            if (over || next.isEmpty()) {
                KEPT.remove(key);
            } else {
                KEPT.put(key, new Kept(next, System.nanoTime()));
            }
        }
    }
}
