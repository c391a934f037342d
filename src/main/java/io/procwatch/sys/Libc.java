package io.procwatch.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library calls procwatch makes, bound once through the Foreign Function &amp; Memory API.
 *
 * <p>Every call that can fail captures errno in the same downcall (the JVM may clobber it between
 * two Java statements), and {@link #check} turns a negative return into a {@link SyscallException}.
 * Callers never see raw errno handling.
 */
public final class Libc {
    public static final int AF_UNIX = 1;
    public static final int AF_NETLINK = 16;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int MSG_DONTWAIT = 0x40;
    public static final short POLLIN = 0x1;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int O_RDONLY = 0;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PR_SET_NAME = 15;
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;
    public static final int CLOCK_BOOTTIME = 7;
    public static final int SC_CLK_TCK = 2;
    public static final int SC_PAGESIZE = 30;

    static final Linker LINKER = Linker.nativeLinker();
    static final SymbolLookup LOOKUP = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno slot per thread: calls are synchronous, so a thread never needs two at once. */
    private static final ThreadLocal<MemorySegment> CALL_STATE_SLOT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CALL_STATE));

    private static final MethodHandle SOCKET = errnoCall("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle BIND = errnoCall("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETSOCKNAME =
            errnoCall("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SENDTO =
            errnoCall("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle RECV = errnoCall("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle SETSOCKOPT =
            errnoCall("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETSOCKOPT =
            errnoCall("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle CLOSE = errnoCall("close", JAVA_INT, JAVA_INT);
    private static final MethodHandle POLL = errnoCall("poll", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle EVENTFD = errnoCall("eventfd", JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle EVENTFD_READ = errnoCall("eventfd_read", JAVA_INT, JAVA_INT, ADDRESS);
    private static final MethodHandle EVENTFD_WRITE = errnoCall("eventfd_write", JAVA_INT, JAVA_INT, JAVA_LONG);
    private static final MethodHandle OPEN = LINKER.downcallHandle(
            LOOKUP.find("open").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2), CAPTURE_ERRNO);
    private static final MethodHandle PREAD =
            errnoCall("pread", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
    private static final MethodHandle PRCTL = LINKER.downcallHandle(
            LOOKUP.find("prctl").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), CAPTURE_ERRNO);
    private static final MethodHandle CLOCK_GETTIME =
            errnoCall("clock_gettime", JAVA_INT, JAVA_INT, ADDRESS);
    private static final MethodHandle GETTID = plainCall("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SYSCONF = plainCall("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle GETPWUID = plainCall("getpwuid", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle GETGRGID = plainCall("getgrgid", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    /** Null where the C library has none (musl). */
    private static final MethodHandle MALLOPT = LOOKUP.find("mallopt")
            .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT))).orElse(null);
    /** Null where the C library has none (musl). */
    private static final MethodHandle MALLOC_TRIM = LOOKUP.find("malloc_trim")
            .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_LONG))).orElse(null);
    private static final MethodHandle STRERROR =
            plainCall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private Libc() {
    }

    /**
     * Caps glibc's malloc arenas for threads that first allocate from now on (mallopt M_ARENA_MAX).
     * glibc gives each thread that mallocs under contention an arena of its own (up to 8 per core),
     * and free memory in one arena is not reused by another: a daemon with a dozen threads then
     * keeps several half-empty arenas resident. One serves the daemon's few allocating threads
     * (Java objects are not malloc'd; what is: the JVM's own tables and compilations, SQLite's
     * pages, FFM buffers): measured side by side, one arena instead of two saved ~4-5 MiB resident
     * (docs/benchmarks.md, "Footprint", session 8).
     */
    public static void limitMallocArenas(int arenas) {
        if (MALLOPT == null) {
            return;
        }
        try {
            int ignored = (int) MALLOPT.invokeExact(-8, arenas); // M_ARENA_MAX
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Gives the C heap's free pages back to the kernel (glibc's malloc_trim(0)); true if any went.
     * Why: native memory that the JVM, SQLite and our FFM arenas malloc and free (the kernel's BTF
     * read at start, a big answer's buffers) stays in glibc's per-thread arenas, resident, until
     * trimmed: ~25 MiB of a resting daemon's 85 MiB was such free memory.
     */
    public static boolean mallocTrim() {
        if (MALLOC_TRIM == null) {
            return false; // not glibc: nothing to give back this way
        }
        try {
            return (int) MALLOC_TRIM.invokeExact(0L) != 0;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static MethodHandle errnoCall(String name, ValueLayout ret, ValueLayout... args) {
        return LINKER.downcallHandle(LOOKUP.find(name).orElseThrow(),
                FunctionDescriptor.of(ret, args), CAPTURE_ERRNO);
    }

    private static MethodHandle plainCall(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LOOKUP.find(name).orElseThrow(), fd);
    }

    static MemorySegment state() {
        return CALL_STATE_SLOT.get();
    }

    /**
     * The one place errno becomes an exception: a negative return value is turned into a
     * {@link SyscallException} naming the call, using the errno captured by that same downcall.
     */
    static long check(String call, long rc, MemorySegment state) throws SyscallException {
        if (rc < 0) {
            throw new SyscallException(call, (int) ERRNO.get(state, 0L), null);
        }
        return rc;
    }

    /**
     * Sends one datagram to a Unix datagram socket path (an abstract name when it starts with '@').
     */
    public static void sendUnixDatagram(String path, String message) throws SyscallException {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            byte[] p = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            MemorySegment addr = arena.allocate(110, 2); // struct sockaddr_un
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
            for (int i = 0; i < p.length && i < 107; i++) {
                addr.set(ValueLayout.JAVA_BYTE, 2 + i, i == 0 && p[0] == '@' ? 0 : p[i]);
            }
            MemorySegment sized = addr.asSlice(0, 2 + Math.min(p.length, 107) + (p.length > 0 && p[0] == '@' ? 0 : 1));
            MemorySegment msg = arena.allocateFrom(message);
            sendto(fd, msg, msg.byteSize() - 1, sized);
        } finally {
            close(fd);
        }
    }

    static RuntimeException linkageBug(Throwable t) {
        return new IllegalStateException("native call failed to link: " + t, t);
    }

    public static int socket(int domain, int type, int protocol) throws SyscallException {
        MemorySegment st = state();
        try {
            return (int) check("socket", (int) SOCKET.invokeExact(st, domain, type, protocol), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static void bind(int fd, MemorySegment addr) throws SyscallException {
        MemorySegment st = state();
        try {
            check("bind", (int) BIND.invokeExact(st, fd, addr, (int) addr.byteSize()), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static void getsockname(int fd, MemorySegment addr, MemorySegment lenp) throws SyscallException {
        MemorySegment st = state();
        try {
            check("getsockname", (int) GETSOCKNAME.invokeExact(st, fd, addr, lenp), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static long sendto(int fd, MemorySegment buf, long len, MemorySegment addr) throws SyscallException {
        MemorySegment st = state();
        try {
            return check("sendto", (long) SENDTO.invokeExact(st, fd, buf, len, 0, addr, (int) addr.byteSize()), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /**
     * recv(2) that reports failure as a negative errno instead of throwing, because the netlink
     * reader treats EAGAIN (timeout), EINTR and ENOBUFS (overrun) as ordinary outcomes on its hot path.
     */
    public static long recvOrErrno(int fd, MemorySegment buf, long len, int flags) {
        MemorySegment st = state();
        try {
            long rc = (long) RECV.invokeExact(st, fd, buf, len, flags);
            return rc < 0 ? -(int) ERRNO.get(st, 0L) : rc;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /**
     * poll(2) over {@code count} struct pollfd entries; returns how many have events, 0 on timeout,
     * or a negative errno (EINTR is an ordinary outcome for a caller that loops).
     */
    public static int pollOrErrno(MemorySegment fds, int count, int timeoutMillis) {
        MemorySegment st = state();
        try {
            int rc = (int) POLL.invokeExact(st, fds, (long) count, timeoutMillis);
            return rc < 0 ? -(int) ERRNO.get(st, 0L) : rc;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** eventfd(2): a counter another thread can make readable, to end a wait in poll. */
    public static int eventfd(int flags) throws SyscallException {
        MemorySegment st = state();
        try {
            return (int) check("eventfd", (int) EVENTFD.invokeExact(st, 0, flags), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** Adds {@code value} to an eventfd's counter (never blocks for the small values used here). */
    public static void eventfdWrite(int fd, long value) throws SyscallException {
        MemorySegment st = state();
        try {
            check("eventfd_write", (int) EVENTFD_WRITE.invokeExact(st, fd, value), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** Reads and resets an eventfd's counter; 0 when it was already 0 (a non-blocking eventfd). */
    public static long eventfdDrain(int fd) {
        MemorySegment st = state();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_LONG);
            int rc = (int) EVENTFD_READ.invokeExact(st, fd, v);
            return rc < 0 ? 0 : v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static void setsockopt(int fd, int level, int opt, MemorySegment val) throws SyscallException {
        MemorySegment st = state();
        try {
            check("setsockopt", (int) SETSOCKOPT.invokeExact(st, fd, level, opt, val, (int) val.byteSize()), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static int getsockoptInt(int fd, int level, int opt) throws SyscallException {
        MemorySegment st = state();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment val = arena.allocate(JAVA_INT);
            MemorySegment len = arena.allocateFrom(JAVA_INT, 4);
            check("getsockopt", (int) GETSOCKOPT.invokeExact(st, fd, level, opt, val, len), st);
            return val.get(JAVA_INT, 0);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static void close(int fd) throws SyscallException {
        MemorySegment st = state();
        try {
            check("close", (int) CLOSE.invokeExact(st, fd), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /**
     * close(2) for cleanup paths, where a failure leaves nothing to do: the descriptor is gone
     * either way. EBADF would mean a double close (a bug that could close someone else's reused
     * descriptor), so it trips an assertion.
     */
    public static void closeQuietly(int fd) {
        try {
            close(fd);
        } catch (SyscallException e) {
            assert e.errno() != Errno.EBADF : "double close of descriptor " + fd;
        }
    }

    /** open(2) read-only; path must be a NUL-terminated segment. */
    public static int openReadOnly(MemorySegment path) throws SyscallException {
        MemorySegment st = state();
        try {
            return (int) check("open", (int) OPEN.invokeExact(st, path, O_RDONLY | O_CLOEXEC, 0), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /**
     * open(2) read-only, returning the descriptor or a negative errno: for reads of /proc files
     * of processes that may be gone, where a failure is an answer (ENOENT, ESRCH), not an error,
     * and building an exception for each would cost more than the read.
     */
    public static int openReadOnlyOrErrno(MemorySegment path) {
        MemorySegment st = state();
        try {
            int fd = (int) OPEN.invokeExact(st, path, O_RDONLY | O_CLOEXEC, 0);
            return fd < 0 ? -(int) ERRNO.get(st, 0L) : fd;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** pread(2) returning the byte count, or a negative errno (a vanished pid gives -ESRCH). */
    public static long preadOrErrno(int fd, MemorySegment buf, long len, long offset) {
        MemorySegment st = state();
        try {
            long rc = (long) PREAD.invokeExact(st, fd, buf, len, offset);
            return rc < 0 ? -(int) ERRNO.get(st, 0L) : rc;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** prctl(PR_SET_NAME): renames the calling thread; the kernel reports it as a comm event. */
    public static void setThreadName(String name) throws SyscallException {
        MemorySegment st = state();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment str = arena.allocateFrom(name);
            check("prctl(PR_SET_NAME)", (int) PRCTL.invokeExact(st, PR_SET_NAME, str.address()), st);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /** clock_gettime(2) in nanoseconds. */
    public static long clockNanos(int clock) {
        MemorySegment st = state();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ts = arena.allocate(16, 8);
            check("clock_gettime", (int) CLOCK_GETTIME.invokeExact(st, clock, ts), st);
            return ts.get(JAVA_LONG, 0) * 1_000_000_000L + ts.get(JAVA_LONG, 8);
        } catch (Throwable t) {
            throw new IllegalStateException("clock_gettime failed: " + t, t);
        }
    }

    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    public static long sysconf(int name) {
        try {
            return (long) SYSCONF.invokeExact(name);
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    /**
     * The name getpwuid(3) gives a uid, or its digits when there is none: the same rule, and the
     * same charset, as the JDK's own principals, so a JDK principal can be checked against its
     * number. Only ever number to name: a name is never mapped back (an account may be named "0").
     */
    public static synchronized String nameOfUid(int uid) {
        return nameOf(GETPWUID, uid);
    }

    /** The name getgrgid(3) gives a gid, or its digits, like {@link #nameOfUid}. */
    public static synchronized String nameOfGid(int gid) {
        return nameOf(GETGRGID, gid);
    }

    private static String nameOf(MethodHandle lookup, int id) {
        try {
            MemorySegment p = (MemorySegment) lookup.invokeExact(id);
            if (p.address() == 0) {
                return Integer.toString(id);
            }
            // struct passwd / struct group: the name (char *) comes first
            MemorySegment name = p.reinterpret(ADDRESS.byteSize()).get(ADDRESS, 0);
            if (name.address() == 0) {
                return Integer.toString(id);
            }
            String enc = System.getProperty("sun.jnu.encoding");
            java.nio.charset.Charset cs = enc != null && java.nio.charset.Charset.isSupported(enc)
                    ? java.nio.charset.Charset.forName(enc) : java.nio.charset.Charset.defaultCharset();
            return name.reinterpret(4096).getString(0, cs);
        } catch (Throwable t) {
            throw linkageBug(t);
        }
    }

    static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            return p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
