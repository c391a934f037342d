package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.KafkaBroker;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cgroup moves reach Kafka (a real broker, started here): sleepers the test moves from cgroup A to
 * B (no event; the sampler's next pass finds it) each give one {@code cgroup_change} record on the
 * topic with {@code process.linux.cgroup} B and {@code procwatch.cgroup.previous} A, keyed by the
 * process's life like its exit, whose record then says it exited in B.
 */
class CgroupFleetTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "cgroup.test";
    private static final int N = 4;

    @Test
    void aMoveIsACgroupChangeRecordAndTheExitSaysWhereItEnded() throws Exception {
        Path root = io.procwatch.testing.Cgroups.unifiedRoot();
        Path a = root.resolve("pwfleet" + ProcessHandle.current().pid() + "a");
        Path b = root.resolve("pwfleet" + ProcessHandle.current().pid() + "b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        Path dir = Files.createTempDirectory("pw-cgfleet");
        List<Process> sleepers = new ArrayList<>();
        try (KafkaBroker broker = KafkaBroker.start()) {
            String bs = broker.bootstrap();
            DaemonProcess d = DaemonProcess.start("--history-db", dir.resolve("h.db").toString(), "--kafka", bs,
                    "--kafka-topic", TOPIC, "--host-id", "cg-host", "--journal-checkpoint", "3", "--journal-sample", "1");
            try {
                for (int i = 0; i < N; i++) {
                    Process p = new ProcessBuilder("sleep", "300").start();
                    sleepers.add(p);
                    Files.writeString(a.resolve("cgroup.procs"), Long.toString(p.pid()));
                }
                // passes until the daemon's rows know A (as its journal shows: ps --at), then move them to B
                assertThat(rowsIn(d, sleepers, "0::/" + root.relativize(a))).as("the rows learnt A").isTrue();
                long before = moved(d);
                for (Process p : sleepers) {
                    Files.writeString(b.resolve("cgroup.procs"), Long.toString(p.pid()));
                }
                assertThat(rowsIn(d, sleepers, "0::/" + root.relativize(b))).as("the rows learnt B").isTrue();
                assertThat(moved(d) - before).isGreaterThanOrEqualTo(N);
                for (Process p : sleepers) {
                    p.destroyForcibly();
                    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
                }
                // the exits are in the history, then (after the journal's flush) everything
                // journaled is acknowledged by the broker
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (System.nanoTime() < deadline && !exitsSeen(d, sleepers)) {
                    Thread.sleep(200);
                }
                Thread.sleep(2000);
                deadline = System.nanoTime() + 60_000_000_000L;
                String last = "";
                while (System.nanoTime() < deadline) {
                    JsonNode s = JSON.readTree(Cli.run(d.socket(), "stats", "--json").out());
                    last = s.toString();
                    if (s.path("kafka_lag").asLong(-1) == 0 && s.path("kafka_acked_seq").asLong() > 0) {
                        break;
                    }
                    Thread.sleep(500);
                }
                JsonNode s = JSON.readTree(Cli.run(d.socket(), "stats", "--json").out());
                assertThat(s.path("kafka_lag").asLong(-1)).as(last).isZero();
            } finally {
                d.close();
            }

            Map<Long, List<JsonNode>> byPid = new HashMap<>();
            Set<Long> mine = new TreeSet<>(sleepers.stream().map(Process::pid).toList());
            for (Map.Entry<String, List<JsonNode>> e : records(bs).entrySet()) {
                for (JsonNode r : e.getValue()) {
                    long pid = r.path("process.pid").asLong(-1);
                    if (mine.contains(pid)) {
                        assertThat(e.getKey()).isEqualTo("cg-host/" + pid + "/" + r.get("procwatch.start_ns").asLong());
                        byPid.computeIfAbsent(pid, k -> new ArrayList<>()).add(r);
                    }
                }
            }
            String pathA = "/" + root.relativize(a);
            String pathB = "/" + root.relativize(b);
            for (long pid : mine) {
                List<JsonNode> rs = byPid.getOrDefault(pid, List.of());
                List<JsonNode> toB = rs.stream().filter(r -> r.get("procwatch.event").asText().equals("cgroup_change")
                        && r.get("process.linux.cgroup").asText().equals(pathB)).toList();
                assertThat(toB).as("pid " + pid + ": " + rs).hasSize(1);
                assertThat(toB.getFirst().get("procwatch.cgroup.previous").asText()).isEqualTo(pathA);
                List<JsonNode> exits = rs.stream().filter(r -> r.get("procwatch.event").asText().equals("exit")).toList();
                assertThat(exits).as("pid " + pid + ": " + rs).hasSize(1);
                assertThat(exits.getFirst().get("process.linux.cgroup").asText()).isEqualTo(pathB);
                assertThat(exits.getFirst().get("procwatch.signal").asInt()).isEqualTo(9);
                // the move comes before the exit on the life's partition
                assertThat(rs.indexOf(toB.getFirst())).isLessThan(rs.indexOf(exits.getFirst()));
            }
        } finally {
            for (Process p : sleepers) {
                p.destroyForcibly().waitFor();
            }
            Files.deleteIfExists(a);
            Files.deleteIfExists(b);
        }
    }

    /** Drives passes until the journal says every sleeper is in {@code line}'s cgroup (30 s at most). */
    private static boolean rowsIn(DaemonProcess d, List<Process> sleepers, String line) throws Exception {
        String list = String.join(",", sleepers.stream().map(p -> Long.toString(p.pid())).toList());
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            assertThat(Cli.run(d.socket(), "ps", "-e", "-o", "pid").exit()).isZero();
            Thread.sleep(1500); // the journal's flush
            long then = System.currentTimeMillis() - 200;
            Cli.Result r = Cli.run(d.socket(), "ps", "--at", String.format(java.util.Locale.ROOT, "@%d.%03d", then / 1000,
                    then % 1000), "-p", list, "-o", "pid=,cgroup:300=");
            if (r.exit() == 0 && r.out().lines().filter(l -> l.strip().contains(" ")
                    && List.of(l.strip().split("\\s+", 2)[1].split(",")).contains(line)).count() == sleepers.size()) {
                return true;
            }
        }
        return false;
    }

    private static long moved(DaemonProcess d) throws Exception {
        try (var c = d.client()) {
            return c.stats().get("cgroup_moves");
        }
    }

    private static boolean exitsSeen(DaemonProcess d, List<Process> sleepers) throws Exception {
        Cli.Result r = Cli.run(d.socket(), "history", "--json", "--since", "10m", "--pid",
                Long.toString(sleepers.getLast().pid()));
        return r.exit() == 0 && r.out().contains("\"signal\":9");
    }

    private static Map<String, List<JsonNode>> records(String bs) throws Exception {
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
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(JSON.readTree(r.value()));
                }
            }
        }
        return out;
    }
}
