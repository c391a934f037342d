package io.procwatch.daemon;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.SocketChannel;

/**
 * What one connection is waiting for from its client, for the {@link Watchdog}: a request that
 * began arriving (or a first request, from the moment of connect) and is not complete, an answer
 * the client does not read, or nothing at all (idle). Blocking socket channels have no read
 * timeout, so the watchdog closes the channel instead; the blocked thread then ends with an
 * IOException like any hang-up.
 */
final class ClientWatch {
    /** Why the watchdog closed a connection. */
    enum Expiry { READ, IDLE, WRITE }

    private final SocketChannel channel;
    private final int uid;
    private final int gid;
    /**
     * When the request being received began (its first byte; for the first request, when the
     * connection's reader started: a daemon slow to get to it does not count against the
     * client), or 0.
     */
    private volatile long readingSince;
    /** When a request last arrived whole or was finished: the idle clock. */
    private volatile long lastActivity;
    /** A request is being handled (WAIT and SUBSCRIBE included): never idle then. */
    private volatile boolean handling;
    /** When the write in progress began, or 0. */
    private volatile long writingSince;

    ClientWatch(SocketChannel channel, int uid, int gid) {
        this.channel = channel;
        this.uid = uid;
        this.gid = gid;
        this.lastActivity = System.nanoTime();
    }

    int uid() {
        return uid;
    }

    int gid() {
        return gid;
    }

    /** The connection's reader starts: the first request's clock starts now. */
    void readerStarted() {
        readingSince = System.nanoTime();
    }

    /** A whole request arrived: the next one's clock starts at its first byte. */
    void requestReceived() {
        lastActivity = System.nanoTime();
        readingSince = 0;
    }

    void handling() {
        handling = true;
    }

    void handled() {
        lastActivity = System.nanoTime();
        handling = false;
    }

    /** What expired at {@code now}, or null. */
    Expiry expired(long now, Limits l) {
        long r = readingSince;
        if (r != 0 && now - r > l.readTimeoutMs() * 1_000_000L) {
            return Expiry.READ;
        }
        long w = writingSince;
        if (w != 0 && now - w > l.writeTimeoutMs() * 1_000_000L) {
            return Expiry.WRITE;
        }
        if (r == 0 && !handling && now - lastActivity > l.idleTimeoutMs() * 1_000_000L) {
            return Expiry.IDLE;
        }
        return null;
    }

    void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    /** The request stream: notes the first byte of each request. Sits above the read buffer. */
    InputStream input(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    began();
                }
                return b;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws IOException {
                int n = super.read(buf, off, len);
                if (n > 0) {
                    began();
                }
                return n;
            }
        };
    }

    private void began() {
        if (readingSince == 0) {
            readingSince = System.nanoTime();
        }
    }

    /** The answer stream: notes how long a write is blocked. Sits below the write buffer. */
    OutputStream output(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] buf, int off, int len) throws IOException {
                writingSince = System.nanoTime();
                try {
                    out.write(buf, off, len);
                } finally {
                    writingSince = 0;
                }
            }
        };
    }
}
