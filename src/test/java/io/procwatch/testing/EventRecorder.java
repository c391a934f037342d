package io.procwatch.testing;

import io.procwatch.connector.ConnectorReader;
import io.procwatch.connector.ProcConnector;
import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/** Records every event the real kernel sends while a test runs. */
public final class EventRecorder implements AutoCloseable {
    private final List<ConnectorEvent> events = new CopyOnWriteArrayList<>();
    private final List<Exception> failures = new CopyOnWriteArrayList<>();
    private final ConnectorReader reader;

    private EventRecorder(ProcConnector.Options options) throws Exception {
        reader = ConnectorReader.start(ProcConnector.open(options), events::add, failures::add);
    }

    /** With the daemon's reader settings: no poll timeout, woken by close. */
    public static EventRecorder start() throws Exception {
        return new EventRecorder(ProcConnector.Options.defaults().withPollTimeout(0));
    }

    public static EventRecorder start(ProcConnector.Options options) throws Exception {
        return new EventRecorder(options);
    }

    public ConnectorReader reader() {
        return reader;
    }

    public List<Exception> failures() {
        return failures;
    }

    public List<Loss> losses() {
        List<Loss> out = new ArrayList<>();
        for (ConnectorEvent e : events) {
            if (e instanceof Loss l) {
                out.add(l);
            }
        }
        return out;
    }

    /** All events about process {@code tgid} (including fork events creating it), in arrival order. */
    public List<ProcEvent> forProcess(int tgid) {
        List<ProcEvent> out = new ArrayList<>();
        for (ConnectorEvent e : events) {
            if (e instanceof ProcEvent p && p.tgid() == tgid) {
                out.add(p);
            }
        }
        return out;
    }

    /** All events about thread {@code tid}, in arrival order. */
    public List<ProcEvent> forThread(int tid) {
        List<ProcEvent> out = new ArrayList<>();
        for (ConnectorEvent e : events) {
            if (e instanceof ProcEvent p && p.pid() == tid) {
                out.add(p);
            }
        }
        return out;
    }

    public List<ProcEvent> matching(Predicate<ProcEvent> p) {
        List<ProcEvent> out = new ArrayList<>();
        for (ConnectorEvent e : events) {
            if (e instanceof ProcEvent pe && p.test(pe)) {
                out.add(pe);
            }
        }
        return out;
    }

    /** Waits until an event matching {@code p} arrived; fails the test after {@code timeout}. */
    public ProcEvent await(Predicate<ProcEvent> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (ConnectorEvent e : events) {
                if (e instanceof ProcEvent pe && p.test(pe)) {
                    return pe;
                }
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no matching event within " + timeout + "; failures=" + failures);
    }

    /** Waits for the exit of the leader of process {@code tgid}. */
    public ProcEvent.Exit awaitExit(int tgid) throws InterruptedException {
        return (ProcEvent.Exit) await(e -> e instanceof ProcEvent.Exit x && x.pid() == tgid && x.tgid() == tgid,
                Duration.ofSeconds(10));
    }

    @Override
    public void close() {
        reader.close();
    }
}
