package io.procwatch.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's real Prometheus against a real daemon: the test starts a procwatch daemon with --http on
 * loopback and its own {@code prometheus} (temporary config and storage, scraping every second,
 * loading packaging/prometheus/procwatch.rules.yml), runs a Python workload of its own (children
 * that exit with known statuses, die of known signals, stop, or carry hostile names), and asks
 * Prometheus's HTTP API what it stored. {@code promtool} lints the exposition and the rules; the
 * Grafana dashboard's queries are checked against the exposition and run through Prometheus.
 *
 * <p>Prometheus scrapes the daemon through a tap in this JVM that passes each answer on unchanged
 * and keeps it: so the test knows exactly what the daemon served at each scrape, and compares
 * Prometheus's stored samples with that scrape, not with a later read of a moving table.
 *
 * <p>The exit statuses (213-215) and signals (SIGVTALRM 26, SIGPROF 27) are ones nothing else on a
 * machine is expected to produce; the daemon counts every exit on the machine.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class PrometheusTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final Path RULES = Path.of("packaging/prometheus/procwatch.rules.yml").toAbsolutePath();
    private static final Path DASHBOARD = Path.of("packaging/grafana/procwatch.json").toAbsolutePath();
    /** Deadlines are generous: CI machines are busy, and Prometheus scrapes only once a second. */
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(90);
    /** A comm with every character the text format must escape (quote, backslash, newline). */
    private static final String HOSTILE_NAME = "pw\"q\\b\nn";

    private static DaemonProcess daemon;
    private static HttpServer tap;
    private static Process prometheus;
    private static Path dir;
    private static String promBase;
    private static String daemonMetrics;
    /** What the daemon answered each scrape: receive time (ms since the epoch) and body, oldest first. */
    private static final Deque<Scrape> scrapes = new ArrayDeque<>();

    record Scrape(long atMs, String body) {
    }

    /** The workload's own record of what its children did. */
    record Truth(Map<Integer, Integer> byStatus, Map<Integer, Integer> bySignal) {
    }

    private static Truth truth;

    @BeforeAll
    static void start() throws Exception {
        assertThat(which("prometheus")).as("Debian's prometheus (bin/test installs it)").isNotNull();
        assertThat(which("promtool")).as("promtool (in Debian's prometheus package)").isNotNull();
        dir = Files.createTempDirectory("pw-prometheus");
        int daemonPort = freePort();
        daemon = DaemonProcess.start("--http", "127.0.0.1:" + daemonPort);
        daemonMetrics = "http://127.0.0.1:" + daemonPort + "/metrics";

        tap = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        tap.createContext("/metrics", x -> {
            try (x) {
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(daemonMetrics))
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
                long at = System.currentTimeMillis();
                if (r.statusCode() == 200) {
                    synchronized (scrapes) {
                        scrapes.addLast(new Scrape(at, r.body()));
                        while (scrapes.size() > 600) {
                            scrapes.removeFirst();
                        }
                    }
                }
                byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
                r.headers().firstValue("Content-Type").ifPresent(t -> x.getResponseHeaders().set("Content-Type", t));
                x.sendResponseHeaders(r.statusCode(), b.length);
                try (OutputStream out = x.getResponseBody()) {
                    out.write(b);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        tap.start();

        int promPort = freePort();
        promBase = "http://127.0.0.1:" + promPort;
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: procwatch
                    static_configs:
                      - targets: ['127.0.0.1:%d']
                """.formatted(RULES, tap.getAddress().getPort()));
        Path log = dir.resolve("prometheus.log");
        prometheus = new ProcessBuilder("prometheus", "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + promPort,
                "--storage.tsdb.retention.time=1h", "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + DEADLINE_NS;
        while (true) {
            assertThat(prometheus.isAlive()).as("prometheus running: %s", Files.readString(log)).isTrue();
            try {
                if (get(promBase + "/-/ready").statusCode() == 200) {
                    break;
                }
            } catch (IOException e) {
                // not listening yet
            }
            assertThat(System.nanoTime()).as("prometheus ready: %s", Files.readString(log)).isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (prometheus != null) {
            prometheus.destroy(); // SIGTERM: Prometheus shuts down cleanly
            if (!prometheus.waitFor(30, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (tap != null) {
            tap.stop(0);
        }
        if (daemon != null) {
            daemon.close();
        }
        if (dir != null) {
            new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * The workload runs while Prometheus scrapes: stopped children and hostile names are seen in
     * the counts by state and the per-name groups, then every exit is counted by status and by
     * signal exactly, against the workload's own record.
     */
    @Test
    @Order(1)
    void prometheusStoresTheDaemonsCountsExactly() throws Exception {
        JsonNode up = poll("up{job=\"procwatch\"} == 1", r -> r.size() == 1, "the daemon scraped and up");
        assertThat(up.get(0).get("value").get(1).asText()).isEqualTo("1");

        List<String> watched = List.of("status=\"213\"", "status=\"214\"", "status=\"215\"");
        List<String> watchedSignals = List.of("signal=\"26\"", "signal=\"27\"");
        Map<String, Double> before = new LinkedHashMap<>();
        for (String s : watched) {
            before.put(s, scalarOrZero("procwatch_exits_by_status_total{" + s + "}"));
        }
        for (String s : watchedSignals) {
            before.put(s, scalarOrZero("procwatch_exits_by_signal_total{" + s + "}"));
        }

        Path script = dir.resolve("workload.py");
        Files.writeString(script, WORKLOAD);
        Process w = new ProcessBuilder("/usr/bin/python3", script.toString(), HOSTILE_NAME).redirectError(
                ProcessBuilder.Redirect.INHERIT).start();
        // a workload that hangs must fail the test, not hold it: killed, its output ends
        Thread.ofVirtual().start(() -> {
            try {
                if (!w.waitFor(240, TimeUnit.SECONDS)) {
                    w.descendants().forEach(ProcessHandle::destroyForcibly);
                    w.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Map<Integer, Integer> byStatus = new TreeMap<>();
        Map<Integer, Integer> bySignal = new TreeMap<>();
        int stopped = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(w.getInputStream(), StandardCharsets.UTF_8));
             OutputStream in = w.getOutputStream()) {
            String line = out.readLine();
            assertThat(line).as("workload ready").startsWith("held ");
            String[] held = line.split(" ");
            stopped = Integer.parseInt(held[1]);
            assertThat(stopped).isEqualTo(3);

            // While the children are stopped and the named ones live: Prometheus's samples of the
            // counts by state are exactly what the daemon served at that scrape, and plausible.
            final int k = stopped;
            JsonNode t = poll("procwatch_processes{state=\"T\"} >= " + k, r -> r.size() == 1, "stopped children counted");
            assertThat(t.get(0).get("value").get(1).asDouble()).isGreaterThanOrEqualTo(k);
            statesMatchAScrape();
            JsonNode hostile = poll("procwatch_group_processes{name=" + promqlString(HOSTILE_NAME) + "}",
                    r -> r.size() == 1, "the group with a quote, a backslash and a newline in its name");
            assertThat(hostile.get(0).get("metric").get("name").asText()).isEqualTo(HOSTILE_NAME);
            assertThat(hostile.get(0).get("value").get(1).asDouble()).isEqualTo(1);
            poll("procwatch_group_processes{name=~\"pw.x\"}", r -> r.size() == 1, "the group whose name is not UTF-8");

            in.write('\n');
            in.flush();
            // the workload's own record: "exit PID PPID STATUS" or "signal PID PPID SIGNAL", then "done"
            while ((line = out.readLine()) != null && !line.equals("done")) {
                String[] f = line.split(" ");
                Map<Integer, Integer> m = f[0].equals("exit") ? byStatus : bySignal;
                m.merge(Integer.parseInt(f[3]), 1, Integer::sum);
            }
            assertThat(line).as("workload finished").isEqualTo("done");
        }
        assertThat(w.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(w.exitValue()).isZero();
        // the plan, as the workload itself recorded it
        assertThat(byStatus).containsExactlyEntriesOf(new TreeMap<>(Map.of(213, 3, 214, 5, 215, 3)));
        assertThat(bySignal).containsExactlyEntriesOf(new TreeMap<>(Map.of(26, 4, 27, 2)));
        truth = new Truth(byStatus, bySignal);

        // Prometheus reaches the workload's counts; a few scrapes later they are still exact
        for (var e : byStatus.entrySet()) {
            String q = "procwatch_exits_by_status_total{status=\"" + e.getKey() + "\"}";
            double want = before.get("status=\"" + e.getKey() + "\"") + e.getValue();
            poll(q + " >= " + want, r -> r.size() == 1, "exits with " + e.getKey());
        }
        for (var e : bySignal.entrySet()) {
            String q = "procwatch_exits_by_signal_total{signal=\"" + e.getKey() + "\"}";
            double want = before.get("signal=\"" + e.getKey() + "\"") + e.getValue();
            poll(q + " >= " + want, r -> r.size() == 1, "deaths by signal " + e.getKey());
        }
        long settled = System.currentTimeMillis();
        waitForScrapeAfter(settled + 2000);
        poll("timestamp(up{job=\"procwatch\"}) * 1000 > " + (settled + 2000), r -> r.size() == 1, "a later scrape stored");
        String losses = lossReport();
        for (var e : byStatus.entrySet()) {
            assertThat(scalarOrZero("procwatch_exits_by_status_total{status=\"" + e.getKey() + "\"}"))
                    .as("exits with status %d (%s)", e.getKey(), losses)
                    .isEqualTo(before.get("status=\"" + e.getKey() + "\"") + e.getValue());
        }
        for (var e : bySignal.entrySet()) {
            assertThat(scalarOrZero("procwatch_exits_by_signal_total{signal=\"" + e.getKey() + "\"}"))
                    .as("deaths by signal %d (%s)", e.getKey(), losses)
                    .isEqualTo(before.get("signal=\"" + e.getKey() + "\"") + e.getValue());
        }
        // the daemon itself says the same at its latest scrape
        String last = lastScrape().body();
        for (var e : byStatus.entrySet()) {
            assertThat(sample(last, "procwatch_exits_by_status_total{status=\"" + e.getKey() + "\"}"))
                    .isEqualTo(before.get("status=\"" + e.getKey() + "\"") + e.getValue());
        }

        // the loss counters are there, and 0: nothing was lost, or the exact counts above would not hold
        for (String loss : List.of("procwatch_event_losses_total", "procwatch_events_lost_total",
                "procwatch_exits_not_observed_total", "procwatch_resyncs_total", "procwatch_history_db_dropped_total")) {
            JsonNode r = query(loss);
            assertThat(r).as("%s stored", loss).hasSize(1);
            assertThat(r.get(0).get("value").get(1).asDouble()).as("%s (%s)", loss, losses).isZero();
            assertThat(sample(last, loss)).as("%s in the daemon's exposition", loss).isZero();
        }
    }

    /** The exposition the daemon served passes promtool's linter, hostile names included. */
    @Test
    @Order(2)
    void promtoolFindsNothingToLintInTheExposition() throws Exception {
        String body = lastScrape().body();
        assertThat(body).contains("# TYPE procwatch_exits_by_signal_total counter"); // promtool passes an empty input
        Path file = dir.resolve("exposition.txt");
        Files.writeString(file, body);
        Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("promtool check metrics").isEmpty();
        assertThat(p.exitValue()).isZero();
    }

    /** promtool accepts the rule file, and the test's Prometheus evaluates every rule in it. */
    @Test
    @Order(3)
    void theRuleExamplesPassPromtoolAndEvaluate() throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "rules", RULES.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("SUCCESS");

        List<String> records = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*- record: (\\S+)$").matcher(Files.readString(RULES));
        while (m.find()) {
            records.add(m.group(1));
        }
        assertThat(records).hasSizeGreaterThanOrEqualTo(5);

        // every rule evaluated without error (Prometheus's own view of the loaded file)
        long deadline = System.nanoTime() + DEADLINE_NS;
        List<String> unhealthy;
        while (true) {
            JsonNode groups = api("/api/v1/rules").get("groups");
            unhealthy = new ArrayList<>();
            int seen = 0;
            for (JsonNode g : groups) {
                for (JsonNode r : g.get("rules")) {
                    seen++;
                    if (!r.get("health").asText().equals("ok")) {
                        unhealthy.add(r.get("name").asText() + ": " + r.get("health").asText() + " " + r.path("lastError").asText());
                    }
                }
            }
            if (seen == 10 && unhealthy.isEmpty() || System.nanoTime() > deadline) {
                assertThat(seen).as("rules loaded").isEqualTo(10);
                break;
            }
            Thread.sleep(500);
        }
        assertThat(unhealthy).as("rules that did not evaluate").isEmpty();

        // each recorded series exists (per-signal and per-type rules keep their label: one or more
        // series), and the recorded sum of processes is the sum of the stored states. A rate of the
        // workload's own exits is not asserted: its series are new, and rate() over a series counts
        // only increases after its first sample, which already held most of the workload's exits.
        for (String r : records) {
            poll(r, res -> !res.isEmpty(), "recorded " + r);
        }
        JsonNode both = poll("instance:procwatch_processes:sum - on (job, instance) sum without (state) (procwatch_processes)",
                r -> r.size() == 1, "both sides present");
        assertThat(Math.abs(both.get(0).get("value").get(1).asDouble())).as("the recorded sum against the states")
                .isLessThanOrEqualTo(50); // samples a second apart at most: the table moves, not by hundreds
        JsonNode signals = query("instance:procwatch_exits_by_signal:rate5m");
        assertThat(signals.findValuesAsText("signal")).as("a series per signal the workload died of")
                .containsAll(truth.bySignal().keySet().stream().map(String::valueOf).toList());
    }

    /**
     * Every PromQL expression of the Grafana dashboard names only metrics the daemon exposes (or
     * the rule file records), and Prometheus accepts and answers each one.
     */
    @Test
    @Order(4)
    void everyDashboardQueryNamesExposedMetricsAndRunsInPrometheus() throws Exception {
        JsonNode dash = JSON.readTree(DASHBOARD.toFile());
        assertThat(dash.get("title").asText()).isNotEmpty();
        List<String> exprs = new ArrayList<>();
        for (JsonNode panel : dash.get("panels")) {
            assertThat(panel.path("title").asText()).as("panel title").isNotEmpty();
            assertThat(panel.path("description").asText()).as("panel %s documented", panel.path("title").asText()).isNotEmpty();
            for (JsonNode t : panel.path("targets")) {
                exprs.add(t.get("expr").asText());
            }
        }
        assertThat(exprs).hasSizeGreaterThanOrEqualTo(8);
        String exposition = lastScrape().body();
        TreeSet<String> exposed = new TreeSet<>();
        for (String line : exposition.lines().toList()) {
            if (!line.startsWith("#") && !line.isEmpty()) {
                exposed.add(line.split("[{ ]", 2)[0]);
            }
        }
        TreeSet<String> recorded = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^\\s*- record: (\\S+)$").matcher(Files.readString(RULES));
        while (m.find()) {
            recorded.add(m.group(1));
        }
        List<String> unknown = new ArrayList<>();
        for (String e : exprs) {
            for (String name : metricNames(e)) {
                if (!exposed.contains(name) && !recorded.contains(name) && !name.equals("up")) {
                    unknown.add(name + " in " + e);
                }
            }
        }
        assertThat(unknown).as("names neither in the exposition %s nor recorded", exposed).isEmpty();

        List<String> failed = new ArrayList<>();
        for (String e : exprs) {
            String q = e.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$instance", ".+")
                    .replace("$job", "procwatch");
            JsonNode r = JSON.readTree(get(promBase + "/api/v1/query?query=" + enc(q)).body());
            if (!r.path("status").asText().equals("success")) {
                failed.add(q + ": " + r.path("error").asText());
            } else if (r.get("data").get("result").isEmpty()) {
                failed.add(q + ": no result");
            }
        }
        assertThat(failed).as("dashboard queries Prometheus refused or answered with nothing").isEmpty();
    }

    // ---- the workload ---------------------------------------------------------------------------

    /**
     * Holds three children stopped (state T) and two named ones (a hostile name, and one that is
     * not UTF-8) until a line arrives on stdin; then lets the stopped ones exit with 215, and forks
     * children that exit with 213 (x3) and 214 (x5) and die of SIGVTALRM (x4) and SIGPROF (x2).
     * Prints what each child did as the parent's wait saw it.
     */
    private static final String WORKLOAD = """
            import ctypes, os, signal, sys, time
            libc = ctypes.CDLL(None, use_errno=True)
            def report(pid, st):
                if os.WIFEXITED(st):
                    print("exit", pid, os.getpid(), os.WEXITSTATUS(st), flush=True)
                elif os.WIFSIGNALED(st):
                    print("signal", pid, os.getpid(), os.WTERMSIG(st), flush=True)
            stopped = []
            for i in range(3):
                pid = os.fork()
                if pid == 0:
                    os.kill(os.getpid(), signal.SIGSTOP)
                    os._exit(215)
                stopped.append(pid)
            for pid in stopped:
                _, st = os.waitpid(pid, os.WUNTRACED)
                assert os.WIFSTOPPED(st)
            # one pipe for both named children: each holds only the read end, so closing the
            # parent's write end releases both (a pipe each would be held open by the later child)
            r, w = os.pipe()
            named = []
            for name in (sys.argv[1].encode(), b"pw\\xffx"):
                pid = os.fork()
                if pid == 0:
                    os.close(w)
                    libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)   # PR_SET_NAME
                    os.read(r, 1)                                     # until the parent closes it
                    os._exit(0)
                named.append(pid)
            os.close(r)
            print("held", len(stopped), flush=True)
            sys.stdin.readline()
            os.close(w)
            for pid in named:
                os.waitpid(pid, 0)
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            for pid in stopped:
                _, st = os.waitpid(pid, 0)
                report(pid, st)
            plan = [("exit", 213)] * 3 + [("exit", 214)] * 5 + [("signal", 26)] * 4 + [("signal", 27)] * 2
            for kind, v in plan:
                pid = os.fork()
                if pid == 0:
                    if kind == "exit":
                        os._exit(v)
                    signal.signal(v, signal.SIG_DFL)
                    os.kill(os.getpid(), v)
                    time.sleep(30)
                    os._exit(1)
                _, st = os.waitpid(pid, 0)
                report(pid, st)
            print("done", flush=True)
            """;

    // ---- Prometheus and the tap ---------------------------------------------------------------

    /**
     * The newest stored sample of every state series equals, state for state, what the daemon
     * served at one scrape of about that time (the tap saw the scrape at or just after the
     * sample's timestamp), and the states are plausible: some sleeping, a total the size of a
     * machine's table.
     */
    private static void statesMatchAScrape() throws Exception {
        long deadline = System.nanoTime() + DEADLINE_NS;
        String why = "";
        while (System.nanoTime() < deadline) {
            // raw samples of the last 10 s: [timestamp, value] per state
            JsonNode r = query("procwatch_processes[10s]");
            double newest = 0;
            for (JsonNode s : r) {
                for (JsonNode v : s.get("values")) {
                    newest = Math.max(newest, v.get(0).asDouble());
                }
            }
            Map<String, Double> stored = new TreeMap<>();
            for (JsonNode s : r) {
                for (JsonNode v : s.get("values")) {
                    if (v.get(0).asDouble() == newest) {
                        stored.put(s.get("metric").get("state").asText(), v.get(1).asDouble());
                    }
                }
            }
            long tsMs = Math.round(newest * 1000);
            List<Scrape> near;
            synchronized (scrapes) {
                near = scrapes.stream().filter(s -> s.atMs() >= tsMs - 50 && s.atMs() <= tsMs + 5000).toList();
            }
            for (Scrape s : near) {
                Map<String, Double> served = states(s.body());
                if (served.equals(stored)) {
                    assertThat(stored.getOrDefault("S", 0.0)).as("sleeping processes").isPositive();
                    double total = stored.values().stream().mapToDouble(Double::doubleValue).sum();
                    assertThat(total).as("all processes").isBetween(10.0, 4_000_000.0);
                    return;
                }
            }
            why = "stored at " + tsMs + ": " + stored + "; served near it: "
                    + near.stream().map(s -> s.atMs() + "=" + states(s.body())).toList();
            Thread.sleep(1000);
        }
        throw new AssertionError("no scrape matched Prometheus's stored states: " + why);
    }

    private static Map<String, Double> states(String body) {
        Map<String, Double> m = new TreeMap<>();
        Matcher x = Pattern.compile("(?m)^procwatch_processes\\{state=\"([^\"]+)\"} (\\S+)$").matcher(body);
        while (x.find()) {
            m.put(x.group(1), Double.parseDouble(x.group(2)));
        }
        return m;
    }

    private static void waitForScrapeAfter(long ms) throws InterruptedException {
        long deadline = System.nanoTime() + DEADLINE_NS;
        while (lastScrape().atMs() <= ms) {
            assertThat(System.nanoTime()).as("a scrape after %d", ms).isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private static Scrape lastScrape() {
        synchronized (scrapes) {
            assertThat(scrapes).as("scrapes through the tap").isNotEmpty();
            return scrapes.getLast();
        }
    }

    /** For a failure message: what the daemon says about losses. */
    private static String lossReport() throws Exception {
        String last = lastScrape().body();
        return "daemon: event_losses " + sample(last, "procwatch_event_losses_total") + ", events_lost "
                + sample(last, "procwatch_events_lost_total") + ", exits_not_observed "
                + sample(last, "procwatch_exits_not_observed_total");
    }

    private static double sample(String body, String series) {
        return body.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
                .findFirst().orElseThrow(() -> new AssertionError(series + " not in the exposition"));
    }

    /** PromQL keywords, and words before a parenthesis are functions or aggregations, not metrics. */
    private static final java.util.Set<String> KEYWORDS = java.util.Set.of("by", "without", "on", "ignoring",
            "group_left", "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan");

    /** The metric names an expression reads: identifiers outside strings, label matchers, ranges and by(...) lists. */
    static List<String> metricNames(String expr) {
        String e = expr.replaceAll("\"([^\"\\\\]|\\\\.)*\"", "\"\"") // strings
                .replaceAll("\\{[^}]*}", " ") // label matchers
                .replaceAll("\\[[^]]*]", " ") // ranges
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?").matcher(e);
        while (m.find()) {
            String w = m.group(1);
            if (m.group(2) == null && !KEYWORDS.contains(w.toLowerCase(java.util.Locale.ROOT))
                    && !(m.start() > 0 && Character.isDigit(e.charAt(m.start() - 1)))) {
                names.add(w);
            }
        }
        return names;
    }

    private static String promqlString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    /** Polls an instant query until its result satisfies the predicate (or the deadline passes). */
    private static JsonNode poll(String promql, Predicate<JsonNode> ok, String what) throws Exception {
        long deadline = System.nanoTime() + DEADLINE_NS;
        JsonNode r = query(promql);
        while (!ok.test(r)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": " + promql + " gave " + r + " (last scrape: "
                        + (scrapes.isEmpty() ? "none" : lastScrape().atMs()) + ")");
            }
            Thread.sleep(500);
            r = query(promql);
        }
        return r;
    }

    private static double scalarOrZero(String promql) throws Exception {
        JsonNode r = query(promql);
        assertThat(r.size()).as(promql).isLessThanOrEqualTo(1);
        return r.isEmpty() ? 0 : r.get(0).get("value").get(1).asDouble();
    }

    /** /api/v1/query: the result array; the query must succeed. */
    private static JsonNode query(String promql) throws Exception {
        return api("/api/v1/query?query=" + enc(promql)).get("result");
    }

    private static JsonNode api(String path) throws Exception {
        HttpResponse<String> r = get(promBase + path);
        JsonNode j = JSON.readTree(r.body());
        assertThat(j.path("status").asText()).as("%s: %s", path, r.body()).isEqualTo("success");
        return j.get("data");
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String which(String cmd) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, cmd);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
