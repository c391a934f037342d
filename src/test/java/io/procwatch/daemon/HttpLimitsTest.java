package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One unprivileged user against the HTTP listener of a real daemon: 300 half-sent requests
 * (reopened whenever the daemon closes one) and 64 event streams at once. Half-sent requests must
 * be closed after the read deadline, that user's streams held to its share, and root's /metrics
 * and API requests answered throughout; the daemon's descriptors stay bounded.
 */
class HttpLimitsTest {
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The daemon's open sockets (its kept-open /proc/PID/stat files come and go with processes). */
    private static int openFds(DaemonProcess d) throws IOException {
        return d.openSockets();
    }

    /** One GET as root on a fresh connection: the status line and the time it took, in µs. */
    private static long[] get(int port, String path) throws IOException {
        long t0 = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12);
            String status = new String(head, StandardCharsets.US_ASCII);
            if (!path.contains("events")) {
                in.readAllBytes();
            }
            return new long[] {Integer.parseInt(status.substring(9, 12)), (System.nanoTime() - t0) / 1000};
        }
    }

    @Test
    void stalledRequestsAndStreamsOfOneUserStarveNobody() throws Exception {
        int port = freePort();
        try (DaemonProcess daemon = DaemonProcess.start("--http", "127.0.0.1:" + port)) {
            Thread.sleep(500);
            int fdsBefore = openFds(daemon);
            String target = "127.0.0.1:" + port;
            try (ClientLimitsTest.Hostile half = ClientLimitsTest.Hostile.start(ClientLimitsTest.NOBODY, "http-half",
                    target, 300, 14);
                 ClientLimitsTest.Hostile sse = ClientLimitsTest.Hostile.start(ClientLimitsTest.NOBODY, "sse",
                         target, 64, 14)) {
                long t0 = System.nanoTime();
                Thread.sleep(1000);
                List<Long> micros = new ArrayList<>();
                int fdsMax = 0;
                // as many as fit in 8 s of the 14 s attack (each costs a /proc/net/tcp read, see below)
                for (int i = 0; i < 40 && (System.nanoTime() - t0) < 8_000_000_000L; i++) {
                    long[] m = get(port, "/metrics");
                    assertThat(m[0]).as("root's /metrics during the attack").isEqualTo(200);
                    micros.add(m[1]);
                    long[] p = get(port, "/api/v1/processes?pid=1");
                    assertThat(p[0]).as("root's API request during the attack").isEqualTo(200);
                    micros.add(p[1]);
                    fdsMax = Math.max(fdsMax, openFds(daemon));
                    Thread.sleep(100);
                }
                assertThat(micros).hasSizeGreaterThanOrEqualTo(10);
                Map<String, Long> during;
                try (ProcwatchClient c = daemon.client()) {
                    during = c.stats();
                }
                long[] rootStream = get(port, "/api/v1/events");
                assertThat(rootStream[0]).as("root's own event stream (its reserve)").isEqualTo(200);
                assertThat((System.nanoTime() - t0) / 1e9).as("checks made while the attack ran").isLessThan(13);
                Collections.sort(micros);
                long p99 = micros.get((int) Math.ceil(micros.size() * 0.99) - 1);
                Map<String, String> rh = half.result();
                Map<String, String> rs = sse.result();
                System.out.printf("http limits: root /metrics+API p50 %d µs, p99 %d µs, max %d µs over %d requests;"
                                + " daemon sockets %d before, at most %d during; subscribers %d, http_refused %d; heap used %d of %d KiB%n",
                        micros.get(micros.size() / 2), p99, micros.getLast(), micros.size(), fdsBefore, fdsMax,
                        during.get("subscribers"), during.get("http_refused"), during.get("heap_used_bytes") / 1024,
                        during.get("heap_max_bytes") / 1024);
                System.out.println("http limits: half-sent requests of uid 65534: " + rh);
                System.out.println("http limits: event streams of uid 65534: " + rs);
                // The peer is found by one sock_diag lookup, not by reading /proc/net/tcp6, which the
                // attack fills with thousands of TIME_WAIT lines (that made p50 150-260 ms)
                assertThat(micros.get(micros.size() / 2)).as("p50 of root's requests, µs").isLessThan(250_000);
                assertThat(p99).as("p99 of root's requests, µs").isLessThan(5_000_000);
                assertThat(during.get("subscribers")).as("uid 65534 holds its share of streams, 8").isLessThanOrEqualTo(8);
                assertThat(during.get("http_refused")).isPositive();
                assertThat(Long.parseLong(rs.get("refused"))).isPositive();
                assertThat(rs.get("refusal")).contains("429");
                // every half-sent request was closed at the deadline (5 s, checked each second)
                assertThat(Long.parseLong(rh.get("closed"))).isGreaterThanOrEqualTo(300);
                assertThat(Long.parseLong(rh.get("min_kept_ms"))).isGreaterThanOrEqualTo(4_000);
                assertThat(Long.parseLong(rh.get("max_kept_ms"))).isLessThan(9_000);
                // what the attacker holds at once (plus sockets being closed), not what it opened in all
                assertThat(fdsMax).as("descriptors during the attack").isLessThan(fdsBefore + 300 + 64 + 200)
                        .isLessThan(fdsBefore + (int) Long.parseLong(rh.get("opened")));
            }
            // streams whose client left are noticed at their next keep-alive (every 5 s)
            int fdsAfter = openFds(daemon);
            for (long end = System.nanoTime() + 12_000_000_000L; fdsAfter >= fdsBefore + 20 && System.nanoTime() < end; ) {
                Thread.sleep(500);
                fdsAfter = openFds(daemon);
            }
            System.out.printf("http limits: daemon sockets after the attack %d%n", fdsAfter);
            assertThat(fdsAfter).isLessThan(fdsBefore + 20);
        }
    }
}
