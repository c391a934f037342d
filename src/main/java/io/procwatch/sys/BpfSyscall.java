package io.procwatch.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The bpf(2) system call (glibc has no wrapper) and read(2) for the descriptors it returns. Apart
 * from {@link Libc} so that only the daemon links them. Errors go through Libc's one
 * errno-to-exception path.
 */
public final class BpfSyscall {
    /** The bpf system call's number on this machine, or -1 where procwatch does not know it. */
    private static final long SYS_BPF = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 321;
        case "aarch64", "riscv64" -> 280;
        default -> -1;
    };

    private static final MethodHandle SYSCALL = Libc.LINKER.downcallHandle(
            Libc.LOOKUP.find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Libc.CAPTURE_ERRNO);
    private static final MethodHandle READ = Libc.errnoCall("read", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
    private static final MethodHandle MMAP = Libc.errnoCall("mmap", ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG);
    private static final MethodHandle MUNMAP = Libc.errnoCall("munmap", JAVA_INT, ADDRESS, JAVA_LONG);
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;

    private BpfSyscall() {
    }

    /** bpf(cmd, attr, sizeof attr); returns what the command returns (a descriptor for most). */
    public static int bpf(String what, int cmd, MemorySegment attr) throws SyscallException {
        if (SYS_BPF < 0) {
            throw new SyscallException(what, Errno.ENOSYS, "no bpf syscall number for " + System.getProperty("os.arch"));
        }
        MemorySegment st = Libc.state();
        try {
            return (int) Libc.check(what, (long) SYSCALL.invokeExact(st, SYS_BPF, (long) cmd, attr, attr.byteSize()), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** read(2): the byte count, 0 at the end. */
    public static long read(String what, int fd, MemorySegment buf, long len) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            return Libc.check(what, (long) READ.invokeExact(st, fd, buf, len), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /**
     * mmap(2) of {@code len} bytes of {@code fd} at {@code offset}, shared (a BPF ring buffer's
     * pages). The segment has the mapping's size; {@link #munmap} releases it.
     */
    public static MemorySegment mmap(String what, int fd, long len, int prot, long offset) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            MemorySegment at = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, len, prot, MAP_SHARED, fd, offset);
            Libc.check(what, at.address() == -1L ? -1 : 0, st); // MAP_FAILED
            return at.reinterpret(len);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** munmap(2); failures are ignored (nothing useful can be done at close). */
    public static void munmap(MemorySegment mapping) {
        MemorySegment st = Libc.state();
        try {
            int rc = (int) MUNMAP.invokeExact(st, mapping, mapping.byteSize());
            assert rc == 0 || rc == -1;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }
}
