package io.procwatch.bench;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * N concurrent clients issuing full snapshots (base, cred, cmdline, stat) for S seconds against a
 * running daemon; prints errors, throughput and the daemon's own latency percentiles.
 * Usage: bin/bench LoadBench SOCKET [clients=100] [seconds=30] [spawn=0]
 * With spawn > 0 it first starts that many sleeping processes (perl forks) and removes them after.
 */
public final class LoadBench {
    private LoadBench() {
    }

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 30;
        int spawn = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        Process holder = null;
        if (spawn > 0) {
            holder = new ProcessBuilder("perl", "-e", "$| = 1; for (1.." + spawn + ") { my $p = fork(); "
                    + "if ($p == 0) { sleep 3600; exit 0; } } print \"ready\\n\"; sleep 3600;").start();
            holder.getInputStream().readNBytes(6);
            Thread.sleep(3000);
        }
        try {
            run(socket, clients, seconds);
        } finally {
            if (holder != null) {
                holder.descendants().forEach(ProcessHandle::destroyForcibly);
                holder.destroyForcibly();
            }
        }
    }

    static void run(Path socket, int clients, int seconds) throws Exception {
        long tableSize;
        Map<String, Long> before;
        try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
            before = c.stats();
            tableSize = before.get("processes");
        }
        AtomicLong ok = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong rows = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
                    while (System.nanoTime() < end) {
                        var l = c.snapshot(Selector.all(), Groups.BASE | Groups.CRED | Groups.CMDLINE | Groups.STAT, 0);
                        rows.addAndGet(l.rows().size());
                        ok.incrementAndGet();
                    }
                } catch (Exception e) {
                    errors.incrementAndGet();
                    System.err.println("client error: " + e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        Map<String, Long> after;
        try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
            after = c.stats();
        }
        System.out.printf("clients=%d seconds=%d table=%d processes: snapshots=%d (%.1f/s, %.0f rows/s) errors=%d%n",
                clients, seconds, tableSize, ok.get(), ok.get() / (double) seconds, rows.get() / (double) seconds,
                errors.get());
        System.out.printf("daemon-side latency (all requests since start): p50=%d us p90=%d us p99=%d us "
                        + "p99.9=%d us max=%d us, heap used %d MiB%n", after.get("request_latency_p50_us"),
                after.get("request_latency_p90_us"), after.get("request_latency_p99_us"),
                after.get("request_latency_p999_us"), after.get("request_latency_max_us"),
                after.get("heap_used_bytes") >> 20);
    }
}
