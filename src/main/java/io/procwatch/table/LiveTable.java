package io.procwatch.table;

import io.procwatch.bpf.ExecCapture;
import io.procwatch.connector.ConnectorReader;
import io.procwatch.connector.ProcConnector;
import io.procwatch.procfs.ProcFs;
import io.procwatch.taskstats.TaskstatsExitListener;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * A running process table: subscribes to the kernel, scans /proc once, then keeps the table true
 * from events. Owns the threads that do so (connector reader, taskstats listener, reaper, sampler).
 *
 * <p>Order matters at start: subscribe first, then scan. Events that arrive during the scan wait in
 * the socket's receive buffer and are applied after it, idempotently; nothing falls between the two.
 */
public final class LiveTable implements AutoCloseable {
    /** Start-up settings. */
    public record Config(int historyCapacity, int receiveBufferBytes, long reapIntervalMillis, boolean taskScan,
                         boolean execCapture) {
        public Config(int historyCapacity, int receiveBufferBytes, long reapIntervalMillis, boolean taskScan) {
            this(historyCapacity, receiveBufferBytes, reapIntervalMillis, taskScan, true);
        }

        public static Config defaults() {
            return new Config(100_000, 64 << 20, 200, true, true);
        }
    }

    private final ProcessTable table;
    private final EventApplier applier;
    private volatile ConnectorReader reader;
    private final Config cfg;
    private final Consumer<? super Exception> onFatal;
    /** Times the kernel event source failed, and times it was subscribed again successfully. */
    private final java.util.concurrent.atomic.AtomicLong sourceFailures = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong sourceRestarts = new java.util.concurrent.atomic.AtomicLong();
    private final Sampler sampler;
    private final ReapTimer reaper;
    private final Thread taskstatsThread;
    private final TaskstatsExitListener taskstats;
    private volatile boolean closing;
    private volatile String taskstatsProblem;
    /** Why argv comes from /proc rather than the BPF exec capture, or null when the capture runs. */
    private final String execCaptureProblem;
    private volatile Exception readerFailure;

    private LiveTable(Config cfg, Consumer<History> prepareHistory, BeforeEvents beforeEvents,
                      Consumer<? super Exception> onFatal) throws IOException {
        this.cfg = cfg;
        this.onFatal = onFatal;
        ProcFs proc = ProcFs.system();
        table = new ProcessTable(cfg.historyCapacity());
        prepareHistory.accept(table.history()); // before any event: earlier exits go first
        applier = new EventApplier(table, proc);
        // The exec capture starts before the connector: every exec it sees has its record waiting.
        String captureProblem = "turned off (--exec-capture off)";
        if (cfg.execCapture()) {
            try {
                applier.useExecCapture(ExecCapture.open());
                captureProblem = null;
            } catch (IOException | RuntimeException e) {
                captureProblem = e.getMessage();
            }
        }
        execCaptureProblem = captureProblem;
        // Both readers wait without a timeout (0) until something comes; close() wakes them.
        ProcConnector connector = openConnector(cfg);
        TaskstatsExitListener ts = null;
        try {
            ts = TaskstatsExitListener.open(16 << 20, 0);
        } catch (IOException e) {
            taskstatsProblem = "no exit accounting: " + e.getMessage();
        }
        taskstats = ts;
        reaper = new ReapTimer(applier, cfg.reapIntervalMillis(), 2_000);
        Sampler s = null;
        try {
            applier.resync(true);
            s = new Sampler(table, proc.root().toString(), cfg.taskScan());
            applier.useTaskScan(s.taskScan(), s::passSoon, s::adopt);
            // the filled table, no event applied yet: a listener attached here misses none
            beforeEvents.accept(table, s);
        } catch (IOException | RuntimeException e) {
            if (s != null) {
                s.close();
            }
            connector.close();
            if (ts != null) {
                ts.close();
            }
            reaper.close();
            closeExecSource();
            throw e;
        }
        sampler = s;
        reader = startReader(connector);
        // the rescan after a loss is on the path to the first right answer: compile its code now
        Thread.ofPlatform().name("procwatch-rehearsal").daemon(true).start(() -> {
            try {
                applier.rehearse();
            } catch (RuntimeException e) {
                // only warms code up: a failure here changes nothing
            }
        });
        taskstatsThread = ts == null ? null
                : Thread.ofPlatform().name("procwatch-taskstats").daemon(true).start(this::taskstatsLoop);
    }

    private static ProcConnector openConnector(Config cfg) throws IOException {
        return ProcConnector.open(
                ProcConnector.Options.defaults().withReceiveBuffer(cfg.receiveBufferBytes()).withPollTimeout(0));
    }

    private ConnectorReader startReader(ProcConnector connector) {
        connector.onCaughtUp(applier::caughtUp);
        return ConnectorReader.start(connector, applier, e -> Thread.ofPlatform().name("procwatch-resubscribe")
                .daemon(true).start(() -> recover(e)));
    }

    /**
     * The kernel event source failed: without it the table would freeze while still being served.
     * Subscribe again (a few tries, backing off) and rescan /proc, since events were missed; if
     * that fails too, the table can no longer be trusted: {@code onFatal} (the daemon logs it and
     * exits non-zero, so a service manager restarts it). Both are counted in stats.
     */
    private void recover(Exception cause) {
        if (closing) {
            return;
        }
        sourceFailures.incrementAndGet();
        readerFailure = cause;
        System.err.println("procwatch daemon: kernel event source failed: " + cause.getMessage() + "; subscribing again");
        table.counters.losses.increment();
        Exception last = cause;
        for (long backoffMs : new long[] {0, 200, 1000}) {
            try {
                Thread.sleep(backoffMs);
                if (closing) {
                    return;
                }
                ProcConnector c = openConnector(cfg);
                applier.resync(false); // events between the failure and now were missed
                reader = startReader(c);
                sourceRestarts.incrementAndGet();
                readerFailure = null;
                System.err.println("procwatch daemon: kernel event source subscribed again");
                return;
            } catch (IOException | RuntimeException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        onFatal.accept(last);
    }

    /** Times the kernel event source failed. */
    public long eventSourceFailures() {
        return sourceFailures.get();
    }

    /** Times it was subscribed again after a failure. */
    public long eventSourceRestarts() {
        return sourceRestarts.get();
    }

    /** Test hook: makes the running event source fail as a dead socket would. */
    void failEventSourceForTest() {
        reader.failForTest();
    }

    public static LiveTable start(Config cfg, Consumer<? super Exception> onFatal) throws IOException {
        return new LiveTable(cfg, h -> { }, (t, s) -> { }, onFatal);
    }

    /**
     * Called once the start-up scan has filled the table and before the first kernel event is
     * applied: what attaches here (the event journal) sees every change from the filled table on.
     */
    @FunctionalInterface
    public interface BeforeEvents {
        void accept(ProcessTable table, Sampler sampler) throws IOException;
    }

    /**
     * With a hook that fills the history from an earlier run and connects it to a store, and one
     * that attaches to the filled table before events flow.
     */
    public static LiveTable start(Config cfg, Consumer<History> prepareHistory, BeforeEvents beforeEvents,
                                  Consumer<? super Exception> onFatal) throws IOException {
        return new LiveTable(cfg, prepareHistory, beforeEvents, onFatal);
    }

    /**
     * After a loss the taskstats reader waits (at most this long, at most once a second) until the
     * rescan is done. A storm that overran the proc connector leaves as many exit records queued
     * on the taskstats socket (20,000 in the truth suite's case 9), and reading them took 13-63 ms
     * of CPU on a 2-core machine in the very window the rescan and the first answer after the
     * loss needed it. The records wait in the socket's buffer meanwhile (16 MiB) and are joined to
     * the history afterwards, where the rescan has put the exits it did not see by then.
     */
    private static final long TASKSTATS_HOLD_MILLIS = 250;

    private void taskstatsLoop() {
        long lastHold = System.nanoTime() - 1_000_000_000L;
        while (!closing) {
            if (applier.mayBeStale() && System.nanoTime() - lastHold >= 1_000_000_000L) {
                lastHold = System.nanoTime();
                applier.awaitResynced(TASKSTATS_HOLD_MILLIS);
            }
            try {
                taskstats.poll(t -> table.history().attach(t));
            } catch (Exception e) {
                if (!closing) {
                    taskstatsProblem = "exit accounting stopped: " + e.getMessage();
                }
                return;
            }
        }
    }

    public ProcessTable table() {
        return table;
    }

    public Sampler sampler() {
        return sampler;
    }

    private void closeExecSource() {
        if (applier.execSource() instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                // closing: nothing to do about it
            }
        }
    }

    /**
     * Waits (at most {@code maxMillis}) until the event reader has applied every event the kernel
     * had queued when this was called, so a fresh answer reflects them: after a stall (the daemon
     * stopped, a burst) the socket may hold forks the table has not seen yet, or the overrun that
     * says some were lost, which the reader only learns by reading. Returns at once when the reader
     * is idle (the normal case).
     */
    public void awaitCaughtUp(long maxMillis) {
        ConnectorReader r = reader;
        ProcConnector c = r.connector();
        if (c.readerIdle() || !r.isRunning()) {
            return;
        }
        long seen = c.caughtUpCount();
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        while (c.caughtUpCount() == seen && !c.readerIdle() && System.nanoTime() - deadline < 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    /** Why exec argv comes from /proc instead of the BPF capture; null when the capture runs. */
    public String execCaptureProblem() {
        return execCaptureProblem;
    }

    /** Execs the kernel could not record (ring full); 0 without the capture. */
    public long execCaptureLost() {
        return applier.execSource() instanceof CapturedExecSource c ? c.lost() : 0;
    }

    public EventApplier applier() {
        return applier;
    }

    public ProcConnector.Stats connectorStats() {
        return reader.connector().stats();
    }

    public int receiveBufferBytes() {
        return reader.connector().receiveBufferBytes();
    }

    /** Why taskstats totals are missing from the history, or null if they are flowing. */
    public String taskstatsProblem() {
        return taskstatsProblem;
    }

    public long taskstatsOverruns() {
        return taskstats == null ? 0 : taskstats.overruns();
    }

    /** The reader's fatal error, or null while events flow. */
    public Exception readerFailure() {
        return readerFailure;
    }

    @Override
    public void close() {
        closing = true;
        reader.close();
        reaper.close();
        sampler.close();
        closeExecSource();
        if (taskstatsThread != null) {
            taskstats.wakeUp();
            try {
                taskstatsThread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            taskstats.close();
        }
    }
}
