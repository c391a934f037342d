package io.procwatch.daemon;

import java.util.HashMap;
import java.util.Map;

/**
 * Counts connections per uid and decides who may connect. Root may use every slot; other users
 * share all but {@link Limits#rootReserve()} of them, at most {@link Limits#perUid()} each. So one
 * user's stalled connections refuse that user, not everyone, and never root.
 */
final class Admission {
    private final Limits limits;
    private final Map<Integer, Integer> byUid = new HashMap<>();
    private int total;
    private int nonRoot;

    Admission(Limits limits) {
        this.limits = limits;
    }

    /** Takes a slot for this uid and returns null, or returns why not (the refused client's message). */
    synchronized String admit(int uid) {
        if (total >= limits.maxClients()) {
            return "too many clients (limit " + limits.maxClients() + "); try again later";
        }
        if (uid != 0) {
            int mine = byUid.getOrDefault(uid, 0);
            if (mine >= limits.perUid()) {
                return "too many connections from uid " + uid + " (limit " + limits.perUid()
                        + " per user, --max-clients-per-uid); close some and try again";
            }
            if (nonRoot >= limits.maxClients() - limits.rootReserve()) {
                return "too many clients (limit " + limits.maxClients() + ", of which " + limits.rootReserve()
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
