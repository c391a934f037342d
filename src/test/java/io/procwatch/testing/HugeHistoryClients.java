package io.procwatch.testing;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hostile client, run in its own JVM (as another user, under setpriv): COUNT connections that
 * each ask for the whole history (HISTORY with A_LIMIT 1,000,000) over and over for SECONDS,
 * reading every row. Prints "ready" once every connection has sent its first request, and at the
 * end "requests=N rows=N errors=N" (requests answered whole; errors: an ERROR answer, e.g.
 * a refusal over the user's connection share, or a broken connection).
 *
 * <p>Usage: {@code HugeHistoryClients SOCKET COUNT SECONDS}
 */
public final class HugeHistoryClients {
    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        long until = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
        AtomicLong requests = new AtomicLong();
        AtomicLong rows = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        CountDownLatch first = new CountDownLatch(count);
        Thread[] threads = new Thread[count];
        for (int i = 0; i < count; i++) {
            threads[i] = Thread.ofVirtual().start(() -> {
                boolean counted = false;
                while (System.nanoTime() < until) {
                    try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
                        c.send(new MessageBuilder().u32(Wire.A_LIMIT, 1_000_000).build(Wire.HISTORY, 0, 7));
                        if (!counted) {
                            counted = true;
                            first.countDown();
                        }
                        while (true) {
                            Message m = c.receive();
                            if (m == null || m.type() == Wire.ERROR) {
                                errors.incrementAndGet(); // e.g. refused: over this user's share
                                Thread.sleep(100); // hostile, not a busy loop on two shared cores
                                break;
                            }
                            if (m.type() == Wire.EXITED) {
                                rows.incrementAndGet();
                            } else if (m.type() == Wire.DONE) {
                                requests.incrementAndGet(); // answered whole
                                break;
                            }
                        }
                    } catch (Exception e) {
                        errors.incrementAndGet();
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
            });
        }
        first.await();
        System.out.println("ready");
        System.out.flush();
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("requests=" + requests + " rows=" + rows + " errors=" + errors);
        System.exit(0);
    }
}
