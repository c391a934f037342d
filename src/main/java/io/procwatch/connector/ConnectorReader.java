package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;

import java.util.function.Consumer;

/**
 * Runs {@link ProcConnector#poll} on a dedicated platform thread (a netlink recv blocks in the
 * kernel; a virtual thread would pin its carrier) until {@link #close()}.
 *
 * <p>Nothing escapes the loop: an exception thrown by the sink is counted and the loop goes on; a
 * socket failure ends the loop and is handed to {@code onFailure} once.
 */
public final class ConnectorReader implements AutoCloseable {
    private final ProcConnector connector;
    private final Consumer<? super ConnectorEvent> sink;
    private final Consumer<? super Exception> onFailure;
    private final Thread thread;
    private volatile boolean stopping;
    private volatile long sinkErrors;

    private ConnectorReader(ProcConnector connector, Consumer<? super ConnectorEvent> sink,
                            Consumer<? super Exception> onFailure, String name) {
        this.connector = connector;
        this.sink = sink;
        this.onFailure = onFailure;
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    /** Starts reading; the reader owns the connector from here and closes it on {@link #close()}. */
    public static ConnectorReader start(ProcConnector connector, Consumer<? super ConnectorEvent> sink,
                                        Consumer<? super Exception> onFailure) {
        ConnectorReader r = new ConnectorReader(connector, sink, onFailure, "procwatch-connector");
        r.thread.start();
        return r;
    }

    private void loop() {
        Consumer<ConnectorEvent> guarded = e -> {
            try {
                sink.accept(e);
            } catch (RuntimeException ex) {
                sinkErrors++;
            }
        };
        try {
            while (!stopping) {
                if (failNow) {
                    throw new java.io.IOException("event source failure injected by a test");
                }
                connector.poll(guarded);
            }
        } catch (Exception e) {
            if (!stopping) {
                onFailure.accept(e);
            }
        } finally {
            connector.close();
        }
    }

    private volatile boolean failNow;

    /** Test hook: the loop ends as if its socket had failed (onFailure is called). */
    public void failForTest() {
        failNow = true;
        connector.wakeUp();
    }

    public ProcConnector connector() {
        return connector;
    }

    /** How many times the sink threw; each such event was dropped for that sink only. */
    public long sinkErrors() {
        return sinkErrors;
    }

    public boolean isRunning() {
        return thread.isAlive();
    }

    /** Stops the loop and closes the connector. */
    @Override
    public void close() {
        stopping = true;
        connector.wakeUp();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
