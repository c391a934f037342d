package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.KafkaBroker;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fleet end to end: a real KRaft broker, two real daemons with different host ids sending to
 * one topic, and two workloads (Python, written here) that fork and exec children for a fixed
 * time and record each child's pid, wait status and argv. Mid-storm the broker is SIGKILLed and
 * restarted, then daemon B is SIGKILLed and restarted on the same database and acked state.
 *
 * <p>Both daemons watch the same kernel, so each host reports both workloads. What must hold:
 * {@code fleet history --host H} (and {@code fleet events}) has every child of each workload
 * exactly once, with its status and argv; the only exception is host B's children that lived
 * while daemon B was dead (no observer existed: its own history says so), and even of those every
 * exit daemon B recorded is in the topic. Copies in the raw topic are the same key and seq only.
 */
class FleetTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "fleet.test";

    private static final String WORKLOAD = """
            import os, sys, time
            tag, duration, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
            end = time.time() + duration
            i = 0
            with open(out, 'w') as f:
                while time.time() < end:
                    i += 1
                    marker = '%s-%d' % (tag, i)
                    script = 'kill -TERM $$' if i % 13 == 0 else 'exit %d' % (i % 7)
                    argv = ['sh', '-c', script, marker]
                    t0 = time.time()
                    pid = os.fork()
                    if pid == 0:
                        try:
                            os.execv('/bin/sh', argv)
                        finally:
                            os._exit(127)
                    _, st = os.waitpid(pid, 0)
                    t1 = time.time()
                    code = os.waitstatus_to_exitcode(st)
                    code = 128 - code if code < 0 else code
                    f.write('%d %d %d %d %s\\n' % (pid, code, int(t0 * 1000), int(t1 * 1000), '\\x1f'.join(argv)))
            """;

    /** One child as its parent knew it. */
    private record Truth(long pid, int status, long forkMs, long reapedMs, List<String> argv) {
    }

    private record Host(String id, DaemonProcess daemon) {
    }

    @Test
    void twoHostsOneTopicNothingMissingAcrossBrokerAndDaemonKills() throws Exception {
        Path dir = Files.createTempDirectory("pw-fleet");
        Files.writeString(dir.resolve("workload.py"), WORKLOAD);
        Path dbA = dir.resolve("a.db");
        Path dbB = dir.resolve("b.db");
        // the interpreter itself: a launcher shim (pyenv's is a bash script) would fork helpers of its
        // own under the workload's pid before it execs Python
        String python = io.procwatch.testing.Spawn.output("python3", "-c", "import sys; print(sys.executable)").strip();
        try (KafkaBroker broker = KafkaBroker.start()) {
            String bs = broker.bootstrap();
            int httpPort;
            try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                httpPort = ss.getLocalPort();
            }
            DaemonProcess a = DaemonProcess.start("--history-db", dbA.toString(), "--kafka", bs, "--kafka-topic", TOPIC,
                    "--host-id", "fleet-a", "--http", "127.0.0.1:" + httpPort);
            DaemonProcess b = startDaemon(dbB, "fleet-b", bs);
            DaemonProcess b2 = null;
            try {
                // both sinks are sending and the topic exists before anything is measured
                Process marker = new ProcessBuilder("sh", "-c", "exit 0").start();
                marker.waitFor();
                awaitHosts(bs, Set.of("fleet-a", "fleet-b"));

                ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();
                Process tail = startEvents(bs, events);

                double seconds = 24;
                Process wa = new ProcessBuilder(python, dir.resolve("workload.py").toString(), "wa",
                        Double.toString(seconds), dir.resolve("truth-a").toString()).redirectErrorStream(true).start();
                Process wb = new ProcessBuilder(python, dir.resolve("workload.py").toString(), "wb",
                        Double.toString(seconds), dir.resolve("truth-b").toString()).redirectErrorStream(true).start();
                long t0 = System.currentTimeMillis();
                sleepUntil(t0 + 4_000);
                broker.kill();
                sleepUntil(t0 + 9_000);
                broker.restart();
                sleepUntil(t0 + 13_000);
                long bKilledMs = System.currentTimeMillis();
                b.kill();
                sleepUntil(t0 + 15_000);
                b2 = DaemonProcess.start(Files.createTempDirectory("pw-fleet-sock").resolve("b2.sock"),
                        "--history-db", dbB.toString(), "--kafka", bs, "--kafka-topic", TOPIC, "--host-id", "fleet-b");
                long bBackMs = System.currentTimeMillis();
                assertThat(wa.waitFor()).as("workload a").isZero();
                assertThat(wb.waitFor()).as("workload b").isZero();

                Map<String, List<Truth>> truth = Map.of("wa", truth(dir.resolve("truth-a")), "wb",
                        truth(dir.resolve("truth-b")));
                Map<String, Long> parents = Map.of("wa", wa.pid(), "wb", wb.pid());
                System.out.printf("workloads: wa %d children, wb %d children in %.0f s; daemon b dead %d ms%n",
                        truth.get("wa").size(), truth.get("wb").size(), seconds, bBackMs - bKilledMs);
                assertThat(truth.get("wa").size()).as("a storm, not a trickle").isGreaterThan(1000);

                // what each host must show: everything, except host b's children alive while daemon b was
                // dead (2 s before the kill for the batch the SIGKILL cut short, until the restart answered)
                Map<String, Map<String, List<Truth>>> expected = new HashMap<>();
                int bUnobservable = 0;
                for (String host : List.of("fleet-a", "fleet-b")) {
                    Map<String, List<Truth>> perWorkload = new HashMap<>();
                    for (var e : truth.entrySet()) {
                        List<Truth> l = new ArrayList<>();
                        for (Truth t : e.getValue()) {
                            boolean unobservable = host.equals("fleet-b") && t.reapedMs() >= bKilledMs - 2_000
                                    && t.forkMs() <= bBackMs;
                            if (unobservable) {
                                bUnobservable++;
                            } else {
                                l.add(t);
                            }
                        }
                        perWorkload.put(e.getKey(), l);
                    }
                    expected.put(host, perWorkload);
                }

                // fleet history: poll until every expected child is there (the sinks catch up)
                Map<String, JsonNode> lastRecords = new HashMap<>();
                long deadline = System.nanoTime() + 180_000_000_000L;
                Map<String, String> problems = new HashMap<>();
                while (true) {
                    problems.clear();
                    for (String host : List.of("fleet-a", "fleet-b")) {
                        Cli.Result r = Cli.run(null, "fleet", "history", "--since", "5m", "--host", host, "--json",
                                "--limit", "10000000", "--kafka", bs, "--topic", TOPIC);
                        assertThat(r.exit()).as(r.err()).isZero();
                        JsonNode arr = JSON.readTree(r.out());
                        for (var w : expected.get(host).entrySet()) {
                            String p = compare(arr, parents.get(w.getKey()), w.getValue(),
                                    host.equals("fleet-b") ? truth.get(w.getKey()) : w.getValue());
                            if (p != null) {
                                problems.put(host + "/" + w.getKey(), p);
                            }
                        }
                        lastRecords.put(host, arr);
                    }
                    if (problems.isEmpty() || System.nanoTime() > deadline) {
                        break;
                    }
                    Thread.sleep(3000);
                }
                assertThat(problems).as("fleet history against the workloads' truth").isEmpty();
                int shown = 0;
                for (var e : expected.values()) {
                    for (List<Truth> l : e.values()) {
                        shown += l.size();
                    }
                }
                System.out.printf("fleet history: %d of %d expected exits, exact; %d of host b's children lived while"
                        + " daemon b was dead%n", shown, shown, bUnobservable);

                // the table: a HOST column, both hosts, merged by time (END never goes back)
                Cli.Result table = Cli.run(null, "fleet", "history", "--since", "5m", "--failed", "--name", "sh",
                        "--limit", "10000000", "--kafka", bs, "--topic", TOPIC);
                assertThat(table.exit()).as(table.err()).isZero();
                List<String> rows = table.out().lines().filter(l -> !l.startsWith("--")).toList();
                assertThat(rows.getFirst()).matches("HOST +END +PID +PPID +USER +STATUS +LIFETIME +CPU +MAXRSS +COMMAND");
                String prevEnd = "";
                Set<String> hostsShown = new HashSet<>();
                int signalled = 0;
                int signalledA = 0;
                for (String row : rows.subList(1, rows.size())) {
                    String[] f = row.trim().split(" +");
                    hostsShown.add(f[0]);
                    String end = f[1] + " " + f[2];
                    assertThat(end.compareTo(prevEnd)).as("merged by time: " + row).isGreaterThanOrEqualTo(0);
                    prevEnd = end;
                    assertThat(row).doesNotContain("exit 0 ");
                    if (row.contains(" SIGTERM ") && row.contains("kill -TERM $$ w")) {
                        signalled++;
                        signalledA += f[0].equals("fleet-a") ? 1 : 0;
                    }
                }
                assertThat(hostsShown).contains("fleet-a", "fleet-b");
                long expectSignalled = 0;
                for (var e : expected.values()) {
                    for (List<Truth> l : e.values()) {
                        expectSignalled += l.stream().filter(t -> t.status() == 128 + 15).count();
                    }
                }
                long allSignalled = 0;
                for (List<Truth> l : truth.values()) {
                    allSignalled += l.stream().filter(t -> t.status() == 128 + 15).count();
                }
                // each host's SIGTERM children once (host a saw all); host b's dead-time ones may be there or not
                assertThat((long) signalledA).as("host a's SIGTERM rows").isEqualTo(allSignalled);
                assertThat((long) signalled).as("SIGTERM rows of the workloads")
                        .isBetween(expectSignalled, 2 * allSignalled);

                // every exit daemon b recorded (both runs) reached the topic
                Set<Long> bShown = new HashSet<>();
                for (JsonNode n : lastRecords.get("fleet-b")) {
                    bShown.add(n.path("process.pid").asLong() * 1_000_000_000_000L + n.path("process.creation.time")
                            .asText().hashCode());
                }
                int bRecorded = 0;
                try (HistoryStore s = HistoryStore.open(dbB)) {
                    for (ExitedProcess e : s.query(new HistoryStore.Query(t0 - 60_000, Long.MAX_VALUE, null, null, null,
                            false, 10_000_000))) {
                        if (e.ppid() == wa.pid() || e.ppid() == wb.pid()) {
                            bRecorded++;
                            long k = e.pid() * 1_000_000_000_000L + java.time.Instant.ofEpochMilli(e.startEpochMs())
                                    .toString().hashCode();
                            if (!bShown.contains(k)) {
                                List<String> same = new ArrayList<>();
                                for (JsonNode n : lastRecords.get("fleet-b")) {
                                    if (n.path("process.pid").asLong() == e.pid()) {
                                        same.add(n.toString());
                                    }
                                }
                                throw new AssertionError("daemon b's recorded exit " + e + " (start "
                                        + java.time.Instant.ofEpochMilli(e.startEpochMs()) + ") is not in the topic;"
                                        + " the topic's records of pid " + e.pid() + ": " + same + "; daemon b killed at "
                                        + java.time.Instant.ofEpochMilli(bKilledMs) + ", back at "
                                        + java.time.Instant.ofEpochMilli(bBackMs) + "; its journal's entries of the pid "
                                        + journalRows(dbB, e.pid()));
                            }
                        }
                    }
                }
                System.out.printf("daemon b recorded %d workload exits; all %d in fleet history%n", bRecorded, bRecorded);

                // the raw topic: copies of a record are the same key and seq, and fleet history folded them
                Map<String, List<JsonNode>> all = rawRecords(bs);
                Map<String, List<JsonNode>> byKey = new HashMap<>();
                all.forEach((k, l) -> {
                    List<JsonNode> ex = l.stream().filter(n -> n.path("procwatch.event").asText().startsWith("exit")).toList();
                    if (!ex.isEmpty()) {
                        byKey.put(k, ex);
                    }
                });

                // the journal's exec records: each child's exec under its exit's key, with the argv it ran
                // (host a: host b's restart scan finds children whose exec no daemon of its saw)
                int execs = 0;
                int execArgv = 0;
                for (String host : List.of("fleet-a")) {
                    for (JsonNode n : lastRecords.get(host)) {
                        long ppid = n.path("process.parent_pid").asLong();
                        if (ppid != wa.pid() && ppid != wb.pid()) {
                            continue;
                        }
                        String key = host + "/" + n.path("process.pid").asLong() + "/" + n.path("procwatch.start_ns").asLong();
                        List<JsonNode> recs = all.getOrDefault(key, List.of());
                        List<JsonNode> ex = recs.stream().filter(r -> r.path("procwatch.event").asText().equals("exec"))
                                .toList();
                        assertThat(ex).as("exec record of " + key).isNotEmpty();
                        execs++;
                        if (ex.getFirst().has("process.command_args") && n.has("process.command_args")) {
                            assertThat(ex.getFirst().get("process.command_args")).isEqualTo(n.get("process.command_args"));
                            execArgv++;
                        }
                        long execSeq = ex.getFirst().path("procwatch.seq").asLong();
                        long exitSeq = n.path("procwatch.seq").asLong();
                        assertThat(execSeq).as("exec before exit in " + key).isLessThan(exitSeq);
                    }
                }
                System.out.printf("exec records: %d workload children have theirs under the exit's key (%d with argv,"
                        + " equal to the exit's)%n", execs, execArgv);
                int dup = 0;
                for (var e : byKey.entrySet()) {
                    if (e.getValue().size() > 1) {
                        dup += e.getValue().size() - 1;
                        Set<Long> seqs = new HashSet<>();
                        Set<Integer> codes = new HashSet<>();
                        for (JsonNode n : e.getValue()) {
                            seqs.add(n.path("procwatch.seq").asLong());
                            codes.add(n.path("process.exit.code").asInt());
                        }
                        assertThat(seqs).as("copies of " + e.getKey()).hasSize(1);
                        assertThat(codes).as("copies of " + e.getKey()).hasSize(1);
                    }
                }
                System.out.printf("raw topic: %d exit records under %d keys, %d re-sent copies (folded)%n",
                        byKey.values().stream().mapToInt(List::size).sum(), byKey.size(), dup);

                // the sink's own account: caught up past every exit recorded by now, in stats and /metrics
                long recorded;
                try (HistoryStore s = HistoryStore.open(dbA)) {
                    recorded = s.maxSeq();
                }
                JsonNode stats = null;
                long statsDeadline = System.nanoTime() + 60_000_000_000L;
                while (System.nanoTime() < statsDeadline) {
                    stats = JSON.readTree(Cli.run(a.socket(), "stats", "--json").out());
                    if (stats.path("kafka_acked_seq").asLong() >= recorded) {
                        break;
                    }
                    Thread.sleep(500);
                }
                assertThat(stats.path("kafka_acked_seq").asLong()).as(stats.toString()).isGreaterThanOrEqualTo(recorded);
                assertThat(stats.path("kafka_sent").asLong()).isGreaterThanOrEqualTo(
                        truth.get("wa").size() + truth.get("wb").size());
                assertThat(Cli.run(a.socket(), "stats").out()).contains("kafka       acked seq ", " lost to retention");
                var metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + httpPort + "/metrics")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString()).body();
                assertThat(metrics).contains("procwatch_kafka_lag ", "procwatch_kafka_in_flight ",
                        "procwatch_kafka_acked_seq ", "procwatch_kafka_sent_total ", "procwatch_kafka_send_errors_total ",
                        "procwatch_kafka_lost_to_retention_total 0");
                System.out.printf("daemon a: %d sent, %d send errors, %d producer restarts%n",
                        stats.path("kafka_sent").asLong(), stats.path("kafka_send_errors").asLong(),
                        stats.path("kafka_producer_restarts").asLong());

                // fleet events followed it all live: every expected child once at least (re-sends may repeat)
                tail.destroy();
                tail.waitFor();
                Map<String, Set<Long>> evPids = new HashMap<>();
                for (String line : events) {
                    JsonNode n = JSON.readTree(line);
                    if (n.path("procwatch.event").asText().equals("exit")) {
                        evPids.computeIfAbsent(n.path("host.id").asText() + "/" + n.path("process.parent_pid").asLong(),
                                k -> new HashSet<>()).add(n.path("process.pid").asLong());
                    }
                }
                for (String host : List.of("fleet-a", "fleet-b")) {
                    for (var w : expected.get(host).entrySet()) {
                        Set<Long> got = evPids.getOrDefault(host + "/" + parents.get(w.getKey()), Set.of());
                        List<Long> missing = w.getValue().stream().map(Truth::pid).filter(p -> !got.contains(p)).toList();
                        assertThat(missing).as("fleet events, " + host + " " + w.getKey() + ": missing of "
                                + w.getValue().size()).isEmpty();
                    }
                }
            } finally {
                a.close();
                b.close();
                if (b2 != null) {
                    b2.close();
                }
            }
        }
    }

    /** Null when {@code arr} has each child of {@code parent} exactly once as the truth says; else what differs. */
    private static String compare(JsonNode arr, long parent, List<Truth> expected, List<Truth> allowed) {
        Map<Long, List<JsonNode>> byPid = new HashMap<>();
        for (JsonNode n : arr) {
            if (n.path("process.parent_pid").asLong() == parent) {
                byPid.computeIfAbsent(n.path("process.pid").asLong(), k -> new ArrayList<>()).add(n);
            }
        }
        Set<Long> allowedPids = new HashSet<>();
        for (Truth t : allowed) {
            allowedPids.add(t.pid());
        }
        int missing = 0;
        int wrong = 0;
        String example = "";
        for (Truth t : expected) {
            List<JsonNode> l = byPid.get(t.pid());
            if (l == null) {
                missing++;
                example = "pid " + t.pid() + " missing";
                continue;
            }
            if (l.size() != 1) {
                wrong++;
                example = "pid " + t.pid() + " shown " + l.size() + " times";
                continue;
            }
            JsonNode n = l.getFirst();
            boolean ok = n.path("procwatch.event").asText().equals("exit")
                    && n.path("process.exit.code").asInt() == t.status();
            if (n.has("process.command_args")) {
                List<String> argv = new ArrayList<>();
                n.get("process.command_args").forEach(x -> argv.add(x.asText()));
                ok &= argv.equals(t.argv());
            }
            long start = java.time.Instant.parse(n.path("process.creation.time").asText()).toEpochMilli();
            ok &= start >= t.forkMs() - 1000 && start <= t.reapedMs() + 1000;
            if (!ok) {
                wrong++;
                example = "pid " + t.pid() + ": " + n + " vs " + t;
            }
        }
        int extra = 0;
        for (Long pid : byPid.keySet()) {
            if (!allowedPids.contains(pid)) {
                extra++;
                example = "pid " + pid + " is no child of the workload " + parent + ": " + byPid.get(pid);
            }
        }
        if (missing + wrong + extra == 0) {
            return null;
        }
        return missing + " missing, " + wrong + " wrong, " + extra + " extra of " + expected.size() + " (" + example + ")";
    }

    /** The journal's entries of one pid (seq, kind, ms) and its gaps: where a missing record went. */
    private static String journalRows(Path db, int pid) {
        StringBuilder b = new StringBuilder();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + db);
             java.sql.Statement st = c.createStatement()) {
            try (java.sql.ResultSet r = st.executeQuery("SELECT seq, kind, ms FROM journal WHERE pid = " + pid + " ORDER BY seq")) {
                while (r.next()) {
                    b.append(" [seq ").append(r.getLong(1)).append(" kind ").append(r.getInt(2)).append(" at ")
                            .append(java.time.Instant.ofEpochMilli(r.getLong(3))).append(']');
                }
            }
            b.append("; gaps:");
            try (java.sql.ResultSet r = st.executeQuery("SELECT from_ms, until_ms, lost, reason FROM journal_gaps")) {
                while (r.next()) {
                    b.append(" [").append(java.time.Instant.ofEpochMilli(r.getLong(1))).append(" .. ")
                            .append(java.time.Instant.ofEpochMilli(r.getLong(2))).append(" lost ").append(r.getLong(3))
                            .append(": ").append(r.getString(4)).append(']');
                }
            }
        } catch (java.sql.SQLException ex) {
            b.append(" (unreadable: ").append(ex.getMessage()).append(')');
        }
        return b.toString();
    }

    private static DaemonProcess startDaemon(Path db, String hostId, String bootstrap) throws Exception {
        return DaemonProcess.start("--history-db", db.toString(), "--kafka", bootstrap, "--kafka-topic", TOPIC,
                "--host-id", hostId);
    }

    private static void awaitHosts(String bs, Set<String> want) throws Exception {
        long deadline = System.nanoTime() + 90_000_000_000L;
        Cli.Result last = null;
        while (System.nanoTime() < deadline) {
            last = Cli.run(null, "fleet", "hosts", "--json", "--kafka", bs, "--topic", TOPIC);
            if (last.exit() == 0) {
                Set<String> seen = new HashSet<>();
                JSON.readTree(last.out()).forEach(n -> seen.add(n.path("host.id").asText()));
                if (seen.containsAll(want)) {
                    return;
                }
            }
            Thread.sleep(1000);
        }
        throw new AssertionError("hosts never all seen: " + last);
    }

    /** fleet events --json in the background; returns once it says it follows the topic. */
    private static Process startEvents(String bs, ConcurrentLinkedQueue<String> lines) throws Exception {
        Process p = Cli.start(null, "fleet", "events", "--json", "--type", "exit", "--kafka", bs, "--topic", TOPIC,
                "--timeout", "60");
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (java.io.IOException ignored) {
                // it was stopped
            }
        });
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        String l = err.readLine();
        assertThat(l).as("fleet events' first word").contains("following");
        Thread.ofPlatform().daemon().start(() -> {
            try {
                err.transferTo(java.io.Writer.nullWriter());
            } catch (java.io.IOException ignored) {
                // stopped
            }
        });
        return p;
    }

    private static Map<String, List<JsonNode>> rawRecords(String bs) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        Map<String, List<JsonNode>> out = new HashMap<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = c.partitionsFor(TOPIC, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(TOPIC, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (System.nanoTime() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(JSON.readTree(r.value()));
                }
            }
        }
        return out;
    }

    private static List<Truth> truth(Path file) throws Exception {
        List<Truth> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(" ", 5);
            out.add(new Truth(Long.parseLong(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    List.of(f[4].split("\u001f"))));
        }
        return out;
    }

    private static void sleepUntil(long epochMs) throws InterruptedException {
        long left = epochMs - System.currentTimeMillis();
        if (left > 0) {
            Thread.sleep(left);
        }
    }
}
