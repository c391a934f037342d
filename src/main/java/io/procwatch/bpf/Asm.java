package io.procwatch.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A tiny assembler for the eBPF instructions procwatch's programs need. Registers are numbers
 * (r0 return, r1-r5 helper arguments and clobbered by calls, r6-r9 kept across calls, r10 the
 * read-only frame pointer). Forward jumps are emitted with a placeholder and fixed by
 * {@link #target}.
 */
final class Asm {
    private static final int PSEUDO_MAP_FD = 1;

    private final ByteBuffer out = ByteBuffer.allocate(8 * 512).order(ByteOrder.LITTLE_ENDIAN);

    private void insn(int code, int dst, int src, int off, int imm) {
        out.put((byte) code).put((byte) (dst | src << 4)).putShort((short) off).putInt(imm);
    }

    private static int size(int bytes) {
        return switch (bytes) {
            case 4 -> 0x00;
            case 2 -> 0x08;
            case 1 -> 0x10;
            case 8 -> 0x18;
            default -> throw new IllegalArgumentException("load size " + bytes);
        };
    }

    /** dst = *(size *)(src + off) */
    void ldx(int bytes, int dst, int src, int off) {
        insn(0x61 | size(bytes), dst, src, off, 0);  // BPF_LDX | BPF_MEM
    }

    /** *(size *)(dst + off) = src */
    void stx(int bytes, int dst, int src, int off) {
        insn(0x63 | size(bytes), dst, src, off, 0);  // BPF_STX | BPF_MEM
    }

    /** *(size *)(dst + off) = imm */
    void stImm(int bytes, int dst, int off, int imm) {
        insn(0x62 | size(bytes), dst, 0, off, imm);  // BPF_ST | BPF_MEM
    }

    /** lock *(u64 *)(dst + off) += src */
    void atomicAdd64(int dst, int src, int off) {
        insn(0xdb, dst, src, off, 0);                // BPF_STX | BPF_ATOMIC | BPF_DW, BPF_ADD
    }

    void movReg(int dst, int src) {
        insn(0xbf, dst, src, 0, 0);
    }

    void movImm(int dst, int imm) {
        insn(0xb7, dst, 0, 0, imm);
    }

    void addImm(int dst, int imm) {
        insn(0x07, dst, 0, 0, imm);
    }

    void subReg(int dst, int src) {
        insn(0x1f, dst, src, 0, 0);
    }

    /** dst = the map whose descriptor is {@code fd} (a two-slot instruction the kernel resolves at load). */
    void loadMap(int dst, int fd) {
        insn(0x18, dst, PSEUDO_MAP_FD, 0, fd);
        insn(0, 0, 0, 0, 0);
    }

    /** A forward "if dst == imm goto ..." whose target is set later by {@link #target}. */
    int jeqImm(int dst, int imm) {
        return jump(0x15, dst, imm);
    }

    /** A forward "if dst > imm goto ..." (unsigned). */
    int jgtImm(int dst, int imm) {
        return jump(0x25, dst, imm);
    }

    /** A forward "if dst s< imm goto ..." (signed). */
    int jsltImm(int dst, int imm) {
        return jump(0xc5, dst, imm);
    }

    /** A forward unconditional jump. */
    int ja() {
        return jump(0x05, 0, 0);
    }

    private int jump(int code, int dst, int imm) {
        int at = out.position();
        insn(code, dst, 0, 0, imm);
        return at;
    }

    /** Makes the jump emitted at {@code jump} land at the next instruction emitted. */
    void target(int jump) {
        out.putShort(jump + 2, (short) ((out.position() - jump) / 8 - 1));
    }

    void call(int helper) {
        insn(0x85, 0, 0, 0, helper);
    }

    void exit() {
        insn(0x95, 0, 0, 0, 0);
    }

    byte[] bytes() {
        byte[] b = new byte[out.position()];
        out.get(0, b);
        return b;
    }
}
