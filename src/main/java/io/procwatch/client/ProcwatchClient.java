package io.procwatch.client;

import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Talks to the procwatch daemon over its Unix socket. One request at a time per client.
 */
public final class ProcwatchClient implements AutoCloseable {
    private final java.io.Closeable channel;
    private final InputStream in;
    private final OutputStream out;
    private final Path socket;
    /** Set inside the daemon (a RUN's commands): live snapshots answered from its table in memory. */
    private final InProcessSnapshots inProcess;
    private int seq;

    private ProcwatchClient(Path socket, SocketChannel channel) {
        this(socket, channel, channel, channel, null);
    }

    private ProcwatchClient(Path socket, java.nio.channels.ReadableByteChannel in,
                            java.nio.channels.WritableByteChannel out, java.io.Closeable closer,
                            InProcessSnapshots inProcess) {
        this.socket = socket;
        this.channel = closer;
        this.inProcess = inProcess;
        this.in = new BufferedInputStream(Channels.newInputStream(in), 65536);
        this.out = new BufferedOutputStream(Channels.newOutputStream(out), 8192);
    }

    /**
     * A client over any pair of byte channels: the daemon runs a thin client's command with one
     * over in-process pipes to a connection of its own (daemon/RunSession). {@code closer} closes both.
     * Live snapshots go to {@code inProcess} instead, when given.
     */
    public static ProcwatchClient over(Path socket, java.nio.channels.ReadableByteChannel in,
                                       java.nio.channels.WritableByteChannel out, java.io.Closeable closer,
                                       InProcessSnapshots inProcess) {
        return new ProcwatchClient(socket, in, out, closer, inProcess);
    }

    /** The socket path: the flag if given, else $PROCWATCH_SOCKET, else the default. */
    public static Path socketPath(String flag) {
        if (flag != null && !flag.isEmpty()) {
            return Path.of(flag);
        }
        String env = System.getenv("PROCWATCH_SOCKET");
        return Path.of(env != null && !env.isEmpty() ? env : "/run/procwatch/procwatch.sock");
    }

    public static ProcwatchClient connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            ch.close();
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new DaemonUnavailableException(socket, why);
        }
        return new ProcwatchClient(socket, ch);
    }

    public Path socket() {
        return socket;
    }

    /** Summary of a finished listing: how many, when, and how old the sampled fields are. */
    public record Done(int count, long timeMs, long sampleAgeMs) {
    }

    /** Rows plus their DONE. */
    /** A time when no daemon was recording exits (from a daemon with persistent history). */
    public record Gap(long fromMs, long untilMs, boolean cleanStop) {
    }

    /**
     * @param gaps for HISTORY: the times, within the range asked for, that no daemon watched
     */
    public record Listing(List<ProcRow> rows, Done done, List<Gap> gaps) {
        public Listing(List<ProcRow> rows, Done done) {
            this(rows, done, List.of());
        }

    }

    public Map<String, Object> hello() throws IOException {
        Message r = request(new MessageBuilder().u32(Wire.A_VERSION, Wire.VERSION).string(Wire.A_CLIENT, "procwatch-cli")
                .build(Wire.HELLO, 0, ++seq));
        expect(r, Wire.HELLO_REPLY);
        Map<String, Object> m = new LinkedHashMap<>();
        Attrs a = r.attrs();
        while (a.next()) {
            switch (a.type()) {
                case Wire.A_VERSION -> m.put("protocol", a.u32());
                case Wire.R_DAEMON_VERSION -> m.put("daemon", a.string());
                case Wire.R_CAPABILITIES -> m.put("capabilities", a.u64());
                case Wire.R_PEER_UID -> m.put("uid", a.u32());
                default -> {
                }
            }
        }
        return m;
    }

    private long atMs = -1;

    /**
     * Makes this connection's snapshots ask for the table as it was at {@code epochMs} (A_AT_MS,
     * answered from the daemon's journal); -1 for the live table again.
     */
    public ProcwatchClient at(long epochMs) {
        atMs = epochMs;
        return this;
    }

    public Listing snapshot(Selector sel, long groups, int flags) throws IOException {
        return snapshot(sel, groups, flags, List.of());
    }

    /** With /proc items (namespaces, signal masks, ...: see docs/protocol.md, A_ITEMS) for each process. */
    public Listing snapshot(Selector sel, long groups, int flags, List<String> items) throws IOException {
        MessageBuilder b = new MessageBuilder().u64(Wire.A_GROUPS, groups);
        if (atMs >= 0) {
            b.u64(Wire.A_AT_MS, atMs);
        }
        if (!items.isEmpty()) {
            b.strings(Wire.A_ITEMS, items);
        }
        sel.encode(b);
        Message req = b.build(Wire.SNAPSHOT, flags, ++seq);
        if (inProcess != null && atMs < 0) {
            return inProcess.snapshot(req);
        }
        send(req);
        Listing l = collect(Wire.PROCESS);
        if (atMs >= 0 && l.done().timeMs() != atMs) {
            throw new DaemonErrorException(Wire.E_UNKNOWN_REQUEST,
                    "the daemon is older than this client: it cannot show a past instant (restart it)");
        }
        return l;
    }

    /** What this connection's last delta snapshot merged: the base of the next one. */
    private record DeltaBase(Selector selector, long groups, List<ProcRow> rows) {
    }

    private DeltaBase deltaBase;
    private DeltaCounts deltaCounts = new DeltaCounts(0, 0, false, 0);

    /**
     * What the last {@link #snapshotDelta} received: rows and gone pids sent, whether they were
     * merged into the previous listing, and how many times so far a merge did not add up to the
     * daemon's count (then a full snapshot replaced it).
     */
    public record DeltaCounts(int rowsSent, int gone, boolean merged, long repairs) {
    }

    public DeltaCounts lastDelta() {
        return deltaCounts;
    }

    /**
     * A snapshot for a client that asks for the same set again and again (top): the daemon sends
     * only the rows that changed since this connection's previous delta snapshot and the pids that
     * left the set, and this merges them into the previous listing. The listing returned is
     * whole, in pid order; rows that did not change are the same objects as last time. Thread
     * listings, a new selector or new groups, and a daemon that does not know F_DELTA get a full
     * answer, which becomes the new base.
     */
    public Listing snapshotDelta(Selector sel, long groups, int flags) throws IOException {
        if ((flags & Wire.F_THREADS) != 0 || sel.threadsOf() != null) {
            deltaBase = null; // the daemon forgets its side too (a SNAPSHOT without F_DELTA)
            return snapshot(sel, groups, flags & ~Wire.F_DELTA);
        }
        MessageBuilder b = new MessageBuilder().u64(Wire.A_GROUPS, groups);
        sel.encode(b);
        Message req = b.build(Wire.SNAPSHOT, flags | Wire.F_DELTA, ++seq);
        if (inProcess != null) {
            return inProcess.snapshot(req); // whole, unchanged rows the same objects: no merge to do
        }
        send(req);
        Answer a = answer(Wire.PROCESS);
        long repairs = deltaCounts.repairs();
        List<ProcRow> rows;
        if (!a.delta()) {
            rows = a.rows();
            if (!DeltaMerge.inPidOrder(rows)) { // the next merge walks them in pid order
                rows = new ArrayList<>(rows);
                rows.sort(java.util.Comparator.comparingInt(r -> r.pid));
            }
        } else if (deltaBase == null || deltaBase.groups() != groups || !deltaBase.selector().equals(sel)) {
            throw new ProtocolException(Wire.E_MALFORMED, "the daemon sent changes against a listing this client does not have");
        } else {
            rows = DeltaMerge.merge(deltaBase.rows(), a.rows(), a.gone()); // in pid order, as both inputs
            if (rows == null || rows.size() != a.done().count()) {
                // cannot happen with a correct daemon; if it does, do not show a wrong table:
                // a full snapshot (without F_DELTA, so the daemon drops its side too) replaces it
                deltaBase = null;
                deltaCounts = new DeltaCounts(a.rows().size(), a.gone().size(), false, repairs + 1);
                return snapshot(sel, groups, flags & ~Wire.F_DELTA);
            }
        }
        deltaBase = new DeltaBase(sel, groups, rows);
        deltaCounts = new DeltaCounts(a.rows().size(), a.gone().size(), a.delta(), repairs);
        return new Listing(java.util.Collections.unmodifiableList(rows), a.done());
    }

    public Listing history(Selector sel, long sinceMs, long untilMs, int limit, boolean failedOnly)
            throws IOException {
        MessageBuilder b = new MessageBuilder().u64(Wire.A_SINCE_MS, sinceMs).u64(Wire.A_UNTIL_MS, untilMs)
                .u32(Wire.A_LIMIT, limit);
        sel.encode(b);
        send(b.build(Wire.HISTORY, failedOnly ? Wire.F_FAILED : 0, ++seq));
        return collect(Wire.EXITED);
    }

    /** Blocks until every pid exited (or the timeout, 0 = none, passed); returns their exits. */
    public Listing waitFor(List<Integer> pids, long timeoutMs, java.util.function.Consumer<ProcRow> eachExit)
            throws IOException {
        MessageBuilder b = new MessageBuilder();
        for (int p : pids) {
            b.u32(Wire.A_WAIT_PID, p);
        }
        b.u32(Wire.A_TIMEOUT_MS, (int) timeoutMs);
        send(b.build(Wire.WAIT, 0, ++seq));
        List<ProcRow> rows = new ArrayList<>();
        while (true) {
            Message m = receive();
            switch (m.type()) {
                case Wire.EXITED -> {
                    ProcRow r = ProcRow.decode(m.attrs());
                    rows.add(r);
                    eachExit.accept(r);
                }
                case Wire.DONE -> {
                    return new Listing(rows, done(m));
                }
                case Wire.ERROR -> throw error(m);
                default -> {
                    // unknown message type from a newer daemon: skipped
                }
            }
        }
    }

    public Map<String, Long> stats() throws IOException {
        Message r = request(new MessageBuilder().build(Wire.STATS, 0, ++seq));
        expect(r, Wire.STATS_REPLY);
        Map<String, Long> m = new LinkedHashMap<>();
        Attrs a = r.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_STAT) {
                Attrs n = a.nested();
                String name = null;
                long value = 0;
                while (n.next()) {
                    if (n.type() == Wire.R_STAT_NAME) {
                        name = n.string();
                    } else if (n.type() == Wire.R_STAT_VALUE) {
                        value = n.u64();
                    }
                }
                if (name != null) {
                    m.put(name, value);
                }
            }
        }
        return m;
    }

    /** What a subscription delivers: an event, or a count of events lost. */
    public sealed interface StreamItem permits Event, Lost {
    }

    public record Event(ProcRow row) implements StreamItem {
    }

    public record Lost(long events, String why) implements StreamItem {
    }

    /**
     * Streams events until {@code sink} returns false or the daemon closes the connection.
     *
     * @param sampleIntervalMs ask the daemon to re-sample this often while subscribed (0: never)
     */
    public void subscribe(Selector sel, int eventMask, int sampleIntervalMs, Predicate<StreamItem> sink)
            throws IOException {
        subscribe(sel, eventMask, sampleIntervalMs, -1, sink);
    }

    /**
     * @param groups the attribute groups events carry (without Groups.CMDLINE: no command lines);
     *               -1: not said, everything as before (what an older daemon does anyway)
     */
    public void subscribe(Selector sel, int eventMask, int sampleIntervalMs, long groups, Predicate<StreamItem> sink)
            throws IOException {
        MessageBuilder b = new MessageBuilder().u32(Wire.A_EVENT_MASK, eventMask);
        if (groups != -1) {
            b.u64(Wire.A_GROUPS, groups);
        }
        if (sampleIntervalMs > 0) {
            b.u32(Wire.A_SAMPLE_INTERVAL_MS, sampleIntervalMs);
        }
        sel.encode(b);
        send(b.build(Wire.SUBSCRIBE, 0, ++seq));
        Message first = receive();
        if (first.type() == Wire.ERROR) {
            throw error(first);
        }
        while (true) {
            Message m;
            try {
                m = receive();
            } catch (EOFException e) {
                return;
            }
            StreamItem item = switch (m.type()) {
                case Wire.EVENT -> new Event(ProcRow.decode(m.attrs()));
                case Wire.LOSS -> lost(m);
                case Wire.ERROR -> throw error(m);
                default -> null;
            };
            if (item != null && !sink.test(item)) {
                return;
            }
        }
    }

    private static Lost lost(Message m) throws ProtocolException {
        long n = 0;
        String why = "";
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_LOST) {
                n = a.u64();
            } else if (a.type() == Wire.R_ERROR_TEXT) {
                why = a.string();
            }
        }
        return new Lost(n, why);
    }

    private Listing collect(int rowType) throws IOException {
        Answer a = answer(rowType);
        if (a.delta() || !a.gone().isEmpty()) {
            throw new ProtocolException(Wire.E_MALFORMED, "the daemon answered with changes only, which were not asked for");
        }
        return new Listing(a.rows(), a.done(), a.gaps());
    }

    /** A listing as it came: for a delta snapshot, the changed rows and the pids gone. */
    private record Answer(List<ProcRow> rows, List<Integer> gone, Done done, List<Gap> gaps, boolean delta) {
    }

    private Answer answer(int rowType) throws IOException {
        List<ProcRow> rows = new ArrayList<>();
        List<Integer> gone = new ArrayList<>();
        List<Gap> gaps = new ArrayList<>();
        while (true) {
            Message m = receive();
            if (m.type() == rowType) {
                rows.add(ProcRow.decode(m.attrs()));
            } else if (m.type() == Wire.GONE) {
                Attrs a = m.attrs();
                while (a.next()) {
                    if (a.type() == Wire.P_PID) {
                        gone.add(a.u32());
                    }
                }
                if (a.malformed()) {
                    throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute from the daemon");
                }
            } else if (m.type() == Wire.GAP) {
                gaps.add(gap(m));
            } else if (m.type() == Wire.DONE) {
                return new Answer(rows, gone, done(m), gaps, carries(m, Wire.R_DELTA));
            } else if (m.type() == Wire.ERROR) {
                throw error(m);
            }
            // other types: skipped (a newer daemon may interleave things this client does not know)
        }
    }

    private static boolean carries(Message m, int attrType) throws ProtocolException {
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == attrType) {
                return true;
            }
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute from the daemon");
        }
        return false;
    }

    private static Gap gap(Message m) throws ProtocolException {
        long from = 0;
        long until = 0;
        boolean clean = false;
        Attrs a = m.attrs();
        while (a.next()) {
            switch (a.type()) {
                case Wire.R_GAP_FROM_MS -> from = a.u64();
                case Wire.R_GAP_UNTIL_MS -> until = a.u64();
                case Wire.R_GAP_CLEAN -> clean = true;
                default -> {
                }
            }
        }
        return new Gap(from, until, clean);
    }

    private static Done done(Message m) throws ProtocolException {
        int count = 0;
        long time = 0;
        long age = -1;
        Attrs a = m.attrs();
        while (a.next()) {
            switch (a.type()) {
                case Wire.R_COUNT -> count = a.u32();
                case Wire.R_TIME_MS -> time = a.u64();
                case Wire.R_SAMPLE_AGE_MS -> age = a.u64();
                default -> {
                }
            }
        }
        return new Done(count, time, age);
    }

    static DaemonErrorException error(Message m) throws ProtocolException {
        int code = 0;
        String text = "error";
        Attrs a = m.attrs();
        while (a.next()) {
            if (a.type() == Wire.R_ERROR_CODE) {
                code = a.u32();
            } else if (a.type() == Wire.R_ERROR_TEXT) {
                text = a.string();
            }
        }
        return new DaemonErrorException(code, text);
    }

    private void expect(Message m, int type) throws IOException {
        if (m.type() == Wire.ERROR) {
            throw error(m);
        }
        if (m.type() != type) {
            throw new ProtocolException(Wire.E_MALFORMED, "expected message type " + type + ", got " + m.type());
        }
    }

    private Message request(Message m) throws IOException {
        send(m);
        return receive();
    }

    /** Sends raw bytes (tests use this to send malformed requests). */
    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public void send(Message m) throws IOException {
        try {
            m.write(out);
            out.flush();
        } catch (IOException e) {
            throw refusal(e);
        }
    }

    /**
     * A write failed (EPIPE, ECONNRESET): the daemon may have refused this connection (too many
     * clients) or closed it for a reason, with an ERROR that is still in our receive buffer. That
     * ERROR says what happened; "Broken pipe" does not.
     */
    private IOException refusal(IOException writeFailed) {
        try {
            Message m = Message.read(in, Wire.MAX_MESSAGE);
            if (m != null && m.type() == Wire.ERROR) {
                return error(m);
            }
        } catch (IOException | RuntimeException ignored) {
            // nothing readable: the write's own error is all there is
        }
        return writeFailed;
    }

    public Message receive() throws IOException {
        Message m = Message.read(in, Wire.MAX_MESSAGE);
        if (m == null) {
            throw new EOFException("the daemon closed the connection");
        }
        return m;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
