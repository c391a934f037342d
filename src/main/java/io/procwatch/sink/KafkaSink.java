package io.procwatch.sink;

import io.procwatch.table.ExitedProcess;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.util.Properties;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends the journal to a Kafka topic from the last sequence the broker acknowledged. The producer
 * is idempotent with acks=all and retries for as long as it takes, so a broker outage stalls it
 * (the journal keeps the backlog) rather than failing records; if a send fails anyway the sink
 * starts over from the acknowledged point with a new producer. What that re-sends arrives twice
 * under the same key and procwatch.seq, which a consumer folds.
 *
 * <p>Only this class and the fleet commands name Kafka classes; nothing loads it unless the daemon
 * was configured with a broker.
 */
public final class KafkaSink implements AutoCloseable {
    public record Config(String bootstrap, String topic, Properties client) {
    }

    /** What stats and /metrics show. */
    public record Stats(long ackedSeq, long newestSeq, long inFlight, long sent, long sendErrors, long lostToRetention) {
        public long lag() {
            return Math.max(0, newestSeq - ackedSeq);
        }
    }

    private final Config config;
    private final JournalSource source;
    private final HostIdentity host;
    private final AckedState state;
    private final ConcurrentSkipListSet<Long> inFlight = new ConcurrentSkipListSet<>();
    private final AtomicLong highestSent = new AtomicLong(AckedState.NONE);
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong lostToRetention = new AtomicLong();
    private volatile long acked;
    private volatile boolean failed;
    private volatile boolean running = true;
    private final Thread thread;

    public KafkaSink(Config config, JournalSource source, HostIdentity host, AckedState state) throws IOException {
        this.config = config;
        this.source = source;
        this.host = host;
        this.state = state;
        this.acked = state.read();
        this.thread = Thread.ofPlatform().name("kafka-sink").daemon().unstarted(this::run);
    }

    public void start() {
        thread.start();
    }

    public Stats stats() {
        return new Stats(acked, source.newestSeq(), inFlight.size(), sent.get(), errors.get(), lostToRetention.get());
    }

    private KafkaProducer<String, String> producer() {
        Properties p = new Properties();
        p.putAll(config.client());
        // ours win over the properties file: the delivery guarantees depend on them
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Integer.toString(Integer.MAX_VALUE));
        p.put(ProducerConfig.RETRIES_CONFIG, Integer.toString(Integer.MAX_VALUE));
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private void run() {
        while (running) {
            failed = false;
            try (KafkaProducer<String, String> producer = producer()) {
                sendFrom(producer, acked + 1);
            } catch (RuntimeException e) {
                errors.incrementAndGet();
            }
            inFlight.clear();
            highestSent.set(acked);
        }
    }

    private void sendFrom(KafkaProducer<String, String> producer, long next) {
        long oldest = source.oldestSeq();
        if (next < oldest) {
            long lost = oldest - next;
            lostToRetention.addAndGet(lost);
            send(producer, oldest - 1, FleetRecord.loss(host, oldest - 1, System.currentTimeMillis(),
                    "retention", lost, next, oldest - 1));
            next = oldest;
        }
        long lastSaved = acked;
        try (JournalSource.Cursor c = source.openAt(next)) {
            while (running && !failed) {
                JournalSource.Entry e = c.next();
                if (e == null) {
                    lastSaved = save(lastSaved);
                    sleepQuietly(5);
                    continue;
                }
                FleetRecord r = switch (e.content()) {
                    case ExitedProcess p -> FleetRecord.exit(host, e.seq(), p);
                    case JournalSource.Gap g -> FleetRecord.loss(host, e.seq(), e.epochMs(), "gap", g.count(),
                            e.seq(), e.seq());
                    default -> null;
                };
                if (r == null) {
                    // a kind of record the sink does not publish still counts as handled
                    inFlight.add(e.seq());
                    highestSent.set(e.seq());
                    ackDone(e.seq());
                } else {
                    send(producer, e.seq(), r);
                }
                if (sent.get() % 1024 == 0) {
                    lastSaved = save(lastSaved);
                }
            }
            producer.flush();
            save(lastSaved);
        }
    }

    private void send(KafkaProducer<String, String> producer, long seq, FleetRecord r) {
        inFlight.add(seq);
        highestSent.set(seq);
        producer.send(new ProducerRecord<>(config.topic(), r.key(), r.json()), (meta, ex) -> {
            if (ex != null) {
                errors.incrementAndGet();
                failed = true;
            } else {
                ackDone(seq);
            }
        });
        sent.incrementAndGet();
    }

    /** Acked is the highest seq below which nothing is still in flight (acks arrive out of order across partitions). */
    private void ackDone(long seq) {
        inFlight.remove(seq);
        if (failed) {
            return;
        }
        long high = highestSent.get();
        Long first = inFlight.ceiling(Long.MIN_VALUE);
        long a = first == null ? high : first - 1;
        synchronized (this) {
            if (a > acked) {
                acked = a;
            }
        }
    }

    private long save(long lastSaved) {
        long a = acked;
        if (a != lastSaved) {
            try {
                state.write(a);
                return a;
            } catch (IOException e) {
                errors.incrementAndGet();
            }
        }
        return lastSaved;
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(30_000);
    }
}
