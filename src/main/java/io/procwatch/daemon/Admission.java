package io.procwatch.daemon;

import java.util.HashMap;
import java.util.Map;

/**
 * Counts connections per uid and decides who may connect. Root may use every slot; other users
 * share all but {@link Limits#rootReserve()} of them, at most {@link Limits#perUid()} each. So one
 * user's stalled connections refuse that user, not everyone, and never root.
 */
final class Admission {
    private final int max;
    private final int perUid;
    private final int rootReserve;
    /** What is counted ("clients", "event streams"), and the option that sets the per-user share. */
    private final String what;
    private final String perUidOption;
    private final Map<Integer, Integer> byUid = new HashMap<>();
    private int total;
    private int nonRoot;

    Admission(int max, int perUid, int rootReserve, String what, String perUidOption) {
        this.max = max;
        this.perUid = perUid;
        this.rootReserve = Math.min(rootReserve, max - 1);
        this.what = what;
        this.perUidOption = perUidOption;
    }

    /** The Unix socket's connections. */
    Admission(Limits limits) {
        this(limits.maxClients(), limits.perUid(), limits.rootReserve(), "clients", "--max-clients-per-uid");
    }

    /** Takes a slot for this uid and returns null, or returns why not (the refused client's message). */
    synchronized String admit(int uid) {
        if (total >= max) {
            return "too many " + what + " (limit " + max + "); try again later";
        }
        if (uid != 0) {
            int mine = byUid.getOrDefault(uid, 0);
            if (mine >= perUid) {
                return "too many " + (what.equals("clients") ? "connections" : what) + " from uid " + uid
                        + " (limit " + perUid + " per user, " + perUidOption + "); close some and try again";
            }
            if (nonRoot >= max - rootReserve) {
                return "too many " + what + " (limit " + max + ", of which " + rootReserve
                        + " are kept for root); try again later";
            }
            byUid.put(uid, mine + 1);
            nonRoot++;
        }
        total++;
        return null;
    }

    synchronized void release(int uid) {
        total--;
        if (uid != 0) {
            nonRoot--;
            byUid.computeIfPresent(uid, (k, n) -> n <= 1 ? null : n - 1);
        }
    }

    /** Connections this uid holds now. */
    synchronized int held(int uid) {
        return uid == 0 ? total - nonRoot : byUid.getOrDefault(uid, 0);
    }
}
