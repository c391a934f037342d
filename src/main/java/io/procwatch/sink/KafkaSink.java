package io.procwatch.sink;

import io.procwatch.table.ExitedProcess;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends the journal to a Kafka topic from the last sequence the broker acknowledged. The producer
 * is idempotent with acks=all and retries for as long as it takes, so a broker outage stalls it
 * (the journal keeps the backlog; at most {@link Config#maxInFlight} records wait in the
 * producer) rather than failing records. If a send fails anyway (the producer gives up, metadata
 * cannot be had, a non-retriable error) the sink closes that producer and starts over from the
 * acknowledged point with a new one, after a backoff that doubles up to 30 s and resets once
 * records are acknowledged again. What that re-sends arrives twice under the same key and
 * procwatch.seq, which a consumer folds.
 *
 * <p>The acknowledged point only moves in the producer's callbacks (all records up to it
 * acknowledged) and is written to disk at most once a second, when idle, and at close: a crash
 * re-sends at most what was acknowledged after the last write, never skips.
 *
 * <p>Only this class and the fleet commands name Kafka classes; nothing loads it unless the daemon
 * was configured with a broker.
 */
public final class KafkaSink implements FleetSink {
    public static final String DEFAULT_TOPIC = "procwatch.events";

    /** @param maxInFlight records sent and not yet acknowledged at most: what bounds the producer's memory in an outage */
    public record Config(String bootstrap, String topic, Properties client, int maxInFlight) {
        public Config(String bootstrap, String topic, Properties client) {
            this(bootstrap, topic, client, 10_000);
        }
    }

    /** What stats and /metrics show. */
    public record Stats(long ackedSeq, long newestSeq, long inFlight, long sent, long sendErrors, long lostToRetention,
                        long producerRestarts, long journalResets) {
        public long lag() {
            return Math.max(0, newestSeq - ackedSeq);
        }
    }

    static final long BACKOFF_MIN_MS = 100;
    static final long BACKOFF_MAX_MS = 30_000;
    private static final long SAVE_EVERY_MS = 1000;
    private static final long IDLE_POLL_MS = 100;

    /**
     * One producer's life: the records it has in flight and whether it failed. A fresh one per
     * producer, so a late callback of a closed producer cannot mark its successor failed.
     */
    private static final class Generation {
        final ConcurrentSkipListSet<Long> inFlight = new ConcurrentSkipListSet<>();
        final AtomicLong highestSent = new AtomicLong(Long.MIN_VALUE);
        volatile boolean failed;
    }

    private final Config config;
    private final JournalSource source;
    private final HostIdentity host;
    private final AckedState state;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong lostToRetention = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private volatile Generation gen = new Generation();
    private volatile long acked;
    private volatile boolean running = true;
    private volatile String lastError;
    private final Thread thread;

    public KafkaSink(Config config, JournalSource source, HostIdentity host, AckedState state) throws IOException {
        if (config.maxInFlight() < 1) {
            throw new IllegalArgumentException("maxInFlight must be at least 1");
        }
        this.config = config;
        this.source = source;
        this.host = host;
        this.state = state;
        long saved;
        if (!state.exists()) {
            // A first start: the topic is owed what the journal holds from now on, not what it
            // dropped before the sink was configured (a journal numbered from 1 is not a loss of
            // seq 0). Written at once, so that a sink stopped before any acknowledgement still
            // counts what retention takes meanwhile.
            saved = source.oldestSeq() - 1;
            state.write(saved);
        } else {
            try {
                saved = state.read();
            } catch (AckedState.Corrupt e) {
                // Damaged or not ours: refusing to start would stop the whole daemon over one line
                // (a restart loop under systemd). Starting over from the journal's oldest entry
                // re-sends what it holds (same keys, folded) and loses nothing.
                System.err.println("procwatch daemon: kafka: " + e.getMessage() + "; sending again from the journal's"
                        + " oldest entry");
                saved = Long.MAX_VALUE; // treated below as a journal behind the saved point: start over
            }
        }
        long newest = source.newestSeq();
        if (saved > newest) {
            // The journal is behind what the broker acknowledged: it was reset (deleted, or lost its
            // last commits to a power cut) and numbers new entries from below the saved point again.
            // Going on from the saved point would skip those silently; starting over from the
            // journal's start only re-sends (same keys, folded by consumers).
            resets.incrementAndGet();
            saved = source.oldestSeq() - 1;
            state.write(saved);
        }
        this.acked = saved;
        this.thread = Thread.ofPlatform().name("kafka-sink").daemon(true).unstarted(this::run);
    }

    public void start() {
        thread.start();
        // woken at each journal commit: without it a record waited up to IDLE_POLL_MS more (docs/benchmarks.md)
        source.onCommit(() -> LockSupport.unpark(thread));
    }

    public Stats snapshot() {
        return new Stats(acked, source.newestSeq(), gen.inFlight.size(), sent.get(), errors.get(), lostToRetention.get(),
                restarts.get(), resets.get());
    }

    /** The last send or producer error, for the log and tests; null if none. */
    public String lastError() {
        return lastError;
    }

    @Override
    public Map<String, Long> stats() {
        Stats s = snapshot();
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("kafka_acked_seq", s.ackedSeq());
        m.put("kafka_lag", s.lag());
        m.put("kafka_in_flight", s.inFlight());
        m.put("kafka_sent", s.sent());
        m.put("kafka_send_errors", s.sendErrors());
        m.put("kafka_lost_to_retention", s.lostToRetention());
        m.put("kafka_producer_restarts", s.producerRestarts());
        return m;
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
        // a broker that is down is asked again at most every 5 s, not at the default's 1 s, nor given up on
        p.putIfAbsent(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        p.putIfAbsent(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "5000");
        p.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "100");
        p.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "5000");
        // send() waits this long for metadata (a broker down at start): then the generation restarts with backoff
        p.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "20");
        // the daemon runs in a small heap: at most maxInFlight records wait, 16 MiB holds them
        p.putIfAbsent(ProducerConfig.BUFFER_MEMORY_CONFIG, Integer.toString(16 << 20));
        p.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private void run() {
        long backoff = BACKOFF_MIN_MS;
        while (running) {
            Generation g = new Generation();
            gen = g;
            long ackedBefore = acked;
            KafkaProducer<String, String> producer = null;
            try {
                producer = producer();
                sendFrom(producer, g, acked + 1);
            } catch (RuntimeException e) {
                fail(g, e);
            } finally {
                if (producer != null) {
                    // bounded: a broker that is down must not hold up a daemon's stop; what is still
                    // in flight is aborted and re-sent by the next generation or the next start
                    closeQuietly(producer, running ? Duration.ofSeconds(5) : Duration.ofSeconds(3));
                }
            }
            g.failed = true; // its late callbacks no longer move the acknowledged point
            save(Long.MIN_VALUE);
            if (!running) {
                return;
            }
            restarts.incrementAndGet();
            backoff = acked > ackedBefore ? BACKOFF_MIN_MS : Math.min(BACKOFF_MAX_MS, backoff * 2);
            // once per failed producer (so at most every 30 s while it keeps failing): without it a
            // refused login or a bad setting showed only as a count in stats. Kafka's messages name
            // the setting, never a password's value.
            System.err.println("procwatch daemon: kafka: " + lastError + "; a new producer in " + backoff + " ms");
            sleepUnlessStopped(backoff);
        }
    }

    /**
     * Closes a producer, waiting at most {@code d} (and a second). KafkaProducer.close(timeout) is
     * not bounded by its timeout: past it, it forces the I/O thread and then joins it with no limit,
     * and an I/O thread waiting on a broker that accepted the connection and never answers (a
     * firewall, a hung broker) stays until its request timeout and beyond (SinkRobustnessTest: the
     * daemon's stop took more than 15 s). So the close runs on a thread of its own, which this one
     * leaves behind if it must; the producer's threads are daemon threads and its late callbacks
     * belong to a failed generation, which moves nothing.
     */
    private static void closeQuietly(KafkaProducer<String, String> p, Duration d) {
        Thread t = Thread.ofPlatform().name("kafka-producer-close").daemon(true).start(() -> {
            try {
                p.close(d);
            } catch (RuntimeException ignored) {
                // closing a producer we are giving up on
            }
        });
        try {
            t.join(d.toMillis() + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void fail(Generation g, Exception e) {
        errors.incrementAndGet();
        lastError = String.valueOf(e);
        g.failed = true;
    }

    private void sendFrom(KafkaProducer<String, String> producer, Generation g, long next) {
        next = skipRetained(producer, g, next);
        long lastSaved = acked;
        long savedAt = System.nanoTime();
        try (JournalSource.Cursor c = source.openAt(next)) {
            while (running && !g.failed) {
                if (g.inFlight.size() >= config.maxInFlight()) {
                    // the broker is slow or away: stop reading, the journal holds the rest
                    sleepUnlessStopped(10);
                    continue;
                }
                JournalSource.Entry e = c.next();
                if (e == null) {
                    // Caught up. The journal's newest entries may be kinds the cursor does not return
                    // (samples, checkpoints, forks): read the newest seq first, then ask the cursor
                    // once more; if it still has nothing, every entry up to that seq was handed out
                    // or is not published, so the acknowledged point may reach it. Without this the
                    // lag in stats never fell to 0, and a restart re-read those entries.
                    long newest = source.newestSeq();
                    e = c.next();
                    if (e == null) {
                        if (newest >= next) {
                            handled(g, newest);
                            next = newest + 1;
                        }
                        lastSaved = save(lastSaved);
                        savedAt = System.nanoTime();
                        idleWait(IDLE_POLL_MS);
                        continue;
                    }
                }
                if (e.seq() < next) {
                    continue; // a cursor that repeats: already handled
                }
                if (e.seq() > next) {
                    // retention dropped entries under the cursor while we lagged
                    long oldest = source.oldestSeq();
                    if (oldest > next && oldest <= e.seq()) {
                        lossToRetention(producer, g, next, oldest - 1);
                    }
                }
                next = e.seq() + 1;
                FleetRecord r = FleetRecord.of(host, e);
                if (r == null) {
                    handled(g, e.seq()); // a kind of entry the sink does not publish
                } else {
                    send(producer, g, e.seq(), r);
                }
                if (System.nanoTime() - savedAt >= SAVE_EVERY_MS * 1_000_000) {
                    lastSaved = save(lastSaved);
                    savedAt = System.nanoTime();
                }
            }
        }
    }

    /** Counts {@code seq} as done without sending anything. */
    private void handled(Generation g, long seq) {
        g.inFlight.add(seq);
        g.highestSent.set(seq);
        ackDone(g, seq);
    }

    /** Waits up to {@code ms} or until a journal commit (or close) wakes the thread. */
    private void idleWait(long ms) {
        if (running) {
            LockSupport.parkNanos(ms * 1_000_000);
        }
    }

    /** Starting below the journal's oldest entry: what retention dropped is one counted loss record. */
    private long skipRetained(KafkaProducer<String, String> producer, Generation g, long next) {
        long oldest = source.oldestSeq();
        if (next < oldest) {
            lossToRetention(producer, g, next, oldest - 1);
            return oldest;
        }
        return next;
    }

    private void lossToRetention(KafkaProducer<String, String> producer, Generation g, long from, long to) {
        long lost = to - from + 1;
        lostToRetention.addAndGet(lost);
        // the loss takes the last dropped seq as its own: a seq no other record has, re-sent alike
        send(producer, g, to, FleetRecord.loss(host, to, System.currentTimeMillis(), "retention", lost, from, to));
    }

    private void send(KafkaProducer<String, String> producer, Generation g, long seq, FleetRecord r) {
        g.inFlight.add(seq);
        g.highestSent.set(seq);
        try {
            producer.send(new ProducerRecord<>(config.topic(), r.key(), r.json()), (meta, ex) -> {
                if (ex != null) {
                    if (!g.failed) {
                        fail(g, ex);
                    }
                } else {
                    ackDone(g, seq);
                }
            });
        } catch (RuntimeException ex) {
            // metadata not to be had within max.block.ms, a record too large, a closed producer
            fail(g, ex);
            return;
        }
        sent.incrementAndGet();
    }

    /**
     * Acked is the highest seq below which nothing is still in flight (acks arrive out of order
     * across partitions). A seq is put in flight before it becomes the highest sent, so the lowest
     * in flight read after the highest is never above a seq still unacknowledged.
     */
    private void ackDone(Generation g, long seq) {
        g.inFlight.remove(seq);
        if (g.failed) {
            return;
        }
        long high = g.highestSent.get();
        Long first = g.inFlight.ceiling(Long.MIN_VALUE);
        long a = first == null ? high : Math.min(high, first - 1);
        synchronized (this) {
            if (!g.failed && a > acked) {
                acked = a;
            }
        }
    }

    /** Writes the acknowledged point if it moved; returns what is on disk now. */
    private long save(long lastSaved) {
        long a = acked;
        if (a != lastSaved) {
            try {
                state.write(a);
                return a;
            } catch (IOException e) {
                errors.incrementAndGet();
                lastError = "acked state: " + e.getMessage();
            }
        }
        return lastSaved;
    }

    private void sleepUnlessStopped(long ms) {
        long end = System.nanoTime() + ms * 1_000_000;
        while (running) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return;
            }
            try {
                Thread.sleep(Math.min(left / 1_000_000 + 1, 100));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Stops within a few seconds even with the broker away; the unacknowledged rest goes at the next start. */
    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(15_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
