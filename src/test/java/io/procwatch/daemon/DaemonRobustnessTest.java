package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Hostile and broken clients against the real daemon: errors, never a crash, hang or leak. */
class DaemonRobustnessTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start("--max-clients", "40");
    }

    @AfterAll
    static void stop() throws Exception {
        assertThat(daemon.isAlive()).isTrue();
        assertThat(daemon.stop()).isZero();
        daemon.close();
    }

    private static byte[] header(long length, int type) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt((int) length).putShort((short) type)
                .putShort((short) 0).putInt(7).putInt(0).array();
    }

    /** Sends raw bytes on a fresh connection and returns the daemon's first answer (null if it just closed). */
    private static Message answerTo(byte[] bytes) throws IOException {
        try (ProcwatchClient c = daemon.client()) {
            c.sendRaw(bytes);
            try {
                return c.receive();
            } catch (IOException closed) {
                return null;
            }
        }
    }

    private static int errorCode(Message m) throws IOException {
        assertThat(m).isNotNull();
        assertThat(m.type()).isEqualTo(Wire.ERROR);
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_ERROR_CODE) {
                return a.u32();
            }
        }
        throw new AssertionError("ERROR without a code");
    }

    @Test
    void everyKindOfMalformedMessageGetsAnError() throws Exception {
        assertThat(errorCode(answerTo(header(8, Wire.HELLO)))).isEqualTo(Wire.E_MALFORMED);      // shorter than a header
        assertThat(errorCode(answerTo(header(18, Wire.HELLO)))).isEqualTo(Wire.E_MALFORMED);     // not a multiple of 4
        assertThat(errorCode(answerTo(header(1L << 30, Wire.SNAPSHOT)))).isEqualTo(Wire.E_TOO_LARGE);
        assertThat(errorCode(answerTo(header(0xffffffffL, Wire.SNAPSHOT)))).isEqualTo(Wire.E_TOO_LARGE);
        // An attribute whose length runs past the message.
        byte[] badAttr = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).put(header(24, Wire.SNAPSHOT))
                .putShort((short) 200).putShort((short) Wire.A_GROUPS).putInt(1).array();
        assertThat(errorCode(answerTo(badAttr))).isEqualTo(Wire.E_MALFORMED);
        // A u64 attribute that carries 2 bytes.
        byte[] shortValue = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).put(header(24, Wire.SNAPSHOT))
                .putShort((short) 6).putShort((short) Wire.A_GROUPS).putShort((short) 1).putShort((short) 0).array();
        assertThat(errorCode(answerTo(shortValue))).isEqualTo(Wire.E_MALFORMED);
        // A selector with an over-long name.
        MessageBuilder b = new MessageBuilder();
        Selector.all().withName("x".repeat(100)).encode(b);
        assertThat(errorCode(answerTo(b.build(Wire.SNAPSHOT, 0, 1).toBytes()))).isEqualTo(Wire.E_BAD_ARGUMENT);
        // WAIT with no pid.
        assertThat(errorCode(answerTo(new MessageBuilder().build(Wire.WAIT, 0, 1).toBytes())))
                .isEqualTo(Wire.E_BAD_ARGUMENT);
        // A message cut short by the end of the stream: the daemon just closes (nothing to answer).
        byte[] cut = new MessageBuilder().u64(Wire.A_GROUPS, 1).build(Wire.SNAPSHOT, 0, 1).toBytes();
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(daemon.socket()))) {
            ch.write(ByteBuffer.wrap(java.util.Arrays.copyOf(cut, cut.length - 4)));
            ch.shutdownOutput();
            assertThat(ch.read(ByteBuffer.allocate(64))).as("closed without an answer").isEqualTo(-1);
        }
        assertThat(daemon.client().hello()).containsKey("protocol");
    }

    @Test
    void waitForAProcessStartedAMomentAgo() throws Exception {
        // Asked before the daemon has applied the fork event: /proc lists it, so it is waited for.
        for (int i = 0; i < 20; i++) {
            Process p = Spawn.start("/bin/sh", "-c", "exit 4");
            try (ProcwatchClient c = daemon.client()) {
                var r = c.waitFor(List.of((int) p.pid()), 10_000, x -> { });
                assertThat(r.rows()).hasSize(1);
            } catch (io.procwatch.client.DaemonErrorException e) {
                // Gone from /proc and not yet in the history only if it exited and was reaped
                // before we asked, and its exit event is still in flight: then the answer is
                // "no such process", which is true of /proc at that moment too.
                assertThat(e.getMessage()).contains("no such process");
            }
        }
    }

    @Test
    void requestsPipelinedBehindAWaitAreAnsweredInOrder() throws Exception {
        Process p = Spawn.start("/bin/sh", "-c", "sleep 0.5; exit 2");
        try (ProcwatchClient c = daemon.client()) {
            c.send(new MessageBuilder().u32(Wire.A_WAIT_PID, (int) p.pid()).build(Wire.WAIT, 0, 1));
            c.send(new MessageBuilder().build(Wire.HELLO, 0, 2));
            c.send(new MessageBuilder().build(Wire.STATS, 0, 3));
            List<Integer> types = new ArrayList<>();
            List<Integer> seqs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Message m = c.receive();
                types.add(m.type());
                seqs.add(m.seq());
            }
            assertThat(types).containsExactly(Wire.EXITED, Wire.DONE, Wire.HELLO_REPLY, Wire.STATS_REPLY);
            assertThat(seqs).containsExactly(1, 1, 2, 3);
        }
    }

    @Test
    void unknownRequestTypeIsAnErrorButTheConnectionGoesOn() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.send(new MessageBuilder().u32(999, 1).build(77, 0, 5));
            Message m = c.receive();
            assertThat(errorCode(m)).isEqualTo(Wire.E_UNKNOWN_REQUEST);
            assertThat(m.seq()).isEqualTo(5);
            // Unknown attributes in a known request are skipped.
            c.send(new MessageBuilder().u32(999, 1).string(1000, "future").build(Wire.HELLO, 0, 6));
            assertThat(c.receive().type()).isEqualTo(Wire.HELLO_REPLY);
        }
    }

    @Test
    void fuzzHundredThousandMessagesNoCrashNoLeak() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        MessageBuilder snap = new MessageBuilder().u64(Wire.A_GROUPS, -1L);
        Selector.all().withPids(List.of(1, 2)).withName("java").withStates("RS").encode(snap);
        seeds.add(snap.build(Wire.SNAPSHOT, Wire.F_FRESH, 1).toBytes());
        seeds.add(new MessageBuilder().u32(Wire.A_VERSION, 1).string(Wire.A_CLIENT, "fuzz").build(Wire.HELLO, 0, 2).toBytes());
        seeds.add(new MessageBuilder().u64(Wire.A_SINCE_MS, 0).u32(Wire.A_LIMIT, 3).build(Wire.HISTORY, 4, 3).toBytes());
        seeds.add(new MessageBuilder().u32(Wire.A_WAIT_PID, 1).u32(Wire.A_TIMEOUT_MS, 1).build(Wire.WAIT, 0, 4).toBytes());
        seeds.add(new MessageBuilder().build(Wire.STATS, 0, 5).toBytes());
        int socketsBefore = daemon.openSockets();
        Random rnd = new Random(42);
        int sent = 0;
        int connections = 0;
        int[] hung = {0};
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (sent < 100_000 && System.nanoTime() < deadline) {
            // Many messages per connection: the daemon answers well-formed ones and drops the
            // connection at the first broken one; then we reconnect.
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(daemon.socket()));
                connections++;
                ByteBuffer batch = ByteBuffer.allocate(64 * 1024);
                for (int i = 0; i < 200 && sent < 100_000; i++) {
                    byte[] m = mutate(seeds.get(rnd.nextInt(seeds.size())), rnd);
                    if (batch.remaining() < m.length) {
                        break;
                    }
                    batch.put(m);
                    sent++;
                }
                batch.flip();
                try {
                    while (batch.hasRemaining()) {
                        ch.write(batch);
                    }
                    ch.shutdownOutput();
                    // Read until the daemon closes; a daemon that kept a hung-up client would
                    // fail the test here (the watchdog closes the channel after 10 s).
                    Thread watchdog = Thread.ofVirtual().start(() -> {
                        try {
                            Thread.sleep(10_000);
                            hung[0]++;
                            ch.close();
                        } catch (InterruptedException | IOException done) {
                            // finished in time
                        }
                    });
                    ByteBuffer sink = ByteBuffer.allocate(1 << 16);
                    while (ch.read(sink) >= 0) {
                        sink.clear();
                    }
                    watchdog.interrupt();
                } catch (IOException peerClosed) {
                    // the daemon hung up on a broken message: expected
                }
            }
        }
        System.out.printf("fuzz: %d messages over %d connections%n", sent, connections);
        assertThat(sent).isEqualTo(100_000);
        assertThat(hung[0]).as("connections the daemon kept after the client hung up").isZero();
        assertThat(daemon.isAlive()).isTrue();
        try (ProcwatchClient c = daemon.client()) {
            assertThat(c.snapshot(Selector.all(), 1, 0).rows()).isNotEmpty();
            Map<String, Long> s = c.stats();
            assertThat(s.get("internal_errors")).as("no request crashed a handler").isZero();
            assertThat(s.get("requests_malformed")).isPositive();
        }
        Thread.sleep(1000); // let the last connections close
        assertThat(daemon.openSockets()).as("sockets leaked").isLessThanOrEqualTo(socketsBefore + 2);
    }

    /** Bit flips, byte overwrites, truncation, duplication, or pure noise. */
    static byte[] mutate(byte[] seed, Random rnd) {
        byte[] m = seed.clone();
        switch (rnd.nextInt(6)) {
            case 0 -> m[rnd.nextInt(m.length)] ^= (byte) (1 << rnd.nextInt(8));
            case 1 -> {
                for (int i = 0; i < 3; i++) {
                    m[rnd.nextInt(m.length)] = (byte) rnd.nextInt(256);
                }
            }
            case 2 -> m = java.util.Arrays.copyOf(m, Math.max(1, rnd.nextInt(m.length)));
            case 3 -> {
                int at = 16 + rnd.nextInt(Math.max(1, m.length - 16));
                ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putShort(Math.min(at, m.length - 2),
                        (short) rnd.nextInt(65536));
            }
            case 4 -> {
                byte[] noise = new byte[4 + rnd.nextInt(60)];
                rnd.nextBytes(noise);
                m = noise;
            }
            default -> {
                // a valid message, to keep connections going between broken ones
            }
        }
        return m;
    }

    @Test
    void connectionLimitGivesAClearError() throws Exception {
        List<ProcwatchClient> held = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                ProcwatchClient c = daemon.client();
                c.hello(); // make sure each is counted before the next
                held.add(c);
            }
            try (SocketChannel extra = SocketChannel.open(UnixDomainSocketAddress.of(daemon.socket()))) {
                Message m = Message.read(java.nio.channels.Channels.newInputStream(extra), Wire.MAX_MESSAGE);
                assertThat(errorCode(m)).isEqualTo(Wire.E_BUSY);
                Attrs a = m.attrs();
                String text = "";
                while (a.next()) {
                    if (a.type() == Wire.R_ERROR_TEXT) {
                        text = a.string();
                    }
                }
                assertThat(text).contains("too many clients (limit 40)");
            }
        } finally {
            for (ProcwatchClient c : held) {
                c.close();
            }
        }
        Thread.sleep(300);
        assertThat(daemon.client().hello()).containsKey("protocol");
    }

    @Test
    void waitersAndSubscribersThatHangUpAreReleased() throws Exception {
        // WAIT and SUBSCRIBE block without a timeout; the end of the client's stream must wake them.
        Process sleeper = io.procwatch.testing.Spawn.start("sleep", "600");
        List<ProcwatchClient> held = new ArrayList<>();
        try (ProcwatchClient probe = daemon.client()) {
            long subscribersBefore = probe.stats().get("subscribers");
            int socketsBefore = daemon.openSockets();
            for (int i = 0; i < 5; i++) {
                ProcwatchClient sub = daemon.client();
                held.add(sub);
                MessageBuilder b = new MessageBuilder().u32(Wire.A_EVENT_MASK, EventType.mask(EventType.all()));
                Selector.all().encode(b);
                sub.send(b.build(Wire.SUBSCRIBE, 0, 1));
                assertThat(sub.receive().type()).isEqualTo(Wire.DONE);
                ProcwatchClient waiter = daemon.client();
                held.add(waiter);
                waiter.send(new MessageBuilder().u32(Wire.A_WAIT_PID, (int) sleeper.pid()).build(Wire.WAIT, 0, 2));
            }
            assertThat(probe.stats().get("subscribers")).isEqualTo(subscribersBefore + 5);
            for (ProcwatchClient c : held) {
                c.close();
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((probe.stats().get("subscribers") > subscribersBefore || daemon.openSockets() > socketsBefore)
                    && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(probe.stats().get("subscribers")).as("subscribers after their clients hung up")
                    .isEqualTo(subscribersBefore);
            assertThat(daemon.openSockets()).as("sockets after 10 clients hung up").isLessThanOrEqualTo(socketsBefore);
        } finally {
            for (ProcwatchClient c : held) {
                c.close();
            }
            sleeper.destroyForcibly();
        }
    }

    @Test
    void subscriberThatStopsReadingIsToldWhatItLost() throws Exception {
        try (ProcwatchClient slow = daemon.client()) {
            MessageBuilder b = new MessageBuilder().u32(Wire.A_EVENT_MASK, EventType.mask(EventType.all()));
            Selector.all().encode(b);
            slow.send(b.build(Wire.SUBSCRIBE, 0, 9));
            assertThat(slow.receive().type()).isEqualTo(Wire.DONE); // stream started
            // Generate far more events than the subscriber queue (8192) plus socket buffers hold.
            // (two perl workers use both cores: ~14,000 events in well under 30 s on this VM)
            io.procwatch.testing.ForkStorm.run(2, 3500, pid -> { });
            long heapBefore;
            try (ProcwatchClient c = daemon.client()) {
                Map<String, Long> s = c.stats();
                assertThat(s.get("subscriber_drops")).isPositive();
                heapBefore = s.get("heap_used_bytes");
            }
            assertThat(heapBefore).isLessThan(400L << 20);
            // Now read: events, then a LOSS message saying how many were dropped.
            long lost = 0;
            for (int i = 0; i < 100_000 && lost == 0; i++) {
                Message m = slow.receive();
                if (m.type() == Wire.LOSS) {
                    Attrs a = m.attrs();
                    while (a.next()) {
                        if (a.type() == Wire.R_LOST) {
                            lost = a.u64();
                        }
                    }
                }
            }
            assertThat(lost).isPositive();
        }
    }
}
