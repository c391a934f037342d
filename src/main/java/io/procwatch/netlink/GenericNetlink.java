package io.procwatch.netlink;

import io.procwatch.sys.Errno;
import io.procwatch.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Generic netlink request/response over one socket: build a request (nlmsghdr + genlmsghdr +
 * attributes), send it, read replies until one answers our sequence number.
 */
public final class GenericNetlink {
    public static final int GENL_HDRLEN = 4;
    /** Attributes start after nlmsghdr + genlmsghdr. */
    public static final int ATTRS = Netlink.NLMSG_HDRLEN + GENL_HDRLEN;

    private static final int GENL_ID_CTRL = 0x10;
    private static final int CTRL_CMD_GETFAMILY = 3;
    private static final int CTRL_ATTR_FAMILY_ID = 1;
    private static final int CTRL_ATTR_FAMILY_NAME = 2;

    private final NetlinkSocket socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment tx = arena.allocate(512, 8);
    private final MemorySegment rx = arena.allocate(16384, 8);
    private int seq;

    public GenericNetlink(NetlinkSocket socket) {
        this.socket = socket;
    }

    public NetlinkSocket socket() {
        return socket;
    }

    /** Resolves a generic netlink family name (e.g. "TASKSTATS") to its id. */
    public int resolveFamily(String name) throws SyscallException {
        byte[] nameZ = Arrays.copyOf(name.getBytes(StandardCharsets.US_ASCII), name.length() + 1);
        MemorySegment reply = request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, CTRL_ATTR_FAMILY_NAME, nameZ);
        Attributes a = new Attributes(reply, ATTRS, (int) reply.byteSize());
        while (a.next()) {
            if (a.type() == CTRL_ATTR_FAMILY_ID) {
                return a.u16();
            }
        }
        throw new SyscallException("genl resolve " + name, Errno.ENOENT, "no family id in reply");
    }

    /**
     * Sends one request with a single attribute and returns the reply message (valid until the
     * next call). A netlink error reply becomes a SyscallException with the kernel's errno.
     */
    public MemorySegment request(int family, int cmd, int version, int attrType, byte[] attr)
            throws SyscallException {
        return request(family, cmd, version, attrType, attr, false);
    }

    /**
     * As {@link #request(int, int, int, int, byte[])}; with {@code ack} the kernel confirms a command
     * that has no reply of its own (NLM_F_ACK), and the confirmation is returned.
     */
    public MemorySegment request(int family, int cmd, int version, int attrType, byte[] attr, boolean ack)
            throws SyscallException {
        int s = ++seq;
        int end = Attributes.put(tx, ATTRS, attrType, attr);
        tx.set(JAVA_INT, 0, end);
        tx.set(JAVA_SHORT, 4, (short) family);
        tx.set(JAVA_SHORT, 6, (short) (Netlink.NLM_F_REQUEST | (ack ? Netlink.NLM_F_ACK : 0)));
        tx.set(JAVA_INT, 8, s);
        tx.set(JAVA_INT, 12, socket.portId());
        tx.set(JAVA_BYTE, 16, (byte) cmd);
        tx.set(JAVA_BYTE, 17, (byte) version);
        tx.set(JAVA_SHORT, 18, (short) 0);
        socket.send(tx, end);
        long deadline = System.nanoTime() + 2_000_000_000L;
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            int n = socket.receive(rx, (int) Math.max(1, left / 1_000_000L));
            if (n <= 0) {
                continue; // timeout or an overrun of unrelated multicast: keep waiting for our reply
            }
            int off = 0;
            while (n - off >= Netlink.NLMSG_HDRLEN) {
                int len = rx.get(JAVA_INT_UNALIGNED, off);
                if (len < Netlink.NLMSG_HDRLEN || len > n - off) {
                    break;
                }
                int type = rx.get(JAVA_SHORT_UNALIGNED, off + 4) & 0xffff;
                int rseq = rx.get(JAVA_INT_UNALIGNED, off + 8);
                if (rseq == s) {
                    if (type == Netlink.NLMSG_ERROR) {
                        int err = -rx.get(JAVA_INT_UNALIGNED, off + 16);
                        if (err == 0) {
                            return rx.asSlice(off, len);
                        }
                        throw new SyscallException("genl request (family " + family + ", cmd " + cmd + ")",
                                err, null);
                    }
                    return rx.asSlice(off, len);
                }
                off += Netlink.align(len);
            }
        }
        throw new SyscallException("genl request (family " + family + ", cmd " + cmd + ")", Errno.EAGAIN,
                "no reply from the kernel within 2 s");
    }

    public void close() {
        socket.close();
        arena.close();
    }
}
