package io.procwatch.daemon;

import io.procwatch.protocol.Selector;
import io.procwatch.table.ProcessInfo;

import java.util.Arrays;
import java.util.List;

/**
 * What one connection's last SNAPSHOT with F_DELTA sent, so the next one sends only the rows whose
 * encoding changed and the pids that left the set. top asks for the same rows every refresh and
 * most of them are processes that slept: at 10,000 processes a full answer is ~1 MB to encode,
 * send and decode, a delta a few hundred rows.
 *
 * <p>"Changed" is first an identity check: a row caches its encoding until it changes (the table
 * replaces a ProcessInfo to change it), so an unchanged row hands out the same array. An encoding
 * built anew with the same bytes (the daemon freed idle caches, or the groups are not cached)
 * counts as unchanged too.
 *
 * <p>Both answers are in pid order (the query engine sorts them), so comparing them is one walk.
 */
final class SnapshotDelta {
    private static final int[] NO_PIDS = {};
    private static final byte[][] NO_BODIES = {};

    private Selector selector;
    private long groups;
    private int[] pids = NO_PIDS;
    private byte[][] bodies = NO_BODIES;

    // the answer being built
    private int[] nextPids = NO_PIDS;
    private byte[][] nextBodies = NO_BODIES;
    private int size;
    private int cursor;

    /** Whether the last recorded answer was for this selector and these groups. */
    boolean canDiff(Selector s, long g) {
        return selector != null && g == groups && s.equals(selector);
    }

    /** The pids of the last answer that are not among {@code rows} (both in pid order). */
    int[] gone(List<ProcessInfo> rows) {
        int[] out = new int[pids.length];
        int n = 0;
        int j = 0;
        for (int pid : pids) {
            while (j < rows.size() && rows.get(j).pid() < pid) {
                j++;
            }
            if (j == rows.size() || rows.get(j).pid() != pid) {
                out[n++] = pid;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** Starts recording an answer of {@code count} rows. */
    void begin(int count) {
        nextPids = new int[count];
        nextBodies = new byte[count][];
        size = 0;
        cursor = 0;
    }

    /**
     * Records one row of the answer being built (rows come in pid order) and says whether it
     * differs from what the last answer sent for that pid, or is new.
     */
    boolean record(int pid, byte[] body) {
        while (cursor < pids.length && pids[cursor] < pid) {
            cursor++;
        }
        boolean same = cursor < pids.length && pids[cursor] == pid
                && (bodies[cursor] == body || Arrays.equals(bodies[cursor], body));
        nextPids[size] = pid;
        nextBodies[size++] = body;
        return !same;
    }

    /** The answer recorded since {@link #begin} is complete: the next delta is against it. */
    void commit(Selector s, long g) {
        selector = s;
        groups = g;
        pids = size == nextPids.length ? nextPids : Arrays.copyOf(nextPids, size);
        bodies = size == nextBodies.length ? nextBodies : Arrays.copyOf(nextBodies, size);
        nextPids = NO_PIDS;
        nextBodies = NO_BODIES;
    }

    /**
     * Forgets the last answer (a SNAPSHOT without F_DELTA, or one for another selector or groups):
     * every row recorded next counts as new, and the next delta request with no base gets everything.
     */
    void clear() {
        selector = null;
        pids = NO_PIDS;
        bodies = NO_BODIES;
        nextPids = NO_PIDS;
        nextBodies = NO_BODIES;
    }
}
