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

    /** The STDOUT of an interactive run so far, read until {@code until} holds for it (10 s at most). */
    private static String screenUntil(ProcwatchClient c, StringBuilder seen, java.util.function.Predicate<String> until)
            throws IOException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        int from = seen.length();
        while (!until.test(seen.substring(from))) {
            assertThat(System.nanoTime()).as("screen so far: %s", seen.substring(from)).isLessThan(deadline);
            Message m = c.receive();
            assertThat(m.type()).as("a frame of the screen").isIn(Wire.STDOUT, Wire.STDERR);
            Attrs a = m.attrs();
            while (a.next()) {
                if (a.type() == Wire.R_DATA) {
                    seen.append(new String(a.bytes(), java.nio.charset.StandardCharsets.UTF_8));
                }
            }
        }
        return seen.substring(from);
    }

    private static MessageBuilder interactiveTop(int cols, int rows) {
        return run("top", "-d", "0.3").u32(Wire.A_TERMINAL, 7).u32(Wire.A_WINSIZE, cols << 16 | rows).flag(Wire.A_INPUT);
    }

    private static Message key(String keys) {
        return new MessageBuilder().bytes(Wire.R_DATA, keys.getBytes()).build(Wire.STDIN, 0, 1);
    }

    /** The widths of the reverse-video header (padded to the window's width by top). */
    private static List<Integer> headerWidths(String screen) {
        List<Integer> w = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\u001b\\[7m([^\u001b]*)\u001b\\[m").matcher(screen);
        while (m.find()) {
            w.add(m.group(1).length());
        }
        return w;
    }

    @Test
    void interactiveTopTakesKeysAndSizesAndQuitsWithQ() throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            c.send(interactiveTop(100, 30).build(Wire.RUN, 0, 1));
            StringBuilder seen = new StringBuilder();
            String first = screenUntil(c, seen, s -> s.contains("PID USER") && s.contains("Sort: %CPU"));
            assertThat(first).startsWith("\u001b[?1049h"); // the alternate screen
            assertThat(headerWidths(first)).containsOnly(100);
            c.send(key("M"));
            screenUntil(c, seen, s -> s.contains("Sort: %MEM"));
            c.send(new MessageBuilder().u32(Wire.A_WINSIZE, 60 << 16 | 20).build(Wire.WINSIZE, 0, 1));
            String small = screenUntil(c, seen, s -> headerWidths(s).contains(60));
            assertThat(headerWidths(small)).as("after the resize, every screen at the new width").containsOnly(60);
            // k is the root daemon's signal: refused, and the run goes on
            c.send(key("k"));
            screenUntil(c, seen, s -> s.contains("k and r need the JVM client"));
            c.send(key("q"));
            Ran r = collect(c);
            assertThat(r.status()).isZero();
            assertThat(seen + r.out()).endsWith("\u001b[?25h\u001b[?1049l"); // the normal screen again
        }
        // the end of input quits too
        try (ProcwatchClient c = daemon.client()) {
            c.send(interactiveTop(80, 24).build(Wire.RUN, 0, 1));
            screenUntil(c, new StringBuilder(), s -> s.contains("PID USER"));
            c.send(key(""));
            assertThat(collect(c).status()).isZero();
        }
        // without a terminal, as the JVM client says
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("top").u32(Wire.A_TERMINAL, 0).u32(Wire.A_WINSIZE, 0).flag(Wire.A_INPUT).build(Wire.RUN, 0, 1));
            Ran r = collect(c);
            assertThat(r.status()).isEqualTo(2);
            assertThat(r.err()).contains("not a terminal");
        }
        awaitNoRuns();
    }

    @Test
    void hostileInputEndsTheRunOrIsDroppedAndCounted() throws Exception {
        // a STDIN over 4096 bytes: ERROR instead of EXIT, and the connection closes
        try (ProcwatchClient c = daemon.client()) {
            c.send(interactiveTop(80, 24).build(Wire.RUN, 0, 1));
            screenUntil(c, new StringBuilder(), s -> s.contains("PID USER"));
            c.send(key("x".repeat(Wire.MAX_INPUT + 1)));
            Message m;
            do {
                m = c.receive();
            } while (m.type() == Wire.STDOUT);
            assertThat(errorCode(m)).isEqualTo(Wire.E_TOO_LARGE);
            assertThatThrownBy(c::receive).isInstanceOf(EOFException.class);
        }
        // STDIN without R_DATA, WINSIZE without a u32
        try (ProcwatchClient c = daemon.client()) {
            c.send(interactiveTop(80, 24).build(Wire.RUN, 0, 1));
            c.send(new MessageBuilder().build(Wire.WINSIZE, 0, 1));
            Message m;
            do {
                m = c.receive();
            } while (m.type() == Wire.STDOUT);
            assertThat(errorCode(m)).isEqualTo(Wire.E_BAD_ARGUMENT);
        }
        // keys to a run without A_INPUT are ignored: ps still prints and exits as before
        try (ProcwatchClient c = daemon.client()) {
            c.send(run("ps", "-o", "pid=", "-p", "1").build(Wire.RUN, 0, 1));
            c.send(key("q"));
            assertThat(collect(c)).isEqualTo(new Ran("    1\n", "", 0));
        }
        // a client that floods keys and never reads: they are dropped and counted, the daemon's
        // memory stays put, and hanging up ends the run
        long droppedBefore;
        try (ProcwatchClient s = daemon.client()) {
            droppedBefore = s.stats().get("runs_keys_dropped");
        }
        try (ProcwatchClient c = daemon.client()) {
            c.send(interactiveTop(80, 24).build(Wire.RUN, 0, 1));
            int frames = 48; // under the 256 KiB a connection may queue even if none were taken yet
            for (int i = 0; i < frames; i++) {
                c.send(key("x".repeat(Wire.MAX_INPUT)));
            }
            // all but what top took (it redraws after each key, into a socket we do not read, so it
            // soon blocks) and the 4096 that may wait for it
            long expected = (long) frames * Wire.MAX_INPUT - 2L * RemoteTerminalCapacity.VALUE;
            long deadline = System.nanoTime() + 10_000_000_000L;
            long dropped;
            do {
                try (ProcwatchClient s = daemon.client()) {
                    dropped = s.stats().get("runs_keys_dropped") - droppedBefore;
                }
            } while (dropped < expected && System.nanoTime() < deadline);
            assertThat(dropped).isGreaterThan(expected);
        }
        awaitNoRuns();
        assertThat(daemon.isAlive()).isTrue();
    }

    /** cli.RemoteTerminal.CAPACITY, named here so the bound above says where it comes from. */
    private static final class RemoteTerminalCapacity {
        static final int VALUE = io.procwatch.cli.RemoteTerminal.CAPACITY;
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
