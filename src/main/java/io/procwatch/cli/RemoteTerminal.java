package io.procwatch.cli;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The terminal of a thin client, for an interactive top run inside the daemon (daemon/RunSession):
 * the client keeps its terminal raw and sends key bytes and window sizes; this is where they wait
 * for top. The JVM client's top reads /dev/tty instead (TopTerminal without one bound).
 *
 * <p>Bounded: at most {@link #CAPACITY} keys wait; more are dropped and counted (a human types far
 * fewer between two refreshes; a client pasting megabytes must not grow the daemon). The end of
 * input and a resize always find room, so they are never lost to a full queue.
 */
public final class RemoteTerminal {
    /** Key codes TopTerminal shares with its own /dev/tty reader. */
    static final int RESIZE = -2;
    static final int EOF = -3;
    public static final int CAPACITY = 4096;
    private static final ScopedValue<RemoteTerminal> CURRENT = ScopedValue.newInstance();
    private static final AtomicLong DROPPED = new AtomicLong();

    /** Room for the two specials beyond the keys' share. */
    final BlockingQueue<Integer> keys = new LinkedBlockingQueue<>(CAPACITY + 2);
    private volatile int rows;
    private volatile int cols;
    private volatile boolean ended;

    /** @param winsize columns << 16 | rows, as A_WINSIZE has it */
    public RemoteTerminal(int winsize) {
        setSize(winsize);
    }

    /** The run's terminal, or null in a JVM client. */
    static RemoteTerminal current() {
        return CURRENT.isBound() ? CURRENT.get() : null;
    }

    /** Runs {@code body} (the command) with this as its terminal. */
    public <T> T call(Callable<T> body) throws Exception {
        return ScopedValue.where(CURRENT, this).call(body::call);
    }

    /** Keys dropped because top had {@link #CAPACITY} unread (all runs since the daemon started). */
    public static long dropped() {
        return DROPPED.get();
    }

    /** Key bytes from the client; never blocks (the caller also watches for CANCEL). */
    public void input(byte[] data) {
        if (data.length == 0) {
            end();
            return;
        }
        for (byte b : data) {
            if (keys.remainingCapacity() <= 2 || !keys.offer(b & 0xff)) {
                DROPPED.incrementAndGet();
            }
        }
    }

    /** The client's input ended: top quits, as on end of file on a terminal. */
    public void end() {
        if (!ended) {
            ended = true;
            keys.offer(EOF);
        }
    }

    /** The client's window changed: top redraws at the new size. */
    public void resize(int winsize) {
        setSize(winsize);
        if (!keys.contains(RESIZE)) { // one pending resize is enough: draw() reads the latest size
            keys.offer(RESIZE);
        }
    }

    private void setSize(int winsize) {
        int c = winsize >>> 16;
        int r = winsize & 0xffff;
        // a zero or absurd size from a hostile client would make empty or huge screens
        cols = Math.clamp(c, 0, 1000);
        rows = Math.clamp(r, 0, 1000);
    }

    /** {rows, columns} like ProcessControl.windowSize, or null when the client has no window size. */
    int[] size() {
        int r = rows;
        int c = cols;
        return r == 0 || c == 0 ? null : new int[] {r, c};
    }
}
