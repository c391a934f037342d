package io.procwatch.protocol;

import io.procwatch.client.ProcRow;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Golden byte vectors, written by hand from docs/protocol.md (little-endian header of 16 bytes,
 * attributes len u16 | type u16 | payload padded to 4). Each is encoded and compared, and decoded.
 */
class WireFormatTest {
    private static final HexFormat HEX = HexFormat.of();

    private static byte[] hex(String s) {
        return HEX.parseHex(s.replace(" ", ""));
    }

    private static Message read(byte[] b) throws Exception {
        return Message.read(new ByteArrayInputStream(b), Wire.MAX_MESSAGE);
    }

    @Test
    void hello() throws Exception {
        byte[] golden = hex("18000000 0100 0000 01000000 00000000  0800 0100 01000000");
        assertThat(new MessageBuilder().u32(Wire.A_VERSION, 1).build(Wire.HELLO, 0, 1).toBytes()).isEqualTo(golden);
        Message m = read(golden);
        assertThat(m.type()).isEqualTo(Wire.HELLO);
        assertThat(m.seq()).isEqualTo(1);
        Attrs a = m.attrs();
        assertThat(a.next()).isTrue();
        assertThat(a.type()).isEqualTo(Wire.A_VERSION);
        assertThat(a.u32()).isEqualTo(1);
        assertThat(a.next()).isFalse();
        assertThat(a.malformed()).isFalse();
    }

    @Test
    void snapshotWithSelectorAndFreshFlag() throws Exception {
        byte[] golden = hex("28000000 0200 0100 02000000 00000000  0c00 0300 1100000000000000"
                + "  0c00 0400 0800 0200 01000000");
        MessageBuilder b = new MessageBuilder().u64(Wire.A_GROUPS, Groups.BASE | Groups.STAT);
        Selector.all().withPids(List.of(1)).encode(b);
        assertThat(b.build(Wire.SNAPSHOT, Wire.F_FRESH, 2).toBytes()).isEqualTo(golden);
        Message m = read(golden);
        assertThat(m.has(Wire.F_FRESH)).isTrue();
        Attrs a = m.attrs();
        a.next();
        assertThat(a.u64()).isEqualTo(0x11);
        a.next();
        assertThat(Selector.decode(a.nested())).isEqualTo(Selector.all().withPids(List.of(1)));
    }

    @Test
    void processRowWithStringAndPaddedByte() throws Exception {
        byte[] golden = hex("28000000 1100 0000 02000000 00000000  0800 0100 01000000  0800 0800 696e6974"
                + "  0500 0700 53000000");
        assertThat(new MessageBuilder().u32(Wire.P_PID, 1).string(Wire.P_COMM, "init").u8(Wire.P_STATE, 'S')
                .build(Wire.PROCESS, 0, 2).toBytes()).isEqualTo(golden);
        ProcRow r = ProcRow.decode(read(golden).attrs());
        assertThat(r.pid).isEqualTo(1);
        assertThat(r.comm).isEqualTo("init");
        assertThat(r.state).isEqualTo('S');
    }

    @Test
    void argvIsNulSeparatedAndPadded() throws Exception {
        byte[] golden = hex("1c000000 1100 0000 00000000 00000000  0a00 1e00 6c73002d6c00 0000");
        assertThat(new MessageBuilder().strings(Wire.P_ARGV, List.of("ls", "-l")).build(Wire.PROCESS, 0, 0).toBytes())
                .isEqualTo(golden);
        assertThat(ProcRow.decode(read(golden).attrs()).argv).containsExactly("ls", "-l");
    }

    @Test
    void doneErrorWaitLoss() throws Exception {
        byte[] done = hex("18000000 1400 0000 02000000 00000000  0800 0100 01000000");
        assertThat(new MessageBuilder().u32(Wire.R_COUNT, 1).build(Wire.DONE, 0, 2).toBytes()).isEqualTo(done);
        byte[] error = hex("20000000 1500 0000 05000000 00000000  0800 0400 02000000  0700 0500 62616400");
        assertThat(new MessageBuilder().u32(Wire.R_ERROR_CODE, 2).string(Wire.R_ERROR_TEXT, "bad")
                .build(Wire.ERROR, 0, 5).toBytes()).isEqualTo(error);
        byte[] wait = hex("20000000 0500 0000 03000000 00000000  0800 0900 2a000000  0800 0a00 e8030000");
        assertThat(new MessageBuilder().u32(Wire.A_WAIT_PID, 42).u32(Wire.A_TIMEOUT_MS, 1000)
                .build(Wire.WAIT, 0, 3).toBytes()).isEqualTo(wait);
        byte[] loss = hex("1c000000 1600 0000 09000000 00000000  0c00 0800 0500000000000000");
        assertThat(new MessageBuilder().u64(Wire.R_LOST, 5).build(Wire.LOSS, 0, 9).toBytes()).isEqualTo(loss);
        Attrs e = read(error).attrs();
        e.next();
        e.next();
        assertThat(e.string()).isEqualTo("bad");
    }

    @Test
    void statsReplyNestsNameAndValue() throws Exception {
        // The name is 3 bytes: its attribute length is 7 (padding not counted), then one pad byte.
        byte[] golden = hex("28000000 1700 0000 04000000 00000000  1800 0900  0700 0a00 6e707200"
                + "  0c00 0b00 0300000000000000");
        assertThat(new MessageBuilder().beginNested(Wire.R_STAT).string(Wire.R_STAT_NAME, "npr")
                .u64(Wire.R_STAT_VALUE, 3).endNested().build(Wire.STATS_REPLY, 0, 4).toBytes()).isEqualTo(golden);
    }

    @Test
    void remainingRequestTypes() throws Exception {
        byte[] stats = hex("10000000 0600 0000 05000000 00000000");
        assertThat(new MessageBuilder().build(Wire.STATS, 0, 5).toBytes()).isEqualTo(stats);
        // SUBSCRIBE to exits only (bit 31), all processes (a nested selector holding S_ALL).
        byte[] subscribe = hex("20000000 0300 0000 06000000 00000000  0800 0500 00000080  0800 0400 0400 0100");
        MessageBuilder b = new MessageBuilder().u32(Wire.A_EVENT_MASK, 0x80000000);
        Selector.all().encode(b);
        assertThat(b.build(Wire.SUBSCRIBE, 0, 6).toBytes()).isEqualTo(subscribe);
        Attrs sel = read(subscribe).attrs();
        sel.next();
        sel.next();
        assertThat(Selector.decode(sel.nested()).isAll()).isTrue();
        byte[] history = hex("18000000 0400 0400 07000000 00000000  0800 0800 0a000000");
        assertThat(new MessageBuilder().u32(Wire.A_LIMIT, 10).build(Wire.HISTORY, Wire.F_FAILED, 7).toBytes())
                .isEqualTo(history);
    }

    @Test
    void interactiveRunMessages() throws Exception {
        // RUN "top" with the A_INPUT flag (22): the client sends its keys and sizes
        byte[] run = hex("1c000000 0700 0000 02000000 00000000  0700 0c00 746f7000  0400 1600");
        assertThat(new MessageBuilder().string(Wire.A_ARG, "top").flag(Wire.A_INPUT).build(Wire.RUN, 0, 2).toBytes())
                .isEqualTo(run);
        // STDIN (9): the key 'q' in R_DATA (17), padded; and the empty one that ends the input
        byte[] key = hex("18000000 0900 0000 02000000 00000000  0500 1100 71000000");
        assertThat(new MessageBuilder().bytes(Wire.R_DATA, new byte[] {'q'}).build(Wire.STDIN, 0, 2).toBytes())
                .isEqualTo(key);
        byte[] end = hex("14000000 0900 0000 02000000 00000000  0400 1100");
        assertThat(new MessageBuilder().bytes(Wire.R_DATA, new byte[0]).build(Wire.STDIN, 0, 2).toBytes())
                .isEqualTo(end);
        Attrs k = read(key).attrs();
        assertThat(k.next()).isTrue();
        assertThat(k.type()).isEqualTo(Wire.R_DATA);
        assertThat(k.bytes()).containsExactly('q');
        // WINSIZE (10): A_WINSIZE (15) u32 columns << 16 | rows, 80 x 24
        byte[] win = hex("18000000 0a00 0000 02000000 00000000  0800 0f00 18005000");
        assertThat(new MessageBuilder().u32(Wire.A_WINSIZE, 80 << 16 | 24).build(Wire.WINSIZE, 0, 2).toBytes())
                .isEqualTo(win);
        Attrs w = read(win).attrs();
        assertThat(w.next()).isTrue();
        assertThat(w.u32() >>> 16).isEqualTo(80);
        assertThat(w.u32() & 0xffff).isEqualTo(24);
    }

    @Test
    void remainingReplyTypes() throws Exception {
        byte[] helloReply = hex("20000000 1000 0000 01000000 00000000  0800 0100 01000000  0800 0c00 e8030000");
        assertThat(new MessageBuilder().u32(Wire.A_VERSION, 1).u32(Wire.R_PEER_UID, 1000)
                .build(Wire.HELLO_REPLY, 0, 1).toBytes()).isEqualTo(helloReply);
        byte[] event = hex("28000000 1200 0000 08000000 00000000  0800 5a00 00000080  0800 0100 2a000000"
                + "  0800 5c00 00030000");
        assertThat(new MessageBuilder().u32(Wire.E_KIND, 0x80000000).u32(Wire.P_PID, 42).u32(Wire.E_STATUS, 0x300)
                .build(Wire.EVENT, 0, 8).toBytes()).isEqualTo(event);
        ProcRow e = ProcRow.decode(read(event).attrs());
        assertThat(e.isEvent).isTrue();
        assertThat(e.eventKind).isEqualTo(0x80000000);
        assertThat(e.pid).isEqualTo(42);
        assertThat(e.status).isEqualTo(0x300);
        byte[] exited = hex("28000000 1300 0000 00000000 00000000  0800 0100 07000000  0400 5e00"
                + "  0c00 6000 0300000000000000");
        assertThat(new MessageBuilder().u32(Wire.P_PID, 7).flag(Wire.E_EXIT_UNOBSERVED).u64(Wire.E_SEQ, 3)
                .build(Wire.EXITED, 0, 0).toBytes()).isEqualTo(exited);
        ProcRow x = ProcRow.decode(read(exited).attrs());
        assertThat(x.exitUnobserved).isTrue();
        assertThat(x.seq).isEqualTo(3);
        assertThat(x.isEvent).isFalse();
    }

    @Test
    void unknownAttributesAreSkippedByOldReaders() throws Exception {
        // A future attribute type 4000 between two known ones.
        byte[] b = new MessageBuilder().u32(Wire.P_PID, 7).string(4000, "from the future").u32(Wire.P_PPID, 1)
                .build(Wire.PROCESS, 0, 0).toBytes();
        ProcRow r = ProcRow.decode(read(b).attrs());
        assertThat(r.pid).isEqualTo(7);
        assertThat(r.ppid).isEqualTo(1);
    }

    @Test
    void framingErrors() {
        assertThatThrownBy(() -> read(hex("08000000 0100 0000 00000000 00000000")))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("shorter than its header");
        assertThatThrownBy(() -> read(hex("13000000 0100 0000 00000000 00000000 000000")))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("multiple of 4");
        assertThatThrownBy(() -> read(hex("00000001 0100 0000 00000000 00000000")))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("exceeds the limit");
        assertThatThrownBy(() -> read(hex("20000000 0100 0000 00000000 00000000 0800")))
                .isInstanceOf(EOFException.class);
        assertThatThrownBy(() -> read(hex("1800")))
                .isInstanceOf(EOFException.class);
    }

    @Test
    void attributeWalkStopsAtALie() throws Exception {
        Attrs a = new Attrs(hex("0800 0100 01000000 ff00 0200 0000"), 0, 14);
        assertThat(a.next()).isTrue();
        assertThat(a.next()).isFalse();
        assertThat(a.malformed()).isTrue();
        Attrs tooShort = new Attrs(hex("0500 0100 01"), 0, 5);
        assertThat(tooShort.next()).isTrue();
        assertThatThrownBy(tooShort::u32).isInstanceOf(ProtocolException.class);
    }
}
