package io.procwatch.netlink;

/** Netlink message framing constants from {@code linux/netlink.h}. */
public final class Netlink {
    public static final int NLMSG_HDRLEN = 16;
    public static final int NLMSG_NOOP = 1;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLMSG_OVERRUN = 4;
    public static final int NLM_F_REQUEST = 1;
    public static final int NLM_F_ACK = 4;
    public static final int NLA_HDRLEN = 4;
    public static final int NLA_TYPE_MASK = 0x3fff;

    private Netlink() {
    }

    /** NLMSG_ALIGN / NLA_ALIGN: round up to 4 bytes. */
    public static int align(int len) {
        return (len + 3) & ~3;
    }
}
