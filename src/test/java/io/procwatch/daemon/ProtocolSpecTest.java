package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The daemon against docs/protocol.md at the byte level, through the real socket: only framing
 * errors close a connection; every u32/u64 request attribute is read unsigned (A_LIMIT all ones is
 * "as many as there are", A_UNTIL_MS all ones is "no upper bound", A_SINCE_MS of 2^63 is later
 * than anything).
 */
class ProtocolSpecTest {
    private static DaemonProcess daemon;
    private static final List<Long> EXITED = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        for (int i = 0; i < 6; i++) {
            Process p = new ProcessBuilder("/bin/true").start();
            p.waitFor();
            EXITED.add(p.pid());
        }
        // until the last one is in the history
        for (int i = 0; i < 100 && historyPids(new MessageBuilder()).stream().noneMatch(EXITED.getLast()::equals); i++) {
            Thread.sleep(50);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        assertThat(daemon.isAlive()).isTrue();
        daemon.close();
    }

    private static int errorCode(Message m) throws IOException {
        assertThat(m.type()).as("reply type").isEqualTo(Wire.ERROR);
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_ERROR_CODE) {
                return a.u32();
            }
        }
        throw new AssertionError("ERROR without a code");
    }

    private static String errorText(Message m) {
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_ERROR_TEXT) {
                return a.string();
            }
        }
        return "";
    }

    /** The pids of a HISTORY answer to these attributes (raw), or an AssertionError on ERROR. */
    private static List<Long> historyPids(MessageBuilder attrs) throws IOException {
        try (ProcwatchClient c = daemon.client()) {
            c.sendRaw(attrs.build(Wire.HISTORY, 0, 9).toBytes());
            List<Long> pids = new ArrayList<>();
            while (true) {
                Message m = c.receive();
                if (m.type() == Wire.ERROR) {
                    throw new AssertionError("ERROR " + errorCode(m) + ": " + errorText(m));
                }
                if (m.type() == Wire.DONE) {
                    return pids;
                }
                if (m.type() == Wire.EXITED) {
                    Attrs a = m.attrs();
                    while (a.next()) {
                        if (a.type() == Wire.P_PID) {
                            pids.add(Integer.toUnsignedLong(a.u32()));
                        }
                    }
                }
            }
        }
    }

    private static void assertHelloStillAnswered(ProcwatchClient c, int seq) throws IOException {
        c.sendRaw(new MessageBuilder().build(Wire.HELLO, 0, seq).toBytes());
        Message m = c.receive();
        assertThat(m.type()).as("after a non-framing error the connection goes on").isEqualTo(Wire.HELLO_REPLY);
        assertThat(m.seq()).isEqualTo(seq);
    }

    @Test
    void badArgumentsAreAnsweredAndTheConnectionGoesOn() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            MessageBuilder longName = new MessageBuilder();
            Selector.all().withName("x".repeat(100)).encode(longName);
            c.sendRaw(longName.build(Wire.SNAPSHOT, 0, 1).toBytes());
            Message m = c.receive();
            assertThat(errorCode(m)).isEqualTo(Wire.E_BAD_ARGUMENT);
            assertThat(m.seq()).isEqualTo(1);
            assertHelloStillAnswered(c, 2);

            c.sendRaw(new MessageBuilder().build(Wire.WAIT, 0, 3).toBytes()); // WAIT without a pid
            assertThat(errorCode(c.receive())).isEqualTo(Wire.E_BAD_ARGUMENT);
            assertHelloStillAnswered(c, 4);

            MessageBuilder manyPids = new MessageBuilder();
            List<Integer> pids = new ArrayList<>();
            for (int i = 1; i <= 4097; i++) {
                pids.add(i);
            }
            Selector.all().withPids(pids).encode(manyPids);
            c.sendRaw(manyPids.build(Wire.SNAPSHOT, 0, 5).toBytes());
            assertThat(errorCode(c.receive())).isEqualTo(Wire.E_BAD_ARGUMENT);
            assertHelloStillAnswered(c, 6);

            // a pid no pid_t holds (u32 2^31 and all ones): no such process, and the connection goes on
            for (long pid : new long[] {0x8000_0000L, 0xffff_ffffL}) {
                c.sendRaw(new MessageBuilder().u32(Wire.A_WAIT_PID, (int) pid).build(Wire.WAIT, 0, 7).toBytes());
                Message nf = c.receive();
                assertThat(errorCode(nf)).isEqualTo(Wire.E_NOT_FOUND);
                assertThat(errorText(nf)).contains(Long.toString(pid));
                assertHelloStillAnswered(c, 8);
            }
        }
    }

    @Test
    void helloSaysTheDaemonTakesKeysAndSizesInARunAndOutsideARunTheyAreUnknown() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.sendRaw(new MessageBuilder().u32(Wire.A_VERSION, Wire.VERSION).build(Wire.HELLO, 0, 1).toBytes());
            Message m = c.receive();
            assertThat(m.type()).isEqualTo(Wire.HELLO_REPLY);
            long caps = 0;
            Attrs a = m.attrs();
            while (a.next()) {
                if (a.type() == Wire.R_CAPABILITIES) {
                    caps = a.u64();
                }
            }
            // what the thin client checks before it runs interactive top in the daemon
            assertThat(caps & (1L << Wire.RUN | 1L << Wire.STDIN | 1L << Wire.WINSIZE))
                    .isEqualTo(1L << Wire.RUN | 1L << Wire.STDIN | 1L << Wire.WINSIZE);
            // not in a run: unknown requests, answered, and the connection goes on
            c.sendRaw(new MessageBuilder().bytes(Wire.R_DATA, new byte[] {'q'}).build(Wire.STDIN, 0, 2).toBytes());
            Message e = c.receive();
            assertThat(e.seq()).isEqualTo(2);
            assertThat(errorCode(e)).isEqualTo(Wire.E_UNKNOWN_REQUEST);
            c.sendRaw(new MessageBuilder().u32(Wire.A_WINSIZE, 80 << 16 | 24).build(Wire.WINSIZE, 0, 3).toBytes());
            assertThat(errorCode(c.receive())).isEqualTo(Wire.E_UNKNOWN_REQUEST);
            c.sendRaw(new MessageBuilder().build(Wire.STATS, 0, 4).toBytes());
            assertThat(c.receive().type()).isEqualTo(Wire.STATS_REPLY);
        }
    }

    /** The P_ARGV of the EXEC event of a process this test runs, subscribed with these attributes. */
    private static String execArgv(MessageBuilder subscribe) throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.sendRaw(subscribe.u32(Wire.A_EVENT_MASK, 0x2).build(Wire.SUBSCRIBE, 0, 5).toBytes());
            assertThat(c.receive().type()).isEqualTo(Wire.DONE);
            Process p = new ProcessBuilder("/bin/sleep", "0.01").start();
            while (true) {
                Message m = c.receive();
                if (m.type() != Wire.EVENT) {
                    continue;
                }
                long pid = -1;
                String argv = null;
                boolean unknown = false;
                Attrs a = m.attrs();
                while (a.next()) {
                    switch (a.type()) {
                        case Wire.P_PID -> pid = a.u32();
                        case Wire.P_ARGV -> argv = String.join(" ", a.strings());
                        case Wire.P_ARGV_UNKNOWN -> unknown = true;
                        default -> {
                        }
                    }
                }
                if (pid == p.pid() && !(argv != null && argv.contains("jspawnhelper"))) { // the JVM's spawn helper execs first
                    p.waitFor();
                    return argv == null ? (unknown ? "unknown" : "none") : argv;
                }
            }
        }
    }

    @Test
    void subscribeWithGroupsWithoutCmdlineLeavesTheCommandLineOut() throws Exception {
        assertThat(execArgv(new MessageBuilder())).isEqualTo("/bin/sleep 0.01");
        assertThat(execArgv(new MessageBuilder().u64(Wire.A_GROUPS, io.procwatch.protocol.Groups.BASE)))
                .isEqualTo("unknown");
        assertThat(execArgv(new MessageBuilder().u64(Wire.A_GROUPS,
                io.procwatch.protocol.Groups.BASE | io.procwatch.protocol.Groups.CMDLINE))).isEqualTo("/bin/sleep 0.01");
    }

    @Test
    void framingErrorsStillCloseTheConnection() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            // an attribute whose length runs past the message
            byte[] bad = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(24).putShort((short) Wire.SNAPSHOT)
                    .putShort((short) 0).putInt(1).putInt(0).putShort((short) 200).putShort((short) Wire.A_GROUPS)
                    .putInt(1).array();
            c.sendRaw(bad);
            assertThat(errorCode(c.receive())).isEqualTo(Wire.E_MALFORMED);
            c.sendRaw(new MessageBuilder().build(Wire.HELLO, 0, 2).toBytes());
            assertThatThrownBy(c::receive).as("closed after a framing error").isInstanceOf(IOException.class);
        } catch (IOException writeAfterClose) {
            // the daemon may have closed before our HELLO was written: closed either way
        }
    }

    @Test
    void limitAllOnesIsUnsignedAndCappedNotRefused() throws Exception {
        // a fixed upper bound, so that exits elsewhere on the machine between the queries below
        // do not change what they are asked about; 300 ms for the daemon to record those before it
        long until = System.currentTimeMillis();
        Thread.sleep(300);
        List<Long> all = historyPids(new MessageBuilder().u32(Wire.A_LIMIT, 0xffff_ffff).u64(Wire.A_UNTIL_MS, until));
        assertThat(all).containsAll(EXITED);
        List<Long> noLimit = historyPids(new MessageBuilder().u64(Wire.A_UNTIL_MS, until));
        assertThat(all).hasSameSizeAs(noLimit);
        // 2^31 (negative as an int): the same
        assertThat(historyPids(new MessageBuilder().u32(Wire.A_LIMIT, 0x8000_0000).u64(Wire.A_UNTIL_MS, until)))
                .hasSameSizeAs(noLimit);
        // a small limit still limits: the newest ones, oldest first
        assertThat(historyPids(new MessageBuilder().u32(Wire.A_LIMIT, 3).u64(Wire.A_UNTIL_MS, until))).hasSize(3)
                .isEqualTo(all.subList(all.size() - 3, all.size()));
    }

    @Test
    void untilAllOnesIsNoUpperBoundAndSinceTwoToTheSixtyThreeIsLaterThanAll() throws Exception {
        List<Long> all = historyPids(new MessageBuilder().u64(Wire.A_SINCE_MS, 0).u64(Wire.A_UNTIL_MS, -1L));
        assertThat(all).containsAll(EXITED);
        assertThat(historyPids(new MessageBuilder().u64(Wire.A_UNTIL_MS, Long.MIN_VALUE))).containsAll(EXITED);
        // since 2^63 and since all ones: after every exit, so nothing (signed, they were before 1970: everything)
        assertThat(historyPids(new MessageBuilder().u64(Wire.A_SINCE_MS, Long.MIN_VALUE))).isEmpty();
        assertThat(historyPids(new MessageBuilder().u64(Wire.A_SINCE_MS, -1L))).isEmpty();
    }

    @Test
    void subscribeWithAnAllOnesSampleIntervalStarts() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.sendRaw(new MessageBuilder().u32(Wire.A_SAMPLE_INTERVAL_MS, 0xffff_ffff).u32(Wire.A_EVENT_MASK, -1)
                    .build(Wire.SUBSCRIBE, 0, 3).toBytes());
            Message m = c.receive();
            assertThat(m.type()).isEqualTo(Wire.DONE);
            // the stream works: our own /bin/true is an event on it
            new ProcessBuilder("/bin/true").start().waitFor();
            Message ev = c.receive();
            assertThat(ev.type()).isIn(Wire.EVENT, Wire.LOSS);
        }
    }
}
