package io.procwatch.daemon;

import io.procwatch.protocol.Selector;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;

import java.io.IOException;
import java.sql.SQLException;
import java.util.List;
import java.util.function.Predicate;

/**
 * A history question, answered the same way for the Unix socket and HTTP: from the in-memory
 * ring (the newest exits) and, when that holds fewer than asked for, from the database rows older
 * than everything in the ring (so an exit in both counts once). Also the gaps no daemon watched.
 *
 * <p>The answer is streamed: the ring's matches are references to rows already in memory, and
 * the database is read a page ({@link #PAGE} rows) at a time, each page handed on and dropped
 * before the next is read. So a request for 100,000 rows holds about one page of rows, whatever it
 * asks for (the heap budget in docs/security.md counts on that).
 */
record HistoryQuery(Selector selector, long sinceMs, long untilMs, boolean failedOnly, int limit) {
    /** Database rows read at once. */
    static final int PAGE = 1000;
    /** Database rows one query reads at most (its filters may match few of them). */
    private static final int MAX_SCANNED = 1_000_000;

    /** Where the rows go (written to the client as they come). */
    interface Sink {
        void accept(ExitedProcess e) throws IOException;
    }

    /**
     * Hands the newest {@code limit} exits this viewer may see to {@code sink}, newest first or
     * (for the Unix socket, like a log) oldest first; returns how many.
     */
    int forEach(DaemonContext ctx, Viewer viewer, boolean oldestFirst, Sink sink) throws SQLException, IOException {
        Predicate<ExitedProcess> wanted = e -> e.endEpochMs() >= sinceMs && e.endEpochMs() <= untilMs
                && (!failedOnly || e.failed() || !e.exitObserved())
                && ctx.query().matches(selector, e) && viewer.canSee(e);
        // The lowest seq the ring scan visited: when the ring had fewer matches than asked for,
        // it visited all of the ring, and the database supplies what is older than that.
        long[] lowest = {Long.MAX_VALUE};
        List<ExitedProcess> fromMemory = ctx.table().history().newest(e -> {
            lowest[0] = Math.min(lowest[0], e.seq());
            return wanted.test(e);
        }, limit);
        HistoryStore store = ctx.store();
        int need = limit - fromMemory.size();
        boolean fromDb = store != null && need > 0;
        long bound = lowest[0];
        int count = 0;
        if (!oldestFirst) {
            for (ExitedProcess e : fromMemory) {
                sink.accept(e);
            }
            count = fromMemory.size();
            if (need > 0) {
                List<ExitedProcess> flying = inFlight(ctx, bound, wanted);
                count += store != null ? scanDown(store, bound, need, wanted, flying, sink)
                        : emit(flying.subList(0, Math.min(need, flying.size())), sink);
            }
            return count;
        }
        if (need > 0) {
            List<ExitedProcess> flying = inFlight(ctx, bound, wanted);
            if (store == null) {
                List<ExitedProcess> some = new java.util.ArrayList<>(flying.subList(0, Math.min(need, flying.size())));
                java.util.Collections.reverse(some);
                count += emit(some, sink);
            } else {
                // first pass, newest first, to find where the answer starts; nothing is kept
                long[] first = {Long.MAX_VALUE};
                int found = scanDown(store, bound, need, wanted, flying, e -> first[0] = e.seq());
                if (found > 0) {
                    List<ExitedProcess> up = new java.util.ArrayList<>();
                    for (ExitedProcess f : flying) {
                        if (f.seq() >= first[0]) {
                            up.add(f);
                        }
                    }
                    java.util.Collections.reverse(up);
                    count += scanUp(store, first[0], bound, found, wanted, up, sink);
                }
            }
        }
        for (int i = fromMemory.size() - 1; i >= 0; i--) {
            sink.accept(fromMemory.get(i));
        }
        return count + fromMemory.size();
    }

    /**
     * Exits the ring has dropped already but the writer has not stored yet (a small ring during a
     * burst), matching and below the ring's lowest seq, newest first: without these an answer
     * would have a hole until the next batch. Bounded by the writer's queue.
     */
    private static List<ExitedProcess> inFlight(DaemonContext ctx, long belowSeq, Predicate<ExitedProcess> wanted) {
        if (ctx.writer() == null) {
            return List.of();
        }
        List<ExitedProcess> out = new java.util.ArrayList<>();
        for (ExitedProcess e : ctx.writer().inFlight()) {
            if (e.seq() < belowSeq && wanted.test(e)) {
                out.add(e);
            }
        }
        out.sort(java.util.Comparator.comparingLong(ExitedProcess::seq).reversed());
        return out;
    }

    /**
     * Database rows below {@code untilSeq}, newest first, merged by seq with {@code flying} (newest
     * first; a row in both is sent once), until {@code need} matched.
     */
    private int scanDown(HistoryStore store, long untilSeq, int need, Predicate<ExitedProcess> wanted,
                         List<ExitedProcess> flying, Sink sink) throws SQLException, IOException {
        java.util.Set<Long> flyingSeqs = new java.util.HashSet<>();
        flying.forEach(f -> flyingSeqs.add(f.seq()));
        int taken = 0;
        int fi = 0;
        for (int scanned = 0; scanned < MAX_SCANNED && taken < need; ) {
            List<ExitedProcess> page = store.page(pageQuery(), Long.MIN_VALUE, untilSeq, false);
            for (ExitedProcess e : page) {
                while (fi < flying.size() && flying.get(fi).seq() > e.seq() && taken < need) {
                    sink.accept(flying.get(fi++));
                    taken++;
                }
                if (taken == need) {
                    return taken;
                }
                if (!flyingSeqs.contains(e.seq()) && wanted.test(e)) {
                    sink.accept(e);
                    if (++taken == need) {
                        return taken;
                    }
                }
            }
            if (page.size() < PAGE) {
                break;
            }
            untilSeq = page.getLast().seq();
            scanned += page.size();
        }
        while (fi < flying.size() && taken < need) {
            sink.accept(flying.get(fi++));
            taken++;
        }
        return taken;
    }

    /**
     * Database rows from {@code fromSeq} below {@code untilSeq}, oldest first, merged by seq with
     * {@code flying} (oldest first; a row in both is sent once), at most {@code max} matching.
     */
    private int scanUp(HistoryStore store, long fromSeq, long untilSeq, int max, Predicate<ExitedProcess> wanted,
                       List<ExitedProcess> flying, Sink sink) throws SQLException, IOException {
        java.util.Set<Long> flyingSeqs = new java.util.HashSet<>();
        flying.forEach(f -> flyingSeqs.add(f.seq()));
        int taken = 0;
        int fi = 0;
        while (taken < max) {
            List<ExitedProcess> page = store.page(pageQuery(), fromSeq, untilSeq, true);
            for (ExitedProcess e : page) {
                while (fi < flying.size() && flying.get(fi).seq() < e.seq() && taken < max) {
                    sink.accept(flying.get(fi++));
                    taken++;
                }
                if (taken == max) {
                    return taken;
                }
                if (!flyingSeqs.contains(e.seq()) && wanted.test(e)) {
                    sink.accept(e);
                    if (++taken == max) {
                        return taken;
                    }
                }
            }
            if (page.size() < PAGE) {
                break;
            }
            fromSeq = page.getLast().seq() + 1;
        }
        while (fi < flying.size() && taken < max) {
            sink.accept(flying.get(fi++));
            taken++;
        }
        return taken;
    }

    private static int emit(List<ExitedProcess> rows, Sink sink) throws IOException {
        for (ExitedProcess e : rows) {
            sink.accept(e);
        }
        return rows.size();
    }

    /** What the database narrows by index; the rest of the selector and the viewer are applied here. */
    private HistoryStore.Query pageQuery() {
        Integer uid = selector.uids().size() == 1 ? selector.uids().getFirst() : null;
        Integer pid = selector.pids().size() == 1 ? selector.pids().getFirst() : null;
        return new HistoryStore.Query(sinceMs, untilMs, uid, selector.name(), pid, failedOnly, PAGE);
    }

    /** Times within the range when no daemon recorded exits (none without a database). */
    List<HistoryStore.Gap> gaps(DaemonContext ctx) throws SQLException {
        return ctx.store() == null ? List.of() : ctx.store().gaps(sinceMs, untilMs);
    }
}
