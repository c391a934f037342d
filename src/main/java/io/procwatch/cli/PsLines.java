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
 * <p>Bounded: at most {@link #CONTEXTS} column sets are kept, each with at most the lines of its
 * last run; a run publishes only the lines it printed, so rows of processes that are gone go with
 * the next run.
 */
final class PsLines {
    /** JSON names of the columns whose text depends only on the row (and this process's name tables). */
    private static final Set<String> ROW_ONLY = Set.of("pid", "ppid", "tid", "pgid", "sid", "tpgid", "user", "ruser",
            "uid", "ruid", "gid", "group", "tty", "stat", "state", "comm", "args", "rss_kib", "vsz_kib", "sz_pages",
            "nlwp", "nice", "pri", "opri", "psr", "majflt", "minflt", "tracer_pid");
    private static final int CONTEXTS = 4;

    /** What a line depends on besides its row: the columns, the reader (for safety), the text encoding. */
    private record Key(int uid, List<Columns.Col> cols, boolean utf8, Charset charset) {
    }

    private static final Map<Key, Map<Object, byte[]>> KEPT = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Map<Object, byte[]>> eldest) {
            return size() > CONTEXTS;
        }
    };

    private final Key key;
    private final Map<Object, byte[]> last;
    private final IdentityHashMap<Object, byte[]> next = new IdentityHashMap<>();

    private PsLines(Key key, Map<Object, byte[]> last) {
        this.key = key;
        this.last = last;
    }

    /** A run's view of the kept lines, or null when these columns cannot be kept (a clock in them). */
    static PsLines open(List<Columns.Col> cols, int uid, boolean utf8, Charset charset) {
        for (Columns.Col c : cols) {
            if (!ROW_ONLY.contains(c.field().json())) {
                return null;
            }
        }
        Key k = new Key(uid, List.copyOf(cols), utf8, charset);
        Map<Object, byte[]> last;
        synchronized (KEPT) {
            last = KEPT.get(k);
        }
        return new PsLines(k, last == null ? Map.of() : last);
    }

    /** The line (with its newline) printed last time for this row, or null. */
    byte[] get(ProcRow r) {
        return r.origin == null ? null : last.get(r.origin);
    }

    void keep(ProcRow r, byte[] line) {
        if (r.origin != null) {
            next.put(r.origin, line);
        }
    }

    /** Publishes this run's lines for the next run (never changed after: runs read them unlocked). */
    void close() {
        if (!next.isEmpty()) {
            synchronized (KEPT) {
                KEPT.put(key, next);
            }
        }
    }
}
