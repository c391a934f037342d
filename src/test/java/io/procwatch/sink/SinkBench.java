package io.procwatch.sink;

import io.procwatch.event.WaitStatus;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;
import io.procwatch.testing.KafkaBroker;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * The Kafka sink against a real local broker (not a test: numbers for docs/benchmarks.md).
 * {@code bin/bench io.procwatch.sink.SinkBench [RECORDS] [OUTAGE_RATE]}: (1) records per second
 * from a journal already holding RECORDS exits until the broker acknowledged the last, and the
 * sink thread's CPU per 1,000 records; (2) catch-up after a 5-minute broker outage at OUTAGE_RATE
 * exits per second (the backlog 300 × rate is appended while the broker is down, then it comes
 * back): seconds from the broker listening again to the last acknowledgement.
 */
public final class SinkBench {
    private SinkBench() {
    }

    /** A thousand distinct exits, reused: the journal holds references, not a gigabyte of copies. */
    private static final ExitedProcess[] POOL = new ExitedProcess[1000];

    private static ExitedProcess exit(int i) {
        int k = i % POOL.length;
        if (POOL[k] == null) {
            POOL[k] = make(k);
        }
        return POOL[k];
    }

    private static ExitedProcess make(int i) {
        long start = 1_764_000_000_000L + i;
        Taskstats t = new Taskstats(0, true, 10_000 + i, 1, 1000, 1000, "cc1", new WaitStatus(0), 0, 0, 0, 2000,
                1500, 300, 10, 0, 4812, 9000, 0, 0, 0, 0, 0, 73728, 0, 3, 40, 10_000 + i);
        return new ExitedProcess(i, 10_000 + (i % 4_000_000), 4100, 1000, 1000, "cc1",
                "/usr/libexec/gcc/x86_64-linux-gnu/14/cc1", List.of("/usr/libexec/gcc/x86_64-linux-gnu/14/cc1", "-quiet",
                "-I", "include", "src/file" + i + ".c", "-o", "/tmp/cc" + i + ".s"), start, start + 640,
                new WaitStatus(0), false, true, true, t, i * 1000L);
    }

    private static long sinkCpuNanos() {
        var mx = ManagementFactory.getThreadMXBean();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("kafka-sink")) {
                return mx.getThreadCpuTime(t.threadId());
            }
        }
        return 0;
    }

    private static void waitAcked(KafkaSink s, long seq) throws InterruptedException {
        while (s.snapshot().ackedSeq() < seq) {
            Thread.sleep(2);
        }
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 500_000;
        int rate = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        Path dir = Files.createTempDirectory("pw-sink-bench");
        HostIdentity host = new HostIdentity("bench", "bench", "boot");
        try (KafkaBroker broker = KafkaBroker.start()) {
            // warm-up: JIT and topic creation are not what is measured
            ListJournal warm = new ListJournal(0);
            for (int i = 0; i < 50_000; i++) {
                warm.append(0, exit(i));
            }
            KafkaSink w = new KafkaSink(new KafkaSink.Config(broker.bootstrap(), "bench", new Properties()), warm, host,
                    new AckedState(dir.resolve("warm")));
            w.start();
            waitAcked(w, 49_999);
            w.close();

            ListJournal j = new ListJournal(0);
            for (int i = 0; i < n; i++) {
                j.append(0, exit(i));
            }
            KafkaSink s = new KafkaSink(new KafkaSink.Config(broker.bootstrap(), "bench", new Properties()), j, host,
                    new AckedState(dir.resolve("run")));
            long t0 = System.nanoTime();
            s.start();
            waitAcked(s, n - 1);
            double secs = (System.nanoTime() - t0) / 1e9;
            long cpu = sinkCpuNanos();
            System.out.printf(Locale.ROOT, "throughput: %,d records in %.2f s = %,.0f records/s; sink thread CPU %.1f ms"
                    + " per 1,000 records (the producer's I/O thread not counted)%n", n, secs, n / secs, cpu / 1e6 / (n / 1000.0));
            s.close();

            int backlog = 300 * rate;
            ListJournal o = new ListJournal(0);
            KafkaSink s2 = new KafkaSink(new KafkaSink.Config(broker.bootstrap(), "bench", new Properties()), o, host,
                    new AckedState(dir.resolve("outage")));
            s2.start();
            o.append(0, exit(0));
            waitAcked(s2, 0);
            broker.kill();
            for (int i = 1; i <= backlog; i++) {
                o.append(0, exit(i));
            }
            Thread.sleep(5000); // the producer notices and backs off
            broker.restart();
            long t1 = System.nanoTime();
            waitAcked(s2, backlog);
            System.out.printf(Locale.ROOT, "catch-up: a 5-minute outage at %,d exits/s = %,d records sent %.2f s after"
                    + " the broker listened again (%d producer restarts)%n", rate, backlog, (System.nanoTime() - t1) / 1e9,
                    s2.snapshot().producerRestarts());
            s2.close();
        }
    }
}
