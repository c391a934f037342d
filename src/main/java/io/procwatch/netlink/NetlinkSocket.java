package io.procwatch.netlink;

import io.procwatch.sys.Errno;
import io.procwatch.sys.Libc;
import io.procwatch.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A netlink datagram socket (AF_NETLINK), bound with a kernel-assigned port id.
 *
 * <p>Not thread-safe: one thread owns it. The one exception is {@link #wakeUp()}, which any thread
 * may call to end a wait in {@link #receive} early. Do not {@link #close()} it while another thread
 * is inside {@link #receive}: the descriptor number could be reused under that thread's feet.
 * Owners stop their reader (set its stop flag, then {@link #wakeUp()}) and close afterwards.
 *
 * <p>A reader waits in poll(2) on the socket and an eventfd rather than with SO_RCVTIMEO: a
 * long-lived reader can then sleep until a message comes, instead of waking a few times a second
 * to look at its stop flag (each such wake costs ~0.1-0.2 ms of CPU on our VMs).
 */
public final class NetlinkSocket implements AutoCloseable {
    public static final int NETLINK_GENERIC = 16;
    public static final int NETLINK_CONNECTOR = 11;

    /** {@link #receive} result: the timeout passed with nothing to read. */
    public static final int TIMEOUT = 0;
    /** {@link #receive} result: the kernel dropped messages because the receive buffer was full. */
    public static final int OVERRUN = -1;

    private final int fd;
    /** Made readable by {@link #wakeUp()}; polled together with {@link #fd}. */
    private final int wakeFd;
    private final int protocol;
    private final int portId;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment kernelAddress;
    /** Two struct pollfd { int fd; short events; short revents; }: the socket, then the eventfd. */
    private final MemorySegment pollFds;
    /** How long {@link #receive(MemorySegment)} waits; 0: until a message comes or {@link #wakeUp()}. */
    private int timeoutMillis;
    /** Guards {@link #closed} against {@link #wakeUp()} writing to a descriptor closed and reused meanwhile. */
    private final Object closeLock = new Object();
    private volatile boolean closed;

    private NetlinkSocket(int fd, int wakeFd, int protocol, int portId) {
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.protocol = protocol;
        this.portId = portId;
        this.kernelAddress = sockaddr(arena, 0, 0);
        this.pollFds = arena.allocate(16, 4);
        pollFds.set(JAVA_INT, 0, fd);
        pollFds.set(JAVA_SHORT, 4, Libc.POLLIN);
        pollFds.set(JAVA_INT, 8, wakeFd);
        pollFds.set(JAVA_SHORT, 12, Libc.POLLIN);
    }

    /**
     * Opens and binds a netlink socket for {@code protocol}, joined to the multicast {@code groups}
     * bitmask (0 for none).
     */
    public static NetlinkSocket open(int protocol, int groups) throws SyscallException {
        int fd;
        try {
            fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, protocol);
        } catch (SyscallException e) {
            if (e.errno() == Errno.EPROTONOSUPPORT) {
                throw new SyscallException("socket(AF_NETLINK, " + protocolName(protocol) + ")", e.errno(),
                        "this kernel was built without " + (protocol == NETLINK_CONNECTOR
                                ? "CONFIG_CONNECTOR/CONFIG_PROC_EVENTS" : "generic netlink"));
            }
            throw e;
        }
        int wakeFd = -1;
        try (Arena tmp = Arena.ofConfined()) {
            wakeFd = Libc.eventfd(Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
            try {
                Libc.bind(fd, sockaddr(tmp, 0, groups));
            } catch (SyscallException e) {
                throw new SyscallException("bind(" + protocolName(protocol) + ", groups=" + groups + ")",
                        e.errno(), e.errno() == Errno.EPERM
                        ? "joining this netlink group needs root or CAP_NET_ADMIN" : null);
            }
            MemorySegment addr = tmp.allocate(12, 4);
            MemorySegment len = tmp.allocateFrom(JAVA_INT, 12);
            Libc.getsockname(fd, addr, len);
            return new NetlinkSocket(fd, wakeFd, protocol, addr.get(JAVA_INT, 4));
        } catch (SyscallException | RuntimeException e) {
            Libc.closeQuietly(fd);
            if (wakeFd >= 0) {
                Libc.closeQuietly(wakeFd);
            }
            throw e;
        }
    }

    private static MemorySegment sockaddr(Arena arena, int pid, int groups) {
        // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }
        MemorySegment sa = arena.allocate(12, 4);
        sa.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
        sa.set(JAVA_INT, 4, pid);
        sa.set(JAVA_INT, 8, groups);
        return sa;
    }

    private static String protocolName(int protocol) {
        return switch (protocol) {
            case NETLINK_CONNECTOR -> "NETLINK_CONNECTOR";
            case NETLINK_GENERIC -> "NETLINK_GENERIC";
            default -> "netlink protocol " + protocol;
        };
    }

    /** The port id the kernel assigned; netlink replies and unicasts are addressed to it. */
    public int portId() {
        return portId;
    }

    public int protocol() {
        return protocol;
    }

    /**
     * Asks for a receive buffer of {@code bytes}. Root may exceed net.core.rmem_max with
     * SO_RCVBUFFORCE; others get what SO_RCVBUF allows. Returns the size the kernel granted
     * (the kernel doubles the request for bookkeeping; this is the value it reports).
     */
    public int setReceiveBuffer(int bytes) throws SyscallException {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment v = tmp.allocateFrom(JAVA_INT, bytes);
            try {
                Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, v);
            } catch (SyscallException notPrivileged) {
                Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, v);
            }
        }
        return receiveBufferSize();
    }

    public int receiveBufferSize() throws SyscallException {
        return Libc.getsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF);
    }

    /**
     * Makes {@link #receive(MemorySegment)} return {@link #TIMEOUT} after this long without a
     * message; 0 (the default) waits until a message comes or {@link #wakeUp()} is called.
     * Set it before handing the socket to its reader thread.
     */
    public void setReceiveTimeout(int millis) {
        timeoutMillis = Math.max(0, millis);
    }

    /**
     * Ends the reader's current or next wait in {@link #receive}: it returns {@link #TIMEOUT}.
     * Any thread may call this, also after close (then it does nothing).
     */
    public void wakeUp() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            try {
                Libc.eventfdWrite(wakeFd, 1);
            } catch (SyscallException e) {
                // only EAGAIN (the counter is near overflow) is possible: a wake-up is pending anyway
            }
        }
    }

    private volatile Runnable onDrained = () -> { };
    /** Times the reader found nothing left and ran onDrained (written by the reader thread only). */
    private volatile long drained;
    /** The reader is waiting for the next datagram: everything queued before has been handed out. */
    private volatile boolean waiting;

    /** How many times the reader has emptied the socket (after onDrained ran). */
    public long drainedCount() {
        return drained;
    }

    /**
     * True while the reader waits with nothing left to read. "Waiting" alone is not enough: a
     * reader parked in poll may not have run yet although the kernel has queued datagrams (or an
     * overrun) since, e.g. right after the daemon was stopped and continued; the socket is looked
     * at too (poll with no timeout, safe from any thread).
     */
    public boolean readerWaiting() {
        return waiting && !hasPendingInput();
    }

    /** Whether a datagram or an error (ENOBUFS: messages were dropped) is queued on the socket now. */
    private boolean hasPendingInput() {
        synchronized (closeLock) {
            if (closed) {
                return false;
            }
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment one = tmp.allocate(8, 4);
                one.set(JAVA_INT, 0, fd);
                one.set(JAVA_SHORT, 4, Libc.POLLIN);
                return Libc.pollOrErrno(one, 1, 0) > 0 && one.get(JAVA_SHORT, 6) != 0;
            }
        }
    }

    /**
     * Runs {@code r} on the reader's thread each time {@link #receive} finds nothing left to read
     * and is about to wait: everything queued so far has been handed out.
     */
    public void onDrained(Runnable r) {
        onDrained = r;
    }

    /** Sends one message to the kernel (port 0). */
    public void send(MemorySegment message, long length) throws SyscallException {
        ensureOpen();
        Libc.sendto(fd, message, length, kernelAddress);
    }

    /**
     * Receives one datagram into {@code buffer}. Returns its length, {@link #TIMEOUT} when the receive
     * timeout passed or {@link #wakeUp()} was called, or {@link #OVERRUN} when the kernel reports
     * ENOBUFS (messages were dropped). A datagram longer than the buffer is truncated by the kernel;
     * callers size buffers for the largest message they expect.
     */
    public int receive(MemorySegment buffer) throws SyscallException {
        return receive(buffer, timeoutMillis);
    }

    /** As {@link #receive(MemorySegment)}, waiting at most {@code waitMillis} (0: no limit). */
    public int receive(MemorySegment buffer, int waitMillis) throws SyscallException {
        while (true) {
            ensureOpen();
            // Non-blocking first: under a stream of events every call finds a datagram and costs one
            // syscall; poll is only entered when there is nothing to read.
            long n = Libc.recvOrErrno(fd, buffer, buffer.byteSize(), Libc.MSG_DONTWAIT);
            if (n >= 0) {
                return (int) n;
            }
            int errno = (int) -n;
            switch (errno) {
                case Errno.EINTR -> {
                    continue;
                }
                case Errno.EAGAIN -> {
                    onDrained.run();
                    drained++;
                    waiting = true;
                    boolean readable;
                    try {
                        readable = awaitReadable(waitMillis);
                    } finally {
                        waiting = false;
                    }
                    if (!readable) {
                        return TIMEOUT;
                    }
                }
                case Errno.ENOBUFS -> {
                    return OVERRUN;
                }
                default -> {
                    throw new SyscallException("recv(" + protocolName(protocol) + ")", errno, null);
                }
            }
        }
    }

    /** True when the socket has something to read (or an error to report); false on timeout or wake-up. */
    private boolean awaitReadable(int waitMillis) throws SyscallException {
        pollFds.set(JAVA_SHORT, 6, (short) 0);
        pollFds.set(JAVA_SHORT, 14, (short) 0);
        int rc = Libc.pollOrErrno(pollFds, 2, waitMillis > 0 ? waitMillis : -1);
        if (rc == -Errno.EINTR) {
            return true; // recv again: it finds a message or sends us back here
        }
        if (rc < 0) {
            throw new SyscallException("poll(" + protocolName(protocol) + ")", -rc, null);
        }
        if (rc == 0) {
            return false;
        }
        if (pollFds.get(JAVA_SHORT, 14) != 0) {
            Libc.eventfdDrain(wakeFd); // woken: the owner wants its loop to look at its stop flag
            return false;
        }
        return true;
    }

    private void ensureOpen() throws SyscallException {
        if (closed) {
            throw new SyscallException("netlink socket", Errno.EBADF, "socket already closed");
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            Libc.closeQuietly(fd);
            Libc.closeQuietly(wakeFd);
        }
        // The arena holds only the kernel address and the poll array; it is freed with the socket.
        arena.close();
    }
}
