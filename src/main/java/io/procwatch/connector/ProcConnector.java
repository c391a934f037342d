package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.EventType;
import io.procwatch.event.Loss;
import io.procwatch.netlink.Netlink;
import io.procwatch.netlink.NetlinkSocket;
import io.procwatch.sys.Errno;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

import static io.procwatch.connector.CnProc.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A subscription to the kernel's process events (NETLINK_CONNECTOR, CN_IDX_PROC).
 *
 * <p>{@link #open} subscribes and waits for the kernel's acknowledgement, so a returned connector
 * is known to be receiving events. Then one thread calls {@link #poll} in a loop (or uses
 * {@link ConnectorReader}). Loss is reported in-band as {@link Loss} events.
 */
public final class ProcConnector implements AutoCloseable {
    /** The user and PID namespace inode numbers of the initial namespaces (fixed by the kernel). */
    private static final String INIT_PID_NS = "pid:[4026531836]";
    private static final String INIT_USER_NS = "user:[4026531837]";

    /**
     * How to subscribe. {@code pollTimeoutMillis}: how long {@link #poll} waits for events before it
     * returns 0; 0 means until events come or {@link #wakeUp()} is called (what a reader thread wants).
     */
    public record Options(Set<EventType> events, int receiveBufferBytes, Duration ackTimeout,
                          int pollTimeoutMillis) {
        public static Options defaults() {
            return new Options(EventType.all(), 32 << 20, Duration.ofSeconds(1), 200);
        }

        public Options withPollTimeout(int millis) {
            return new Options(events, receiveBufferBytes, ackTimeout, millis);
        }

        public Options withEvents(Set<EventType> types) {
            return new Options(Set.copyOf(types), receiveBufferBytes, ackTimeout, pollTimeoutMillis);
        }

        public Options withReceiveBuffer(int bytes) {
            return new Options(events, bytes, ackTimeout, pollTimeoutMillis);
        }

        boolean wantsAll() {
            return events.containsAll(EventType.all()) && !events.contains(EventType.NONZERO_EXIT);
        }
    }

    private final NetlinkSocket socket;
    /** Shared, not confined: the connector is opened on one thread and polled on another. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(RECEIVE_BUFFER, 8);
    private final ProcEventDecoder decoder;
    private final boolean kernelFilter;
    private final int receiveBufferBytes;
    private final ArrayDeque<ConnectorEvent> early = new ArrayDeque<>();
    private long datagrams;
    private long events;
    private long losses;
    private long lostEvents;

    private ProcConnector(NetlinkSocket socket, ProcEventDecoder decoder, boolean kernelFilter,
                          int receiveBufferBytes) {
        this.socket = socket;
        this.decoder = decoder;
        this.kernelFilter = kernelFilter;
        this.receiveBufferBytes = receiveBufferBytes;
    }

    /**
     * Subscribes to process events.
     *
     * @throws ConnectorException with an operator-readable reason: not root, no CONFIG_PROC_EVENTS,
     *                            outside the initial namespaces (the kernel ignores such listeners)
     */
    public static ProcConnector open(Options options) throws ConnectorException {
        NetlinkSocket socket;
        try {
            socket = NetlinkSocket.open(NetlinkSocket.NETLINK_CONNECTOR, CN_IDX_PROC);
        } catch (SyscallException e) {
            throw new ConnectorException("cannot open the proc connector: " + e.getMessage(), e);
        }
        Arena setup = Arena.ofConfined();
        try {
            // Subscribe with room for the acknowledgement: on a busy machine a tiny buffer fills
            // with other processes' events before the ack comes, and the ack is dropped. The
            // buffer asked for applies once subscribed.
            int requested = options.receiveBufferBytes();
            int granted = socket.setReceiveBuffer(Math.max(requested, 1 << 20));
            socket.setReceiveTimeout(options.pollTimeoutMillis());
            Subscription sub = new Subscription(socket, setup, options);
            boolean kernelFilter = sub.listen();
            if (requested < 1 << 20) {
                granted = socket.setReceiveBuffer(requested);
            }
            ProcEventDecoder decoder = new ProcEventDecoder(!kernelFilter && options.wantsAll(),
                    EventType.mask(options.events()));
            ProcConnector c = new ProcConnector(socket, decoder, kernelFilter, granted);
            c.early.addAll(sub.early);
            return c;
        } catch (SyscallException e) {
            socket.close();
            throw new ConnectorException("cannot subscribe to the proc connector: " + e.getMessage(), e);
        } catch (ConnectorException | RuntimeException e) {
            socket.close();
            throw e;
        } finally {
            setup.close();
        }
    }

    /** True when the kernel filters events for us (6.6+); false when all are sent and filtered here. */
    public boolean kernelFilterActive() {
        return kernelFilter;
    }

    /** The receive buffer the kernel granted, in bytes. */
    public int receiveBufferBytes() {
        return receiveBufferBytes;
    }

    public Stats stats() {
        return new Stats(datagrams, events, losses, lostEvents, decoder.malformedMessages(),
                decoder.unknownEvents());
    }

    /** Counters since open; updated by the polling thread. */
    public record Stats(long datagrams, long events, long losses, long knownLostEvents,
                        long malformedMessages, long unknownEvents) {
    }

    /**
     * Runs {@code r} on the polling thread whenever every event received so far has been handed to
     * the sink and the connector is about to wait for more (the reader has caught up).
     */
    /** Times the reader has applied everything queued (see NetlinkSocket.drainedCount). */
    public long caughtUpCount() {
        return socket.drainedCount();
    }

    /** True while the reader waits with nothing queued. */
    public boolean readerIdle() {
        return socket.readerWaiting();
    }

    public void onCaughtUp(Runnable r) {
        socket.onDrained(r);
    }

    /**
     * Ends a wait in {@link #poll} now (it returns 0), so that its thread can look at its stop flag.
     * Callable from any thread, also after close.
     */
    public void wakeUp() {
        socket.wakeUp();
    }

    /**
     * Waits up to the poll timeout for events and hands each to {@code sink}.
     *
     * @return how many events (including losses) were delivered; 0 when the timeout passed or
     *         {@link #wakeUp()} was called
     * @throws SyscallException when the socket fails for a reason other than overrun or timeout
     */
    public int poll(Consumer<? super ConnectorEvent> sink) throws SyscallException {
        if (!early.isEmpty()) {
            int n = early.size();
            while (!early.isEmpty()) {
                count(early.peek());
                sink.accept(early.poll());
            }
            return n;
        }
        while (true) {
            int n = socket.receive(buffer);
            if (n == NetlinkSocket.TIMEOUT) {
                return 0;
            }
            if (n == NetlinkSocket.OVERRUN) {
                Loss loss = new Loss(Loss.Reason.OVERRUN, -1, -1);
                count(loss);
                sink.accept(loss);
                return 1;
            }
            datagrams++;
            int delivered = decoder.decode(buffer, n, e -> {
                count(e);
                sink.accept(e);
            }, null);
            if (delivered > 0) {
                return delivered;
            }
            // A datagram with nothing for us (another listener's subscription ack is multicast
            // to every listener, and so are types the filter lets through but we drop): it is
            // neither a timeout nor a wake-up, so wait on rather than tell the caller it was one.
        }
    }

    private void count(ConnectorEvent e) {
        if (e instanceof Loss l) {
            losses++;
            if (l.lostEvents() > 0) {
                lostEvents += l.lostEvents();
            }
        } else {
            events++;
        }
    }

    /** Unsubscribes (best effort) and closes the socket. Call from the polling thread or after it stopped. */
    @Override
    public void close() {
        if (socket.isClosed()) {
            return;
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment msg = control(tmp, socket.portId(), PROC_CN_MCAST_IGNORE, -1, 0);
            socket.send(msg, msg.byteSize());
        } catch (SyscallException ignored) {
            // the socket is going away; the kernel drops our membership with it
        }
        socket.close();
        arena.close();
    }

    /** The LISTEN handshake: send, wait for the kernel's ack, fall back for older kernels. */
    private static final class Subscription implements ProcEventDecoder.AckSink {
        private final NetlinkSocket socket;
        private final Arena arena;
        private final Options options;
        private final MemorySegment rx;
        private final ProcEventDecoder decoder = new ProcEventDecoder(false, -1);
        private final ArrayDeque<ConnectorEvent> early = new ArrayDeque<>();
        private int expectedAck;
        private boolean acked;
        private int ackErr;

        Subscription(NetlinkSocket socket, Arena arena, Options options) {
            this.socket = socket;
            this.arena = arena;
            this.options = options;
            this.rx = arena.allocate(RECEIVE_BUFFER, 8);
        }

        /**
         * Subscribes; returns true if a kernel-side event filter was installed.
         *
         * <p>The handshake is always a plain LISTEN, because the kernel passes its own ack (an
         * event of type NONE) through the listener's filter: with any filter installed the ack never
         * arrives. Once acknowledged, a second LISTEN carrying {@code struct proc_input} installs
         * the filter (6.6+). Older kernels ignore that message (wrong length), and the decoder
         * filters instead, so the result is the same events either way.
         */
        boolean listen() throws SyscallException, ConnectorException {
            if (!request(PROC_CN_MCAST_LISTEN, -1)) {
                throw new ConnectorException(noAckReason());
            }
            if (options.wantsAll() || !kernelSupportsFilter()) {
                return false;
            }
            MemorySegment msg = control(arena, socket.portId(), PROC_CN_MCAST_LISTEN,
                    EventType.mask(options.events()), 0);
            socket.send(msg, msg.byteSize());
            return true;
        }

        /** Event filters (struct proc_input) arrived in Linux 6.6. */
        static boolean kernelSupportsFilter() {
            try {
                String[] v = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim().split("[.-]");
                int major = Integer.parseInt(v[0]);
                int minor = Integer.parseInt(v[1]);
                return major > 6 || (major == 6 && minor >= 6);
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        private boolean request(int op, int eventMask) throws SyscallException, ConnectorException {
            int cookie = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE - 1);
            expectedAck = cookie + 1;
            acked = false;
            MemorySegment msg = control(arena, socket.portId(), op, eventMask, cookie);
            socket.send(msg, msg.byteSize());
            long deadline = System.nanoTime() + options.ackTimeout().toNanos();
            long left;
            while (!acked && (left = deadline - System.nanoTime()) > 0) {
                int n = socket.receive(rx, (int) Math.max(1, left / 1_000_000L));
                if (n > 0) {
                    decoder.decode(rx, n, early::add, this);
                }
            }
            if (acked && ackErr != 0) {
                throw new ConnectorException("the kernel refused the proc connector subscription: "
                        + Errno.name(ackErr) + (ackErr == Errno.EPERM
                        ? " - listening to process events needs root or CAP_NET_ADMIN" : ""));
            }
            return acked;
        }

        @Override
        public void onAck(int seq, int ack, int err) {
            if (ack == expectedAck) {
                acked = true;
                ackErr = err;
            }
        }

        private String noAckReason() {
            String pidNs = readLink("/proc/self/ns/pid");
            String userNs = readLink("/proc/self/ns/user");
            String where = "";
            if (!INIT_PID_NS.equals(pidNs) || !INIT_USER_NS.equals(userNs)) {
                where = " This process runs in " + pidNs + " / " + userNs
                        + ", not the initial namespaces (" + INIT_PID_NS + " / " + INIT_USER_NS
                        + "): the kernel silently ignores proc connector listeners there."
                        + " Run the procwatch daemon on the host (not in a container or unshare).";
            }
            return "the proc connector did not acknowledge LISTEN within "
                    + options.ackTimeout().toMillis() + " ms." + where
                    + (where.isEmpty() ? " Is CONFIG_PROC_EVENTS enabled in this kernel?" : "");
        }

        private static String readLink(String p) {
            try {
                return Files.readSymbolicLink(Path.of(p)).toString();
            } catch (IOException | UnsupportedOperationException e) {
                return "unknown";
            }
        }

    }

    /**
     * A connector control message: nlmsghdr + cn_msg + (op) or (op, event mask) when
     * {@code eventMask} is not -1.
     */
    static MemorySegment control(Arena arena, int portId, int op, int eventMask, int cookie) {
        int payload = eventMask == -1 ? 4 : 8;
        int len = Netlink.NLMSG_HDRLEN + CN_MSG_SIZE + payload;
        MemorySegment m = arena.allocate(Netlink.align(len), 8);
        m.set(JAVA_INT, 0, len);
        m.set(JAVA_SHORT, 4, (short) Netlink.NLMSG_DONE);
        m.set(JAVA_SHORT, 6, (short) 0);
        m.set(JAVA_INT, 8, cookie);
        m.set(JAVA_INT, 12, portId);
        m.set(JAVA_INT, CN_IDX, CN_IDX_PROC);
        m.set(JAVA_INT, CN_VAL, CN_VAL_PROC);
        m.set(JAVA_INT, CN_SEQ, cookie);
        m.set(JAVA_INT, CN_ACK, cookie);
        m.set(JAVA_SHORT, CN_LEN, (short) payload);
        m.set(JAVA_SHORT, CN_LEN + 2, (short) 0);
        m.set(JAVA_INT, EVENT, op);
        if (eventMask != -1) {
            m.set(JAVA_INT, EVENT + 4, eventMask);
        }
        return m;
    }
}
