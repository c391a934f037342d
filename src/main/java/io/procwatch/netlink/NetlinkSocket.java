package io.procwatch.netlink;

import io.procwatch.sys.Errno;
import io.procwatch.sys.Libc;
import io.procwatch.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A netlink datagram socket (AF_NETLINK), bound with a kernel-assigned port id.
 *
 * <p>Not thread-safe: one thread owns it. Do not {@link #close()} it while another thread is inside
 * {@link #receive}: the descriptor number could be reused under that thread's feet. Owners stop
 * their reader (which wakes at its receive timeout) and close afterwards.
 */
public final class NetlinkSocket implements AutoCloseable {
    public static final int NETLINK_GENERIC = 16;
    public static final int NETLINK_CONNECTOR = 11;

    /** {@link #receive} result: the timeout passed with nothing to read. */
    public static final int TIMEOUT = 0;
    /** {@link #receive} result: the kernel dropped messages because the receive buffer was full. */
    public static final int OVERRUN = -1;

    private final int fd;
    private final int protocol;
    private final int portId;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment kernelAddress;
    private boolean closed;

    private NetlinkSocket(int fd, int protocol, int portId) {
        this.fd = fd;
        this.protocol = protocol;
        this.portId = portId;
        this.kernelAddress = sockaddr(arena, 0, 0);
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
        try (Arena tmp = Arena.ofConfined()) {
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
            return new NetlinkSocket(fd, protocol, addr.get(JAVA_INT, 4));
        } catch (SyscallException | RuntimeException e) {
            closeQuietly(fd);
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

    /** Makes {@link #receive} return {@link #TIMEOUT} after this long without a message. */
    public void setReceiveTimeout(int millis) throws SyscallException {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment tv = tmp.allocate(16, 8);
            tv.set(JAVA_LONG, 0, millis / 1000);
            tv.set(JAVA_LONG, 8, (millis % 1000) * 1000L);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, tv);
        }
    }

    /** Sends one message to the kernel (port 0). */
    public void send(MemorySegment message, long length) throws SyscallException {
        ensureOpen();
        Libc.sendto(fd, message, length, kernelAddress);
    }

    /**
     * Receives one datagram into {@code buffer}. Returns its length, {@link #TIMEOUT} when the receive
     * timeout passed, or {@link #OVERRUN} when the kernel reports ENOBUFS (messages were dropped).
     * A datagram longer than the buffer is truncated by the kernel; callers size buffers for the
     * largest message they expect.
     */
    public int receive(MemorySegment buffer) throws SyscallException {
        while (true) {
            ensureOpen();
            long n = Libc.recvOrErrno(fd, buffer, buffer.byteSize(), 0);
            if (n >= 0) {
                return (int) n;
            }
            int errno = (int) -n;
            switch (errno) {
                case Errno.EINTR -> {
                    continue;
                }
                case Errno.EAGAIN -> {
                    return TIMEOUT;
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
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(fd);
        // The arena holds only the kernel address; it is freed with the socket.
        arena.close();
    }

    private static void closeQuietly(int fd) {
        try {
            Libc.close(fd);
        } catch (SyscallException ignored) {
            // nothing useful to do: the descriptor is gone either way
        }
    }
}
