package io.procwatch.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP API's cgroup selectors and /metrics' per-container and per-unit aggregates, against
 * sleeping processes the test places in Docker-shaped scopes and a systemd service it makes in the
 * unified hierarchy: the selectors return exactly the members (they go through the socket's
 * select: CgroupMatch, then the peer's Viewer), bad values are a 400 that says why, the
 * aggregates count exactly the processes placed and sum their own /proc values, and a cap of 3
 * keeps the three largest and folds the rest into "other".
 */
class CgroupHttpMetricsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** Processes per Docker scope: the three largest keep their series under a cap of 3. */
    private static final int[] SIZES = {6, 5, 4, 1, 1};
    private static final int SERVICE_SIZE = 7;
    private static Path root;
    private static String top;
    private static DaemonProcess capped;
    private static DaemonProcess uncapped;
    private static String cappedBase;
    private static String uncappedBase;
    /** Container short name ("docker:...") -> its processes; and the service's. */
    private static final Map<String, List<Process>> containers = new LinkedHashMap<>();
    private static final Map<String, String> cgroupOf = new LinkedHashMap<>();
    private static final List<Process> service = new ArrayList<>();
    private static String serviceName;

    @BeforeAll
    static void place() throws Exception {
        root = io.procwatch.testing.Cgroups.unifiedRoot();
        long self = ProcessHandle.current().pid();
        top = "pwhm" + self + ".slice";
        for (int i = 0; i < SIZES.length; i++) {
            String id = "e" + i + String.format("%016x", self) + "0".repeat(46);
            String leaf = top + "/docker-" + id + ".scope";
            containers.put("docker:" + id.substring(0, 12), start(leaf, SIZES[i]));
            cgroupOf.put("docker:" + id.substring(0, 12), "/" + leaf);
        }
        serviceName = "pwhm" + self + ".service";
        service.addAll(start(top + "/" + serviceName, SERVICE_SIZE));
        int[] ports = new int[2];
        for (int i = 0; i < 2; i++) {
            try (ServerSocket s = new ServerSocket(0)) {
                ports[i] = s.getLocalPort();
            }
        }
        capped = DaemonProcess.start("--http", "127.0.0.1:" + ports[0], "--metrics-group-cap", "3");
        cappedBase = "http://127.0.0.1:" + ports[0];
        uncapped = DaemonProcess.start("--http", "127.0.0.1:" + ports[1]);
        uncappedBase = "http://127.0.0.1:" + ports[1];
    }

    private static List<Process> start(String leaf, int n) throws Exception {
        Files.createDirectories(root.resolve(leaf));
        List<Process> ps = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            Process p = new ProcessBuilder("sleep", "600").start();
            Files.writeString(root.resolve(leaf).resolve("cgroup.procs"), Long.toString(p.pid()));
            ps.add(p);
        }
        return ps;
    }

    @AfterAll
    static void remove() throws Exception {
        for (DaemonProcess d : new DaemonProcess[] {capped, uncapped}) {
            if (d != null) {
                d.close();
            }
        }
        List<Process> all = new ArrayList<>(service);
        containers.values().forEach(all::addAll);
        for (Process p : all) {
            p.destroyForcibly().waitFor();
        }
        if (root != null && Files.exists(root.resolve(top))) {
            try (var walk = Files.walk(root.resolve(top))) {
                for (Path d : walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(d);
                }
            }
        }
    }

    private static HttpResponse<String> get(String base, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static Set<Long> pidsOf(List<Process> ps) {
        Set<Long> s = new TreeSet<>();
        ps.forEach(p -> s.add(p.pid()));
        return s;
    }

    private static Set<Long> selected(String query) throws Exception {
        HttpResponse<String> r = get(cappedBase, "/api/v1/processes?" + query);
        assertThat(r.statusCode()).as(query + ": " + r.body()).isEqualTo(200);
        Set<Long> s = new TreeSet<>();
        JSON.readTree(r.body()).forEach(p -> s.add(p.get("pid").asLong()));
        return s;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Test
    void httpSelectorsPickExactlyTheMembers() throws Exception {
        String first = containers.keySet().iterator().next();
        assertThat(selected("container=" + enc(first))).isEqualTo(pidsOf(containers.get(first)));
        List<String> names = new ArrayList<>(containers.keySet());
        assertThat(selected("container=" + enc(names.get(1) + "," + names.get(3))))
                .isEqualTo(union(containers.get(names.get(1)), containers.get(names.get(3))));
        assertThat(selected("unit=" + enc(serviceName))).isEqualTo(pidsOf(service));
        assertThat(selected("cgroup=" + enc(cgroupOf.get(names.get(2))))).isEqualTo(pidsOf(containers.get(names.get(2))));
        List<Process> all = new ArrayList<>(service);
        containers.values().forEach(all::addAll);
        assertThat(selected("cgroup=" + enc("/" + top + "/"))).isEqualTo(pidsOf(all));
        assertThat(selected("cgroup=" + enc("/" + top) + "&unit=" + enc(serviceName))).isEqualTo(pidsOf(service));
        assertThat(selected("container=" + enc(first) + "&unit=" + enc(serviceName))).as("kinds AND").isEmpty();
        // the other selectors still narrow: one pid of the service
        long one = service.getFirst().pid();
        assertThat(selected("unit=" + enc(serviceName) + "&pid=" + one)).containsExactly(one);
        System.out.printf("TRUTH http selectors: %d of %d placed processes selected by cgroup=/%s%n",
                selected("cgroup=" + enc("/" + top)).size(), all.size(), top);
    }

    private static Set<Long> union(List<Process> a, List<Process> b) {
        Set<Long> s = pidsOf(a);
        s.addAll(pidsOf(b));
        return s;
    }

    @Test
    void badSelectorValuesAre400WithAMessage() throws Exception {
        Map<String, String> bad = new LinkedHashMap<>();
        bad.put("cgroup=system.slice", "cgroup takes a path from /");
        bad.put("cgroup=", "cgroup needs a value");
        bad.put("unit=a,,b", "unit needs a value");
        bad.put("container=" + enc("x".repeat(4097)), "at most 4096 characters");
        StringBuilder many = new StringBuilder("container=");
        for (int i = 0; i < 65; i++) {
            many.append(i == 0 ? "" : ",").append("c").append(i);
        }
        bad.put(many.toString(), "at most 64 container values");
        bad.put("unit=a%00b", "hold no NUL");
        for (var e : bad.entrySet()) {
            HttpResponse<String> r = get(cappedBase, "/api/v1/processes?" + e.getKey());
            assertThat(r.statusCode()).as(e.getKey()).isEqualTo(400);
            assertThat(r.body()).as(e.getKey()).contains(e.getValue());
        }
        assertThat(get(cappedBase, "/api/v1/processes?pid=1").statusCode()).as("still serving").isEqualTo(200);
    }

    private static final Pattern SERIES = Pattern.compile("(?m)^(procwatch_[a-z_]+)\\{([a-z]+)=\"([^\"]*)\"} (\\S+)$");

    /** family -> label value -> value, for the series with one label. */
    private static Map<String, Map<String, Double>> scrape(String base) throws Exception {
        HttpResponse<String> r = get(base, "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        Map<String, Map<String, Double>> m = new LinkedHashMap<>();
        Matcher x = SERIES.matcher(r.body());
        while (x.find()) {
            m.computeIfAbsent(x.group(1), k -> new LinkedHashMap<>()).put(x.group(3), Double.parseDouble(x.group(4)));
        }
        Matcher folded = Pattern.compile("(?m)^(procwatch_(containers|units)_folded) (\\S+)$").matcher(r.body());
        while (folded.find()) {
            m.computeIfAbsent(folded.group(1), k -> new LinkedHashMap<>()).put("", Double.parseDouble(folded.group(3)));
        }
        return m;
    }

    /**
     * Resident bytes (status's exact VmRSS, which procps and the daemon show; stat's rss is the
     * kernel's approximation) and CPU seconds of sleeping processes, from their own /proc files.
     */
    private static double[] truth(List<Process> ps) throws Exception {
        double rss = 0;
        double cpu = 0;
        for (Process p : ps) {
            String s = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            cpu += (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
            for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss += Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
                }
            }
        }
        return new double[] {rss, cpu};
    }

    @Test
    void perContainerAndPerUnitAggregatesUnderTheDefaultCap() throws Exception {
        Map<String, Map<String, Double>> m = scrape(uncappedBase);
        for (var e : containers.entrySet()) {
            assertThat(m.get("procwatch_container_processes").get(e.getKey())).as(e.getKey())
                    .isEqualTo((double) e.getValue().size());
            double[] t = truth(e.getValue());
            assertThat(m.get("procwatch_container_resident_bytes").get(e.getKey())).as("RSS of " + e.getKey()).isEqualTo(t[0]);
            assertThat(m.get("procwatch_container_cpu_seconds").get(e.getKey())).isCloseTo(t[1], org.assertj.core.data.Offset.offset(1e-9));
            // a Docker scope is a unit too
            String scope = cgroupOf.get(e.getKey()).substring(cgroupOf.get(e.getKey()).lastIndexOf('/') + 1);
            assertThat(m.get("procwatch_unit_processes").get(scope)).isEqualTo((double) e.getValue().size());
        }
        assertThat(m.get("procwatch_unit_processes").get(serviceName)).isEqualTo((double) SERVICE_SIZE);
        assertThat(m.get("procwatch_unit_resident_bytes").get(serviceName)).isEqualTo(truth(service)[0]);
        assertThat(m.get("procwatch_container_processes")).doesNotContainKey("other");
        assertThat(m.get("procwatch_containers_folded").get("")).isZero();
        assertThat(m.get("procwatch_units_folded").get("")).isZero();
    }

    @Test
    void aCapOfThreeKeepsTheLargestAndFoldsTheRestIntoOther() throws Exception {
        Map<String, Map<String, Double>> m = scrape(cappedBase);
        Map<String, Double> procs = m.get("procwatch_container_processes");
        List<String> names = new ArrayList<>(containers.keySet());
        assertThat(procs).hasSize(4).containsKeys(names.get(0), names.get(1), names.get(2), "other");
        assertThat(procs.get(names.get(0))).isEqualTo(6.0);
        // this machine may hold other containers than the test's: the two folded here are among the rest
        double folded = m.get("procwatch_containers_folded").get("");
        assertThat(folded).isGreaterThanOrEqualTo(2);
        assertThat(procs.get("other")).isGreaterThanOrEqualTo(2);
        double[] small = truth(union2(containers.get(names.get(3)), containers.get(names.get(4))));
        assertThat(m.get("procwatch_container_resident_bytes").get("other")).isGreaterThanOrEqualTo(small[0]);
        // units: the service (7), then the two largest scopes (6, 5); the other three (4, 1, 1) in "other"
        Map<String, Double> units = m.get("procwatch_unit_processes");
        assertThat(units).hasSize(4).containsKey(serviceName).containsKey("other");
        assertThat(units.get(serviceName)).isEqualTo(7.0);
        assertThat(units.get("other")).isGreaterThanOrEqualTo(6.0);
        assertThat(m.get("procwatch_units_folded").get("")).isGreaterThanOrEqualTo(3);
        System.out.printf("TRUTH metrics cap 3: %s containers, %.0f folded; units %s, %.0f folded%n",
                procs.keySet(), folded, units.keySet(), m.get("procwatch_units_folded").get(""));
    }

    /**
     * The aggregates come from the rows, which the sampler keeps current: a process the test moves
     * from one Docker scope to another after the daemon has loaded it counts in the second (and
     * no longer in the first) within a few scrapes, with no event and no read at scrape time.
     */
    @Test
    void aMoveAfterTheDaemonLoadedTheProcessIsFollowed() throws Exception {
        long self = ProcessHandle.current().pid();
        String[] ids = new String[2];
        Path[] leaves = new Path[2];
        for (int i = 0; i < 2; i++) {
            ids[i] = "f" + i + String.format("%016x", self) + "0".repeat(46);
            leaves[i] = root.resolve(top + "/docker-" + ids[i] + ".scope");
            Files.createDirectories(leaves[i]);
        }
        String first = "docker:" + ids[0].substring(0, 12);
        String second = "docker:" + ids[1].substring(0, 12);
        Process p = new ProcessBuilder("sleep", "600").start();
        try {
            // seen by the daemon in the test's own cgroup first (the fork event), then moved twice
            awaitPid(p.pid());
            Files.writeString(leaves[0].resolve("cgroup.procs"), Long.toString(p.pid()));
            Map<String, Double> procs = awaitMetrics(m -> m.getOrDefault(first, 0.0) == 1.0);
            assertThat(procs).as("after the move into " + first).containsEntry(first, 1.0).doesNotContainKey(second);
            Files.writeString(leaves[1].resolve("cgroup.procs"), Long.toString(p.pid()));
            procs = awaitMetrics(m -> m.getOrDefault(second, 0.0) == 1.0);
            assertThat(procs).as("after the move into " + second).containsEntry(second, 1.0).doesNotContainKey(first);
            double[] t = truth(List.of(p));
            assertThat(scrape(uncappedBase).get("procwatch_container_resident_bytes").get(second)).isEqualTo(t[0]);
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    private static void awaitPid(long pid) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            JsonNode rows = JSON.readTree(get(uncappedBase, "/api/v1/processes?pid=" + pid).body());
            if (rows.size() == 1 && rows.get(0).get("pid").asLong() == pid) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the daemon never showed pid " + pid);
    }

    /** procwatch_container_processes once {@code done} holds for it (the sampler's next passes), or fails after 30 s. */
    private static Map<String, Double> awaitMetrics(java.util.function.Predicate<Map<String, Double>> done) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        Map<String, Double> procs = Map.of();
        while (System.nanoTime() < deadline) {
            procs = scrape(uncappedBase).getOrDefault("procwatch_container_processes", Map.of());
            if (done.test(procs)) {
                return procs;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("not seen in 30 s: " + procs);
    }

    private static List<Process> union2(List<Process> a, List<Process> b) {
        List<Process> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    /** promtool lints the exposition with the new families in it (as PrometheusTest does the rest). */
    @Test
    void promtoolFindsNothingToLint() throws Exception {
        String body = get(cappedBase, "/metrics").body();
        assertThat(body).contains("# TYPE procwatch_container_processes gauge").contains("procwatch_units_folded ");
        Path file = Files.createTempFile("pw-exposition", ".txt");
        try {
            Files.writeString(file, body);
            Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(out).as("promtool check metrics").isEmpty();
            assertThat(p.exitValue()).isZero();
        } finally {
            Files.delete(file);
        }
    }
}
