package io.procwatch.connector;

import io.procwatch.event.ConnectorEvent;
import io.procwatch.event.EventType;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.event.WaitStatus;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Decoding of datagrams captured from the real kernel (src/test/resources/golden, made by
 * {@link GoldenCapture}) and of damaged copies of them.
 */
class ProcEventDecoderTest {

    static byte[] golden(String name) throws IOException {
        try (InputStream in = ProcEventDecoderTest.class.getResourceAsStream("/golden/" + name + ".bin")) {
            return in.readAllBytes();
        }
    }

    private static List<ConnectorEvent> decode(ProcEventDecoder d, byte[] bytes) {
        List<ConnectorEvent> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(bytes.length, 1));
            seg.copyFrom(MemorySegment.ofArray(bytes));
            d.decode(seg, bytes.length, out::add, null);
        }
        return out;
    }

    private static ConnectorEvent only(byte[] bytes) {
        List<ConnectorEvent> out = decode(new ProcEventDecoder(false, -1), bytes);
        assertThat(out).hasSize(1);
        return out.getFirst();
    }

    @Test
    void everyEventKindDecodesToItsFields() throws IOException {
        assertThat(only(golden("fork"))).isEqualTo(new ProcEvent.Fork(789803286943L, 0, 19090, 19089, 19108, 19108));
        assertThat(only(golden("exec"))).isEqualTo(new ProcEvent.Exec(789804269361L, 1, 19108, 19108));
        assertThat(only(golden("uid"))).isEqualTo(new ProcEvent.UidChange(789813986830L, 1, 19108, 19108, 65534, 65534));
        assertThat(only(golden("gid"))).isEqualTo(new ProcEvent.GidChange(789813996529L, 1, 19108, 19108, 65534, 65534));
        assertThat(only(golden("sid"))).isEqualTo(new ProcEvent.SidChange(789823202800L, 1, 19108, 19108));
        assertThat(only(golden("exit"))).isEqualTo(new ProcEvent.Exit(789827853852L, 1, 19108, 19108,
                new WaitStatus(3 << 8), 17, 19090, 19089));
        assertThat(only(golden("coredump"))).isEqualTo(new ProcEvent.Coredump(789841864139L, 1, 19110, 19110, 19090, 19089));
        assertThat(only(golden("comm"))).isEqualTo(new ProcEvent.CommChange(790062307064L, 1, 19114, 19089, "golden-comm"));
        assertThat(only(golden("ptrace"))).isEqualTo(new ProcEvent.Ptrace(790193512877L, 1, 19111, 19111, 19113, 19113));
    }

    @Test
    void everyTruncationIsReportedAsMalformedNeverThrown() throws IOException {
        for (String name : List.of("fork", "exec", "uid", "gid", "sid", "ptrace", "comm", "coredump", "exit")) {
            byte[] full = golden(name);
            for (int len = 1; len < full.length; len++) {
                byte[] cut = Arrays.copyOf(full, len);
                ProcEventDecoder d = new ProcEventDecoder(true, -1);
                List<ConnectorEvent> out = decode(d, cut);
                assertThat(out).as("%s cut to %d bytes", name, len)
                        .allMatch(e -> e instanceof Loss l && l.reason() == Loss.Reason.MALFORMED);
                assertThat(d.malformedMessages()).as("%s cut to %d", name, len).isEqualTo(out.size());
            }
        }
    }

    @Test
    void lyingLengthsAndForeignConnectorsAreMalformed() throws IOException {
        byte[] b = golden("exit");
        byte[] longNl = b.clone();
        putInt(longNl, 0, 400);                       // nlmsg_len beyond the datagram
        byte[] shortNl = b.clone();
        putInt(shortNl, 0, 8);                        // nlmsg_len below the header size
        byte[] longCn = b.clone();
        putShort(longCn, CnProc.CN_LEN, 200);         // cn_msg.len beyond the message
        byte[] foreign = b.clone();
        putInt(foreign, CnProc.CN_IDX, 7);            // another connector's message
        byte[] shortExit = b.clone();
        putShort(shortExit, CnProc.CN_LEN, 16 + 12);  // exit event with a 12-byte union
        for (byte[] bad : List.of(longNl, shortNl, longCn, foreign, shortExit)) {
            assertThat(decode(new ProcEventDecoder(false, -1), bad))
                    .containsExactly(new Loss(Loss.Reason.MALFORMED, 1, -1));
        }
    }

    @Test
    void unknownEventKindsAreSkippedAndCounted() throws IOException {
        byte[] b = golden("exec");
        putInt(b, CnProc.EV_WHAT, 0x00000400); // the "next" event kind, not defined yet
        ProcEventDecoder d = new ProcEventDecoder(false, -1);
        assertThat(decode(d, b)).isEmpty();
        assertThat(d.unknownEvents()).isEqualTo(1);
        assertThat(d.malformedMessages()).isZero();
    }

    @Test
    void sequenceGapPerCpuIsMeasured() throws IOException {
        ProcEventDecoder d = new ProcEventDecoder(true, -1);
        byte[] first = golden("exec");
        putInt(first, CnProc.CN_SEQ, 100);
        byte[] next = golden("exec");
        putInt(next, CnProc.CN_SEQ, 101);
        byte[] jump = golden("exec");
        putInt(jump, CnProc.CN_SEQ, 111);
        byte[] otherCpu = golden("exec");
        putInt(otherCpu, CnProc.EV_CPU, 0);
        putInt(otherCpu, CnProc.CN_SEQ, 5000);
        assertThat(decode(d, first)).hasSize(1);
        assertThat(decode(d, next)).hasSize(1);
        assertThat(decode(d, otherCpu)).hasSize(1); // first sighting of CPU 0: a baseline, no gap
        List<ConnectorEvent> out = decode(d, jump);
        assertThat(out).hasSize(2);
        assertThat(out.getFirst()).isEqualTo(new Loss(Loss.Reason.SEQUENCE_GAP, 9, 1));
        // The 32-bit counter wraps without a false loss.
        byte[] beforeWrap = golden("exec");
        putInt(beforeWrap, CnProc.CN_SEQ, -1);
        byte[] afterWrap = golden("exec");
        putInt(afterWrap, CnProc.CN_SEQ, 0);
        decode(d, beforeWrap);
        assertThat(decode(d, afterWrap)).hasSize(1);
    }

    @Test
    void severalMessagesInOneDatagram() throws IOException {
        byte[] a = golden("fork");
        byte[] b = golden("exit");
        byte[] both = new byte[a.length + b.length]; // 76 is 4-aligned: no padding between
        System.arraycopy(a, 0, both, 0, a.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        List<ConnectorEvent> out = decode(new ProcEventDecoder(false, -1), both);
        assertThat(out).hasSize(2);
        assertThat(out.get(0)).isInstanceOf(ProcEvent.Fork.class);
        assertThat(out.get(1)).isInstanceOf(ProcEvent.Exit.class);
    }

    @Test
    void userspaceFilterFollowsTheKernelRules() throws IOException {
        byte[] ok = golden("exit");
        putInt(ok, CnProc.EV_DATA + 8, 0);
        byte[] failed = golden("exit");
        ProcEventDecoder nonzero = new ProcEventDecoder(false, EventType.NONZERO_EXIT.bit);
        assertThat(decode(nonzero, ok)).isEmpty();
        assertThat(decode(nonzero, failed)).hasSize(1);
        assertThat(decode(nonzero, golden("fork"))).isEmpty();
        ProcEventDecoder forks = new ProcEventDecoder(false, EventType.FORK.bit);
        assertThat(decode(forks, golden("fork"))).hasSize(1);
        assertThat(decode(forks, golden("exit"))).isEmpty();
    }

    @Test
    void acknowledgementsGoToTheAckSinkNotTheEventStream() throws IOException {
        byte[] ack = golden("exec");
        putInt(ack, CnProc.EV_WHAT, 0);
        putInt(ack, CnProc.CN_ACK, 42);
        putInt(ack, CnProc.EV_DATA, 1); // err = EPERM
        int[] seen = new int[2];
        List<ConnectorEvent> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(ack.length);
            seg.copyFrom(MemorySegment.ofArray(ack));
            new ProcEventDecoder(true, -1).decode(seg, ack.length, out::add, (seq, ackNo, err) -> {
                seen[0] = ackNo;
                seen[1] = err;
            });
        }
        assertThat(out).isEmpty();
        assertThat(seen).containsExactly(42, 1);
    }

    @Test
    void waitStatusDecoding() {
        assertThat(new WaitStatus(0).toString()).isEqualTo("exit 0");
        assertThat(new WaitStatus(0x300).exitCode()).isEqualTo(3);
        assertThat(new WaitStatus(9).toString()).isEqualTo("SIGKILL");
        assertThat(new WaitStatus(0x86).toString()).isEqualTo("SIGABRT (core dumped)");
        assertThat(new WaitStatus(0x86).shellStatus()).isEqualTo(134);
        assertThat(new WaitStatus(0x86).failed()).isTrue();
    }

    static void putInt(byte[] b, int off, int v) {
        ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putInt(off, v);
    }

    static void putShort(byte[] b, int off, int v) {
        ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putShort(off, (short) v);
    }
}
