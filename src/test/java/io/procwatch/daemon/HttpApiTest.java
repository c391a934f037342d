package io.procwatch.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The daemon's HTTP listener: Prometheus exposition format, JSON API, SSE events, permissions, errors. */
class HttpApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final long SELF = ProcessHandle.current().pid();
    private static DaemonProcess daemon;
    private static String base;

    @BeforeAll
    static void start() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        daemon = DaemonProcess.start("--http", "127.0.0.1:" + port);
        base = "http://127.0.0.1:" + port;
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A request as bytes on a plain socket; the whole answer. */
    private static String raw(String request) throws Exception {
        URI u = URI.create(base);
        try (java.net.Socket sock = new java.net.Socket(u.getHost(), u.getPort())) {
            sock.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            sock.getOutputStream().flush();
            sock.setSoTimeout(10_000);
            return new String(sock.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    /** One sample line of the text exposition format: name, optional labels, value. */
    private static final Pattern SAMPLE = Pattern.compile(
            "[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)*})? (-?[0-9.]+(E-?[0-9]+)?|NaN|[+-]Inf)");

    @Test
    void metricsAreValidExpositionFormatAndCountEvents() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
        List<String> bad = new ArrayList<>();
        for (String line : r.body().lines().toList()) {
            if (line.isEmpty() || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
                continue;
            }
            if (!SAMPLE.matcher(line).matches()) {
                bad.add(line);
            }
        }
        assertThat(bad).as("lines that are not exposition format").isEmpty();
        assertThat(r.body()).contains("# TYPE procwatch_processes gauge").contains("# TYPE procwatch_events_total counter")
                .containsPattern("procwatch_processes\\{state=\"S\"} [1-9]")
                .containsPattern("procwatch_group_processes\\{name=\"java\"} [1-9]")
                .contains("procwatch_event_losses_total 0.0");
        double execs = value(r.body(), "procwatch_events_total{type=\"exec\"}");
        for (int i = 0; i < 5; i++) {
            new ProcessBuilder("/bin/true").start().waitFor();
        }
        Thread.sleep(300);
        assertThat(value(get("/metrics").body(), "procwatch_events_total{type=\"exec\"}")).isGreaterThanOrEqualTo(execs + 5);
    }

    /**
     * Exits by status and by signal count exactly the workload's own exits: 3 exits with 77 and
     * one death by SIGUSR2 (values nothing else on the machine is expected to produce).
     */
    @Test
    void exitsAreCountedByStatusAndBySignal() throws Exception {
        String status77 = "procwatch_exits_by_status_total{status=\"77\"}";
        String usr2 = "procwatch_exits_by_signal_total{signal=\"12\"}";
        String before = get("/metrics").body();
        double s0 = valueOrZero(before, status77);
        double k0 = valueOrZero(before, usr2);
        for (int i = 0; i < 3; i++) {
            assertThat(new ProcessBuilder("sh", "-c", "exit 77").start().waitFor()).isEqualTo(77);
        }
        assertThat(new ProcessBuilder("sh", "-c", "kill -USR2 $$").start().waitFor()).isEqualTo(128 + 12);
        long deadline = System.nanoTime() + 5_000_000_000L;
        String now = get("/metrics").body();
        while ((valueOrZero(now, status77) < s0 + 3 || valueOrZero(now, usr2) < k0 + 1) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            now = get("/metrics").body();
        }
        assertThat(valueOrZero(now, status77)).isEqualTo(s0 + 3);
        assertThat(valueOrZero(now, usr2)).isEqualTo(k0 + 1);
        assertThat(now).contains("# TYPE procwatch_exits_by_status_total counter")
                .contains("# TYPE procwatch_exits_by_signal_total counter");
    }

    private static double valueOrZero(String body, String series) {
        return body.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
                .findFirst().orElse(0);
    }

    private static double value(String body, String series) {
        return body.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
                .findFirst().orElseThrow();
    }

    @Test
    void processesHistoryTreeAndStatsAsJson() throws Exception {
        JsonNode one = JSON.readTree(get("/api/v1/processes?pid=" + SELF).body());
        assertThat(one).hasSize(1);
        assertThat(one.get(0).get("pid").asLong()).isEqualTo(SELF);
        assertThat(one.get(0).get("comm").asText()).isEqualTo("java");
        assertThat(one.get(0).get("rss_kib").asLong()).isPositive();

        Process p = new ProcessBuilder("sh", "-c", "sleep 0.3; exit 9").start(); // long enough for its argv to be read
        p.waitFor();
        JsonNode h = null;
        for (int i = 0; i < 50; i++) {
            h = JSON.readTree(get("/api/v1/history?failed=1&pid=" + p.pid()).body());
            if (!h.isEmpty()) {
                break;
            }
            Thread.sleep(50);
        }
        assertThat(h).hasSize(1);
        assertThat(h.get(0).get("exit_code").asInt()).isEqualTo(9);
        assertThat(h.get(0).get("argv").toString()).contains("sleep 0.3; exit 9");

        JsonNode tree = JSON.readTree(get("/api/v1/tree?pid=1").body());
        assertThat(tree.get("pid").asInt()).isEqualTo(1);
        assertThat(tree.get("children").size()).isPositive();
        assertThat(JSON.readTree(get("/api/v1/stats").body()).get("processes").asLong()).isPositive();
    }

    @Test
    void eventStreamDeliversAnExecAsServerSentEvents() throws Exception {
        HttpResponse<java.io.InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/events")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).isEqualTo("text/event-stream");
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body()))) {
            assertThat(in.readLine()).startsWith(":"); // the stream is open: events from now on
            Process p = new ProcessBuilder("/bin/sleep", "0.1").start();
            String event = null;
            long deadline = System.nanoTime() + 10_000_000_000L;
            String line;
            while (System.nanoTime() < deadline && (line = in.readLine()) != null) {
                if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ") && "exec".equals(event) && line.contains("\"pid\":" + p.pid() + ",")
                        && line.contains("\"comm\":\"sleep\"") && line.contains("\"argv_known\":true")) {
                    // The JDK execs its spawn helper first, then sleep: the helper's exec event may
                    // already see the name "sleep" while the command line is mid-exec (unknown).
                    // The second exec's event carries it.
                    JsonNode data = JSON.readTree(line.substring(6));
                    assertThat(data.get("argv").toString()).contains("0.1");
                    assertThat(data.get("comm").asText()).isEqualTo("sleep");
                    p.waitFor();
                    return;
                }
            }
            throw new AssertionError("no exec event for " + p.pid());
        }
    }

    @Test
    void eventStreamsBeyondTheLimitAreTurnedAwayAndOtherRequestsGoOn() throws Exception {
        // Streams have their own limit (32, root included), so they never take the capacity that
        // ordinary requests and /metrics need (they used to share 64 slots: 64 streams made
        // every request 503).
        List<HttpResponse<java.io.InputStream>> streams = new ArrayList<>();
        try {
            for (int i = 0; i < HttpApi.MAX_STREAMS; i++) {
                streams.add(HTTP.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/events")).build(),
                        HttpResponse.BodyHandlers.ofInputStream()));
            }
            assertThat(streams).allMatch(r -> r.statusCode() == 200);
            HttpResponse<String> refused = get("/api/v1/events");
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.body()).contains("too many event streams (limit " + HttpApi.MAX_STREAMS + ")");
            assertThat(get("/api/v1/stats").statusCode()).as("ordinary requests while streams are full").isEqualTo(200);
            assertThat(get("/metrics").statusCode()).isEqualTo(200);
        } finally {
            for (var r : streams) {
                r.body().close();
            }
        }
        // the streams notice their clients left at their next write (an event or a keep-alive)
        for (int i = 0; i < 5; i++) {
            new ProcessBuilder("/bin/true").start().waitFor();
        }
        long deadline = System.nanoTime() + 30_000_000_000L;
        int code = 0;
        while (System.nanoTime() < deadline) {
            HttpResponse<java.io.InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/events"))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            code = r.statusCode();
            r.body().close();
            if (code == 200) {
                break;
            }
            Thread.sleep(200);
        }
        assertThat(code).as("a stream admitted again once the streams ended").isEqualTo(200);
    }

    @Test
    void anUnprivilegedPeerSeesWhatProcWouldShowIt() throws Exception {
        // perl (in every Debian) as uid 65534 makes the request: its socket's owner identifies it
        String perl = "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '" + base.substring(7)
                + "') or die $!; print $s \"GET /api/v1/processes?pid=1," + SELF + " HTTP/1.0\\r\\n\\r\\n\"; "
                + "local $/; my $r = <$s>; $r =~ s/^.*?\\r\\n\\r\\n//s; print $r;";
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-e", perl)
                .redirectErrorStream(true).start();
        String body = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(body).isZero();
        JsonNode rows = JSON.readTree(body);
        assertThat(rows).hasSize(2);
        for (JsonNode row : rows) {
            assertThat(row.get("uid").asInt()).isZero();
            assertThat(row.has("exe")).as("root's exe hidden from uid 65534: %s", row).isFalse();
        }
        // as root, the same request shows the executable
        assertThat(JSON.readTree(get("/api/v1/processes?pid=" + SELF).body()).get(0).has("exe")).isTrue();
    }

    @Test
    void badRequestsGetClearErrors() throws Exception {
        assertThat(get("/api/v1/history?limit=abc").statusCode()).isEqualTo(400);
        assertThat(get("/api/v1/history?limit=abc").body()).contains("limit must be a number");
        assertThat(get("/api/v1/tree?pid=999999999").statusCode()).isEqualTo(400);
        assertThat(get("/nothing-here").statusCode()).isEqualTo(404);
        // a client that sends a broken escape (HttpClient would refuse to): a 400, not a 500
        String raw = raw("GET /api/v1/history?since_ms=%zz HTTP/1.0\r\n\r\n");
        assertThat(raw).startsWith("HTTP/1.1 400");
        raw = raw("GET /api/v1/history?since_ms=%2 HTTP/1.0\r\n\r\n");
        assertThat(raw).startsWith("HTTP/1.1 400");
        assertThat(get("/api/v1/processes?pid=1,x").statusCode()).isEqualTo(400);
        HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(get("/metrics").statusCode()).as("still serving").isEqualTo(200);
    }
}
