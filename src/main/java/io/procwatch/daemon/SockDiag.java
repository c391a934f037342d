package io.procwatch.daemon;

import io.procwatch.netlink.NetlinkSocket;
import io.procwatch.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The owner of one TCP socket, asked of the kernel by its exact ends (NETLINK_SOCK_DIAG,
 * SOCK_DIAG_BY_FAMILY without a dump): the kernel looks up that one socket in its connection
 * hash, where reading /proc/net/tcp formats every socket on the machine (thousands under an
 * attack that churns connections, each lookup then costing milliseconds). The answer is the same
 * uid column /proc/net/tcp shows (the socket's creator), with the socket's state, which must be
 * ESTABLISHED: the hash also holds TIME_WAIT entries, owned by nobody (uid 0).
 */
final class SockDiag {
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLMSG_ERROR = 2;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_ESTABLISHED = 1;
    /** nlmsghdr (16) + inet_diag_req_v2 (8 + inet_diag_sockid 48). */
    private static final int REQUEST = 16 + 56;
    private static final int NOT_ESTABLISHED = -1;

    private SockDiag() {
    }

    /** What the kernel said about the socket. */
    sealed interface Answer {
        /** The socket exists and is ESTABLISHED; its owner. */
        record Owner(long uid) implements Answer {
        }

        /** No such socket, or not ESTABLISHED (a TIME_WAIT left behind): nobody to believe. */
        record Nobody() implements Answer {
        }
    }

    /**
     * The socket whose local end is {@code src} and remote end {@code dst}. Throws when the
     * mechanism itself failed (no sock_diag in this kernel, an answer we cannot read): then the
     * caller reads /proc/net/tcp instead.
     */
    static Answer owner(InetSocketAddress src, InetSocketAddress dst) throws SyscallException {
        boolean v4 = src.getAddress() instanceof Inet4Address && dst.getAddress() instanceof Inet4Address;
        try (NetlinkSocket nl = NetlinkSocket.open(NETLINK_SOCK_DIAG, 0); Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(REQUEST, 4);
            req.set(JAVA_INT, 0, REQUEST);
            req.set(JAVA_SHORT, 4, (short) SOCK_DIAG_BY_FAMILY);
            req.set(JAVA_SHORT, 6, (short) NLM_F_REQUEST);
            req.set(JAVA_INT, 8, 1); // seq
            req.set(JAVA_BYTE, 16, (byte) (v4 ? AF_INET : AF_INET6));
            req.set(JAVA_BYTE, 17, (byte) IPPROTO_TCP);
            req.set(JAVA_INT, 20, 1 << TCP_ESTABLISHED); // idiag_states (a lookup by ends ignores it)
            // inet_diag_sockid at 24: sport, dport (network order), src[4], dst[4] (u32 each), if, cookie
            req.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 24, (short) src.getPort());
            req.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 26, (short) dst.getPort());
            MemorySegment.copy(MemorySegment.ofArray(address(src, v4)), 0, req, 28, v4 ? 4 : 16);
            MemorySegment.copy(MemorySegment.ofArray(address(dst, v4)), 0, req, 44, v4 ? 4 : 16);
            req.set(JAVA_INT, 60, 0); // any interface
            req.set(JAVA_INT, 64, -1); // INET_DIAG_NOCOOKIE
            req.set(JAVA_INT, 68, -1);
            nl.send(req, REQUEST);
            MemorySegment buf = arena.allocate(8192, 8);
            int n = nl.receive(buf, 2000);
            if (n < 16) {
                throw new SyscallException("sock_diag", 0, "no answer from the kernel");
            }
            int len = buf.get(JAVA_INT, 0);
            int type = buf.get(JAVA_SHORT, 4) & 0xffff;
            if (type == NLMSG_ERROR && n >= 20) {
                int err = -buf.get(JAVA_INT, 16);
                if (err == io.procwatch.sys.Errno.ENOENT) {
                    // no such socket, or (the same code) no inet_diag in this kernel: the caller
                    // asks /proc/net/tcp then, which tells the two apart
                    throw new SyscallException("sock_diag", err, "no such socket, or no inet_diag");
                }
                throw new SyscallException("sock_diag", err, null);
            }
            if (type != SOCK_DIAG_BY_FAMILY || len < 16 + 72 || n < 16 + 72) {
                throw new SyscallException("sock_diag", 0, "unexpected answer type " + type);
            }
            int state = buf.get(JAVA_BYTE, 17) & 0xff;
            int sport = buf.get(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 20) & 0xffff;
            int dport = buf.get(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 22) & 0xffff;
            if (sport != src.getPort() || dport != dst.getPort()) {
                throw new SyscallException("sock_diag", 0, "the answer is about another socket");
            }
            if (state != TCP_ESTABLISHED) {
                return new Answer.Nobody();
            }
            return new Answer.Owner(Integer.toUnsignedLong(buf.get(JAVA_INT, 16 + 64)));
        }
    }

    /** The address as the kernel's u32 words hold it: network byte order; IPv4 in tcp6 form if need be. */
    private static byte[] address(InetSocketAddress a, boolean v4) {
        byte[] b = a.getAddress().getAddress();
        if (v4 || b.length == 16) {
            return b;
        }
        byte[] mapped = new byte[16]; // ::ffff:a.b.c.d
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        System.arraycopy(b, 0, mapped, 12, 4);
        return mapped;
    }
}
