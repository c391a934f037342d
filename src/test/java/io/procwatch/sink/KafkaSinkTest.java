package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.event.WaitStatus;
import io.procwatch.table.ExitedProcess;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sink against a real KRaft broker: every journal record reaches the topic across a broker
 * SIGKILL and a sink restart; a re-sent record is the same key and value as the first copy; what
 * retention dropped arrives as one counted loss record.
 */
class KafkaSinkTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "procwatch.events";

    private static ExitedProcess exit(int i) {
        long start = 1_700_000_000_000L + i;
        return new ExitedProcess(i, 10_000 + i, 1, 1000, 1000, "w" + i, "/bin/w", List.of("w", "arg " + i),
                start, start + 5, new WaitStatus((i % 3) << 8), false, true, true, null, i * 1000L);
    }

    @Test
    void everyRecordArrivesAcrossBrokerKillAndSinkRestart() throws Exception {
        Path dir = Files.createTempDirectory("pw-sink");
        AckedState state = new AckedState(dir.resolve("kafka-acked"));
        HostIdentity host = new HostIdentity("host-a", "alpha", "boot-1");
        ListJournal journal = new ListJournal(0);
        try (KafkaBroker broker = KafkaBroker.start()) {
            KafkaSink.Config cfg = new KafkaSink.Config(broker.bootstrap(), TOPIC, new Properties());
            KafkaSink sink = new KafkaSink(cfg, journal, host, state);
            sink.start();
            for (int i = 0; i < 2000; i++) {
                journal.append(System.currentTimeMillis(), exit(i));
            }
            Map<Long, List<String>> got = new HashMap<>();
            consumeUntil(broker.bootstrap(), got, 2000);
            assertThat(got.keySet()).hasSize(2000);

            broker.kill();
            for (int i = 2000; i < 4000; i++) {
                journal.append(System.currentTimeMillis(), exit(i));
            }
            Thread.sleep(2000);
            broker.restart();
            consumeUntil(broker.bootstrap(), got, 4000);
            assertThat(got.keySet()).as("seqs after the broker's SIGKILL").hasSize(4000);
            waitAcked(sink, 3999);
            sink.close();
            assertThat(state.read()).isEqualTo(3999);

            // a restarted daemon: a new sink from the saved state
            KafkaSink again = new KafkaSink(cfg, journal, host, state);
            again.start();
            for (int i = 4000; i < 5000; i++) {
                journal.append(System.currentTimeMillis(), exit(i));
            }
            consumeUntil(broker.bootstrap(), got, 5000);
            waitAcked(again, 4999);
            again.close();
            assertThat(got.keySet()).hasSize(5000);
            for (long s = 0; s < 5000; s++) {
                List<String> copies = got.get(s);
                assertThat(copies).as("seq " + s).isNotEmpty();
                assertThat(copies.stream().distinct()).as("copies of seq " + s + " are one record").hasSize(1);
                JsonNode n = JSON.readTree(copies.get(0).substring(copies.get(0).indexOf('\t') + 1));
                assertThat(n.get("process.pid").asInt()).isEqualTo(10_000 + (int) s);
                assertThat(n.get("process.exit.code").asInt()).isEqualTo((int) (s % 3));
            }

            // retention dropped 0..5499 of a journal whose acked point is 4999: one loss record for 500
            ListJournal trimmed = new ListJournal(5500);
            trimmed.append(System.currentTimeMillis(), exit(5500));
            KafkaSink third = new KafkaSink(cfg, trimmed, host, state);
            third.start();
            consumeUntil(broker.bootstrap(), got, 5002);
            waitAcked(third, 5500);
            third.close();
            JsonNode loss = JSON.readTree(got.get(5499L).get(0).substring(got.get(5499L).get(0).indexOf('\t') + 1));
            assertThat(loss.get("procwatch.event").asText()).isEqualTo("loss");
            assertThat(loss.get("procwatch.loss.kind").asText()).isEqualTo("retention");
            assertThat(loss.get("procwatch.loss.count").asLong()).isEqualTo(500);
            assertThat(loss.get("procwatch.loss.from_seq").asLong()).isEqualTo(5000);
            assertThat(third.snapshot().lostToRetention()).isEqualTo(500);
        }
    }

    /**
     * A sink that starts with the broker away, whose journal outgrows the in-flight bound and is
     * cut by retention meanwhile: it keeps at most maxInFlight records waiting, never saves an
     * unacknowledged point, stops within seconds while the broker is still away, and once it is
     * back delivers every retained record plus one loss record counting exactly what retention cut.
     */
    @Test
    void outageBoundsWaitingRecordsStopsPromptlyAndCountsWhatRetentionCut() throws Exception {
        Path dir = Files.createTempDirectory("pw-sink-outage");
        AckedState state = new AckedState(dir.resolve("kafka-acked"));
        HostIdentity host = new HostIdentity("host-b", "beta", "boot-2");
        ListJournal journal = new ListJournal(0);
        try (KafkaBroker broker = KafkaBroker.start()) {
            broker.kill();
            KafkaSink.Config cfg = new KafkaSink.Config(broker.bootstrap(), TOPIC + ".outage", new Properties(), 200);
            KafkaSink sink = new KafkaSink(cfg, journal, host, state);
            sink.start();
            for (int i = 0; i < 3000; i++) {
                journal.append(System.currentTimeMillis(), exit(i));
            }
            long maxSeen = 0;
            long until = System.nanoTime() + 15_000_000_000L;
            while (System.nanoTime() < until) {
                maxSeen = Math.max(maxSeen, sink.snapshot().inFlight());
                Thread.sleep(20);
            }
            assertThat(maxSeen).as("records waiting in the producer").isLessThanOrEqualTo(200);
            assertThat(sink.snapshot().ackedSeq()).isEqualTo(AckedState.NONE);
            assertThat(sink.snapshot().producerRestarts()).as("metadata waits give up and retry").isPositive();
            assertThat(sink.snapshot().lag()).isEqualTo(3000);
            long t0 = System.nanoTime();
            sink.close();
            assertThat((System.nanoTime() - t0) / 1_000_000).as("ms to stop with the broker away").isLessThan(16_000);
            assertThat(state.read()).as("nothing acknowledged, nothing saved").isEqualTo(AckedState.NONE);

            journal.trimTo(1000); // retention took 0..999 while the broker was away
            broker.restart();
            KafkaSink again = new KafkaSink(cfg, journal, host, state);
            again.start();
            Map<Long, List<String>> got = new HashMap<>();
            consumeUntil(broker.bootstrap(), TOPIC + ".outage", got, 2001);
            waitAcked(again, 2999);
            again.close();
            assertThat(state.read()).isEqualTo(2999);
            assertThat(got.keySet()).hasSize(2001);
            for (long s = 1000; s < 3000; s++) {
                assertThat(got).as("seq " + s).containsKey(s);
            }
            JsonNode loss = JSON.readTree(got.get(999L).get(0).substring(got.get(999L).get(0).indexOf('\t') + 1));
            assertThat(loss.get("procwatch.event").asText()).isEqualTo("loss");
            assertThat(loss.get("procwatch.loss.count").asLong()).isEqualTo(1000);
            assertThat(loss.get("procwatch.loss.from_seq").asLong()).isEqualTo(0);
            assertThat(loss.get("procwatch.loss.to_seq").asLong()).isEqualTo(999);
            assertThat(again.snapshot().lostToRetention()).isEqualTo(1000);
        }
    }

    /**
     * A first start owes the topic what the journal holds, not what it dropped before (a journal
     * numbered from 1 is no loss of seq 0); and it says so on disk at once.
     */
    @Test
    void aFirstStartBeginsAtTheJournalsOldestWithoutALoss() throws Exception {
        Path dir = Files.createTempDirectory("pw-sink-first");
        AckedState state = new AckedState(dir.resolve("kafka-acked"));
        ListJournal journal = new ListJournal(1);
        journal.append(1, exit(1));
        KafkaSink sink = new KafkaSink(new KafkaSink.Config("127.0.0.1:1", TOPIC, new Properties()), journal,
                new HostIdentity("h", "n", "b"), state);
        assertThat(sink.snapshot().ackedSeq()).isZero();
        assertThat(state.read()).isZero();
        assertThat(sink.snapshot().lag()).isEqualTo(1);
    }

    /** A saved point beyond the journal's newest entry (the journal was reset): it starts over, not silent. */
    @Test
    void journalBehindTheSavedPointStartsOver() throws Exception {
        Path dir = Files.createTempDirectory("pw-sink-reset");
        AckedState state = new AckedState(dir.resolve("kafka-acked"));
        state.write(9_999);
        ListJournal journal = new ListJournal(0);
        journal.append(1, exit(0));
        KafkaSink sink = new KafkaSink(new KafkaSink.Config("127.0.0.1:1", TOPIC, new Properties()), journal,
                new HostIdentity("h", "n", "b"), state);
        assertThat(sink.snapshot().ackedSeq()).isEqualTo(-1);
        assertThat(sink.snapshot().journalResets()).isEqualTo(1);
        assertThat(state.read()).isEqualTo(-1);
    }

    private static void waitAcked(KafkaSink sink, long seq) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (sink.snapshot().ackedSeq() < seq && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(sink.snapshot().ackedSeq()).isEqualTo(seq);
    }

    /** Reads the whole topic from the start until {@code want} distinct seqs are there (or 90 s). */
    private static void consumeUntil(String bootstrap, Map<Long, List<String>> got, int want) throws Exception {
        consumeUntil(bootstrap, TOPIC, got, want);
    }

    private static void consumeUntil(String bootstrap, String topic, Map<Long, List<String>> got, int want)
            throws Exception {
        got.clear();
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        long deadline = System.nanoTime() + 90_000_000_000L;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = List.of();
            while (parts.isEmpty() && System.nanoTime() < deadline) {
                var info = c.partitionsFor(topic, Duration.ofSeconds(5));
                if (info != null && !info.isEmpty()) {
                    parts = info.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
                } else {
                    Thread.sleep(200);
                }
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            while (got.size() < want && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    long seq = JSON.readTree(r.value()).get("procwatch.seq").asLong();
                    got.computeIfAbsent(seq, k -> new java.util.ArrayList<>()).add(r.key() + "\t" + r.value());
                }
            }
        }
    }
}
