package io.procwatch.table;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * pids grouped by a key (state class, uid, parent, name). Written by the table's one writer,
 * read concurrently by queries: a reader may see a pid that just moved, so it re-checks the key
 * on the ProcessInfo it then looks up.
 */
final class Index<K> {
    private final ConcurrentHashMap<K, Set<Integer>> buckets = new ConcurrentHashMap<>();

    void add(K key, int pid) {
        buckets.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(pid);
    }

    void remove(K key, int pid) {
        Set<Integer> s = buckets.get(key);
        if (s != null) {
            s.remove(pid);
            if (s.isEmpty()) {
                buckets.remove(key, s);
            }
        }
    }

    void move(K from, K to, int pid) {
        if (!from.equals(to)) {
            remove(from, pid);
            add(to, pid);
        }
    }

    Set<Integer> get(K key) {
        Set<Integer> s = buckets.get(key);
        return s == null ? Set.of() : s;
    }

    int count(K key) {
        return get(key).size();
    }

    Set<K> keys() {
        return buckets.keySet();
    }
}
