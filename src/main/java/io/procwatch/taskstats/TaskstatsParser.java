package io.procwatch.taskstats;

import io.procwatch.event.WaitStatus;
import io.procwatch.netlink.Attributes;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Reads {@code struct taskstats} by offset. New kernel versions only append fields, so a field is
 * read when the payload is long enough to hold it; older records leave it 0. Offsets are those of
 * the C struct (x86-64 alignment rules, checked against the kernel header with offsetof).
 */
final class TaskstatsParser {
    static final int TYPE_PID = 1;
    static final int TYPE_TGID = 2;
    static final int TYPE_STATS = 3;
    static final int TYPE_AGGR_PID = 4;
    static final int TYPE_AGGR_TGID = 5;

    private TaskstatsParser() {
    }

    /** Calls {@code sink} for each AGGR_PID / AGGR_TGID record found in the message's attributes. */
    static void parse(MemorySegment msg, int attrsStart, java.util.function.Consumer<Taskstats> sink) {
        Attributes top = new Attributes(msg, attrsStart, (int) msg.byteSize());
        while (top.next()) {
            if (top.type() != TYPE_AGGR_PID && top.type() != TYPE_AGGR_TGID) {
                continue; // TASKSTATS_TYPE_NULL padding, or something newer
            }
            boolean aggregate = top.type() == TYPE_AGGR_TGID;
            Attributes inner = top.nested();
            int id = 0;
            int statsAt = -1;
            int statsLen = 0;
            while (inner.next()) {
                if ((inner.type() == TYPE_PID || inner.type() == TYPE_TGID) && inner.payloadLength() >= 4) {
                    id = inner.u32();
                } else if (inner.type() == TYPE_STATS) {
                    statsAt = inner.payloadOffset();
                    statsLen = inner.payloadLength();
                }
            }
            if (statsAt >= 0) {
                sink.accept(read(msg, statsAt, statsLen, aggregate, id));
            }
        }
    }

    /**
     * @param id the thread or process id the kernel sent beside the record (an aggregate record's
     *           own ac_pid is not filled in, so the id attribute is the one to trust)
     */
    static Taskstats read(MemorySegment m, int base, int len, boolean aggregate, int id) {
        Reader r = new Reader(m, base, len);
        return new Taskstats(
                r.u16(0), aggregate, id != 0 ? id : r.u32(128), r.u32(132), r.u32(120), r.u32(124), r.comm(80),
                new WaitStatus(r.u32(4)), r.u8(8), (byte) r.u8(9),
                len >= 352 ? r.u64(344) : Integer.toUnsignedLong(r.u32(136)),
                r.u64(144), r.u64(152), r.u64(160), r.u64(168), r.u64(176),
                r.u64(200), r.u64(208), r.u64(216), r.u64(224), r.u64(232), r.u64(240),
                r.u64(248), r.u64(256), r.u64(264), r.u64(272), r.u64(280),
                aggregate ? (id != 0 ? id : 0) : len >= 372 ? r.u32(368) : 0);
    }

    private record Reader(MemorySegment m, int base, int len) {
        int u8(int off) {
            return off + 1 <= len ? m.get(JAVA_BYTE, base + off) & 0xff : 0;
        }

        int u16(int off) {
            return off + 2 <= len ? m.get(JAVA_SHORT_UNALIGNED, base + off) & 0xffff : 0;
        }

        int u32(int off) {
            return off + 4 <= len ? m.get(JAVA_INT_UNALIGNED, base + off) : 0;
        }

        long u64(int off) {
            return off + 8 <= len ? m.get(JAVA_LONG_UNALIGNED, base + off) : 0;
        }

        String comm(int off) {
            if (off + 32 > len) {
                return "";
            }
            int n = 0;
            while (n < 32 && m.get(JAVA_BYTE, base + off + n) != 0) {
                n++;
            }
            byte[] b = new byte[n];
            MemorySegment.copy(m, JAVA_BYTE, base + off, b, 0, n);
            return new String(b, StandardCharsets.UTF_8);
        }
    }
}
