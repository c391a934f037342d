package io.procwatch.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * What an interactive top does to processes and its terminal: send a signal, renice, read the
 * window size. Apart from {@link Libc} so that commands which never need them do not link them
 * at start-up. Errors go through Libc's one errno-to-exception path.
 */
public final class ProcessControl {
    public static final int PRIO_PROCESS = 0;
    private static final long TIOCGWINSZ = 0x5413;

    private static final MethodHandle KILL = Libc.errnoCall("kill", JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle SETPRIORITY =
            Libc.errnoCall("setpriority", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle IOCTL = Libc.LINKER.downcallHandle(
            Libc.LOOKUP.find("ioctl").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.firstVariadicArg(2), Libc.CAPTURE_ERRNO);

    /** pidfd_open(2) and pidfd_send_signal(2); the same numbers on every architecture (added after the unification). */
    private static final long SYS_PIDFD_OPEN = 434;
    private static final long SYS_PIDFD_SEND_SIGNAL = 424;
    private static final MethodHandle SYSCALL3 = Libc.LINKER.downcallHandle(
            Libc.LOOKUP.find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Libc.CAPTURE_ERRNO);

    private ProcessControl() {
    }

    /**
     * A descriptor for the process {@code pid} is now: a signal sent through it reaches that
     * process or fails with ESRCH once it is gone, never a later process that got the same pid.
     */
    public static int pidfdOpen(int pid) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            return (int) Libc.check("pidfd_open(" + pid + ")",
                    (long) SYSCALL3.invokeExact(st, SYS_PIDFD_OPEN, (long) pid, 0L, 0L, 0L), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** pidfd_send_signal(pidfd, signal, NULL, 0). */
    public static void pidfdSignal(int pidfd, int signal) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            Libc.check("pidfd_send_signal(" + signal + ")",
                    (long) SYSCALL3.invokeExact(st, SYS_PIDFD_SEND_SIGNAL, (long) pidfd, (long) signal, 0L, 0L), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** kill(2). */
    public static void kill(int pid, int signal) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            Libc.check("kill(" + pid + ", " + signal + ")", (int) KILL.invokeExact(st, pid, signal), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** setpriority(PRIO_PROCESS, pid, nice). */
    public static void renice(int pid, int nice) throws SyscallException {
        MemorySegment st = Libc.state();
        try {
            Libc.check("setpriority(" + pid + ", " + nice + ")",
                    (int) SETPRIORITY.invokeExact(st, PRIO_PROCESS, pid, nice), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }

    /** The terminal's {rows, columns} on this descriptor, or null when it is not a terminal. */
    public static int[] windowSize(int fd) {
        MemorySegment st = Libc.state();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(8, 2);
            Libc.check("ioctl(TIOCGWINSZ)", (int) IOCTL.invokeExact(st, fd, TIOCGWINSZ, ws), st);
            int rows = ws.get(JAVA_SHORT, 0);
            int cols = ws.get(JAVA_SHORT, 2);
            return rows > 0 && cols > 0 ? new int[] {rows, cols} : null;
        } catch (SyscallException e) {
            return null;
        } catch (Throwable t) {
            throw Libc.linkageBug(t);
        }
    }
}
