package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * RUN (docs/protocol.md) at the byte level through the real socket: the frames of a run, CANCEL,
 * and hostile requests (too many or too long arguments, NUL bytes, too much environment, commands
 * that are not run in the daemon, bad attribute lengths, too many runs at once), each answered
 * with a clear ERROR, never a crash; the daemon goes on serving.
 */
class RunProtocolTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        assertThat(daemon.isAlive()).isTrue();
        daemon.close();
    }

    private static MessageBuilder run(String... args) {
        MessageBuilder b = new MessageBuilder();
        for (String a : args) {
            b.string(Wire.A_ARG, a);
        }
        return b;
    }

    /** What a run printed and its status. */
    private record Ran(String out, String err, int status) {
    }

    private static Ran collect(ProcwatchClient c) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        while (true) {
            Message m = c.receive();
            Attrs a = m.attrs();
            switch (m.type()) {
                case Wire.STDOUT, Wire.STDERR -> {
                    while (a.next()) {
                        if (a.type() == Wire.R_DATA) {
                            (m.type() == Wire.STDOUT ? out : err).write(a.bytes());
                        }
                    }
                }
                case Wire.EXIT -> {
                    int status = -1;
                    while (a.next()) {
                        if (a.type() == Wire.R_EXIT_STATUS) {
                            status = a.u32();
                        }
                    }
                    return new Ran(out.toString(), err.toString(), status);
                }
                case Wire.ERROR -> throw new AssertionError("ERROR " + errorCode(m));
                default -> {
                }
            }
        }
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

    private static int refused(MessageBuilder b) throws IOException {
        try (ProcwatchClient c = daemon.client()) {
            c.send(b.build(Wire.RUN, 0, 9));
            Message m = c.receive();
            assertThat(m.seq()).isEqualTo(9);
            return errorCode(m);
        }
    }

    @Test
    void aRunSendsItsOutputThenItsExitAndCloses() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("ps", "-o", "pid=", "-p", "1").build(Wire.RUN, 0, 1));
            Ran r = collect(c);
            assertThat(r).isEqualTo(new Ran("    1\n", "", 0));
            assertThatThrownBy(c::receive).isInstanceOf(EOFException.class);
        }
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("ps", "--frobnicate").build(Wire.RUN, 0, 1));
            Ran r = collect(c);
            assertThat(r.status()).isEqualTo(2);
            assertThat(r.err()).contains("unknown option --frobnicate");
        }
        // the environment is the client's: TZ changes lstart
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("ps", "-o", "lstart=", "-p", "1").string(Wire.A_ENV, "TZ=Asia/Kolkata").build(Wire.RUN, 0, 1));
            String kolkata = collect(c).out();
            try (ProcwatchClient d = daemon.client()) {
                d.send(run("ps", "-o", "lstart=", "-p", "1").string(Wire.A_ENV, "TZ=UTC").build(Wire.RUN, 0, 1));
                assertThat(collect(d).out()).isNotEqualTo(kolkata);
            }
        }
    }

    @Test
    void cancelEndsAStreamingRunWith130() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("events").build(Wire.RUN, 0, 1));
            Message first = c.receive(); // the header line: the run is under way
            assertThat(first.type()).isEqualTo(Wire.STDOUT);
            c.send(new MessageBuilder().build(Wire.CANCEL, 0, 2));
            long t0 = System.nanoTime();
            Ran r = collect(c);
            assertThat(r.status()).isEqualTo(130);
            assertThat(System.nanoTime() - t0).isLessThan(5_000_000_000L);
        }
        awaitNoRuns();
    }

    @Test
    void hostileRequestsGetClearErrors() throws Exception {
        assertThat(refused(new MessageBuilder())).isEqualTo(Wire.E_BAD_ARGUMENT); // no command
        String[] many = new String[RunSession.MAX_ARGS + 1];
        java.util.Arrays.fill(many, "-e");
        many[0] = "ps";
        assertThat(refused(run(many))).isEqualTo(Wire.E_BAD_ARGUMENT);
        assertThat(refused(run("ps", "x".repeat(RunSession.MAX_ARG_BYTES + 1)))).isEqualTo(Wire.E_BAD_ARGUMENT);
        assertThat(refused(run("ps", "-p", "1\u00002"))).isEqualTo(Wire.E_BAD_ARGUMENT);
        MessageBuilder env = run("ps");
        for (int i = 0; i <= RunSession.MAX_ENV; i++) {
            env.string(Wire.A_ENV, "TZ=UTC");
        }
        assertThat(refused(env)).isEqualTo(Wire.E_BAD_ARGUMENT);
        assertThat(refused(run("ps").string(Wire.A_ENV, "NOEQUALS"))).isEqualTo(Wire.E_BAD_ARGUMENT);
        assertThat(refused(run("ps").bytes(Wire.A_TERMINAL, new byte[] {1}))).isIn(Wire.E_MALFORMED, Wire.E_BAD_ARGUMENT);
        // only read-only commands, and only what the thin client may not do itself
        for (List<String> args : List.of(List.of("daemon"), List.of("install"), List.of("top"), List.of("ps", "--local"),
                List.of("--aot-training"), List.of("nonsense"))) {
            assertThat(refused(run(args.toArray(String[]::new)))).as("%s", args).isEqualTo(Wire.E_BAD_ARGUMENT);
        }
        // an attribute whose length runs past the message: a framing error, the connection closes
        try (ProcwatchClient c = daemon.client()) {
            byte[] body = {(byte) 200, 0, (byte) Wire.A_ARG, 0, 'p', 's', 0, 0};
            java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(Wire.HEADER + body.length)
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
            h.putInt(Wire.HEADER + body.length).putShort((short) Wire.RUN).putShort((short) 0).putInt(3).putInt(0).put(body);
            c.sendRaw(h.array());
            assertThat(errorCode(c.receive())).isEqualTo(Wire.E_MALFORMED);
            assertThatThrownBy(c::receive).isInstanceOf(EOFException.class);
        }
        // the daemon goes on: a good run after all that
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("ps", "-o", "pid=", "-p", "1").build(Wire.RUN, 0, 1));
            assertThat(collect(c).status()).isZero();
        }
        assertThat(daemon.isAlive()).isTrue();
        awaitNoRuns();
    }

    @Test
    void runsAtOnceAreBoundedPerUser() throws Exception {
        List<ProcwatchClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < RunSession.MAX_RUNS_PER_UID; i++) {
                ProcwatchClient c = daemon.client();
                open.add(c);
                c.send(run("events").build(Wire.RUN, 0, 1));
                assertThat(c.receive().type()).isEqualTo(Wire.STDOUT); // running
            }
            assertThat(refused(run("events"))).isEqualTo(Wire.E_BUSY);
        } finally {
            for (ProcwatchClient c : open) {
                c.close();
            }
        }
        awaitNoRuns();
        try (ProcwatchClient c = daemon.client()) { // and free again once they hang up
            c.send(run("stats").build(Wire.RUN, 0, 1));
            assertThat(collect(c).status()).isZero();
        }
    }

    private static void awaitNoRuns() throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        long active;
        do {
            try (ProcwatchClient c = daemon.client()) {
                active = c.stats().get("runs_active");
            }
            if (active != 0) {
                Thread.sleep(20);
            }
        } while (active != 0 && System.nanoTime() < deadline);
        assertThat(active).as("runs still active").isZero();
    }
}
