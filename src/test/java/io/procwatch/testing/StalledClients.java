package io.procwatch.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hostile client, run in its own JVM (as another user, under setpriv): keeps COUNT connections
 * open for SECONDS, each of which sends half a request and then nothing; when the daemon closes
 * one, it opens another. Prints "ready" once the first COUNT attempts are made, and at the end one
 * line of "name=value" counts: connections opened, refused (an answer came before any request
 * was whole: for the Unix socket an ERROR, for HTTP a 4xx/5xx), closed by the daemon without an
 * answer, and the shortest/longest time a stalled connection was kept.
 *
 * <p>Modes: {@code unix-half SOCKET} (8 of a header's 16 bytes), {@code http-half HOST:PORT} (a
 * request line and one header, no blank line), {@code sse HOST:PORT} (a whole request for
 * /api/v1/events, then read and never finish).
 */
public final class StalledClients {
    private final String mode;
    private final String target;
    private final AtomicLong opened = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong streaming = new AtomicLong();
    private final AtomicLong closed = new AtomicLong();
    private final AtomicLong reset = new AtomicLong();
    private final AtomicLong minKeptMs = new AtomicLong(Long.MAX_VALUE);
    private final AtomicLong maxKeptMs = new AtomicLong();
    private final AtomicLong minResetMs = new AtomicLong(Long.MAX_VALUE);
    private final ConcurrentHashMap<String, Boolean> refusals = new ConcurrentHashMap<>();

    private StalledClients(String mode, String target) {
        this.mode = mode;
        this.target = target;
    }

    public static void main(String[] args) throws Exception {
        StalledClients s = new StalledClients(args[0], args[1]);
        int count = Integer.parseInt(args[2]);
        long until = System.nanoTime() + Long.parseLong(args[3]) * 1_000_000_000L;
        CountDownLatch first = new CountDownLatch(count);
        Thread[] threads = new Thread[count];
        for (int i = 0; i < count; i++) {
            threads[i] = Thread.ofVirtual().start(() -> s.loop(until, first));
        }
        first.await();
        System.out.println("ready");
        System.out.flush();
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("opened=" + s.opened + " refused=" + s.refused + " streaming=" + s.streaming
                + " closed=" + s.closed + " reset=" + s.reset + " min_reset_ms=" + s.minResetMs + " min_kept_ms=" + (s.minKeptMs.get() == Long.MAX_VALUE ? -1 : s.minKeptMs)
                + " max_kept_ms=" + s.maxKeptMs + " refusal=" + String.join("|", s.refusals.keySet()));
        System.exit(0);
    }

    private void loop(long until, CountDownLatch first) {
        boolean counted = false;
        while (System.nanoTime() < until) {
            try (SocketChannel ch = open()) {
                opened.incrementAndGet();
                long t0 = System.nanoTime();
                ch.write(ByteBuffer.wrap(request()));
                if (!counted) {
                    counted = true;
                    first.countDown();
                }
                // Close ourselves at the end of the run; until then wait for the daemon's move.
                java.util.concurrent.atomic.AtomicBoolean ours = new java.util.concurrent.atomic.AtomicBoolean();
                Thread closer = Thread.ofVirtual().start(() -> {
                    try {
                        Thread.sleep(Math.max(1, (until - System.nanoTime()) / 1_000_000L + 1));
                        ours.set(true);
                        ch.close();
                    } catch (InterruptedException | IOException done) {
                        // the daemon closed it first
                    }
                });
                String answer = readAnswer(Channels.newInputStream(ch));
                closer.interrupt();
                long kept = (System.nanoTime() - t0) / 1_000_000L;
                if (ours.get() || System.nanoTime() >= until) {
                    return;
                }
                if (answer == null) {
                    closed.incrementAndGet();
                    minKeptMs.accumulateAndGet(kept, Math::min);
                    maxKeptMs.accumulateAndGet(kept, Math::max);
                } else if (answer.startsWith("reset")) {
                    reset.incrementAndGet();
                    minResetMs.accumulateAndGet(kept, Math::min);
                } else if (answer.startsWith("streaming")) {
                    streaming.incrementAndGet(); // a stream that ended: the daemon closed it
                    closed.incrementAndGet();
                } else {
                    refused.incrementAndGet();
                    if (refusals.size() < 4) {
                        refusals.put(answer.replace(' ', '_'), true);
                    }
                    Thread.sleep(100); // hostile, not a busy loop on two shared cores
                }
            } catch (IOException | InterruptedException e) {
                if (!counted) {
                    counted = true;
                    first.countDown();
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
        if (!counted) {
            first.countDown();
        }
    }

    private SocketChannel open() throws IOException {
        if (mode.equals("unix-half")) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(target));
            return ch;
        }
        int colon = target.lastIndexOf(':');
        return SocketChannel.open(new InetSocketAddress(target.substring(0, colon),
                Integer.parseInt(target.substring(colon + 1))));
    }

    private byte[] request() {
        return switch (mode) {
            case "unix-half" -> new byte[] {64, 0, 0, 0, 1, 0, 0, 0}; // half of a 16-byte header
            case "http-half" -> ("GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n").getBytes(StandardCharsets.US_ASCII);
            case "sse" -> ("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            default -> throw new IllegalArgumentException(mode);
        };
    }

    /**
     * Null when the daemon closed without a word; else what it said: the ERROR's text, the HTTP
     * status line, or "streaming" when an event stream was granted (then read until it ends).
     */
    private String readAnswer(InputStream in) throws IOException {
        if (mode.equals("unix-half")) {
            io.procwatch.protocol.Message m;
            try {
                m = io.procwatch.protocol.Message.read(in, io.procwatch.protocol.Wire.MAX_MESSAGE);
            } catch (IOException e) {
                return "reset: " + e.getMessage(); // e.g. refused before our half header was read
            }
            if (m == null) {
                return null;
            }
            io.procwatch.protocol.Attrs a = m.attrs();
            while (a.next()) {
                if (a.type() == io.procwatch.protocol.Wire.R_ERROR_TEXT) {
                    return a.string();
                }
            }
            return "message type " + m.type();
        }
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            line.append((char) c);
        }
        if (line.isEmpty()) {
            return null;
        }
        String status = line.toString().trim();
        if (status.contains(" 200 ")) {
            while (in.read(new byte[4096]) >= 0) {
                // stream until the daemon ends it (or the run ends)
            }
            return "streaming";
        }
        return status;
    }
}
