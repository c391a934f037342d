package io.procwatch.sink;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The fleet commands' reading of the topic: a time window across every partition, or a live tail
 * in a consumer group. Only this class (with KafkaSink) names Kafka classes; the fleet commands
 * load it once their options are read. Every wait is bounded by the caller's timeout, and a
 * broker that cannot be reached is an IOException with what was tried.
 */
public final class FleetConsumer {
    private FleetConsumer() {
    }

    private static Properties props(String bootstrap, Properties client, Duration timeout) {
        Properties p = new Properties();
        p.putAll(client);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false"); // reading never creates the topic
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(timeout.toMillis()));
        p.putIfAbsent(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "2000");
        return p;
    }

    private static List<TopicPartition> partitions(KafkaConsumer<String, String> c, String bootstrap, String topic,
                                                   Duration timeout) throws IOException {
        List<PartitionInfo> info;
        try {
            info = c.partitionsFor(topic, timeout);
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw new IOException("no answer from Kafka at " + bootstrap + " within " + timeout.toSeconds() + " s");
        } catch (KafkaException e) {
            throw new IOException("Kafka at " + bootstrap + ": " + e.getMessage());
        }
        if (info == null || info.isEmpty()) {
            throw new IOException("Kafka at " + bootstrap + " has no topic '" + topic + "'");
        }
        List<TopicPartition> out = new ArrayList<>();
        for (PartitionInfo i : info) {
            out.add(new TopicPartition(topic, i.partition()));
        }
        return out;
    }

    /**
     * Every record appended to the topic from {@code sinceMs} (the broker's record timestamp: when
     * the sink sent it, which is never before the event) until now, all partitions, in partition
     * order; at most {@code max} records, past which {@code onOverflow} is told and reading stops.
     */
    public static List<TopicRecord> window(String bootstrap, Properties client, String topic, long sinceMs,
                                           Duration timeout, int max, Runnable onOverflow) throws IOException {
        List<TopicRecord> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props(bootstrap, client, timeout))) {
            List<TopicPartition> parts = partitions(c, bootstrap, topic, timeout);
            c.assign(parts);
            Map<TopicPartition, Long> end;
            Map<TopicPartition, OffsetAndTimestamp> from;
            try {
                end = c.endOffsets(parts, timeout);
                Map<TopicPartition, Long> q = new HashMap<>();
                for (TopicPartition tp : parts) {
                    q.put(tp, Math.max(0, sinceMs));
                }
                from = c.offsetsForTimes(q, timeout);
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                throw new IOException("no answer from Kafka at " + bootstrap + " within " + timeout.toSeconds() + " s");
            }
            Map<TopicPartition, Long> left = new HashMap<>();
            for (TopicPartition tp : parts) {
                OffsetAndTimestamp o = from.get(tp);
                long endOffset = end.getOrDefault(tp, 0L);
                long start = o == null ? endOffset : o.offset();
                if (start < endOffset) {
                    c.seek(tp, start);
                    left.put(tp, endOffset);
                }
            }
            c.assign(new ArrayList<>(left.keySet()));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!left.isEmpty()) {
                var got = c.poll(Duration.ofMillis(500));
                if (got.isEmpty()) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("Kafka at " + bootstrap + " stopped answering while the window was read ("
                                + out.size() + " records so far)");
                    }
                    continue;
                }
                deadline = System.nanoTime() + timeout.toNanos();
                for (ConsumerRecord<String, String> r : got) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    Long e = left.get(tp);
                    if (e == null || r.offset() >= e) {
                        continue;
                    }
                    if (out.size() >= max) {
                        onOverflow.run();
                        return out;
                    }
                    out.add(new TopicRecord(r.partition(), r.offset(), r.timestamp(), r.key(), r.value()));
                }
                for (TopicPartition tp : new ArrayList<>(left.keySet())) {
                    if (c.position(tp) >= left.get(tp)) {
                        left.remove(tp);
                        c.pause(List.of(tp));
                    }
                }
            }
        } catch (KafkaException e) {
            throw new IOException("Kafka at " + bootstrap + ": " + e.getMessage());
        }
        return out;
    }

    /**
     * Follows the topic: {@code group} null reads every partition from its end now, in no group
     * (nothing committed, no rebalance; each tail sees every record); a group name joins that
     * consumer group, which resumes where the group left off and shares the partitions among its
     * members. {@code ready} is called once partitions are
     * assigned and positioned, so nothing appended after it is missed.
     */
    public static void tail(String bootstrap, Properties client, String topic, String group, Duration timeout,
                            Runnable ready, Consumer<TopicRecord> each, BooleanSupplier stop) throws IOException {
        Properties p = props(bootstrap, client, timeout);
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        }
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = partitions(c, bootstrap, topic, timeout);
            if (group == null) {
                c.assign(parts);
                c.seekToEnd(parts);
            } else {
                c.subscribe(List.of(topic));
                long deadline = System.nanoTime() + timeout.toNanos();
                while (c.assignment().isEmpty()) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("Kafka at " + bootstrap + " gave group " + group + " no partitions within "
                                + timeout.toSeconds() + " s");
                    }
                    c.poll(Duration.ofMillis(200)).forEach(r -> each.accept(
                            new TopicRecord(r.partition(), r.offset(), r.timestamp(), r.key(), r.value())));
                }
            }
            for (TopicPartition tp : c.assignment()) {
                c.position(tp, timeout); // resolves "the end" now, not at the first poll
            }
            ready.run();
            while (!stop.getAsBoolean()) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    each.accept(new TopicRecord(r.partition(), r.offset(), r.timestamp(), r.key(), r.value()));
                    if (stop.getAsBoolean()) {
                        break;
                    }
                }
            }
            if (group != null) {
                c.commitSync(timeout);
            }
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw new IOException("no answer from Kafka at " + bootstrap + " within " + timeout.toSeconds() + " s");
        } catch (KafkaException e) {
            throw new IOException("Kafka at " + bootstrap + ": " + e.getMessage());
        }
    }
}
