package io.procwatch.daemon;

import io.procwatch.protocol.Selector;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A history question, answered the same way for the Unix socket and HTTP: from the in-memory
 * ring (the newest exits) and, when that holds fewer than asked for, from the database, merged
 * so that an exit in both counts once, newest first. Also the gaps no daemon watched.
 */
record HistoryQuery(Selector selector, long sinceMs, long untilMs, boolean failedOnly, int limit) {
    private static final int MAX_SCANNED = 1_000_000;

    /** The exits this viewer may see, newest first. */
    List<ExitedProcess> newest(DaemonContext ctx, Viewer viewer) throws SQLException {
        Predicate<ExitedProcess> asked = e -> e.endEpochMs() >= sinceMs && e.endEpochMs() <= untilMs
                && (!failedOnly || e.failed() || !e.exitObserved())
                && ctx.query().matches(selector, e) && viewer.canSee(e);
        // An answer is as of this seq: every older exit is then in the ring, the writer's in-flight
        // set or the store (it moves from one to the next only after it is in the next), while a
        // newer one may be caught in one place and not yet in another, which would look like a hole.
        long asOf = ctx.table().history().lastSeq();
        Predicate<ExitedProcess> wanted = e -> e.seq() <= asOf && asked.test(e);
        List<ExitedProcess> fromMemory = ctx.table().history().newest(wanted, limit);
        HistoryStore store = ctx.store();
        if (store == null || fromMemory.size() >= limit) {
            return fromMemory;
        }
        // The database narrows by what it indexes; the rest of the selector (several pids or uids,
        // children, subtree, text match) and the viewer are applied here, page by page, until
        // enough rows match or the database has no more (bounded: a history query never reads
        // more than MAX_SCANNED rows).
        Integer uid = selector.uids().size() == 1 ? selector.uids().getFirst() : null;
        Integer pid = selector.pids().size() == 1 ? selector.pids().getFirst() : null;
        Map<String, ExitedProcess> merged = new LinkedHashMap<>();
        for (ExitedProcess e : fromMemory) {
            merged.put(key(e), e);
        }
        // Exits the ring has dropped already but the writer has not stored yet (a small ring
        // during a burst): without these an answer would have a hole until the next batch.
        if (ctx.writer() != null) {
            for (ExitedProcess e : ctx.writer().inFlight()) {
                if (wanted.test(e)) {
                    merged.putIfAbsent(key(e), e);
                }
            }
        }
        int page = Math.max(1000, limit + fromMemory.size());
        for (int offset = 0; offset < MAX_SCANNED; offset += page) {
            List<ExitedProcess> stored = store.query(new HistoryStore.Query(sinceMs, untilMs, uid, selector.name(), pid,
                    failedOnly, page, offset));
            for (ExitedProcess e : stored) {
                if (wanted.test(e)) {
                    merged.putIfAbsent(key(e), e);
                }
            }
            if (stored.size() < page || merged.size() >= limit + fromMemory.size()) {
                break;
            }
        }
        List<ExitedProcess> all = new ArrayList<>(merged.values());
        all.sort(Comparator.comparingLong(ExitedProcess::seq).reversed()); // the ring's order, and the database's
        return all.size() > limit ? all.subList(0, limit) : all;
    }

    /** Times within the range when no daemon recorded exits (none without a database). */
    List<HistoryStore.Gap> gaps(DaemonContext ctx) throws SQLException {
        return ctx.store() == null ? List.of() : ctx.store().gaps(sinceMs, untilMs);
    }

    /** One life: the pid and its start to the nanosecond (several lives of one pid can start within a millisecond). */
    private static String key(ExitedProcess e) {
        return e.pid() + "/" + e.startNs() + "/" + e.startEpochMs();
    }
}
