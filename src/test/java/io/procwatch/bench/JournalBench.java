package io.procwatch.bench;

import io.procwatch.store.HistoryStore;
import io.procwatch.store.Journal;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.SyntheticLoad;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The event journal (issue #17) at 10,000 processes, on a real SQLite file:
 *
 * <ul>
 *   <li>{@code write}: entries per second the history writer's flush encodes and commits (each
 *       short-lived process is four table changes: fork, exec, exit, reap), checkpoints and
 *       retention included at their pace;</li>
 *   <li>{@code psAt}: the table at an instant 1 hour old (Journal.at: checkpoint, replay), worst
 *       case: the instant is the end of a checkpoint interval of a storm at 1,000 entries/s, so
 *       the whole interval is replayed, by checkpoint interval ({@code checkpointS}).</li>
 * </ul>
 * The changes are synthetic (table/SyntheticLoad: the ChangeTap calls the daemon's table makes),
 * stamped with made-up times so an hour of storm is built in seconds. Run:
 * {@code bin/bench jmh JournalBench}.
 */
public class JournalBench {
    static final int PROCESSES = 10_000;

    @State(Scope.Benchmark)
    public static class Writing {
        Path dir;
        Journal journal;
        SyntheticLoad load;

        @Setup(Level.Trial)
        public void setup() throws Exception {
            dir = Files.createTempDirectory("pw-journalbench");
            Path db = dir.resolve("history.db");
            HistoryStore.open(db).close();
            journal = Journal.open(db, Journal.Settings.defaults());
            load = new SyntheticLoad(System.currentTimeMillis() - 3 * 3_600_000L);
            journal.attach(load.table());
            load.populate(PROCESSES);
            journal.flush(load.nowMs());
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            journal.close();
            System.out.printf("%njournal: %d entries, %d bytes, %d dropped, %d checkpoints%n", journal.entries.sum(),
                    journal.bytes.sum(), journal.dropped.sum(), journal.checkpoints.sum());
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** 1,000 entries (250 short-lived processes, 1 ms apart), then one flush, as the writer does every ~250 ms. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(1000)
    @Warmup(iterations = 3, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public long write(Writing w) throws Exception {
        for (int i = 0; i < 250; i++) {
            w.load.shortLived(1);
            w.load.advance(1);
        }
        w.journal.flush(w.load.nowMs());
        return w.journal.entries.sum();
    }

    @State(Scope.Benchmark)
    public static class Past {
        @Param({"300", "60", "20"})
        public int checkpointS;
        /** The entry bound on an interval (Settings.CHECKPOINT_ENTRIES), or 1e9: time alone, as before. */
        @Param({"20000", "1000000000"})
        public long checkpointEntries;
        Path dir;
        Journal journal;
        SyntheticLoad load;
        long atMs;
        boolean flip;

        @Setup(Level.Trial)
        public void setup() throws Exception {
            dir = Files.createTempDirectory("pw-journalbench");
            Path db = dir.resolve("history.db");
            HistoryStore.open(db).close();
            journal = Journal.open(db, new Journal.Settings(checkpointS * 1000L, 10_000, 7L * 86_400_000L, 1L << 40,
                    checkpointEntries));
            long start = System.currentTimeMillis() - 3_600_000L - 2L * checkpointS * 1000 - 120_000;
            load = new SyntheticLoad(start);
            journal.attach(load.table());
            load.populate(PROCESSES);
            journal.flush(load.nowMs());
            long firstCheckpoint = load.nowMs();
            // a storm of 1,000 entries/s (250 short-lived processes/s, samples of 100 processes each
            // second) for two intervals and a minute, flushed every 250 ms as the writer does
            long until = firstCheckpoint + 2L * checkpointS * 1000 + 60_000;
            while (load.nowMs() < until) {
                for (int i = 0; i < 62; i++) {
                    load.shortLived(1);
                }
                load.sample(25);
                load.advance(250 - 62 * 3);
                journal.flush(load.nowMs());
            }
            // the worst instant of the time-based intervals: 1 ms before the second one ends (with
            // the entry bound, whatever interval that falls in)
            atMs = firstCheckpoint + checkpointS * 1000L - 1;
            List<ProcessInfo> rows = journal.at(atMs);
            if (rows.size() < PROCESSES) {
                throw new IllegalStateException("replay gave " + rows.size() + " rows");
            }
            System.out.printf("%ncheckpoint %d s / %d entries: instant %d s old, %d rows, %d entries, %d checkpoints, %d bytes in all%n",
                    checkpointS, checkpointEntries, (System.currentTimeMillis() - atMs) / 1000, rows.size(),
                    journal.entries.sum(), journal.checkpoints.sum(), journal.bytes.sum());
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            LockStats.print(journal);
            journal.close();
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * A replay of another checkpoint each time ({@link #psAtCold}'s), while a second reader of the
     * journal (gaps(): the same reader connection and lock as the Kafka sink's cursor and every
     * other query) and the history writer (250 short-lived processes and a flush, as every ~250 ms)
     * run beside it: how long they wait behind the replay. Sample mode: read the percentiles.
     * Run with {@code -p checkpointS=300 -p checkpointEntries=20000}.
     */
    @Benchmark
    @org.openjdk.jmh.annotations.Group("contended")
    @org.openjdk.jmh.annotations.GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public int contendedReplay(Past p) throws Exception {
        synchronized (p) {
            p.flip = !p.flip;
        }
        return p.journal.at(p.flip ? p.atMs : p.atMs - 60_000).size();
    }

    @Benchmark
    @org.openjdk.jmh.annotations.Group("contended")
    @org.openjdk.jmh.annotations.GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public int contendedOtherReader(Past p) throws Exception {
        return p.journal.gaps(p.atMs, p.atMs).size();
    }

    @Benchmark
    @org.openjdk.jmh.annotations.Group("contended")
    @org.openjdk.jmh.annotations.GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public long contendedWriter(Past p) throws Exception {
        for (int i = 0; i < 250; i++) {
            p.load.shortLived(1);
            p.load.advance(1);
        }
        p.journal.flush(p.load.nowMs());
        Thread.sleep(20); // the writer batches; it does not spin
        return p.journal.entries.sum();
    }

    /** The same instant again and again: from the second query on, its checkpoint is the cached one. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public int psAt(Past p) throws Exception {
        return p.journal.at(p.atMs).size();
    }

    /**
     * Two instants a minute apart, in turn: every query finds another checkpoint than the last
     * one and inflates and decodes it (a first ps --at of an interval). Run with
     * {@code -p checkpointS=300 -p checkpointEntries=20000}: with the time bound alone both fall
     * in one interval.
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3, time = 3)
    @Measurement(iterations = 5, time = 3)
    @Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public int psAtCold(Past p) throws Exception {
        p.flip = !p.flip;
        return p.journal.at(p.flip ? p.atMs : p.atMs - 60_000).size();
    }

    /** How long replays held the journal's read lock (Journal.lockHeld*), printed at the end of a trial. */
    static final class LockStats {
        static void print(Journal j) {
            System.out.printf("%nread lock held by replays: max %.1f ms, total %.0f ms%n",
                    j.lockHeldMaxNanos.get() / 1e6, j.lockHeldNanos.sum() / 1e6);
        }
    }
}
