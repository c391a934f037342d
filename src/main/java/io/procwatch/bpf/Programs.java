package io.procwatch.bpf;

import io.procwatch.sys.BpfSyscall;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/** Loads assembled tracing programs, with the verifier's own words when the kernel refuses one. */
final class Programs {
    private static final int BPF_PROG_LOAD = 5;
    private static final int BPF_PROG_TYPE_TRACING = 26;

    private Programs() {
    }

    /**
     * Loads a {@code BPF_PROG_TYPE_TRACING} program attached (by BTF type id) at {@code attachId}.
     *
     * @param what   for messages ("task iterator")
     * @param name   the program's name as bpftool lists it (at most 15 characters)
     * @param attach the expected attach type (BPF_TRACE_ITER, BPF_TRACE_RAW_TP, ...)
     * @return the program's descriptor
     */
    static int load(String what, String name, byte[] program, int attach, int attachId) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment insns = a.allocate(program.length, 8);
            MemorySegment.copy(program, 0, insns, ValueLayout.JAVA_BYTE, 0, program.length);
            MemorySegment license = a.allocateFrom("GPL");
            MemorySegment attr = a.allocate(128, 8);
            attr.set(ValueLayout.JAVA_INT, 0, BPF_PROG_TYPE_TRACING);
            attr.set(ValueLayout.JAVA_INT, 4, program.length / 8);
            attr.set(ValueLayout.JAVA_LONG, 8, insns.address());
            attr.set(ValueLayout.JAVA_LONG, 16, license.address());
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(n, 0, attr, ValueLayout.JAVA_BYTE, 48, Math.min(15, n.length));
            attr.set(ValueLayout.JAVA_INT, 68, attach);
            attr.set(ValueLayout.JAVA_INT, 108, attachId);
            String call = "bpf(BPF_PROG_LOAD, " + what + ")";
            try {
                return BpfSyscall.bpf(call, BPF_PROG_LOAD, attr);
            } catch (SyscallException first) {
                // Load again with the verifier's log, so the error says why.
                MemorySegment log = a.allocate(1 << 16);
                attr.set(ValueLayout.JAVA_INT, 24, 1);
                attr.set(ValueLayout.JAVA_INT, 28, (int) log.byteSize());
                attr.set(ValueLayout.JAVA_LONG, 32, log.address());
                try {
                    return BpfSyscall.bpf(call, BPF_PROG_LOAD, attr);
                } catch (SyscallException second) {
                    String text = log.getString(0).strip();
                    throw new IOException(first.getMessage() + (text.isEmpty() ? "" : "; verifier: "
                            + text.substring(Math.max(0, text.length() - 600))), first);
                }
            }
        }
    }
}
