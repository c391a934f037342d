package io.procwatch.daemon;

import io.procwatch.cli.Invocation;
import io.procwatch.cli.Main;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Wire;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One RUN (docs/protocol.md): a read-only CLI command run inside the daemon for a thin client, on
 * the connection's own virtual thread. The command is the same code the JVM client runs, given the
 * client's environment and terminal facts ({@link Invocation}) and streams that send STDOUT/STDERR
 * frames; its daemon connections are in-process pipes to a {@link Connection} that sees the
 * client's SO_PEERCRED user, so a run shows exactly what that user's own requests would. A CANCEL
 * or a hang-up ends the run: its in-process connections are closed (which ends a WAIT or a
 * SUBSCRIBE) and its thread interrupted.
 */
final class RunSession {
    static final int MAX_ARGS = 256;
    static final int MAX_ARG_BYTES = 4096;
    static final int MAX_ENV = 32;
    /** The bytes of one STDOUT/STDERR frame's data at most (an attribute's length is a u16). */
    static final int FRAME_DATA = 32 * 1024;
    /** Runs at once, all users, and per user: each holds a thread and, for events, a subscription. */
    static final int MAX_RUNS = 64;
    static final int MAX_RUNS_PER_UID = 16;
    /** Commands that only read: anything else (daemon, install, interactive top, --local) stays in the client. */
    static final Set<String> COMMANDS = Set.of("ps", "tree", "history", "diff", "stats", "wait", "events", "top");

    private static final AtomicInteger ACTIVE = new AtomicInteger();
    private static final AtomicLong TOTAL = new AtomicLong();
    /** Runs a client ended with CANCEL (the thin client's Ctrl-C), not by hanging up. */
    private static final AtomicLong CANCELLED = new AtomicLong();
    private static final Map<Integer, AtomicInteger> PER_UID = new ConcurrentHashMap<>();

    private final DaemonContext ctx;
    private final Viewer viewer;
    private final OutputStream socket;
    private final List<Closeable> clients = new CopyOnWriteArrayList<>();
    private volatile boolean cancelled;

    /**
     * Blocks until the client cancels (true) or goes (false); Connection's reader sees it. Other
     * messages the client sends meanwhile (STDIN, WINSIZE) go to {@code input} in order.
     */
    @FunctionalInterface
    interface ClientWatch {
        boolean await(java.util.function.Consumer<Message> input) throws InterruptedException;
    }

    RunSession(DaemonContext ctx, Viewer viewer, OutputStream socket) {
        this.ctx = ctx;
        this.viewer = viewer;
        this.socket = socket;
    }

    static long active() {
        return ACTIVE.get();
    }

    static long total() {
        return TOTAL.get();
    }

    static long cancelled() {
        return CANCELLED.get();
    }

    /** What a RUN asks for, checked. */
    record Request(List<String> args, Map<String, String> env, int terminalBits, int winsize, int ctty,
                   boolean input) {
    }

    static Request parse(Message req) throws ProtocolException {
        List<String> args = new ArrayList<>();
        Map<String, String> env = new HashMap<>();
        int envCount = 0;
        int term = 0;
        int win = 0;
        int ctty = 0;
        boolean input = false;
        Attrs a = req.attrs();
        while (a.next()) {
            switch (a.type()) {
                case Wire.A_ARG -> {
                    if (args.size() >= MAX_ARGS) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, "more than " + MAX_ARGS + " arguments");
                    }
                    args.add(text(a, "argument"));
                }
                case Wire.A_ENV -> {
                    if (++envCount > MAX_ENV) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, "more than " + MAX_ENV + " environment variables");
                    }
                    String kv = text(a, "environment variable");
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, "environment entry without NAME=");
                    }
                    env.put(kv.substring(0, eq), kv.substring(eq + 1)); // Invocation keeps only the names that matter
                }
                case Wire.A_TERMINAL -> term = a.u32();
                case Wire.A_WINSIZE -> win = a.u32();
                case Wire.A_CTTY -> ctty = a.u32();
                case Wire.A_INPUT -> input = true;
                default -> {
                    // unknown attributes are skipped, as everywhere in the protocol
                }
            }
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute");
        }
        if (args.isEmpty()) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "RUN without a command");
        }
        return new Request(args, env, term, win, ctty, input);
    }

    private static String text(Attrs a, String what) throws ProtocolException {
        byte[] b = a.bytes();
        if (b.length > MAX_ARG_BYTES) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "an " + what + " longer than " + MAX_ARG_BYTES + " bytes");
        }
        for (byte x : b) {
            if (x == 0) {
                throw new ProtocolException(Wire.E_BAD_ARGUMENT, "an " + what + " with a NUL byte");
            }
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Why this command is not run in the daemon, or null when it is. */
    static String refusal(Request r) {
        return refusal(r.args(), r.input());
    }

    /** Why this command is not run in the daemon, or null when it is (input: the client sends keys). */
    static String refusal(List<String> args, boolean input) {
        String cmd = args.getFirst();
        if (!COMMANDS.contains(cmd)) {
            return "'" + cmd + "' is not run in the daemon";
        }
        if (args.contains("--local")) {
            return "--local reads /proc in the client";
        }
        if (cmd.equals("top") && !args.contains("-b") && !args.contains("--batch") && !input) {
            // a client that does not send its keys (A_INPUT) cannot drive it
            return "interactive top runs in the client";
        }
        return null;
    }

    /** Serves the RUN to its EXIT; the connection closes after (returns false). */
    boolean serve(Message req, ClientWatch watch) throws IOException {
        Request r = parse(req);
        String no = refusal(r);
        if (no != null) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, no);
        }
        AtomicInteger mine = PER_UID.computeIfAbsent(viewer.uid(), k -> new AtomicInteger());
        try {
            if (ACTIVE.incrementAndGet() > MAX_RUNS || mine.incrementAndGet() > MAX_RUNS_PER_UID) {
                throw new ProtocolException(Wire.E_BUSY, "too many runs at once (at most " + MAX_RUNS_PER_UID
                        + " per user, " + MAX_RUNS + " in all)");
            }
            TOTAL.incrementAndGet();
            return run(r, req.seq(), watch);
        } finally {
            ACTIVE.decrementAndGet();
            mine.decrementAndGet();
        }
    }

    private boolean run(Request r, int seq, ClientWatch watch) throws IOException {
        Thread runner = Thread.currentThread();
        // keys and sizes of a client that sends them (interactive top); null: none expected
        io.procwatch.cli.RemoteTerminal terminal = r.input() ? new io.procwatch.cli.RemoteTerminal(r.winsize()) : null;
        Thread watcher = Thread.ofVirtual().name("procwatch-run-watch").start(() -> {
            try {
                if (watch.await(m -> input(m, terminal, runner))) {
                    CANCELLED.incrementAndGet();
                }
                cancel(runner);
            } catch (InterruptedException e) {
                // the run ended first
            }
        });
        int status;
        Frames out = new Frames(Wire.STDOUT, seq);
        Frames err = new Frames(Wire.STDERR, seq);
        try (PrintStream o = new PrintStream(out, false, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            boolean consoleTerminal = (r.terminalBits() & 3) == 3;
            Invocation inv = Invocation.of(r.env(), consoleTerminal, r.ctty(), viewer.uid(), this::connect, false);
            try {
                status = terminal == null ? inv.call(() -> Main.run(r.args(), o, e))
                        : inv.call(() -> terminal.call(() -> Main.run(r.args(), o, e)));
            } catch (Exception x) {
                // A bug, not the user's fault: as Main.main says it
                e.println("procwatch: internal error: " + x + " (please report it)");
                ctx.counters().internalErrors.increment();
                status = 70;
            }
            o.flush();
            e.flush();
        } finally {
            watcher.interrupt();
            while (watcher.isAlive()) { // so that no cancel's interrupt comes after the clearing below
                try {
                    watcher.join();
                } catch (InterruptedException ignored) {
                    // cleared below
                }
            }
            closeClients();
            Thread.interrupted(); // a cancel's interrupt was for the command: the EXIT must still go out
        }
        if (cancelled) {
            status = 130;
        }
        synchronized (socket) {
            ProtocolException bad = inputError;
            if (bad != null) { // the run was ended for it: say why instead of an EXIT
                new MessageBuilder().u32(Wire.R_ERROR_CODE, bad.code()).string(Wire.R_ERROR_TEXT, bad.getMessage())
                        .build(Wire.ERROR, 0, seq).write(socket);
            } else {
                new MessageBuilder().u32(Wire.R_EXIT_STATUS, status & 0xff).build(Wire.EXIT, 0, seq).write(socket);
            }
            socket.flush();
        }
        return false;
    }

    /** Why the client's input ended the run (a STDIN too large, a malformed one), or null. */
    private volatile ProtocolException inputError;

    /**
     * A message the client sent during the run, on the watcher's thread (it must not block: it also
     * waits for CANCEL). STDIN and WINSIZE go to the run's terminal; without A_INPUT, and other
     * types, are ignored as before. A STDIN over Wire.MAX_INPUT or without R_DATA ends the run.
     */
    private void input(Message m, io.procwatch.cli.RemoteTerminal terminal, Thread runner) {
        if (terminal == null || (m.type() != Wire.STDIN && m.type() != Wire.WINSIZE) || inputError != null) {
            return;
        }
        byte[] data = null;
        int winsize = -1;
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_DATA && m.type() == Wire.STDIN) {
                data = a.bytes();
            } else if (a.type() == Wire.A_WINSIZE && m.type() == Wire.WINSIZE && a.length() == 4) {
                try {
                    winsize = a.u32();
                } catch (ProtocolException ignored) {
                    // length checked above
                }
            }
        }
        ProtocolException bad = null;
        if (a.malformed()) {
            bad = new ProtocolException(Wire.E_MALFORMED, "malformed attribute in " + (m.type() == Wire.STDIN ? "STDIN" : "WINSIZE"));
        } else if (m.type() == Wire.STDIN && data == null) {
            bad = new ProtocolException(Wire.E_BAD_ARGUMENT, "STDIN without R_DATA");
        } else if (data != null && data.length > Wire.MAX_INPUT) {
            bad = new ProtocolException(Wire.E_TOO_LARGE, "STDIN of " + data.length + " bytes (at most " + Wire.MAX_INPUT + ")");
        } else if (m.type() == Wire.WINSIZE && winsize == -1) {
            bad = new ProtocolException(Wire.E_BAD_ARGUMENT, "WINSIZE without a u32 A_WINSIZE");
        }
        if (bad != null) {
            inputError = bad;
            cancel(runner);
        } else if (data != null) {
            terminal.input(data);
        } else {
            terminal.resize(winsize);
        }
    }

    private void cancel(Thread runner) {
        cancelled = true; // before the lock: no frame is written after this
        closeClients();
        // Under the socket's lock: an interrupt that reached the runner inside a write to the
        // socket channel would close the channel, and the EXIT could not follow.
        synchronized (socket) {
            runner.interrupt();
        }
    }

    private void closeClients() {
        for (Closeable c : clients) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing is all we wanted
            }
        }
    }

    /**
     * A daemon connection for the command: two in-memory pipes and a Connection of this daemon,
     * credited to the thin client's user, on its own virtual thread. The socket path is ignored.
     */
    private ProcwatchClient connect(Path socketPath) throws IOException {
        if (cancelled) {
            throw new IOException("the run was cancelled");
        }
        MemoryPipe toDaemon = new MemoryPipe();
        MemoryPipe toClient = new MemoryPipe();
        Connection conn = new Connection(ctx, new int[] {viewer.uid(), viewer.gid()},
                Channels.newInputStream(toDaemon.source()),
                new BufferedOutputStream(Channels.newOutputStream(toClient.sink()), 65536));
        Closeable daemonEnd = () -> {
            toDaemon.source().close();
            toClient.sink().close();
        };
        Thread.ofVirtual().name("procwatch-run-conn").start(() -> {
            try (daemonEnd) {
                conn.run();
            } catch (IOException ignored) {
                // pipes closing
            }
        });
        Closeable clientEnd = () -> {
            toDaemon.sink().close();
            toClient.source().close();
        };
        InProcessAnswers answers = new InProcessAnswers(ctx, viewer);
        clients.add(clientEnd);
        clients.add(answers::close);
        return ProcwatchClient.over(socketPath, toClient.source(), toDaemon.sink(), clientEnd, answers);
    }

    /**
     * A command's stdout or stderr: gathered 64 KiB at a time, as the JVM CLI buffers its stdout
     * (so stdout and stderr interleave the same way when both go to one file), and sent when full
     * or flushed, in frames of at most FRAME_DATA. After a cancel nothing more is sent.
     */
    private final class Frames extends OutputStream {
        private final int type;
        private final int seq;
        private final byte[] buf = new byte[2 * FRAME_DATA];
        private int n;

        Frames(int type, int seq) {
            this.type = type;
            this.seq = seq;
        }

        @Override
        public void write(int b) throws IOException {
            if (n == buf.length) {
                send();
            }
            buf[n++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (n == buf.length) {
                    send();
                }
                int k = Math.min(len, buf.length - n);
                System.arraycopy(b, off, buf, n, k);
                n += k;
                off += k;
                len -= k;
            }
        }

        @Override
        public void flush() throws IOException {
            if (n > 0) {
                send();
            }
        }

        private void send() throws IOException {
            int len = n;
            n = 0;
            if (cancelled) {
                throw new IOException("the run was cancelled");
            }
            synchronized (socket) {
                for (int from = 0; from < len; from += FRAME_DATA) {
                    byte[] data = java.util.Arrays.copyOfRange(buf, from, Math.min(len, from + FRAME_DATA));
                    new MessageBuilder().bytes(Wire.R_DATA, data).build(type, 0, seq).write(socket);
                }
                socket.flush();
            }
        }
    }
}
