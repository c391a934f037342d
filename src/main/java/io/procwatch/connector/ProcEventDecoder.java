package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.event.WaitStatus;
import io.procwatch.netlink.Netlink;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

import static io.procwatch.connector.CnProc.*;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Turns proc connector datagrams into {@link ConnectorEvent}s.
 *
 * <p>Besides decoding, it watches the per-CPU sequence numbers the kernel stamps on every event
 * (cn_msg.seq counts events per CPU, for all listeners alike). A jump means the kernel sent events
 * this socket never received, reported as a {@link Loss}. The check is only sound when the kernel
 * sends us every event, i.e. when no kernel-side filter is installed.
 *
 * <p>Not thread-safe: one decoder per reader thread.
 */
public final class ProcEventDecoder {
    /** Receives the acknowledgement the kernel sends for a LISTEN/IGNORE request. */
    public interface AckSink {
        void onAck(int seq, int ack, int err);
    }

    private static final int FORK = 0x00000001;
    private static final int EXEC = 0x00000002;
    private static final int UID = 0x00000004;
    private static final int GID = 0x00000040;
    private static final int SID = 0x00000080;
    private static final int PTRACE = 0x00000100;
    private static final int COMM = 0x00000200;
    private static final int COREDUMP = 0x40000000;
    private static final int EXIT = 0x80000000;
    private static final int NONZERO_EXIT = 0x20000000;

    private final boolean trackSequence;
    private final int acceptMask;
    private long[] lastSeq = new long[0];
    private long malformed;
    private long unknown;

    /**
     * @param trackSequence report sequence gaps (only when the kernel delivers every event)
     * @param acceptMask    {@link io.procwatch.event.EventType} bits to deliver; others are dropped
     *                      here (for kernels that cannot filter)
     */
    public ProcEventDecoder(boolean trackSequence, int acceptMask) {
        this.trackSequence = trackSequence;
        this.acceptMask = acceptMask;
    }

    public long malformedMessages() {
        return malformed;
    }

    public long unknownEvents() {
        return unknown;
    }

    /**
     * Decodes every netlink message in {@code buf[0, length)} and hands the results to
     * {@code sink} (and acknowledgements to {@code acks}, which may be null).
     *
     * @return how many {@link ConnectorEvent}s were delivered
     */
    public int decode(MemorySegment buf, int length, Consumer<? super ConnectorEvent> sink, AckSink acks) {
        int delivered = 0;
        int off = 0;
        while (length - off >= Netlink.NLMSG_HDRLEN) {
            int msgLen = buf.get(JAVA_INT_UNALIGNED, off);
            int type = buf.get(JAVA_SHORT_UNALIGNED, off + 4) & 0xffff;
            if (msgLen < Netlink.NLMSG_HDRLEN || msgLen > length - off) {
                delivered += malformed(sink);
                return delivered;
            }
            if (type == Netlink.NLMSG_OVERRUN) {
                sink.accept(new Loss(Loss.Reason.OVERRUN, -1, -1));
                delivered++;
            } else if (type != Netlink.NLMSG_NOOP && type != Netlink.NLMSG_ERROR) {
                delivered += decodeOne(buf.asSlice(off, msgLen), msgLen, sink, acks);
            }
            off += Netlink.align(msgLen);
        }
        if (off < length) {
            delivered += malformed(sink);
        }
        return delivered;
    }

    private int malformed(Consumer<? super ConnectorEvent> sink) {
        malformed++;
        sink.accept(new Loss(Loss.Reason.MALFORMED, 1, -1));
        return 1;
    }

    private int decodeOne(MemorySegment m, int msgLen, Consumer<? super ConnectorEvent> sink, AckSink acks) {
        if (msgLen < EVENT + EVENT_HEADER
                || m.get(JAVA_INT_UNALIGNED, CN_IDX) != CN_IDX_PROC
                || m.get(JAVA_INT_UNALIGNED, CN_VAL) != CN_VAL_PROC) {
            return malformed(sink);
        }
        int dataLen = m.get(JAVA_SHORT_UNALIGNED, CN_LEN) & 0xffff;
        if (dataLen < EVENT_HEADER || EVENT + dataLen > msgLen) {
            return malformed(sink);
        }
        int what = m.get(JAVA_INT_UNALIGNED, EV_WHAT);
        int cpu = m.get(JAVA_INT_UNALIGNED, EV_CPU);
        long ts = m.get(JAVA_LONG_UNALIGNED, EV_TIMESTAMP);
        int union = dataLen - EVENT_HEADER;
        int seq = m.get(JAVA_INT_UNALIGNED, CN_SEQ);

        int delivered = 0;
        if (trackSequence) {
            // Before the ack branch: the kernel's acknowledgement of any listener's LISTEN or
            // IGNORE reaches every listener and takes a number from the same per-CPU sequence.
            // Skipping its number would make the next event on that CPU look like a loss.
            delivered += checkSequence(cpu, seq, sink);
        }
        if (what == PROC_EVENT_NONE) {
            if (union < 4) {
                return delivered + malformed(sink);
            }
            if (acks != null) {
                acks.onAck(seq, m.get(JAVA_INT_UNALIGNED, CN_ACK), m.get(JAVA_INT_UNALIGNED, EV_DATA));
            }
            return delivered;
        }
        int need = unionBytes(what);
        if (need < 0) {
            unknown++; // a kind newer than this decoder: skipped, counted, not a loss
            return delivered;
        }
        if (union < need) {
            return delivered + malformed(sink);
        }
        ProcEvent event = switch (what) {
            case FORK -> new ProcEvent.Fork(ts, cpu, i(m, 0), i(m, 4), i(m, 8), i(m, 12));
            case EXEC -> new ProcEvent.Exec(ts, cpu, i(m, 0), i(m, 4));
            case UID -> new ProcEvent.UidChange(ts, cpu, i(m, 0), i(m, 4), i(m, 8), i(m, 12));
            case GID -> new ProcEvent.GidChange(ts, cpu, i(m, 0), i(m, 4), i(m, 8), i(m, 12));
            case SID -> new ProcEvent.SidChange(ts, cpu, i(m, 0), i(m, 4));
            case PTRACE -> new ProcEvent.Ptrace(ts, cpu, i(m, 0), i(m, 4), i(m, 8), i(m, 12));
            case COMM -> new ProcEvent.CommChange(ts, cpu, i(m, 0), i(m, 4), comm(m, EV_DATA + 8));
            case COREDUMP -> new ProcEvent.Coredump(ts, cpu, i(m, 0), i(m, 4), i(m, 8), i(m, 12));
            // Kernels before 4.18 send exit without the parent fields: those read as -1 (unknown).
            default -> new ProcEvent.Exit(ts, cpu, i(m, 0), i(m, 4), new WaitStatus(i(m, 8)), i(m, 12),
                    union >= 24 ? i(m, 16) : -1, union >= 24 ? i(m, 20) : -1);
        };
        if (accepts(what, event)) {
            sink.accept(event);
            delivered++;
        }
        return delivered;
    }

    /** The kernel's filter rule (cn_filter): NONZERO_EXIT admits an EXIT whose status is not 0. */
    private boolean accepts(int what, ProcEvent event) {
        if ((what & acceptMask) != 0) {
            return true;
        }
        return what == EXIT && (acceptMask & NONZERO_EXIT) != 0
                && ((ProcEvent.Exit) event).status().raw() != 0;
    }

    /** Bytes of event_data each kind needs at least, or -1 for a kind this decoder does not know. */
    private static int unionBytes(int what) {
        return switch (what) {
            case EXEC, SID -> 8;
            case FORK, UID, GID, PTRACE, COREDUMP, EXIT -> 16;
            case COMM -> 24;
            default -> -1;
        };
    }

    private int checkSequence(int cpu, int seq, Consumer<? super ConnectorEvent> sink) {
        if (cpu < 0 || cpu > 65535) {
            return 0;
        }
        if (cpu >= lastSeq.length) {
            int old = lastSeq.length;
            lastSeq = Arrays.copyOf(lastSeq, Math.max(cpu + 1, old * 2));
            Arrays.fill(lastSeq, old, lastSeq.length, -1L);
        }
        long prev = lastSeq[cpu];
        long now = seq & 0xffffffffL;
        lastSeq[cpu] = now;
        if (prev < 0) {
            return 0;
        }
        long gap = (now - prev - 1) & 0xffffffffL;
        // A gap in the upper half of the 32-bit space is a reordering or a restart, not a loss.
        if (gap == 0 || gap >= 0x80000000L) {
            return 0;
        }
        sink.accept(new Loss(Loss.Reason.SEQUENCE_GAP, gap, cpu));
        return 1;
    }

    private static int i(MemorySegment m, int unionOffset) {
        return m.get(JAVA_INT_UNALIGNED, EV_DATA + unionOffset);
    }

    private static String comm(MemorySegment m, int off) {
        byte[] b = new byte[16];
        MemorySegment.copy(m, java.lang.foreign.ValueLayout.JAVA_BYTE, off, b, 0, 16);
        int n = 0;
        while (n < 16 && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }
}
