package io.procwatch.bpf;

import io.procwatch.sys.BpfSyscall;
import io.procwatch.sys.Libc;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One read of every task in the system through a BPF task iterator: for each thread, a fingerprint
 * of what decides whether its process's /proc/PID/stat line can have changed.
 *
 * <p>Why: reading /proc/PID/stat makes the kernel format ~50 numbers per process, 3–5 µs each time;
 * at 10,000 processes that alone is most of a top refresh. This iterator visits every task in one
 * {@code read} loop (128 bytes per thread, no text) so the sampler re-reads stat only for the
 * processes whose fingerprint moved. The fingerprint covers everything in stat that can change
 * while a process does not run: run time (so any running), scheduler state (a wake-up), nice and
 * real-time priority (renice from outside), resident and virtual memory (reclaim, swap-out), and
 * the CPU it is queued on (migration).
 *
 * <p>The program is assembled here, with {@code task_struct} and {@code mm_struct} offsets taken
 * from the running kernel's BTF, so no compiler or object file is shipped. Loading needs CAP_BPF
 * and CAP_PERFMON (or root); without them, or on a kernel without BTF or task iterators,
 * {@link #open} fails and the sampler reads every stat file as before.
 */
public final class TaskScan implements AutoCloseable {
    /** Bytes per task record written by the program. */
    static final int RECORD = 128;
    /** The fingerprint covers the record up to here; the cgroup id after it is handed over on its own. */
    private static final int FINGERPRINTED = 112;
    /** Offset of the task's cgroup id (the unified hierarchy's kernfs node id) in a record. */
    static final int CGROUP_ID = 112;
    /** Offset of the task's start time on the boot clock (ns; what /proc/PID/stat's starttime is made from). */
    static final int START_BOOTTIME = 120;

    private static final int BPF_LINK_CREATE = 28;
    private static final int BPF_ITER_CREATE = 33;
    private static final int BPF_TRACE_ITER = 28;
    private static final int BPF_FUNC_SEQ_WRITE = 127;

    /** Receives one call per task (thread) in the system. */
    public interface Sink {
        void task(int tid, int tgid, long fingerprint);
    }

    /**
     * Like {@link Sink}, with the task's cgroup: the id of its cgroup in the unified (v2)
     * hierarchy, which is the inode number of that cgroup's directory under the cgroup2 mount
     * (0 when the kernel has no such field). A move between cgroups (a write to cgroup.procs)
     * sends no proc connector event; this id is how the sampler notices one.
     */
    public interface CgroupSink {
        void task(int tid, int tgid, long fingerprint, long cgroupId);
    }

    private final int progFd;
    private final int linkFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(256 * 1024, 8);
    private final long[] words = new long[(int) (buf.byteSize() / 8)];

    private final boolean hasStart;

    private TaskScan(int progFd, int linkFd, boolean hasStart) {
        this.progFd = progFd;
        this.linkFd = linkFd;
        this.hasStart = hasStart;
    }

    /**
     * Loads and attaches the iterator program.
     *
     * @throws IOException with the reason (no BTF, a missing field, or the kernel's verifier log)
     */
    public static TaskScan open() throws IOException {
        if (java.nio.ByteOrder.nativeOrder() != java.nio.ByteOrder.LITTLE_ENDIAN) {
            // Asm emits little-endian instructions, and records are read as little-endian words
            throw new IOException("the task scan is built for little-endian machines only");
        }
        int attachId;
        byte[] program;
        boolean hasStart;
        try (Btf btf = Btf.load(Btf.VMLINUX)) {
            attachId = btf.funcId("bpf_iter_task");
            if (attachId < 0) {
                throw new IOException("this kernel has no BPF task iterator (no bpf_iter_task in its BTF)");
            }
            program = assemble(btf);
            hasStart = startMember(btf) != null;
        }
        int prog = load(program, attachId);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment attr = a.allocate(64, 8);
            attr.set(ValueLayout.JAVA_INT, 0, prog);
            attr.set(ValueLayout.JAVA_INT, 8, BPF_TRACE_ITER);
            int link = BpfSyscall.bpf("bpf(BPF_LINK_CREATE, task iterator)", BPF_LINK_CREATE, attr);
            return new TaskScan(prog, link, hasStart);
        } catch (SyscallException e) {
            Libc.closeQuietly(prog);
            throw e;
        }
    }

    /**
     * Visits every task once. Returns the number of tasks seen.
     *
     * @throws SyscallException when the iterator cannot be created or read
     */
    public int scan(Sink sink) throws SyscallException {
        return words((w, at) -> sink.task((int) w[at], (int) (w[at] >>> 32), fingerprint(w, at)));
    }

    /** {@link #scan(Sink)} with each task's cgroup id. */
    public int scan(CgroupSink sink) throws SyscallException {
        return words((w, at) -> sink.task((int) w[at], (int) (w[at] >>> 32), fingerprint(w, at),
                w[at + CGROUP_ID / 8]));
    }

    /**
     * Which lives exist, for the rescan after lost events: each task's ids, its start time on the
     * boot clock (ns; 0 when the kernel has no such field), its exit state (non-zero for a zombie),
     * its cgroup id (as {@link CgroupSink}) and its fingerprint (as {@link Sink}). One pass
     * through the kernel's task list instead of a stat read per process.
     */
    public interface LifeSink {
        void task(int tid, int tgid, long startBoottimeNs, int exitState, long cgroupId, long fingerprint);
    }

    /** Whether {@link #lives} gives start times (the kernel's task_struct has start_boottime). */
    public boolean hasStartTimes() {
        return hasStart;
    }

    /** Visits every task once with {@link LifeSink}'s fields. Returns the number of tasks seen. */
    public int lives(LifeSink sink) throws SyscallException {
        // exit_state is the upper half of the word at byte 16 (__state is the lower)
        return words((w, at) -> sink.task((int) w[at], (int) (w[at] >>> 32), w[at + START_BOOTTIME / 8],
                (int) (w[at + 2] >>> 32), w[at + CGROUP_ID / 8], fingerprint(w, at)));
    }

    /** One raw record at {@code at} in {@code b}; layout in {@link #assemble}. */
    interface RecordSink {
        void record(MemorySegment b, long at);
    }

    /** One record as 64-bit words (native order) from index {@code at} of {@code w}. */
    private interface WordSink {
        void record(long[] w, int at);
    }

    /** Every record, read where the iterator wrote it (tests look at single fields). */
    synchronized int records(RecordSink sink) throws SyscallException {
        return read(whole -> {
            for (long at = 0; at < whole; at += RECORD) {
                sink.record(buf, at);
            }
        });
    }

    /**
     * Every record, copied in bulk to a long array first: the daemon runs on C1 alone, which
     * compiles a MemorySegment access per field into a call, and at 10,000 tasks reading the
     * records field by field was a third of a fresh pass.
     */
    private synchronized int words(WordSink sink) throws SyscallException {
        return read(whole -> {
            int n = (int) (whole / 8);
            MemorySegment.copy(buf, ValueLayout.JAVA_LONG_UNALIGNED, 0, words, 0, n);
            for (int at = 0; at < n; at += RECORD / 8) {
                sink.record(words, at);
            }
        });
    }

    /** Bytes [0, whole) of {@link #buf} hold whole records. */
    private interface Chunk {
        void records(long whole);
    }

    /** Runs the iterator once, handing over each read's whole records. Returns the number of tasks. */
    private int read(Chunk chunk) throws SyscallException {
        int fd;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment attr = a.allocate(16, 8);
            attr.set(ValueLayout.JAVA_INT, 0, linkFd);
            fd = BpfSyscall.bpf("bpf(BPF_ITER_CREATE)", BPF_ITER_CREATE, attr);
        }
        int tasks = 0;
        try {
            long fill = 0;
            while (true) {
                long n = BpfSyscall.read("read(task iterator)", fd, buf.asSlice(fill), buf.byteSize() - fill);
                if (n == 0) {
                    break;
                }
                fill += n;
                long whole = fill - fill % RECORD;
                chunk.records(whole);
                tasks += (int) (whole / RECORD);
                MemorySegment.copy(buf, whole, buf, 0, fill - whole); // a record split between two reads
                fill -= whole;
            }
        } finally {
            Libc.closeQuietly(fd);
        }
        return tasks;
    }

    /** Mixes the record's fields after the two ids into one 64-bit value. */
    private static long fingerprint(long[] w, int at) {
        long h = 0x9E3779B97F4A7C15L;
        for (int i = at + 1; i < at + FINGERPRINTED / 8; i++) {
            h = Long.rotateLeft(h ^ (w[i] * 0xBF58476D1CE4E5B9L), 31) * 0x94D049BB133111EBL;
        }
        return h ^ (h >>> 29);
    }

    @Override
    public synchronized void close() {
        Libc.closeQuietly(linkFd);
        Libc.closeQuietly(progFd);
        arena.close();
    }


    // ---- the program ----

    /**
     * The program, for one task (r1 = context: the iterator's meta, then the task or NULL at the
     * end). It copies fixed fields to a record on its stack and hands it to bpf_seq_write. Loads
     * through kernel pointers are checked against BTF by the verifier and made fault-safe, so a
     * kernel thread's NULL mm or a process without a terminal reads as zeros.
     *
     * <p>Besides run time and state, the record holds every stat field that another process (or
     * the kernel) can change while this one sleeps: nice and priorities (renice, sched_setscheduler,
     * priority inheritance), parent (re-parenting when the parent exits), process group (setpgid by
     * the parent), the terminal and its foreground group (job control), and memory (reclaim).
     *
     * <pre>
     *  0 tid   4 tgid   8 se.sum_exec_runtime   16 __state   20 exit_state   24 static_prio
     * 28 prio  32 rt_priority  36 policy  40 real_parent->tgid  44 pgrp  48 session
     * 52 tty->index  56 tty->driver->major  60 tty's foreground group   64 task cpu  68 zero
     * 72..103 mm->rss_stat[0..3].count   104 mm->total_vm
     * 112 cgroups->dfl_cgrp->kn->id (not fingerprinted: the sampler compares it on its own)
     * 120 start_boottime (not fingerprinted: it never changes; the rescan after a loss tells
     *     lives apart by it)
     * </pre>
     */
    static byte[] assemble(Btf btf) throws IOException {
        Asm a = new Asm();
        final int task = 7;
        final int ptr = 9;
        int base = -RECORD;
        a.ldx(8, 6, 1, 0);          // r6 = ctx->meta
        a.ldx(8, task, 1, 8);       // r7 = ctx->task
        int skip = a.jeqImm(task, 0); // if (!task) return 0
        a.ldx(8, 8, 6, 0);          // r8 = meta->seq
        copy(a, require(btf, "task_struct", "pid"), task, base, 4);
        copy(a, require(btf, "task_struct", "tgid"), task, base + 4, 4);
        copy(a, require(btf, "task_struct", "se.sum_exec_runtime"), task, base + 8, 8);
        copy(a, require(btf, "task_struct", "__state"), task, base + 16, 4);
        copy(a, btf.member("task_struct", "exit_state"), task, base + 20, 4);
        copy(a, require(btf, "task_struct", "static_prio"), task, base + 24, 4);
        copy(a, btf.member("task_struct", "prio"), task, base + 28, 4);
        copy(a, btf.member("task_struct", "rt_priority"), task, base + 32, 4);
        copy(a, btf.member("task_struct", "policy"), task, base + 36, 4);
        if (follow(a, btf.member("task_struct", "real_parent"), task, ptr)) {
            copy(a, btf.member("task_struct", "tgid"), ptr, base + 40, 4);
        } else {
            a.stImm(4, 10, base + 40, 0);
        }
        // process group and session: signal->pids[PIDTYPE_PGID / PIDTYPE_SID]->numbers[0].nr
        Btf.Member signal = require(btf, "task_struct", "signal");
        Btf.Member pids = btf.member("signal_struct", "pids");
        Btf.Member numbers = btf.member("pid", "numbers");
        int[] upid = numbers == null ? null : btf.array(numbers.typeId());
        Btf.Member nr = upid == null ? null : btf.member(upid[0], "nr");
        for (int type = 2, slot = 44; type <= 3; type++, slot += 4) {
            if (pids != null && nr != null) {
                a.ldx(8, ptr, task, signal.offset());
                a.ldx(8, ptr, ptr, pids.offset() + 8 * type);
                copy(a, new Btf.Member(numbers.offset() + nr.offset(), nr.size(), nr.typeId()), ptr, base + slot, 4);
            } else {
                a.stImm(4, 10, base + slot, 0);
            }
        }
        // the controlling terminal and its foreground process group (job control changes them)
        Btf.Member tty = btf.member("signal_struct", "tty");
        Btf.Member fg = btf.member("tty_struct", "ctrl.pgrp");
        if (fg == null) {
            fg = btf.member("tty_struct", "pgrp");
        }
        Btf.Member driver = btf.member("tty_struct", "driver");
        if (tty != null) {
            a.ldx(8, ptr, task, signal.offset());
            a.ldx(8, ptr, ptr, tty.offset());
            copy(a, btf.member("tty_struct", "index"), ptr, base + 52, 4);
            if (fg != null && nr != null) {
                a.ldx(8, 2, ptr, fg.offset());
                copy(a, new Btf.Member(numbers.offset() + nr.offset(), nr.size(), nr.typeId()), 2, base + 60, 4);
            } else {
                a.stImm(4, 10, base + 60, 0);
            }
            if (follow(a, driver, ptr, ptr)) {
                copy(a, btf.member("tty_driver", "major"), ptr, base + 56, 4);
            } else {
                a.stImm(4, 10, base + 56, 0);
            }
        } else {
            a.stImm(4, 10, base + 52, 0);
            a.stImm(4, 10, base + 56, 0);
            a.stImm(4, 10, base + 60, 0);
        }
        // the CPU the task last ran on (stat's "processor"): the load balancer moves a queued task
        // and a wake-up picks a CPU, neither of which needs the task to have run yet
        Btf.Member cpu = btf.member("task_struct", "thread_info.cpu");
        if (cpu == null) {
            cpu = btf.member("task_struct", "cpu");
        }
        a.stImm(8, 10, base + 64, 0);
        copy(a, cpu, task, base + 64, 4);
        follow(a, require(btf, "task_struct", "mm"), task, ptr);
        Btf.Member rss = btf.member("mm_struct", "rss_stat");
        int[] arr = rss == null ? null : btf.array(rss.typeId());
        Btf.Member count = arr == null ? null : btf.member(arr[0], "count");
        int elem = arr == null ? 0 : btf.sizeOf(arr[0]);
        for (int i = 0; i < 4; i++) {
            if (count != null && i < arr[1]) {
                copy(a, new Btf.Member(rss.offset() + i * elem + count.offset(), count.size(), count.typeId()),
                        ptr, base + 72 + 8 * i, 8);
            } else {
                a.stImm(8, 10, base + 72 + 8 * i, 0);
            }
        }
        copy(a, btf.member("mm_struct", "total_vm"), ptr, base + 104, 8);
        // the cgroup in the unified hierarchy: task->cgroups->dfl_cgrp->kn->id (a u64 since 5.5;
        // on older kernels the member is a union and reads as zero here: no move detection)
        a.stImm(8, 10, base + CGROUP_ID, 0);
        Btf.Member knId = btf.member("kernfs_node", "id");
        if (knId != null && knId.size() == 8
                && follow(a, btf.member("task_struct", "cgroups"), task, ptr)
                && follow(a, btf.member("css_set", "dfl_cgrp"), ptr, ptr)
                && follow(a, btf.member("cgroup", "kn"), ptr, ptr)) {
            copy(a, knId, ptr, base + CGROUP_ID, 8);
        }
        a.stImm(8, 10, base + START_BOOTTIME, 0);
        copy(a, startMember(btf), task, base + START_BOOTTIME, 8);
        a.movReg(1, 8);             // bpf_seq_write(seq, record, RECORD)
        a.movReg(2, 10);
        a.addImm(2, base);
        a.movImm(3, RECORD);
        a.call(BPF_FUNC_SEQ_WRITE);
        a.target(skip);
        a.movImm(0, 0);
        a.exit();
        return a.bytes();
    }

    /** The task's start on the boot clock: start_boottime since 5.5, real_start_time before; null if neither is a u64. */
    private static Btf.Member startMember(Btf btf) {
        for (String name : new String[] {"start_boottime", "real_start_time"}) {
            Btf.Member m = btf.member("task_struct", name);
            if (m != null && m.size() == 8) {
                return m;
            }
        }
        return null;
    }

    private static Btf.Member require(Btf btf, String struct, String path) throws IOException {
        Btf.Member m = btf.member(struct, path);
        if (m == null || (m.size() != 4 && m.size() != 8)) {
            throw new IOException("kernel BTF has no usable " + struct + "." + path);
        }
        return m;
    }

    /** dst = *(pointer member of src); false (and nothing emitted) when the member is unknown. */
    private static boolean follow(Asm a, Btf.Member pointer, int src, int dst) {
        if (pointer == null || pointer.size() != 8) {
            return false;
        }
        a.ldx(8, dst, src, pointer.offset());
        return true;
    }

    /**
     * Copies a member of the struct {@code src} points to into a record slot {@code width} bytes
     * wide (the low half of a wider field); a zero when the kernel does not have the member.
     */
    private static void copy(Asm a, Btf.Member m, int src, int slot, int width) {
        if (m == null || !(m.size() == 4 || m.size() == 8) || m.size() < width) {
            a.stImm(width, 10, slot, 0);
            return;
        }
        a.ldx(m.size(), 1, src, m.offset());
        a.stx(width, 10, 1, slot);
    }

    private static int load(byte[] program, int attachId) throws IOException {
        return Programs.load("task iterator", "procwatch_tasks", program, BPF_TRACE_ITER, attachId);
    }

}
