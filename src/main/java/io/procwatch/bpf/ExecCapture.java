package io.procwatch.bpf;

import io.procwatch.sys.BpfSyscall;
import io.procwatch.sys.Libc;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * What every exec started, as the kernel saw it at the exec itself: a BPF program on the
 * {@code sched_process_exec} tracepoint copies the new program's argv (from the new {@code mm}'s
 * argument area, before the program has run a single instruction), its path, name, credentials
 * and start times into a BPF ring buffer, which this class reads.
 *
 * <p>Why: the connector's exec event carries only pids. Reading /proc after it races the process:
 * a program that lives 100 µs is gone, and one that execs again at once shows the next program's
 * argv. The tracepoint fires in the exec'ing task just before the connector event is sent, so a
 * record is always in the ring before its event can be read.
 *
 * <p>Like {@link TaskScan}, the program is assembled here with offsets from the running kernel's
 * BTF (no compiler, no object file) and attached by BTF ({@code tp_btf}), which needs no tracefs.
 * A ring buffer that is full when an exec comes loses that record; the program counts it in a
 * one-slot array map ({@link #lost}). Loading needs CAP_BPF and CAP_PERFMON (or root).
 */
public final class ExecCapture implements AutoCloseable {
    /** argv bytes copied per exec; a longer argv is cut here and marked {@link Exec#argvTruncated}. */
    public static final int ARGV_MAX = 4096;
    /** Bytes of the executable's path copied (PATH_MAX would be 4096; longer paths are rare). */
    static final int PATH_MAX = 256;
    static final int HEADER = 96;
    static final int RECORD = HEADER + ARGV_MAX + PATH_MAX;
    /** Ring buffer size: ~230 records waiting at most; a reader thread empties it continuously (it is mapped twice: 2 MiB resident). */
    static final int RING_BYTES = 1 << 20;

    private static final int BPF_MAP_CREATE = 0;
    private static final int BPF_MAP_LOOKUP_ELEM = 1;
    private static final int BPF_RAW_TRACEPOINT_OPEN = 17;
    private static final int BPF_MAP_TYPE_ARRAY = 2;
    private static final int BPF_MAP_TYPE_RINGBUF = 27;
    private static final int BPF_TRACE_RAW_TP = 23;

    private static final int FUNC_MAP_LOOKUP_ELEM = 1;
    private static final int FUNC_KTIME_GET_NS = 5;
    private static final int FUNC_GET_CURRENT_COMM = 16;
    private static final int FUNC_PROBE_READ_USER = 112;
    private static final int FUNC_PROBE_READ_KERNEL_STR = 115;
    private static final int FUNC_RINGBUF_RESERVE = 131;
    private static final int FUNC_RINGBUF_SUBMIT = 132;

    private static final int BUSY = 1 << 31;
    private static final int DISCARD = 1 << 30;
    private static final VarHandle LONG_ACQ = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT_ACQ = ValueLayout.JAVA_INT.varHandle();

    /**
     * One exec.
     *
     * @param tgid         the process (after exec the exec'ing thread is its leader)
     * @param oldPid       the thread that called exec (differs from tgid when a non-leader thread exec'd)
     * @param ktimeNs      CLOCK_MONOTONIC at the exec, the clock of the connector's event timestamps
     * @param startNs      the task's start, CLOCK_MONOTONIC ({@code task->start_time})
     * @param startBootNs  the task's start, CLOCK_BOOTTIME ({@code task->start_boottime}; /proc's starttime)
     * @param argv         the arguments as exec'd; empty when they could not be read ({@link #argvRead} false)
     * @param argvRead     whether the argument area could be read
     * @param argvTruncated whether the argument area was longer than {@link #ARGV_MAX} (argv holds its start)
     * @param path         the executable's path as exec was given it (the interpreter's for a script), or null
     */
    public record Exec(int tgid, int oldPid, long ktimeNs, long startNs, long startBootNs, String comm,
                       int ruid, int euid, int rgid, int egid,
                       List<String> argv, boolean argvRead, boolean argvTruncated, String path) {
        public Exec {
            argv = List.copyOf(argv);
        }
    }

    private final int ringFd;
    private final int counterFd;
    private final int progFd;
    private final int linkFd;
    private final MemorySegment consumerPage;
    private final MemorySegment producer;
    private final long page;
    private final long mask = RING_BYTES - 1;
    private boolean closed;

    private ExecCapture(int ringFd, int counterFd, int progFd, int linkFd, MemorySegment consumerPage,
                        MemorySegment producer, long page) {
        this.ringFd = ringFd;
        this.counterFd = counterFd;
        this.progFd = progFd;
        this.linkFd = linkFd;
        this.consumerPage = consumerPage;
        this.producer = producer;
        this.page = page;
    }

    /**
     * Creates the maps, loads and attaches the program, and maps the ring.
     *
     * @throws IOException with the reason (no BTF or tracepoint, a missing field, no privilege, or
     *                     the verifier's log)
     */
    public static ExecCapture open() throws IOException {
        try (Btf btf = Btf.load(Btf.VMLINUX)) {
            int attachId = btf.typedefId("btf_trace_sched_process_exec");
            if (attachId < 0) {
                throw new IOException("this kernel's BTF has no sched_process_exec tracepoint");
            }
            return open(btf, attachId);
        }
    }

    private static ExecCapture open(Btf btf, int attachId) throws IOException {
        List<Integer> fds = new ArrayList<>();
        MemorySegment cons = null;
        MemorySegment prod = null;
        try {
            int ring = createMap(BPF_MAP_TYPE_RINGBUF, 0, 0, RING_BYTES, "pw_exec_ring");
            fds.add(ring);
            int counter = createMap(BPF_MAP_TYPE_ARRAY, 4, 8, 1, "pw_exec_lost");
            fds.add(counter);
            int prog = Programs.load("exec capture", "procwatch_exec", assemble(btf, ring, counter), BPF_TRACE_RAW_TP, attachId);
            fds.add(prog);
            int link;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment attr = a.allocate(16, 8);
                attr.set(ValueLayout.JAVA_INT, 8, prog); // name 0: the program's own BTF attach point
                link = BpfSyscall.bpf("bpf(BPF_RAW_TRACEPOINT_OPEN, sched_process_exec)", BPF_RAW_TRACEPOINT_OPEN, attr);
            }
            fds.add(link);
            long page = Libc.sysconf(Libc.SC_PAGESIZE);
            cons = BpfSyscall.mmap("mmap(exec ring consumer page)", ring, page,
                    BpfSyscall.PROT_READ | BpfSyscall.PROT_WRITE, 0);
            // the data pages are mapped twice in a row, so a record that wraps reads as one piece
            prod = BpfSyscall.mmap("mmap(exec ring data)", ring, page + 2L * RING_BYTES, BpfSyscall.PROT_READ, page);
            return new ExecCapture(ring, counter, prog, link, cons, prod, page);
        } catch (IOException | RuntimeException e) {
            if (cons != null) {
                BpfSyscall.munmap(cons);
            }
            for (int fd : fds) {
                Libc.closeQuietly(fd);
            }
            throw e;
        }
    }

    /** The ring's descriptor: readable (poll) when records wait. */
    public int pollFd() {
        return ringFd;
    }

    /**
     * Hands every record waiting in the ring to {@code sink}, in the order they were written, and
     * frees their space. Returns how many were read. Safe to call from several threads.
     */
    public synchronized int drain(Consumer<Exec> sink) {
        if (closed) {
            return 0;
        }
        long cons = (long) LONG_ACQ.getAcquire(consumerPage, 0L);
        int n = 0;
        while (true) {
            long prod = (long) LONG_ACQ.getAcquire(producer, 0L);
            if (cons >= prod) {
                return n;
            }
            while (cons < prod) {
                long at = page + (cons & mask);
                int len = (int) INT_ACQ.getAcquire(producer, at);
                if ((len & BUSY) != 0) {
                    return n; // being written: the rest comes on the next drain
                }
                int size = len & ~(BUSY | DISCARD);
                if ((len & DISCARD) == 0 && size >= HEADER) {
                    sink.accept(decode(producer.asSlice(at + 8, size)));
                    n++;
                }
                cons += (size + 8 + 7) & ~7L;
                LONG_ACQ.setRelease(consumerPage, 0L, cons);
            }
        }
    }

    /** Execs the kernel could not record because the ring was full. */
    public long lost() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(8, 8);
            MemorySegment attr = a.allocate(32, 8);
            attr.set(ValueLayout.JAVA_INT, 0, counterFd);
            attr.set(ValueLayout.JAVA_LONG, 8, key.address());
            attr.set(ValueLayout.JAVA_LONG, 16, value.address());
            synchronized (this) {
                if (closed) {
                    return 0;
                }
                BpfSyscall.bpf("bpf(BPF_MAP_LOOKUP_ELEM, exec capture losses)", BPF_MAP_LOOKUP_ELEM, attr);
            }
            return value.get(ValueLayout.JAVA_LONG, 0);
        } catch (SyscallException e) {
            return -1;
        }
    }

    static Exec decode(MemorySegment r) {
        long argvLen = r.get(ValueLayout.JAVA_LONG_UNALIGNED, 64);
        long argvRc = r.get(ValueLayout.JAVA_LONG_UNALIGNED, 72);
        long pathRc = r.get(ValueLayout.JAVA_LONG_UNALIGNED, 80);
        boolean read = argvRc == 0 && argvLen > 0;
        boolean truncated = read && argvLen > ARGV_MAX;
        List<String> argv = read ? split(r.asSlice(HEADER, Math.min(argvLen, ARGV_MAX)).toArray(ValueLayout.JAVA_BYTE), truncated)
                : List.of();
        String path = pathRc > 1 ? cString(r.asSlice(HEADER + ARGV_MAX, PATH_MAX)) : null;
        return new Exec(r.get(ValueLayout.JAVA_INT_UNALIGNED, 0), r.get(ValueLayout.JAVA_INT_UNALIGNED, 4),
                r.get(ValueLayout.JAVA_LONG_UNALIGNED, 8), r.get(ValueLayout.JAVA_LONG_UNALIGNED, 16),
                r.get(ValueLayout.JAVA_LONG_UNALIGNED, 24), cString(r.asSlice(32, 16)),
                r.get(ValueLayout.JAVA_INT_UNALIGNED, 48), r.get(ValueLayout.JAVA_INT_UNALIGNED, 52),
                r.get(ValueLayout.JAVA_INT_UNALIGNED, 56), r.get(ValueLayout.JAVA_INT_UNALIGNED, 60),
                argv, read, truncated, path);
    }

    /** The NUL-separated argument area as a list; a cut last argument is kept as far as it goes. */
    static List<String> split(byte[] area, boolean truncated) {
        int end = area.length;
        if (!truncated && end > 0 && area[end - 1] == 0) {
            end--; // the terminating NUL of the last argument
        }
        List<String> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= end; i++) {
            if (i == end || area[i] == 0) {
                out.add(new String(Arrays.copyOfRange(area, from, i), StandardCharsets.UTF_8));
                from = i + 1;
            }
        }
        return out;
    }

    private static String cString(MemorySegment s) {
        byte[] b = s.toArray(ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.closeQuietly(linkFd); // detach first: no more records
        Libc.closeQuietly(progFd);
        BpfSyscall.munmap(producer);
        BpfSyscall.munmap(consumerPage);
        Libc.closeQuietly(counterFd);
        Libc.closeQuietly(ringFd);
    }

    private static int createMap(int type, int keySize, int valueSize, int entries, String name) throws SyscallException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment attr = a.allocate(72, 8);
            attr.set(ValueLayout.JAVA_INT, 0, type);
            attr.set(ValueLayout.JAVA_INT, 4, keySize);
            attr.set(ValueLayout.JAVA_INT, 8, valueSize);
            attr.set(ValueLayout.JAVA_INT, 12, entries);
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(n, 0, attr, ValueLayout.JAVA_BYTE, 28, Math.min(15, n.length));
            return BpfSyscall.bpf("bpf(BPF_MAP_CREATE, " + name + ")", BPF_MAP_CREATE, attr);
        }
    }

    // ---- the program ----

    /**
     * The program, run in the exec'ing task at {@code sched_process_exec} (r1 = the tracepoint's
     * arguments as u64s: task, old pid, binprm). It reserves one record in the ring, fills it and
     * submits it; when the ring is full it adds one to the loss counter instead.
     *
     * <pre>
     *  0 tgid  4 old_pid  8 ktime  16 start_time  24 start_boottime  32 comm[16]
     * 48 ruid  52 euid  56 rgid  60 egid  64 arg_end - arg_start  72 argv read result
     * 80 path read result (length with NUL, or -errno)  88 arg_start
     * 96 argv[ARGV_MAX]  96+ARGV_MAX path[PATH_MAX]
     * </pre>
     */
    static byte[] assemble(Btf btf, int ringFd, int counterFd) throws IOException {
        Btf.Member tgid = require(btf, "task_struct", "tgid", 4);
        Btf.Member startTime = require(btf, "task_struct", "start_time", 8);
        Btf.Member startBoot = require(btf, "task_struct", "start_boottime", 8);
        Btf.Member cred = require(btf, "task_struct", "cred", 8);
        Btf.Member mm = require(btf, "task_struct", "mm", 8);
        Btf.Member argStart = require(btf, "mm_struct", "arg_start", 8);
        Btf.Member argEnd = require(btf, "mm_struct", "arg_end", 8);
        Btf.Member interp = require(btf, "linux_binprm", "interp", 8);
        String[] ids = {"uid", "euid", "gid", "egid"};
        Btf.Member[] creds = new Btf.Member[4];
        for (int i = 0; i < 4; i++) {
            creds[i] = require(btf, "cred", ids[i], 4);
        }
        final int task = 6;
        final int bprm = 7;
        final int rec = 8;
        final int tmp = 9;
        Asm a = new Asm();
        a.ldx(8, task, 1, 0);
        a.ldx(8, bprm, 1, 16);
        a.movReg(tmp, 1);                 // keep ctx for old_pid
        a.loadMap(1, ringFd);             // r0 = bpf_ringbuf_reserve(&ring, RECORD, 0)
        a.movImm(2, RECORD);
        a.movImm(3, 0);
        a.call(FUNC_RINGBUF_RESERVE);
        int full = a.jeqImm(0, 0);
        a.movReg(rec, 0);
        a.ldx(8, 1, tmp, 8);              // old_pid (a u64 slot; the low half is the pid_t)
        a.stx(4, rec, 1, 4);
        a.ldx(4, 1, task, tgid.offset());
        a.stx(4, rec, 1, 0);
        a.ldx(8, 1, task, startTime.offset());
        a.stx(8, rec, 1, 16);
        a.ldx(8, 1, task, startBoot.offset());
        a.stx(8, rec, 1, 24);
        a.call(FUNC_KTIME_GET_NS);
        a.stx(8, rec, 0, 8);
        a.movReg(1, rec);                 // bpf_get_current_comm(rec + 32, 16): the task is current
        a.addImm(1, 32);
        a.movImm(2, 16);
        a.call(FUNC_GET_CURRENT_COMM);
        a.ldx(8, tmp, task, cred.offset());
        for (int i = 0; i < 4; i++) {
            a.ldx(4, 1, tmp, creds[i].offset());
            a.stx(4, rec, 1, 48 + 4 * i);
        }
        a.ldx(8, tmp, task, mm.offset());
        a.ldx(8, 3, tmp, argStart.offset());
        a.stx(8, rec, 3, 88);
        a.ldx(8, 2, tmp, argEnd.offset());
        a.subReg(2, 3);
        a.stx(8, rec, 2, 64);
        int small = a.jgtImm(2, ARGV_MAX); // if (len > ARGV_MAX) len = ARGV_MAX
        int read = a.ja();
        a.target(small);
        a.movImm(2, ARGV_MAX);
        a.target(read);
        a.movReg(1, rec);                 // bpf_probe_read_user(rec + HEADER, len, arg_start)
        a.addImm(1, HEADER);
        a.call(FUNC_PROBE_READ_USER);
        a.stx(8, rec, 0, 72);
        a.ldx(8, 3, bprm, interp.offset()); // bpf_probe_read_kernel_str(rec + HEADER + ARGV_MAX, PATH_MAX, bprm->interp)
        a.movReg(1, rec);
        a.addImm(1, HEADER + ARGV_MAX);
        a.movImm(2, PATH_MAX);
        a.call(FUNC_PROBE_READ_KERNEL_STR);
        a.stx(8, rec, 0, 80);
        a.movReg(1, rec);                 // bpf_ringbuf_submit(rec, 0)
        a.movImm(2, 0);
        a.call(FUNC_RINGBUF_SUBMIT);
        a.movImm(0, 0);
        a.exit();
        a.target(full);                   // ring full: count the loss in slot 0 of the counter map
        a.stImm(4, 10, -4, 0);
        a.loadMap(1, counterFd);
        a.movReg(2, 10);
        a.addImm(2, -4);
        a.call(FUNC_MAP_LOOKUP_ELEM);
        int none = a.jeqImm(0, 0);
        a.movImm(1, 1);
        a.atomicAdd64(0, 1, 0);
        a.target(none);
        a.movImm(0, 0);
        a.exit();
        return a.bytes();
    }

    private static Btf.Member require(Btf btf, String struct, String path, int size) throws IOException {
        Btf.Member m = btf.member(struct, path);
        if (m == null || m.size() != size) {
            throw new IOException("kernel BTF has no usable " + struct + "." + path);
        }
        return m;
    }
}
