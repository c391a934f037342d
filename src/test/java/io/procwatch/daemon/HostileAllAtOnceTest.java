package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Selector;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue #14's hostile-client case, all at once: one unprivileged user holds 256 half-sent
 * connections on the Unix socket, 64 HTTP event streams, and 8 connections that ask for the whole
 * history (150,000 exits in the database) again and again. Meanwhile root's {@code ps} (a fresh
 * connection and snapshot of every process, as the CLI makes), {@code stats} and {@code /metrics}
 * must keep answering quickly, and the daemon's RSS must stay within its budget. Bounded: the
 * attack lasts 25 s.
 */
class HostileAllAtOnceTest {
    private static final int SECONDS = 25;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static long metrics(int port) throws IOException {
        long t0 = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            String status = new String(in.readNBytes(12), StandardCharsets.US_ASCII);
            byte[] body = in.readAllBytes();
            assertThat(status).as("root's /metrics during the attack").endsWith("200");
            assertThat(new String(body, StandardCharsets.UTF_8)).contains("procwatch_processes");
        }
        return System.nanoTime() - t0;
    }

    private static long p(List<Long> nanos, double q) {
        List<Long> s = new ArrayList<>(nanos);
        Collections.sort(s);
        return s.get((int) Math.ceil(s.size() * q) - 1);
    }

    @Test
    void oneUsersStalledConnectionsStreamsAndHugeHistoriesAtOnceStarveNeitherRootNorMemory() throws Exception {
        Path dbDir = Files.createTempDirectory("pw-hostile");
        Path db = dbDir.resolve("history.db");
        MemoryBudgetTest.fill(db);
        int port = freePort();
        try (DaemonProcess daemon = DaemonProcess.start("--history-db", db.toString(), "--http", "127.0.0.1:" + port)) {
            String socket = daemon.socket().toString();
            long rssBefore = daemon.rssKiB();
            List<ClientLimitsTest.Hostile> attack = new ArrayList<>();
            try {
                attack.add(ClientLimitsTest.Hostile.start(ClientLimitsTest.NOBODY, "unix-half", socket, 256, SECONDS));
                attack.add(ClientLimitsTest.Hostile.start(ClientLimitsTest.NOBODY, "sse", "127.0.0.1:" + port, 64,
                        SECONDS));
                attack.add(ClientLimitsTest.Hostile.startMain(ClientLimitsTest.NOBODY,
                        "io.procwatch.testing.HugeHistoryClients", socket, "8", String.valueOf(SECONDS)));
                long t0 = System.nanoTime();
                List<Long> ps = new ArrayList<>();
                List<Long> stats = new ArrayList<>();
                List<Long> metrics = new ArrayList<>();
                long rssPeak = rssBefore;
                int rows = 0;
                Map<String, Long> during = Map.of();
                // root's commands through the attack, until 5 s before it ends
                while (System.nanoTime() - t0 < (SECONDS - 5) * 1_000_000_000L) {
                    long a = System.nanoTime();
                    try (ProcwatchClient c = ProcwatchClient.connect(daemon.socket())) {
                        rows = c.snapshot(Selector.all(), 1, 0).rows().size();
                    }
                    long b = System.nanoTime();
                    try (ProcwatchClient c = ProcwatchClient.connect(daemon.socket())) {
                        during = c.stats();
                    }
                    long d = System.nanoTime();
                    ps.add(b - a);
                    stats.add(d - b);
                    metrics.add(metrics(port));
                    rssPeak = Math.max(rssPeak, daemon.rssKiB());
                    Thread.sleep(50);
                }
                List<Map<String, String>> results = new ArrayList<>();
                for (ClientLimitsTest.Hostile h : attack) {
                    results.add(h.result());
                }
                System.out.printf("hostile, all at once, %d s: root's ps p50 %.1f p99 %.1f ms, stats p50 %.1f p99 %.1f ms,"
                                + " /metrics p50 %.1f p99 %.1f ms (%d of each); RSS %d MiB before, peak %d MiB; heap used"
                                + " %d MiB; clients %d, refused per uid %d, subscribers %d%n", SECONDS,
                        p(ps, 0.5) / 1e6, p(ps, 0.99) / 1e6, p(stats, 0.5) / 1e6, p(stats, 0.99) / 1e6,
                        p(metrics, 0.5) / 1e6, p(metrics, 0.99) / 1e6, ps.size(), rssBefore / 1024, rssPeak / 1024,
                        during.get("heap_used_bytes") >> 20, during.get("clients"),
                        during.get("connections_rejected_per_uid"), during.get("subscribers"));
                System.out.println("hostile: slowest of root's ps, ms: " + ps.stream().sorted(Collections.reverseOrder())
                        .limit(5).map(n -> String.format("%.1f", n / 1e6)).toList() + "; stats: " + stats.stream()
                        .sorted(Collections.reverseOrder()).limit(5).map(n -> String.format("%.1f", n / 1e6)).toList());
                System.out.println("hostile: half-sent Unix connections: " + results.get(0));
                System.out.println("hostile: event streams: " + results.get(1));
                System.out.println("hostile: whole-history requests: " + results.get(2));
                assertThat(rows).as("root's ps lists processes").isGreaterThan(10);
                assertThat(ps.size()).as("root's rounds during the attack").isGreaterThanOrEqualTo(20);
                // the attack really ran: stalled connections held to the user's share, streams
                // refused beyond it, whole histories streamed
                assertThat(during.get("connections_rejected_per_uid")).isPositive();
                assertThat(Long.parseLong(results.get(1).get("refused"))).isPositive();
                assertThat(Long.parseLong(results.get(2).get("requests"))).isGreaterThanOrEqualTo(8);
                assertThat(Long.parseLong(results.get(2).get("rows"))).isGreaterThanOrEqualTo(100_000);
                assertThat(p(ps, 0.99)).as("p99 of root's ps, ns").isLessThan(100_000_000L);
                assertThat(p(stats, 0.99)).as("p99 of root's stats, ns").isLessThan(100_000_000L);
                assertThat(p(metrics, 0.99)).as("p99 of root's /metrics, ns").isLessThan(100_000_000L);
                assertThat(rssPeak).as("RSS peak, KiB (budget: docs/security.md)").isLessThan(256 * 1024);
                assertThat(daemon.isAlive()).isTrue();
                assertThat(during.get("internal_errors")).isZero();
            } finally {
                attack.forEach(ClientLimitsTest.Hostile::close);
            }
        } finally {
            for (String f : List.of("history.db", "history.db-wal", "history.db-shm")) {
                Files.deleteIfExists(dbDir.resolve(f));
            }
            Files.deleteIfExists(dbDir);
        }
    }
}
