package io.procwatch.daemon;

import io.procwatch.event.EventType;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.ProcItems;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.TableEvent;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * One client connection: reads requests one after another and answers each. A request that breaks
 * the framing (a bad message length, a malformed attribute, too much queued) gets an ERROR and the
 * connection is closed; any other error (an unknown request type, a bad argument, no such process)
 * is an ERROR answer to that request and the connection goes on, as docs/protocol.md says.
 */
final class Connection implements Runnable {
    /** Events a subscriber may fall behind by before the daemon drops (and counts) them. */
    static final int SUBSCRIBER_QUEUE = 8192;

    private final SocketChannel channel;
    private final DaemonContext ctx;
    /** The peer's uid and the clocks the watchdog keeps on this client. */
    private final ClientWatch watch;
    private final Encoder encoder;
    /** What this connection's last SNAPSHOT with F_DELTA sent (top asks for the same set every refresh). */
    private final SnapshotDelta delta = new SnapshotDelta();
    private Viewer viewer;
    private InputStream in;
    private OutputStream out;

    Connection(SocketChannel channel, DaemonContext ctx, ClientWatch watch) {
        this.channel = channel;
        this.ctx = ctx;
        this.watch = watch;
        this.encoder = new Encoder(ctx.proc());
        this.givenCred = null;
    }

    /** SO_PEERCRED's numbers of an in-daemon peer (see RunSession), which has no socket. */
    private final int[] givenCred;

    /**
     * A peer inside the daemon: a command run for a thin client (RunSession) talks to this over
     * in-process pipes, seen as the thin client's user.
     */
    Connection(DaemonContext ctx, int[] cred, InputStream in, OutputStream out) {
        this.channel = null;
        this.ctx = ctx;
        this.watch = null;
        this.encoder = new Encoder(ctx.proc());
        this.givenCred = cred.clone();
        this.in = in;
        this.out = out;
    }

    /** Marks the end of the client's stream in the request queue. */
    private static final Object END = new Object();
    /** Bytes of requests a client may queue behind the one being handled (e.g. behind a WAIT). */
    static final long MAX_QUEUED_BYTES = 256 * 1024;
    /**
     * Requests read ahead of the handler. The reader never blocks on this queue (it must keep
     * reading to notice a hang-up); the queue is bounded in bytes instead, by MAX_QUEUED_BYTES.
     */
    private final BlockingQueue<Object> requests = new LinkedBlockingQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private volatile boolean clientGone;
    /** Put into {@link #parked} when the client's stream ends, to wake a WAIT or SUBSCRIBE. */
    private static final Object HANGUP = new Object();
    /**
     * The queue a WAIT or SUBSCRIBE is blocked on, if any: they wait without a timeout (an idle
     * subscriber costs no wake-ups), so the reader must wake them when the client goes.
     */
    private volatile BlockingQueue<Object> parked;

    @Override
    public void run() {
        try (channel) {
            if (channel == null) { // in the daemon: a RunSession's pipes, no socket and no watchdog
                viewer = new Viewer(givenCred[0], givenCred[1], ctx.procMount());
            } else {
                viewer = new Viewer(watch.uid(), watch.gid(), ctx.procMount());
                in = watch.input(new BufferedInputStream(Channels.newInputStream(channel), 16384));
                out = new BufferedOutputStream(watch.output(Channels.newOutputStream(channel)), 65536);
            }
            Thread reader = Thread.ofVirtual().start(this::readRequests);
            try {
                serve();
            } finally {
                reader.interrupt();
            }
        } catch (IOException e) {
            // the client went away; nothing to answer
        } catch (RuntimeException e) {
            ctx.counters().internalErrors.increment();
            try {
                sendError(0, Wire.E_INTERNAL, "internal error: " + e);
            } catch (IOException ignored) {
                // the connection is being dropped anyway
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Error e) {
            // Connections run as tasks of an executor, which would keep this to itself: say it.
            // (A LinkageError here has been a jar rebuilt under a daemon started from it directly.)
            ctx.counters().internalErrors.increment();
            System.err.println("procwatch daemon: a connection failed: " + e);
        } finally {
            encoder.close();
        }
    }

    /**
     * The only reader of the socket: parses requests into the queue, and notes when the client
     * hangs up so that a WAIT or SUBSCRIBE in progress ends instead of holding a thread forever.
     */
    private void readRequests() {
        Object last = END;
        if (watch != null) {
            watch.readerStarted();
        }
        try {
            Message m;
            while ((m = Message.read(in, Wire.MAX_REQUEST)) != null) {
                if (watch != null) {
                    watch.requestReceived();
                }
                if (queuedBytes.addAndGet(Wire.HEADER + m.body().length) > MAX_QUEUED_BYTES) {
                    last = new ProtocolException(Wire.E_TOO_LARGE, "more than " + MAX_QUEUED_BYTES
                            + " bytes of requests queued behind an unfinished one");
                    requests.clear(); // stop now: the handler sees the error next
                    break;
                }
                requests.put(m);
            }
        } catch (ProtocolException e) {
            last = e;
        } catch (EOFException e) {
            ctx.counters().malformed.increment(); // ended inside a message
        } catch (IOException e) {
            // reset or closed
        } catch (InterruptedException e) {
            return;
        }
        clientGone = true;
        BlockingQueue<Object> q = parked; // after clientGone: a handler that parks later sees the flag
        if (q != null) {
            q.offer(HANGUP); // a full queue means its handler is busy and will see clientGone next
        }
        try {
            requests.put(last);
        } catch (InterruptedException ignored) {
            // the handler is gone too
        }
    }

    private void serve() throws IOException, InterruptedException {
        while (true) {
            Object next = requests.take();
            if (next == END) {
                return;
            }
            if (next instanceof ProtocolException e) {
                ctx.counters().malformed.increment();
                sendError(0, e.code(), e.getMessage());
                return;
            }
            Message req = (Message) next;
            queuedBytes.addAndGet(-(Wire.HEADER + req.body().length));
            ctx.counters().requests.increment();
            long t0 = System.nanoTime();
            if (watch != null) {
                watch.handling();
            }
            try {
                if (!handle(req)) {
                    return;
                }
                out.flush();
                if (req.type() != Wire.WAIT && req.type() != Wire.SUBSCRIBE && req.type() != Wire.RUN) {
                    ctx.counters().latency.record(System.nanoTime() - t0);
                }
            } catch (ProtocolException e) {
                sendError(req.seq(), e.code(), e.getMessage());
                if (closesConnection(e.code())) {
                    ctx.counters().malformed.increment();
                    return;
                }
                out.flush();
            } finally {
                if (watch != null) {
                    watch.handled();
                }
            }
        }
    }

    /**
     * Framing errors end the connection (after one, the stream cannot be trusted to be in step);
     * an error about one request's arguments does not.
     */
    static boolean closesConnection(int errorCode) {
        return errorCode == Wire.E_MALFORMED || errorCode == Wire.E_TOO_LARGE;
    }

    /**
     * The most rows one HISTORY answer carries: A_LIMIT is a u32, and 0xffffffff (or no A_LIMIT)
     * means "as many as there are", up to this. It also bounds what one request can make the daemon
     * hold in memory (the HTTP API caps its history at the same number).
     */
    static final int MAX_ROWS_PER_REPLY = 100_000;

    /** A u64 time in ms: values of 2^63 and above (unsigned) are later than any time, so no bound. */
    private static long unsignedMs(long v) {
        return v < 0 ? Long.MAX_VALUE : v;
    }

    /** Returns false when the connection should close after this request. */
    private boolean handle(Message req) throws IOException {
        return switch (req.type()) {
            case Wire.HELLO -> hello(req);
            case Wire.SNAPSHOT -> snapshot(req);
            case Wire.HISTORY -> history(req);
            case Wire.WAIT -> waitFor(req);
            case Wire.STATS -> stats(req);
            case Wire.SUBSCRIBE -> subscribe(req);
            case Wire.RUN -> channel == null ? unknown(req) : new RunSession(ctx, viewer, out).serve(req, this::nextCancel);
            default -> unknown(req);
        };
    }

    /**
     * For a RUN: blocks until the client sends CANCEL (true) or hangs up or breaks the framing
     * (false).
     */
    private boolean nextCancel(java.util.function.Consumer<Message> input) throws InterruptedException {
        for (Object next = requests.take(); next instanceof Message m; next = requests.take()) {
            queuedBytes.addAndGet(-(Wire.HEADER + m.body().length)); // taken: it no longer counts
            if (m.type() == Wire.CANCEL) {
                return true;
            }
            input.accept(m); // STDIN and WINSIZE for the run; RunSession ignores other requests
        }
        return false;
    }

    private boolean unknown(Message req) throws IOException {
        sendError(req.seq(), Wire.E_UNKNOWN_REQUEST, "unknown request type " + req.type());
        return true;
    }

    private boolean hello(Message req) throws IOException {
        checkAttrs(req.attrs());
        long caps = 1L << Wire.HELLO | 1L << Wire.SNAPSHOT | 1L << Wire.SUBSCRIBE | 1L << Wire.HISTORY
                | 1L << Wire.WAIT | 1L << Wire.STATS
                | (channel != null ? 1L << Wire.RUN | 1L << Wire.STDIN | 1L << Wire.WINSIZE : 0);
        new MessageBuilder().u32(Wire.A_VERSION, Wire.VERSION).string(Wire.R_DAEMON_VERSION, DaemonContext.VERSION)
                .u64(Wire.R_CAPABILITIES, caps).u32(Wire.R_PEER_UID, viewer.uid())
                .build(Wire.HELLO_REPLY, 0, req.seq()).write(out);
        return true;
    }

    /** Parsed request arguments common to several request types. */
    record Args(Selector selector, long groups, int eventMask, long sinceMs, long untilMs, int limit,
                        List<Integer> waitPids, long timeoutMs, int sampleIntervalMs, List<String> items, long atMs) {
    }

    static Args args(Message req) throws ProtocolException {
        Selector sel = Selector.all();
        long groups = Groups.BASE;
        int mask = EventType.mask(EventType.all());
        long since = 0;
        long until = Long.MAX_VALUE;
        long limit = MAX_ROWS_PER_REPLY;
        long timeout = 0;
        int interval = 0;
        List<Integer> pids = new ArrayList<>();
        List<String> items = List.of();
        long at = -1;
        Attrs a = req.attrs();
        while (a.next()) {
            switch (a.type()) {
                case Wire.A_SELECTOR -> sel = Selector.decode(a.nested());
                case Wire.A_GROUPS -> groups = a.u64();
                case Wire.A_EVENT_MASK -> mask = a.u32();
                // every u32 and u64 here is unsigned on the wire (docs/protocol.md)
                case Wire.A_SINCE_MS -> since = unsignedMs(a.u64());
                case Wire.A_UNTIL_MS -> until = unsignedMs(a.u64());
                case Wire.A_LIMIT -> limit = Integer.toUnsignedLong(a.u32());
                case Wire.A_WAIT_PID -> {
                    long pid = Integer.toUnsignedLong(a.u32());
                    if (pid < 1 || pid > Integer.MAX_VALUE) { // no pid_t holds it: no such process
                        throw new ProtocolException(Wire.E_NOT_FOUND, "no such process: " + pid
                                + " (pids are 1 to " + Integer.MAX_VALUE + ")");
                    }
                    pids.add((int) pid);
                }
                case Wire.A_TIMEOUT_MS -> timeout = Integer.toUnsignedLong(a.u32());
                case Wire.A_ITEMS -> items = items(a.strings());
                case Wire.A_AT_MS -> {
                    long v = a.u64();
                    if (v < 0) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, "A_AT_MS is past the year 292 million");
                    }
                    at = v;
                }
                case Wire.A_SAMPLE_INTERVAL_MS -> interval = (int) Math.min(Integer.MAX_VALUE,
                        Integer.toUnsignedLong(a.u32()));
                default -> {
                    // unknown attribute: skipped, so newer clients work with this daemon
                }
            }
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute in request type " + req.type());
        }
        if (pids.size() > 1024) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "wait takes at most 1024 pids");
        }
        return new Args(sel, groups, mask, since, until, (int) Math.min(limit, MAX_ROWS_PER_REPLY), pids, timeout,
                interval, items, at);
    }

    private static List<String> items(List<String> asked) throws ProtocolException {
        if (asked.size() > ProcItems.MAX_ITEMS) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "at most " + ProcItems.MAX_ITEMS + " items, not " + asked.size());
        }
        for (String item : asked) {
            String problem = ProcItems.check(item);
            if (problem != null) {
                throw new ProtocolException(Wire.E_BAD_ARGUMENT, problem);
            }
        }
        return List.copyOf(asked);
    }

    private static void checkAttrs(Attrs a) throws ProtocolException {
        while (a.next()) {
            // walk to validate lengths; HELLO's attributes are informational
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute");
        }
    }

    private boolean snapshot(Message req) throws IOException {
        Args a = args(req);
        if (a.atMs() >= 0) {
            return snapshotAt(req, a);
        }
        List<ProcessInfo> rows = LiveRows.select(ctx, a.selector(), a.groups(), req.flags(), viewer);
        boolean threads = LiveRows.threads(a.selector(), req.flags());
        boolean record = req.has(Wire.F_DELTA) && !threads;
        boolean diff = record && delta.canDiff(a.selector(), a.groups());
        if (diff) {
            gone(delta.gone(rows), req.seq());
        } else {
            delta.clear(); // a whole answer: with nothing to compare against, every row counts as new
        }
        if (record) {
            delta.begin(rows.size());
        }
        LiveRows.Walk w = LiveRows.walk(ctx, rows, threads, new LiveRows.Out() {
            @Override
            public void process(ProcessInfo p) throws IOException {
                Message m = encoder.process(p, a.groups(), a.items(), viewer, req.seq());
                if (!record || delta.record(p.pid(), m.body())) {
                    m.write(out);
                }
            }

            @Override
            public void thread(ProcessInfo p, int tid, PidStat t) throws IOException {
                encoder.thread(p, tid, t, a.groups(), viewer, req.seq()).write(out);
            }
        });
        if (record) {
            delta.commit(a.selector(), a.groups());
        }
        done(req.seq(), w.count(), w.sampleAgeNanos() < 0 ? -1 : w.sampleAgeNanos() / 1_000_000L, diff);
        return true;
    }

    /**
     * What the journal keeps of a row, with the cgroup (moves are journaled): the rest (exe, cwd,
     * io, wchan, other items) is read from /proc at request time.
     */
    private static final long JOURNALED_GROUPS = Groups.BASE | Groups.CRED | Groups.CMDLINE | Groups.STAT | Groups.CGROUP;

    /**
     * SNAPSHOT with A_AT_MS: the table at a past instant, rebuilt from the journal, then selected
     * and encoded exactly as the live table is (QueryEngine, Viewer, Encoder), so a viewer sees of
     * the past what it would have seen then. Groups the journal does not keep are left out.
     */
    private boolean snapshotAt(Message req, Args a) throws IOException {
        if (req.has(Wire.F_THREADS) || a.selector().threadsOf() != null) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "threads are not journaled: no thread rows at a past instant");
        }
        if (!a.selector().namespaces().isEmpty()) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "namespaces are not journaled: no namespace selector at a past instant");
        }
        if (!a.items().stream().allMatch("cgroup"::equals)) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT,
                    "/proc items other than cgroup are not journaled: they cannot be asked for at a past instant");
        }
        List<ProcessInfo> rows;
        io.procwatch.store.Journal.Past past;
        try {
            past = PastTable.selectPast(ctx, a.selector(), viewer, a.atMs());
            rows = past.rows();
        } catch (PastTable.NoAnswer e) {
            throw new ProtocolException(Wire.E_NOT_FOUND, e.getMessage());
        } catch (java.sql.SQLException e) {
            throw new ProtocolException(Wire.E_INTERNAL, "journal: " + e.getMessage());
        }
        long groups = a.groups() & JOURNALED_GROUPS;
        boolean cgroupItem = !a.items().isEmpty();
        for (ProcessInfo p : rows) {
            long age = (groups & Groups.STAT) != 0 || (groups & Groups.BASE) != 0 ? past.sampledAgeMs(p) : -2;
            encoder.pastProcess(p, groups, cgroupItem, viewer, req.seq(), age, age != -2 && past.stale(p)).write(out);
        }
        // R_TIME_MS is the instant answered: a client tells this answer from an older daemon's
        // live one (which skips A_AT_MS) by it
        new MessageBuilder().u32(Wire.R_COUNT, rows.size()).u64(Wire.R_TIME_MS, a.atMs())
                .build(Wire.DONE, 0, req.seq()).write(out);
        return true;
    }

    /** GONE messages for a delta answer: at most 8192 pids each, so a message stays small. */
    private void gone(int[] pids, int seq) throws IOException {
        for (int from = 0; from < pids.length; from += 8192) {
            MessageBuilder m = new MessageBuilder();
            for (int i = from; i < Math.min(pids.length, from + 8192); i++) {
                m.u32(Wire.P_PID, pids[i]);
            }
            m.build(Wire.GONE, 0, seq).write(out);
        }
    }

    private void done(int seq, int count, long sampleAgeMs) throws IOException {
        done(seq, count, sampleAgeMs, false);
    }

    /** @param delta the answer held only changes (R_DELTA); count is still the whole set's */
    private void done(int seq, int count, long sampleAgeMs, boolean delta) throws IOException {
        MessageBuilder m = new MessageBuilder().u32(Wire.R_COUNT, count).u64(Wire.R_TIME_MS, System.currentTimeMillis());
        if (sampleAgeMs >= 0) {
            m.u64(Wire.R_SAMPLE_AGE_MS, sampleAgeMs);
        }
        if (delta) {
            m.flag(Wire.R_DELTA);
        }
        m.build(Wire.DONE, 0, seq).write(out);
    }

    private boolean history(Message req) throws IOException {
        Args a = args(req);
        HistoryQuery q = new HistoryQuery(a.selector(), a.sinceMs(), a.untilMs(), req.has(Wire.F_FAILED), a.limit());
        int count;
        try {
            for (HistoryStore.Gap g : q.gaps(ctx)) {
                MessageBuilder m = new MessageBuilder().u64(Wire.R_GAP_FROM_MS, g.fromMs()).u64(Wire.R_GAP_UNTIL_MS, g.untilMs());
                if (g.cleanStop()) {
                    m.flag(Wire.R_GAP_CLEAN);
                }
                m.build(Wire.GAP, 0, req.seq()).write(out);
            }
            // streamed as read, oldest first like a log: never the whole answer in memory
            count = q.forEach(ctx, viewer, true, e -> encoder.exited(e, viewer, Wire.EXITED, req.seq()).write(out));
        } catch (java.sql.SQLException e) {
            throw new ProtocolException(Wire.E_INTERNAL, "history database: " + e.getMessage());
        }
        done(req.seq(), count, -1);
        return true;
    }

    /**
     * Blocks until each pid exits and answers with its EXITED entry. Works for any process, not
     * only the client's children: the exit comes from the kernel's event, not from wait(2).
     */
    private boolean waitFor(Message req) throws IOException {
        Args a = args(req);
        if (a.waitPids().isEmpty()) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "WAIT needs at least one pid");
        }
        BlockingQueue<Object> exits = new LinkedBlockingQueue<>();
        // pid -> the life waited for (its start, ns), or ANY_LIFE for a process whose fork event
        // is still in flight. Read by the event thread's listener, changed here: concurrent.
        Map<Integer, Long> pending = new ConcurrentHashMap<>();
        for (int pid : a.waitPids()) {
            pending.put(pid, ANY_LIFE);
        }
        Consumer<TableEvent> listener = ev -> {
            if (ev instanceof TableEvent.Exited x) {
                Long life = pending.get(x.exited().pid());
                if (life != null && (life == ANY_LIFE || life == x.exited().startNs()) && viewer.canSee(x.exited())) {
                    exits.add(x.exited());
                }
            }
        };
        ctx.table().addListener(listener);
        try {
            for (int pid : a.waitPids()) {
                ProcessInfo p = ctx.table().get(pid);
                if (p != null && viewer.canSee(p) && !isExited(p)) {
                    pending.put(pid, p.startNs()); // this life, not a later one of the same pid
                    continue;
                }
                if (p != null && viewer.canSee(p)) {
                    // a zombie: its exit is in the history already
                    List<ExitedProcess> own = ctx.table().history().newest(
                            e -> e.pid() == pid && e.startNs() == p.startNs(), 1);
                    if (!own.isEmpty()) {
                        exits.add(own.getFirst());
                        continue;
                    }
                }
                Optional<PidStat> st = p == null ? ctx.proc().stat(pid) : Optional.empty();
                if (p == null && st.isPresent() && !ctx.procMount().hidesOthers()) {
                    if (!ctx.proc().isProcess(pid)) {
                        // /proc/TID answers for a thread id too, but a thread is not a process
                        sendError(req.seq(), Wire.E_NOT_FOUND, "no such process: " + pid + " (it is a thread id)");
                        return true;
                    }
                    // /proc lists it but the table not yet: its fork event is still in flight
                    // (a client asking right after starting the process). Its exit will come.
                    continue;
                }
                List<ExitedProcess> past = p == null && st.isEmpty()
                        ? ctx.table().history().newest(e -> e.pid() == pid && viewer.canSee(e), 1) : List.of();
                if (!past.isEmpty()) {
                    exits.add(past.getFirst()); // ended recently: its status
                } else {
                    sendError(req.seq(), Wire.E_NOT_FOUND, "no such process: " + pid);
                    return true;
                }
            }
            long deadline = a.timeoutMs() == 0 ? Long.MAX_VALUE : System.nanoTime() + a.timeoutMs() * 1_000_000L;
            parked = exits;
            while (!pending.isEmpty()) {
                if (clientGone || requests.peek() instanceof ProtocolException) {
                    return false;
                }
                long left = deadline == Long.MAX_VALUE ? Long.MAX_VALUE : (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    sendError(req.seq(), Wire.E_TIMEOUT, "timed out waiting for " + new TreeSet<>(pending.keySet()));
                    return true;
                }
                Object next = left == Long.MAX_VALUE ? exits.take() : exits.poll(left, TimeUnit.MILLISECONDS);
                if (next instanceof ExitedProcess e && pending.remove(e.pid()) != null) {
                    encoder.exited(e, viewer, Wire.EXITED, req.seq()).write(out);
                    out.flush();
                }
            }
            done(req.seq(), a.waitPids().size(), -1);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            parked = null;
            ctx.table().removeListener(listener);
        }
    }

    /** In {@code pending}: any life of the pid will do (it was not in the table yet). */
    private static final long ANY_LIFE = Long.MIN_VALUE;

    private static boolean isExited(ProcessInfo p) {
        return p.state() == 'Z' && p.threads().length == 0;
    }

    private boolean channelOpen() {
        return channel == null ? !clientGone : channel.isOpen() && channel.isConnected();
    }

    private boolean stats(Message req) throws IOException {
        checkAttrs(req.attrs());
        // process states change without events (a sleeper wakes): count them from a recent sample
        ctx.sampler().ensureFresh(1_000_000_000L);
        MessageBuilder m = new MessageBuilder();
        for (var e : ctx.stats().entrySet()) {
            m.beginNested(Wire.R_STAT).string(Wire.R_STAT_NAME, e.getKey()).u64(Wire.R_STAT_VALUE, e.getValue())
                    .endNested();
        }
        m.build(Wire.STATS_REPLY, 0, req.seq()).write(out);
        return true;
    }

    /**
     * Streams events until the client closes the connection. The table's listener only offers to a
     * bounded queue: a client that stops reading loses events (counted, then reported with a LOSS
     * message) instead of growing the daemon's heap.
     */
    private boolean subscribe(Message req) throws IOException {
        Args a = args(req);
        BlockingQueue<Object> queue = new ArrayBlockingQueue<>(SUBSCRIBER_QUEUE);
        AtomicLong dropped = new AtomicLong();
        Selector sel = a.selector();
        int mask = a.eventMask();
        // A_GROUPS without CMDLINE: events without the command line (top asks so); absent: as before
        boolean withArgv = !hasAttr(req, Wire.A_GROUPS) || (a.groups() & Groups.CMDLINE) != 0;
        Map<Integer, Long> members = sel.namespaces().isEmpty() ? null : new ConcurrentHashMap<>();
        Consumer<TableEvent> listener = ev -> {
            if (wanted(ev, sel, mask, members) && !queue.offer(ev)) {
                dropped.incrementAndGet();
                ctx.counters().subscriberDrops.increment();
            }
        };
        Object lease = new Object();
        ctx.table().addListener(listener);
        if (members != null) { // after the listener: a process forked meanwhile is in one or both
            for (ProcessInfo p : ctx.query().select(Selector.all().withNamespaces(sel.namespaces()), viewer)) {
                members.putIfAbsent(p.pid(), p.startNs());
            }
        }
        ctx.counters().subscribers.incrementAndGet();
        try {
            // acknowledge: the stream starts now
            done(req.seq(), 0, -1);
            out.flush();
            // A subscription owns the connection: it ends when the client hangs up. It waits for
            // events without a timeout, unless it must renew its sampling lease (5 s) every second.
            parked = queue;
            boolean renew = a.sampleIntervalMs() > 0;
            while (channelOpen() && !clientGone) {
                if (renew) {
                    ctx.sampler().demand(lease, Math.max(100, a.sampleIntervalMs()), 5000);
                }
                Object next = renew ? queue.poll(1000, TimeUnit.MILLISECONDS) : queue.take();
                long lost = dropped.getAndSet(0);
                if (lost > 0) {
                    new MessageBuilder().u64(Wire.R_LOST, lost)
                            .string(Wire.R_ERROR_TEXT, "this client fell behind; " + lost + " events dropped")
                            .build(Wire.LOSS, 0, req.seq()).write(out);
                }
                for (; next != null && next != HANGUP; next = queue.poll()) { // drain what is ready, then flush
                    Message m = encoder.event((TableEvent) next, viewer, req.seq(), withArgv);
                    if (m != null) {
                        m.write(out);
                    }
                }
                out.flush();
                if (next == HANGUP) {
                    break;
                }
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            parked = null;
            ctx.table().removeListener(listener);
            ctx.sampler().release(lease);
            ctx.counters().subscribers.decrementAndGet();
        }
    }

    private static boolean hasAttr(Message req, int type) {
        Attrs a = req.attrs();
        while (a.next()) {
            if (a.type() == type) {
                return true;
            }
        }
        return false;
    }

    private boolean wanted(TableEvent ev, Selector sel, int mask) {
        return wanted(ev, sel, mask, null);
    }

    /**
     * An event stream selected by namespace. /proc/PID/ns is gone by the time a process's exit is
     * reported, so the stream remembers the processes it found in the namespaces ({@code members}:
     * pid to start; those in them when it began, and each whose event matched since) and reports
     * the exits of those; a process that moved in and exited with no event in between is not known.
     */
    private boolean wantedInNamespaces(TableEvent ev, Selector sel, int mask, Map<Integer, Long> members) {
        Selector rest = sel.withNamespaces(List.of());
        if (ev instanceof TableEvent.Exited x) {
            Long start = members.remove(x.exited().pid());
            return start != null && (start == 0 || x.exited().startNs() == 0 || start == x.exited().startNs())
                    && wanted(ev, rest, mask, null);
        }
        ProcessInfo p = ev.live();
        if (p == null) {
            return true; // Lost, Resynced
        }
        if (ctx.query().matches(Selector.all().withNamespaces(sel.namespaces()), p)) {
            members.put(p.pid(), p.startNs());
            return wanted(ev, rest, mask, null);
        }
        if (!(ev instanceof TableEvent.ThreadExited)) {
            members.remove(p.pid()); // left the namespaces (setns, unshare), or a new life of the pid
        }
        return false;
    }

    private boolean wanted(TableEvent ev, Selector sel, int mask, Map<Integer, Long> members) {
        if (!sel.namespaces().isEmpty()) {
            // namespaces are ptrace-guarded in /proc: as QueryEngine.select, only for processes the viewer may read
            ProcessInfo p = ev.live();
            if (p != null && !viewer.canTestNamespaces(p)) {
                return false;
            }
            if (members != null) {
                return wantedInNamespaces(ev, sel, mask, members);
            }
        }
        return switch (ev) {
            case TableEvent.Forked f -> (mask & EventType.FORK.bit) != 0 && ctx.query().matches(sel, f.process());
            case TableEvent.Execed x -> (mask & EventType.EXEC.bit) != 0 && ctx.query().matches(sel, x.process());
            case TableEvent.Changed c -> (mask & c.kind().bit) != 0 && ctx.query().matches(sel, c.process());
            case TableEvent.ThreadExited t -> (mask & EventType.EXIT.bit) != 0 && ctx.query().matches(sel, t.process());
            case TableEvent.Exited x -> ((mask & EventType.EXIT.bit) != 0
                    || ((mask & EventType.NONZERO_EXIT.bit) != 0 && x.exited().failed()))
                    && ctx.query().matches(sel, x.exited());
            case TableEvent.Lost l -> true;
            case TableEvent.Resynced r -> true;
        };
    }

    private void sendError(int seq, int code, String text) throws IOException {
        if (out == null) {
            return;
        }
        new MessageBuilder().u32(Wire.R_ERROR_CODE, code).string(Wire.R_ERROR_TEXT, text)
                .build(Wire.ERROR, 0, seq).write(out);
        out.flush();
    }
}
