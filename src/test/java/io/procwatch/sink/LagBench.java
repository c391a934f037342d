package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.KafkaBroker;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The sink end to end through real daemons and a real local broker (not a test: numbers for
 * docs/benchmarks.md). {@code bin/bench io.procwatch.sink.LagBench [RATE] [SECONDS] [STORM] [RUNS]}
 *
 * <p>(1) Lag. A C workload (compiled here) forks children at RATE a second for SECONDS, then as
 * fast as it can for SECONDS; each child writes CLOCK_REALTIME (ms) into a shared page just before
 * {@code _exit}, the parent writes that with the pid after reaping it. A consumer in this JVM
 * follows every partition; each workload child's exit record is matched by pid and time and its
 * lag is the consumer's clock when poll returned it minus the child's own exit time. It is split
 * at the record's broker timestamp (CreateTime: when the daemon's producer took it): exit to send
 * (inside the daemon: the history writer's batch, the journal commit, the sink's poll) and send to
 * readable (linger, the broker, the consumer's fetch).
 *
 * <p>(2) CPU. RUNS pairs of fresh daemons, one without the sink, one with it (same history
 * database and journal settings otherwise), alternated. Each gets a warm-up storm, then STORM
 * exits as fast as the workload forks; the daemon's utime+stime (from /proc/PID/stat) from before
 * the storm to a fixed 5 s after it ended, per 1,000 exits. The sink's daemon must have every record
 * acknowledged by then (checked through stats; else the run is reported as not caught up).
 */
public final class LagBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "lag.bench";
    private static final long TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

    private static final String WORKLOAD = """
            #define _GNU_SOURCE
            #include <stdio.h>
            #include <stdlib.h>
            #include <time.h>
            #include <unistd.h>
            #include <sys/mman.h>
            #include <sys/wait.h>
            static long long now_ms(void) {
                struct timespec t;
                clock_gettime(CLOCK_REALTIME, &t);
                return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
            }
            /* lagload RATE COUNT OUT: RATE children a second (0: as fast as it can), COUNT in all */
            int main(int argc, char **argv) {
                if (argc != 4) return 2;
                double rate = atof(argv[1]);
                long n = atol(argv[2]);
                FILE *out = fopen(argv[3], "w");
                if (!out) { perror(argv[3]); return 1; }
                volatile long long *slot = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (slot == MAP_FAILED) { perror("mmap"); return 1; }
                long step = rate > 0 ? (long) (1e9 / rate) : 0;
                struct timespec next;
                clock_gettime(CLOCK_MONOTONIC, &next);
                for (long i = 0; i < n; i++) {
                    if (step) {
                        next.tv_nsec += step;
                        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
                        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
                    }
                    pid_t p = fork();
                    if (p < 0) { perror("fork"); return 1; }
                    if (p == 0) { *slot = now_ms(); _exit(0); }
                    int st;
                    if (waitpid(p, &st, 0) != p) { perror("waitpid"); return 1; }
                    fprintf(out, "%d %lld %lld\\n", (int) p, *slot, now_ms());
                }
                return fclose(out) == 0 ? 0 : 1;
            }
            """;

    /** One child as the workload recorded it. */
    private record Child(int pid, long exitMs, long reapedMs) {
    }

    /** One exit record as the consumer got it. */
    private record Got(int pid, int ppid, long kernelExitMs, long sentMs, long readMs) {
    }

    private LagBench() {
    }

    public static void main(String[] args) throws Exception {
        int rate = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int storm = args.length > 2 ? Integer.parseInt(args[2]) : 20_000;
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Path dir = Files.createTempDirectory("pw-lag-bench");
        Path load = compile(dir);
        try (KafkaBroker broker = KafkaBroker.start()) {
            lag(broker, dir, load, rate, seconds);
            cpu(broker, dir, load, storm, runs);
        }
    }

    private static Path compile(Path dir) throws Exception {
        Path src = dir.resolve("lagload.c");
        Path bin = dir.resolve("lagload");
        Files.writeString(src, WORKLOAD);
        Process cc = new ProcessBuilder("cc", "-O2", "-o", bin.toString(), src.toString()).inheritIO().start();
        if (cc.waitFor() != 0) {
            throw new IOException("cc failed");
        }
        return bin;
    }

    // ---- lag ----------------------------------------------------------------------------------

    private static void lag(KafkaBroker broker, Path dir, Path load, int rate, int seconds) throws Exception {
        try (DaemonProcess d = DaemonProcess.start("--history-db", dir.resolve("lag.db").toString(), "--kafka",
                broker.bootstrap(), "--kafka-topic", TOPIC, "--host-id", "lag-bench")) {
            ConcurrentLinkedQueue<Got> got = new ConcurrentLinkedQueue<>();
            try (Tail tail = Tail.start(broker.bootstrap(), got)) {
                measureLag("ordinary load, " + rate + " exits/s", load, dir, rate, (long) rate * seconds, got);
                // as fast as it forks: about as many children as this machine makes in SECONDS
                measureLag("max fork rate", load, dir, 0, maxRateCount(load, dir, seconds), got);
            }
            System.out.println("daemon stats after the lag runs: " + kafkaStats(d));
        }
    }

    private static long maxRateCount(Path load, Path dir, int seconds) throws Exception {
        Path out = dir.resolve("probe");
        long t0 = System.nanoTime();
        run(load, 0, 2000, out);
        double perSec = 2000 / ((System.nanoTime() - t0) / 1e9);
        return Math.max(2000, Math.min(25_000, (long) (perSec * seconds)));
    }

    private static void measureLag(String what, Path load, Path dir, int rate, long count,
                                   ConcurrentLinkedQueue<Got> got) throws Exception {
        Path out = dir.resolve("truth");
        long t0 = System.nanoTime();
        long pid = run(load, rate, count, out);
        double secs = (System.nanoTime() - t0) / 1e9;
        List<Child> truth = new ArrayList<>();
        for (String l : Files.readAllLines(out)) {
            String[] f = l.split(" ");
            truth.add(new Child(Integer.parseInt(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])));
        }
        // wait for every child's record (the sink catches up), at most a minute
        Map<Integer, List<Got>> byPid = new HashMap<>();
        long deadline = System.nanoTime() + 60_000_000_000L;
        int matched;
        while (true) {
            for (Got g; (g = got.poll()) != null; ) {
                if (g.ppid() == pid) {
                    byPid.computeIfAbsent(g.pid(), k -> new ArrayList<>()).add(g);
                }
            }
            matched = 0;
            for (Child c : truth) {
                if (byPid.containsKey(c.pid())) {
                    matched++;
                }
            }
            if (matched == truth.size() || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(200);
        }
        long[] total = new long[matched];
        long[] inDaemon = new long[matched];
        long[] inKafka = new long[matched];
        long[] kernel = new long[matched];
        int i = 0;
        for (Child c : truth) {
            List<Got> l = byPid.get(c.pid());
            if (l == null) {
                continue;
            }
            // a pid the workload got twice (pid_max wrapped): the record whose exit is nearest
            Got best = l.getFirst();
            for (Got g : l) {
                if (Math.abs(g.kernelExitMs() - c.exitMs()) < Math.abs(best.kernelExitMs() - c.exitMs())) {
                    best = g;
                }
            }
            total[i] = best.readMs() - c.exitMs();
            inDaemon[i] = best.sentMs() - c.exitMs();
            inKafka[i] = best.readMs() - best.sentMs();
            kernel[i] = best.readMs() - best.kernelExitMs();
            i++;
        }
        System.out.printf(Locale.ROOT, "lag, %s: %,d children in %.1f s (%,.0f exits/s), %,d of %,d records read%n",
                what, truth.size(), secs, truth.size() / secs, matched, truth.size());
        System.out.println("  exit (the child's clock) to readable: " + pct(total));
        System.out.println("  exit (the record's kernel time) to readable: " + pct(kernel));
        System.out.println("  exit to the producer's send (in the daemon): " + pct(inDaemon));
        System.out.println("  send to readable (linger, broker, fetch): " + pct(inKafka));
    }

    private static String pct(long[] v) {
        if (v.length == 0) {
            return "no records";
        }
        long[] s = v.clone();
        Arrays.sort(s);
        return String.format(Locale.ROOT, "p50 %d ms, p90 %d ms, p99 %d ms, max %d ms", s[s.length / 2],
                s[(int) Math.min(s.length - 1, Math.ceil(s.length * 0.90) - 1)],
                s[(int) Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)], s[s.length - 1]);
    }

    /** Runs the workload to its end; returns its pid (the children's parent). */
    private static long run(Path load, int rate, long count, Path out) throws Exception {
        Process p = new ProcessBuilder(load.toString(), Integer.toString(rate), Long.toString(count), out.toString())
                .inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("workload failed: " + p.exitValue());
        }
        return p.pid();
    }

    /** A consumer on every partition from the end, in no group, on its own thread. */
    private static final class Tail implements AutoCloseable {
        private final Thread thread;
        private volatile boolean stop;

        private Tail(String bootstrap, ConcurrentLinkedQueue<Got> out) throws Exception {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
            p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
            KafkaConsumer<String, String> c = new KafkaConsumer<>(p);
            // the daemon's first record creates the topic: make one and wait for the partitions
            List<PartitionInfo> parts = List.of();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (parts == null || parts.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the topic never appeared");
                }
                new ProcessBuilder("true").start().waitFor();
                Thread.sleep(500);
                parts = c.listTopics(Duration.ofSeconds(10)).get(TOPIC);
            }
            List<TopicPartition> tps = parts.stream().map(i -> new TopicPartition(TOPIC, i.partition())).toList();
            c.assign(tps);
            c.seekToEnd(tps);
            for (TopicPartition tp : tps) {
                c.position(tp);
            }
            thread = Thread.ofPlatform().name("lag-tail").start(() -> {
                try (c) {
                    while (!stop) {
                        var recs = c.poll(Duration.ofMillis(100));
                        long now = System.currentTimeMillis();
                        for (ConsumerRecord<String, String> r : recs) {
                            try {
                                JsonNode n = JSON.readTree(r.value());
                                if (n.path("procwatch.event").asText().equals("exit")) {
                                    out.add(new Got(n.path("process.pid").asInt(), n.path("process.parent_pid").asInt(),
                                            Instant.parse(n.path("process.exit.time").asText()).toEpochMilli(),
                                            r.timestamp(), now));
                                }
                            } catch (IOException e) {
                                System.err.println("unreadable record: " + e.getMessage());
                            }
                        }
                    }
                }
            });
        }

        static Tail start(String bootstrap, ConcurrentLinkedQueue<Got> out) throws Exception {
            return new Tail(bootstrap, out);
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(10_000);
        }
    }

    // ---- CPU ----------------------------------------------------------------------------------

    private static void cpu(KafkaBroker broker, Path dir, Path load, int storm, int runs) throws Exception {
        List<Double> off = new ArrayList<>();
        List<Double> on = new ArrayList<>();
        for (int r = 0; r < runs; r++) {
            for (boolean sink : new boolean[] {false, true}) {
                double perK = cpuRun(broker, dir, load, storm, sink, r);
                (sink ? on : off).add(perK);
            }
        }
        double offMean = off.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        double onMean = on.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        System.out.printf(Locale.ROOT, "daemon CPU per 1,000 exits: sink off %s (mean %.1f ms), on %s (mean %.1f ms);"
                + " the sink adds %.1f ms per 1,000 exits%n", ms(off), offMean, ms(on), onMean, onMean - offMean);
    }

    private static String ms(List<Double> v) {
        StringBuilder b = new StringBuilder();
        for (double d : v) {
            b.append(b.isEmpty() ? "" : " / ").append(String.format(Locale.ROOT, "%.1f", d));
        }
        return b + " ms";
    }

    private static double cpuRun(KafkaBroker broker, Path dir, Path load, int storm, boolean sink, int run)
            throws Exception {
        Path db = dir.resolve("cpu-" + run + "-" + sink + ".db");
        List<String> a = new ArrayList<>(List.of("--history-db", db.toString()));
        if (sink) {
            a.addAll(List.of("--kafka", broker.bootstrap(), "--kafka-topic", TOPIC + ".cpu", "--host-id", "cpu-" + run));
        }
        try (DaemonProcess d = DaemonProcess.start(a.toArray(String[]::new))) {
            run(load, 0, 3000, dir.resolve("warm")); // JIT, the topic's creation, the first producer batch
            Thread.sleep(5000);
            long before = cpuTicks(d.pid());
            Map<String, Long> threadsBefore = threadTicks(d.pid());
            long t0 = System.nanoTime();
            run(load, 0, storm, dir.resolve("storm"));
            double secs = (System.nanoTime() - t0) / 1e9;
            Thread.sleep(5000);
            long after = cpuTicks(d.pid());
            Map<String, Long> threadsAfter = threadTicks(d.pid());
            String caught = "";
            if (sink) {
                Map<String, Long> s = kafkaStats(d);
                caught = s.get("kafka_lag") == 0 ? ", caught up" : ", NOT caught up: " + s;
            }
            double perK = (after - before) * TICK_MS / (storm / 1000.0);
            System.out.printf(Locale.ROOT, "cpu run %d, sink %s: %,d exits in %.1f s (%,.0f/s), daemon CPU %d ms = %.1f ms"
                    + " per 1,000 exits%s%n", run + 1, sink ? "on" : "off", storm, secs, storm / secs,
                    (after - before) * TICK_MS, perK, caught);
            // where it went: the busiest threads (by name; a pool's threads summed)
            List<Map.Entry<String, Long>> top = new ArrayList<>();
            threadsAfter.forEach((k, v) -> top.add(Map.entry(k, v - threadsBefore.getOrDefault(k, 0L))));
            top.sort((x, y) -> Long.compare(y.getValue(), x.getValue()));
            StringBuilder b = new StringBuilder("  threads:");
            for (var e : top.subList(0, Math.min(7, top.size()))) {
                b.append(String.format(Locale.ROOT, " %s %d ms,", e.getKey(), e.getValue() * TICK_MS));
            }
            System.out.println(b.substring(0, b.length() - 1));
            return perK;
        }
    }

    /** utime + stime by thread name (digits dropped, so a pool's threads add up), in clock ticks. */
    private static Map<String, Long> threadTicks(long pid) throws IOException {
        Map<String, Long> out = new HashMap<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    String name = Files.readString(t.resolve("comm")).strip().replaceAll("[0-9]+", "#");
                    String s = Files.readString(t.resolve("stat"));
                    String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
                    out.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
                } catch (IOException gone) {
                    // the thread ended between the listing and the read
                }
            }
        }
        return out;
    }

    /** utime + stime of the whole process, every thread, in clock ticks. */
    private static long cpuTicks(long pid) throws IOException {
        String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of proc(5)
    }

    private static Map<String, Long> kafkaStats(DaemonProcess d) throws IOException {
        try (ProcwatchClient c = ProcwatchClient.connect(d.socket())) {
            Map<String, Long> out = new java.util.TreeMap<>();
            c.stats().forEach((k, v) -> {
                if (k.startsWith("kafka_")) {
                    out.put(k, v);
                }
            });
            return out;
        }
    }
}
