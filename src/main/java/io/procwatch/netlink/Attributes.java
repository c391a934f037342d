package io.procwatch.netlink;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Walks netlink attributes (struct nlattr: len u16, type u16, payload, padded to 4 bytes) in a
 * region of a message. Bounds are checked against the region: a lying length ends the walk.
 */
public final class Attributes {
    private final MemorySegment seg;
    private final int end;
    private int next;
    private int type;
    private int payloadOffset;
    private int payloadLength;

    public Attributes(MemorySegment seg, int start, int end) {
        this.seg = seg;
        this.next = start;
        this.end = (int) Math.min(end, seg.byteSize());
    }

    /** Moves to the next attribute; false at the end of the region or at a malformed header. */
    public boolean next() {
        if (end - next < Netlink.NLA_HDRLEN) {
            return false;
        }
        int len = seg.get(JAVA_SHORT_UNALIGNED, next) & 0xffff;
        if (len < Netlink.NLA_HDRLEN || len > end - next) {
            next = end;
            return false;
        }
        type = (seg.get(JAVA_SHORT_UNALIGNED, next + 2) & 0xffff) & Netlink.NLA_TYPE_MASK;
        payloadOffset = next + Netlink.NLA_HDRLEN;
        payloadLength = len - Netlink.NLA_HDRLEN;
        next += Netlink.align(len);
        return true;
    }

    public int type() {
        return type;
    }

    public int payloadOffset() {
        return payloadOffset;
    }

    public int payloadLength() {
        return payloadLength;
    }

    public int u16() {
        return seg.get(JAVA_SHORT_UNALIGNED, payloadOffset) & 0xffff;
    }

    public int u32() {
        return seg.get(JAVA_INT_UNALIGNED, payloadOffset);
    }

    /** The attributes nested inside the current one. */
    public Attributes nested() {
        return new Attributes(seg, payloadOffset, payloadOffset + payloadLength);
    }

    /** Appends one attribute at {@code off}; returns the offset after it (aligned). */
    public static int put(MemorySegment m, int off, int type, byte[] payload) {
        int len = Netlink.NLA_HDRLEN + payload.length;
        m.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, off, (short) len);
        m.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, off + 2, (short) type);
        MemorySegment.copy(payload, 0, m, java.lang.foreign.ValueLayout.JAVA_BYTE, off + Netlink.NLA_HDRLEN,
                payload.length);
        for (int i = len; i < Netlink.align(len); i++) {
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + i, (byte) 0);
        }
        return off + Netlink.align(len);
    }
}
