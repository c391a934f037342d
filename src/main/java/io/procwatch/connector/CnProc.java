package io.procwatch.connector;

/**
 * Wire layout of proc connector messages ({@code linux/connector.h}, {@code linux/cn_proc.h}).
 *
 * <pre>
 *  0  nlmsghdr   len u32, type u16, flags u16, seq u32, pid u32
 * 16  cn_msg     idx u32, val u32, seq u32, ack u32, len u16, flags u16
 * 36  proc_event what u32, cpu u32, timestamp_ns u64, event_data (union, up to 24 bytes)
 * </pre>
 * The proc_event starts at byte 36, so its u64 timestamp is not 8-aligned in the datagram:
 * every read uses unaligned layouts.
 */
final class CnProc {
    static final int CN_IDX_PROC = 1;
    static final int CN_VAL_PROC = 1;

    static final int CN_MSG_OFFSET = 16;
    static final int CN_MSG_SIZE = 20;
    static final int CN_IDX = 16;
    static final int CN_VAL = 20;
    static final int CN_SEQ = 24;
    static final int CN_ACK = 28;
    static final int CN_LEN = 32;

    static final int EVENT = 36;
    static final int EV_WHAT = EVENT;
    static final int EV_CPU = EVENT + 4;
    static final int EV_TIMESTAMP = EVENT + 8;
    static final int EV_DATA = EVENT + 16;
    /** what + cpu + timestamp: the bytes every event has before its union. */
    static final int EVENT_HEADER = 16;

    static final int PROC_CN_MCAST_LISTEN = 1;
    static final int PROC_CN_MCAST_IGNORE = 2;

    static final int PROC_EVENT_NONE = 0;

    /** The largest datagram the connector sends is ~92 bytes; a page holds several batched ones. */
    static final int RECEIVE_BUFFER = 8192;

    private CnProc() {
    }
}
