package io.procwatch.bench;

import io.procwatch.event.WaitStatus;
import io.procwatch.store.HistoryStore;
import io.procwatch.store.HistoryWriter;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The persistent history at size: write throughput in the writer's batches, then query latency
 * over a database of N exits (default 1,000,000). Not a test: {@code bin/bench HistoryStoreBench [N]}.
 */
public final class HistoryStoreBench {
    private static final String[] NAMES = {"sh", "make", "cc1", "git", "python3", "java", "curl", "sleep", "grep", "sed"};

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Path dir = Files.createTempDirectory("pw-store-bench");
        Path db = dir.resolve("history.db");
        long base = System.currentTimeMillis() - 86_400_000L;
        try (HistoryStore store = HistoryStore.open(db)) {
            store.runStarted(System.currentTimeMillis());
            // the writer's batches: what a fork storm hands it every 250 ms
            int batch = 2_000;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i += batch) {
                List<ExitedProcess> b = new ArrayList<>(batch);
                for (int k = i; k < Math.min(n, i + batch); k++) {
                    b.add(exit(k, base + k * 80L));
                }
                store.write(b);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("write: %,d exits in %.1f s = %,.0f exits/s (batches of %d, WAL, synchronous=NORMAL)%n",
                    n, secs, n / secs, batch);
            // the same exit again with its taskstats: an update, not a new row
            t0 = System.nanoTime();
            List<ExitedProcess> again = new ArrayList<>();
            for (int k = n - batch; k < n; k++) {
                again.add(exit(k, base + k * 80L));
            }
            store.write(again);
            System.out.printf("upsert of %d existing exits: %.1f ms; rows now %,d%n", batch,
                    (System.nanoTime() - t0) / 1e6, store.count());
            long end = base + n * 80L;
            query(store, "newest 100 (no filter)", new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, false, 100));
            query(store, "last hour, limit 1000", new HistoryStore.Query(end - 3_600_000L, Long.MAX_VALUE, null, null, null, false, 1000));
            query(store, "by name 'make', limit 100", new HistoryStore.Query(0, Long.MAX_VALUE, null, "make", null, false, 100));
            query(store, "by uid 1000, limit 100", new HistoryStore.Query(0, Long.MAX_VALUE, 1000, null, null, false, 100));
            query(store, "failed, limit 100", new HistoryStore.Query(0, Long.MAX_VALUE, null, null, null, true, 100));
            query(store, "one pid, limit 10", new HistoryStore.Query(0, Long.MAX_VALUE, null, null, 4242, false, 10));
            query(store, "a 10-minute window a day ago", new HistoryStore.Query(base, base + 600_000L, null, null, null, false, 100_000));
            System.out.printf("database file: %.0f MiB for %,d exits%n", (Files.size(db) + walSize(db)) / 1048576.0, n);
        } finally {
            for (Path p : Files.list(dir).toList()) {
                Files.delete(p);
            }
            Files.delete(dir);
        }
    }

    private static long walSize(Path db) throws Exception {
        Path wal = db.resolveSibling(db.getFileName() + "-wal");
        return Files.exists(wal) ? Files.size(wal) : 0;
    }

    private static void query(HistoryStore store, String what, HistoryStore.Query q) throws Exception {
        store.query(q); // warm the page cache and the statement path
        long[] t = new long[21];
        int rows = 0;
        for (int i = 0; i < t.length; i++) {
            long t0 = System.nanoTime();
            rows = store.query(q).size();
            t[i] = System.nanoTime() - t0;
        }
        Arrays.sort(t);
        System.out.printf("query %-32s %6d rows  median %7.2f ms  max %7.2f ms%n", what, rows, t[10] / 1e6, t[20] / 1e6);
    }

    private static ExitedProcess exit(int k, long endMs) {
        int pid = 1000 + k % 4_000_000;
        String name = NAMES[k % NAMES.length];
        WaitStatus status = new WaitStatus(k % 17 == 0 ? 9 : (k % 13 == 0 ? 1 << 8 : 0));
        Taskstats t = new Taskstats(0, true, pid, 1, k % 7 == 0 ? 1000 : 0, 0, name, status, 0, 0, 0, 0,
                k % 5000, k % 3000, 0, 0, 2048 + k % 100_000, 0, 0, 0, 0, 0, k % 4096, k % 8192, 0, k % 50, k % 9, pid);
        return new ExitedProcess(k, pid, 1, k % 7 == 0 ? 1000 : 0, 0, name, "/usr/bin/" + name,
                List.of("/usr/bin/" + name, "--flag", "argument-" + k), endMs - 1 - k % 5000, endMs, status, false, true,
                true, t, (endMs - 1 - k % 5000) * 1_000_000L);
    }

    private HistoryStoreBench() {
    }
}
