package io.procwatch.table;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The journal's encoding of table rows (issue #17; docs/journal.md), here because it reads and
 * builds {@link ProcessInfo} rows field by field.
 *
 * <p>A row body is a field mask (varint) and the value of each field in the mask, in field order:
 * ints and longs zigzag varints, strings a varint length and UTF-8, an argv a varint count and
 * strings. A change carries only the fields that changed (whole groups: all four ids when one
 * changed, comm+exe+argv when the program changed), as <em>assignments</em>, never as arithmetic on
 * the previous value: a replay that skips an entry (its time is after the instant asked for) still
 * gets every other field right, which a chain of differences would not.
 */
public final class JournalCodec {
    private JournalCodec() {
    }

    // field numbers = mask bits
    static final int PPID = 0, PGRP = 1, SID = 2, TTY = 3, TPGID = 4, RUID = 5, EUID = 6, RGID = 7, EGID = 8,
            TRACER = 9, COMM = 10, EXE = 11, ARGV = 12, ARGV_KNOWN = 13, START_NS = 14, START_TICKS = 15,
            LEADER_EXITED = 16, STATE = 17, PRIORITY = 18, NICE = 19, PROCESSOR = 20, NLWP = 21, UTIME = 22,
            STIME = 23, VSIZE = 24, RSS = 25, LOCKED = 26, MINFLT = 27, MAJFLT = 28;
    /** A new row whose comm, exe and argv are its parent's (a fork): they are not repeated. */
    static final int FROM_PARENT = 29;
    /** The change was an exec (for the journal's readers: an Exec entry rather than a rename). */
    static final int EXEC = 30;
    /** The name changed without an exec (PR_SET_NAME, /proc/PID/comm): a Rename for readers. */
    static final int RENAMED = 31;
    private static final int FIELDS = 29;
    /**
     * The cgroup lines (after the flags, so journals written before it read as before): a change
     * carrying it is a move between cgroups, which no event reports (the sampler finds it).
     * An empty string is "not known".
     */
    static final int CGROUP = 32;
    /** With {@link #CGROUP} in a change: the cgroup the process left (for readers; replay ignores it). */
    static final int CGROUP_FROM = 33;
    private static final long KNOWN = (1L << FIELDS) - 1 | 1L << FROM_PARENT | 1L << EXEC | 1L << RENAMED
            | 1L << CGROUP | 1L << CGROUP_FROM;
    /** Fields no event maintains, read by the sampler: journaled at the sample pace, not per change. */
    public static final long SAMPLED = bits(STATE, PRIORITY, NICE, PROCESSOR, NLWP, UTIME, STIME, VSIZE, RSS,
            LOCKED, MINFLT, MAJFLT);
    private static final long SESSION_GROUP = bits(PGRP, SID, TTY, TPGID);
    private static final long CRED_GROUP = bits(RUID, EUID, RGID, EGID);
    private static final long PROGRAM_GROUP = bits(COMM, EXE, ARGV, ARGV_KNOWN);

    private static long bits(int... fs) {
        long m = 0;
        for (int f : fs) {
            m |= 1L << f;
        }
        return m;
    }

    /** The fields in which two rows of one life differ (mask), before widening to groups. */
    static long differing(ProcessInfo a, ProcessInfo b) {
        long m = 0;
        for (int f = 0; f < FIELDS; f++) {
            if (!Objects.equals(value(a, f), value(b, f))) {
                m |= 1L << f;
            }
        }
        if (!Objects.equals(a.cgroup, b.cgroup)) {
            m |= 1L << CGROUP;
        }
        return m;
    }

    /** Whether a change is one the journal writes at once (anything but the sampled fields). */
    public static boolean identityChange(ProcessInfo old, ProcessInfo now) {
        return (differing(old, now) & ~SAMPLED) != 0;
    }

    private static Object value(ProcessInfo p, int f) {
        return switch (f) {
            case PPID -> p.ppid;
            case PGRP -> p.pgrp;
            case SID -> p.session;
            case TTY -> p.ttyNr;
            case TPGID -> p.tpgid;
            case RUID -> p.ruid;
            case EUID -> p.euid;
            case RGID -> p.rgid;
            case EGID -> p.egid;
            case TRACER -> p.tracerPid;
            case COMM -> p.comm;
            case EXE -> p.exe;
            case ARGV -> p.argv;
            case ARGV_KNOWN -> p.argvKnown;
            case START_NS -> p.startNs;
            case START_TICKS -> p.startTicks;
            case LEADER_EXITED -> p.leaderExited;
            case STATE -> p.state;
            case PRIORITY -> p.priority;
            case NICE -> p.nice;
            case PROCESSOR -> p.processor;
            case NLWP -> p.numThreads();
            case UTIME -> p.utime;
            case STIME -> p.stime;
            case VSIZE -> p.vsize;
            case RSS -> p.rss;
            case LOCKED -> p.lockedKiB;
            case MINFLT -> p.minflt;
            case MAJFLT -> p.majflt;
            default -> throw new IllegalArgumentException("field " + f);
        };
    }

    // ---- writing ------------------------------------------------------------------------------

    /** A whole row; with {@code parent} (the forking process) its program is not repeated when it is the parent's. */
    public static byte[] full(ProcessInfo p, ProcessInfo parent) {
        long mask = (1L << FIELDS) - 1;
        if (parent != null && p.comm.equals(parent.comm) && p.exe.equals(parent.exe) && p.argv.equals(parent.argv)
                && p.argvKnown == parent.argvKnown) {
            mask = mask & ~PROGRAM_GROUP | 1L << FROM_PARENT;
        }
        if (p.cgroup != null && (parent == null || (mask & 1L << FROM_PARENT) == 0 || !p.cgroup.equals(parent.cgroup))) {
            mask |= 1L << CGROUP; // a child in its parent's cgroup (nearly every fork) does not repeat it
        }
        return write(p, null, mask);
    }

    /**
     * What changed in one life (old to now), as one entry, or two when an exec also changed the
     * ids (a set-user-id program): readers then see an exec and an id change, each whole.
     */
    public static List<byte[]> changes(ProcessInfo old, ProcessInfo now) {
        byte[] all = change(old, now);
        long m = new In(all).varint();
        if ((m & 1L << EXEC) != 0 && (m & CRED_GROUP) != 0) {
            return List.of(write(now, old, m & ~CRED_GROUP), write(now, null, CRED_GROUP | 1L << START_NS));
        }
        return List.of(all);
    }

    /** What changed in one life (old to now), whole groups, with the life's start to check it on replay. */
    static byte[] change(ProcessInfo old, ProcessInfo now) {
        long d = differing(old, now);
        long m = d;
        if ((d & SESSION_GROUP) != 0) {
            m |= SESSION_GROUP;
        }
        if ((d & CRED_GROUP) != 0) {
            m |= CRED_GROUP;
        }
        if ((d & PROGRAM_GROUP) != 0) {
            m |= PROGRAM_GROUP;
        }
        m |= 1L << START_NS;
        if ((d & 1L << CGROUP) != 0 && old.cgroup != null) {
            m |= 1L << CGROUP_FROM;
        }
        if (old.execCount != now.execCount) {
            m |= 1L << EXEC | PROGRAM_GROUP;
        } else if (!old.comm.equals(now.comm)) {
            m |= 1L << RENAMED;
        }
        return write(now, old, m);
    }

    /** The sampled fields of a row (all of them), with its life's start. */
    public static byte[] sample(ProcessInfo p) {
        return write(p, null, SAMPLED | 1L << START_NS);
    }

    /** @param old the row before the change, for {@link #CGROUP_FROM} */
    private static byte[] write(ProcessInfo p, ProcessInfo old, long mask) {
        Out o = new Out();
        o.varint(mask);
        for (int f = 0; f < FIELDS; f++) {
            if ((mask & 1L << f) == 0) {
                continue;
            }
            switch (value(p, f)) {
                case Integer i -> o.zigzag(i);
                case Long l -> o.zigzag(l);
                case Character c -> o.varint(c);
                case Boolean b -> o.varint(b ? 1 : 0);
                case String s -> o.string(s);
                case List<?> l -> {
                    o.varint(l.size());
                    for (Object s : l) {
                        o.string((String) s);
                    }
                }
                default -> throw new IllegalStateException();
            }
        }
        if ((mask & 1L << CGROUP) != 0) {
            o.string(p.cgroup == null ? "" : p.cgroup);
        }
        if ((mask & 1L << CGROUP_FROM) != 0) {
            o.string(old == null || old.cgroup == null ? "" : old.cgroup);
        }
        return o.bytes();
    }

    /** A checkpoint: every row, deflated. */
    public static byte[] checkpoint(Collection<ProcessInfo> rows) {
        Out o = new Out();
        o.varint(rows.size());
        for (ProcessInfo p : rows) {
            byte[] b = full(p, null);
            o.varint(p.pid);
            o.varint(b.length);
            o.raw(b);
        }
        return deflate(o.bytes());
    }

    public static byte[] deflate(byte[] in) {
        Deflater d = new Deflater(Deflater.BEST_SPEED);
        try {
            d.setInput(in);
            d.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(in.length / 3 + 64);
            byte[] buf = new byte[64 * 1024];
            while (!d.finished()) {
                out.write(buf, 0, d.deflate(buf));
            }
            return out.toByteArray();
        } finally {
            d.end();
        }
    }

    /** Inflates at most {@code max} bytes: a damaged or hostile blob cannot take the heap. */
    public static byte[] inflate(byte[] in, int max) {
        Inflater inf = new Inflater();
        try {
            inf.setInput(in);
            ByteArrayOutputStream out = new ByteArrayOutputStream(in.length * 4);
            byte[] buf = new byte[64 * 1024];
            while (!inf.finished()) {
                int n = inf.inflate(buf);
                if (n == 0 && (inf.needsInput() || inf.needsDictionary())) {
                    throw new IllegalArgumentException("truncated checkpoint");
                }
                out.write(buf, 0, n);
                if (out.size() > max) {
                    throw new IllegalArgumentException("checkpoint larger than " + max + " bytes");
                }
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new IllegalArgumentException("damaged checkpoint: " + e.getMessage());
        } finally {
            inf.end();
        }
    }

    // ---- reading ------------------------------------------------------------------------------

    /** A decoded change: which fields it sets, for readers that turn entries into events. */
    public record Fields(int pid, long mask, Long startNs, String comm, String exe, List<String> argv,
                         Integer ruid, Integer euid, Integer rgid, Integer egid, Integer ppid,
                         String cgroup, String cgroupFrom) {
        /** A move between cgroups: {@link #cgroup} is where to, {@link #cgroupFrom} where from (null: not known). */
        public boolean cgroupChanged() {
            return (mask & 1L << CGROUP) != 0 && (mask & 1L << CGROUP_FROM) != 0;
        }

        public boolean exec() {
            return (mask & 1L << EXEC) != 0;
        }

        public boolean renamed() {
            return (mask & 1L << RENAMED) != 0;
        }

        public boolean credsChanged() {
            return (mask & CRED_GROUP) != 0;
        }
    }

    /** Decodes a row body for its readable fields (no replay state needed). */
    public static Fields fields(int pid, byte[] body) {
        ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
        String[] from = new String[1];
        long mask = read(b, new In(body), null, from);
        return new Fields(pid, mask, has(mask, START_NS) ? b.startNs : null, has(mask, COMM) ? b.comm : null,
                has(mask, EXE) ? b.exe : null, has(mask, ARGV) ? b.argv : null, has(mask, RUID) ? b.ruid : null,
                has(mask, EUID) ? b.euid : null, has(mask, RGID) ? b.rgid : null, has(mask, EGID) ? b.egid : null,
                has(mask, PPID) ? b.ppid : null, b.cgroup, from[0]);
    }

    private static boolean has(long mask, int f) {
        return (mask & 1L << f) != 0;
    }

    private static long read(ProcessInfo.Builder b, In in, ProcessInfo.Builder parent) {
        return read(b, in, parent, null);
    }

    /**
     * Reads a body's fields into {@code b}; nlwp is returned through the builder's threads.
     * {@code from}, when given, receives {@link #CGROUP_FROM}.
     */
    private static long read(ProcessInfo.Builder b, In in, ProcessInfo.Builder parent, String[] from) {
        long mask = in.varint();
        if ((mask & ~KNOWN) != 0) {
            throw new IllegalArgumentException("unknown fields in a journal entry");
        }
        int nlwp = -1;
        for (int f = 0; f < FIELDS; f++) {
            if ((mask & 1L << f) == 0) {
                continue;
            }
            switch (f) {
                case PPID -> b.ppid = in.int32();
                case PGRP -> b.pgrp = in.int32();
                case SID -> b.session = in.int32();
                case TTY -> b.ttyNr = in.int32();
                case TPGID -> b.tpgid = in.int32();
                case RUID -> b.ruid = in.int32();
                case EUID -> b.euid = in.int32();
                case RGID -> b.rgid = in.int32();
                case EGID -> b.egid = in.int32();
                case TRACER -> b.tracerPid = in.int32();
                case COMM -> b.comm = in.string();
                case EXE -> b.exe = in.string();
                case ARGV -> {
                    long n = in.varint();
                    if (n < 0 || n > in.remaining()) {
                        throw new IllegalArgumentException("bad argv count");
                    }
                    List<String> a = new ArrayList<>((int) n);
                    for (long i = 0; i < n; i++) {
                        a.add(in.string());
                    }
                    b.argv = a;
                    b.execArgv = a;
                }
                case ARGV_KNOWN -> b.argvKnown = in.varint() != 0;
                case START_NS -> b.startNs = in.zigzag();
                case START_TICKS -> b.startTicks = in.zigzag();
                case LEADER_EXITED -> b.leaderExited = in.varint() != 0;
                case STATE -> b.state = (char) in.varint();
                case PRIORITY -> b.priority = in.int32();
                case NICE -> b.nice = in.int32();
                case PROCESSOR -> b.processor = in.int32();
                case NLWP -> nlwp = Math.max(1, Math.min(1 << 20, in.int32()));
                case UTIME -> b.utime = in.zigzag();
                case STIME -> b.stime = in.zigzag();
                case VSIZE -> b.vsize = in.zigzag();
                case RSS -> b.rss = in.zigzag();
                case LOCKED -> b.lockedKiB = in.zigzag();
                case MINFLT -> b.minflt = in.zigzag();
                case MAJFLT -> b.majflt = in.zigzag();
                default -> throw new IllegalStateException();
            }
        }
        if ((mask & 1L << CGROUP) != 0) {
            String c = in.string();
            b.cgroup = c.isEmpty() ? null : c;
        }
        if ((mask & 1L << CGROUP_FROM) != 0) {
            String c = in.string();
            if (from != null) {
                from[0] = c.isEmpty() ? null : c;
            }
        }
        if ((mask & 1L << FROM_PARENT) != 0 && parent != null && (mask & 1L << CGROUP) == 0) {
            b.cgroup = parent.cgroup;
        }
        if ((mask & 1L << FROM_PARENT) != 0 && parent != null) {
            b.comm = parent.comm;
            b.exe = parent.exe;
            b.argv = parent.argv;
            b.execArgv = parent.argv;
            b.argvKnown = parent.argvKnown;
        }
        if (nlwp > 0) {
            // the row counts threads by its tid list (numThreads()); a past row needs only the count
            int n = b.leaderExited ? (nlwp > 1 ? nlwp - 1 : 0) : nlwp;
            b.threads = new int[n];
            java.util.Arrays.fill(b.threads, b.pid);
        }
        if (in.remaining() != 0) {
            throw new IllegalArgumentException("trailing bytes in a journal entry");
        }
        return mask;
    }

    /**
     * A checkpoint decoded once: its rows, immutable, so several replays (ps --at, diff, top
     * --replay stepping through one interval) can start from it without inflating it again.
     */
    public static final class Base {
        private final Map<Integer, ProcessInfo> rows;
        private final long threadSlots;

        private Base(Map<Integer, ProcessInfo> rows, long threadSlots) {
            this.rows = rows;
            this.threadSlots = threadSlots;
        }

        public int size() {
            return rows.size();
        }
    }

    /** Decodes a checkpoint (inflating at most {@code maxBytes}). */
    public static Base base(byte[] deflated, int maxBytes) {
        In in = new In(inflate(deflated, maxBytes));
        long n = in.varint();
        if (n < 0 || n > in.remaining()) {
            throw new IllegalArgumentException("bad checkpoint row count");
        }
        Map<Integer, ProcessInfo> rows = new HashMap<>((int) (n * 4 / 3) + 1);
        long slots = 0;
        for (long i = 0; i < n; i++) {
            int pid = (int) in.varint();
            int len = (int) Math.min(Integer.MAX_VALUE, in.varint());
            ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
            read(b, new In(in.slice(len)), null);
            slots += b.threads.length;
            if (slots > MAX_THREAD_SLOTS) {
                throw new IllegalArgumentException("checkpoint counts more than " + MAX_THREAD_SLOTS + " threads");
            }
            b.startExact = true;
            ProcessInfo old = rows.put(pid, b.build());
            if (old != null) {
                slots -= old.threads.length;
            }
        }
        return new Base(rows, slots);
    }

    /**
     * Thread slots (ProcessInfo keeps a tid array; a past row fills it from the journaled count)
     * a replayed table may hold: far above any real machine's, low enough that a damaged or
     * hostile count cannot take the heap (4 bytes a slot).
     */
    static final long MAX_THREAD_SLOTS = 1L << 24;

    /**
     * The table at a past instant being rebuilt: a checkpoint, then entries applied in journal
     * order. Entries of other lives (pid reused) than the row held are ignored. Rows the entries
     * did not touch stay the checkpoint's own (shared with its {@link Base}); a touched row is
     * copied to a builder once.
     */
    public static final class Replay {
        /** A ProcessInfo (as in the checkpoint) or a ProcessInfo.Builder (changed since). */
        private final Map<Integer, Object> rows;
        private long threadSlots;

        public Replay() {
            rows = new HashMap<>();
        }

        public Replay(Base base) {
            rows = new HashMap<>(base.rows);
            threadSlots = base.threadSlots;
        }

        public void checkpoint(byte[] deflated, int maxBytes) {
            Base b = base(deflated, maxBytes);
            rows.clear();
            rows.putAll(b.rows);
            threadSlots = b.threadSlots;
        }

        private static int slots(Object o) {
            return o == null ? 0 : o instanceof ProcessInfo p ? p.threads.length : ((ProcessInfo.Builder) o).threads.length;
        }

        private void account(long before, long after) {
            threadSlots += after - before;
            if (threadSlots > MAX_THREAD_SLOTS) {
                throw new IllegalArgumentException("replayed table counts more than " + MAX_THREAD_SLOTS + " threads");
            }
        }

        /** A new row (fork, or found by a rescan): replaces whatever the pid held. */
        public void added(int pid, byte[] body) {
            ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
            long mask = read(b, new In(body), null);
            if ((mask & 1L << FROM_PARENT) != 0) {
                // comm, exe and argv are the parent's (its pid was in the body)
                Object parent = rows.get(b.ppid);
                if (parent instanceof ProcessInfo p) {
                    b.comm = p.comm;
                    b.exe = p.exe;
                    b.argv = p.argv;
                    b.execArgv = p.argv;
                    b.argvKnown = p.argvKnown;
                } else if (parent instanceof ProcessInfo.Builder p) {
                    b.comm = p.comm;
                    b.exe = p.exe;
                    b.argv = p.argv;
                    b.execArgv = p.argv;
                    b.argvKnown = p.argvKnown;
                }
            }
            account(slots(rows.put(pid, b)), b.threads.length);
        }

        /** A change of one life: applied only to that life. */
        public void changed(int pid, byte[] body) {
            Object cur = rows.get(pid);
            if (cur == null) {
                return;
            }
            long curStart = cur instanceof ProcessInfo p ? p.startNs : ((ProcessInfo.Builder) cur).startNs;
            // decoded once, into a probe: the life is checked before anything of it is applied;
            // the probe starts with the row's exit flag, which turns a thread count into tids
            ProcessInfo.Builder probe = new ProcessInfo.Builder(pid);
            probe.threads = null;
            probe.leaderExited = cur instanceof ProcessInfo p ? p.leaderExited : ((ProcessInfo.Builder) cur).leaderExited;
            long mask = read(probe, new In(body), null);
            if ((mask & 1L << START_NS) != 0 && probe.startNs != curStart) {
                return;
            }
            ProcessInfo.Builder b;
            if (cur instanceof ProcessInfo p) {
                b = p.toBuilder();
                rows.put(pid, b);
            } else {
                b = (ProcessInfo.Builder) cur;
            }
            long before = b.threads.length;
            assign(b, probe, mask);
            account(before, b.threads.length);
        }

        public void removed(int pid, long startNs) {
            Object cur = rows.get(pid);
            long start = cur instanceof ProcessInfo p ? p.startNs : cur instanceof ProcessInfo.Builder b ? b.startNs : Long.MIN_VALUE;
            if (cur != null && start == startNs) {
                rows.remove(pid);
                account(slots(cur), 0);
            }
        }

        public int size() {
            return rows.size();
        }

        public List<ProcessInfo> rows() {
            List<ProcessInfo> out = new ArrayList<>(rows.size());
            for (Object o : rows.values()) {
                if (o instanceof ProcessInfo p) {
                    out.add(p);
                } else {
                    ProcessInfo.Builder b = (ProcessInfo.Builder) o;
                    b.startExact = true;
                    out.add(b.build());
                }
            }
            return out;
        }
    }

    /** Copies the fields {@code mask} names (as read into {@code from}) to {@code to}. */
    private static void assign(ProcessInfo.Builder to, ProcessInfo.Builder from, long mask) {
        for (int f = 0; f < FIELDS; f++) {
            if ((mask & 1L << f) == 0) {
                continue;
            }
            switch (f) {
                case PPID -> to.ppid = from.ppid;
                case PGRP -> to.pgrp = from.pgrp;
                case SID -> to.session = from.session;
                case TTY -> to.ttyNr = from.ttyNr;
                case TPGID -> to.tpgid = from.tpgid;
                case RUID -> to.ruid = from.ruid;
                case EUID -> to.euid = from.euid;
                case RGID -> to.rgid = from.rgid;
                case EGID -> to.egid = from.egid;
                case TRACER -> to.tracerPid = from.tracerPid;
                case COMM -> to.comm = from.comm;
                case EXE -> to.exe = from.exe;
                case ARGV -> {
                    to.argv = from.argv;
                    to.execArgv = from.execArgv;
                }
                case ARGV_KNOWN -> to.argvKnown = from.argvKnown;
                case START_NS -> to.startNs = from.startNs;
                case START_TICKS -> to.startTicks = from.startTicks;
                case LEADER_EXITED -> to.leaderExited = from.leaderExited;
                case STATE -> to.state = from.state;
                case PRIORITY -> to.priority = from.priority;
                case NICE -> to.nice = from.nice;
                case PROCESSOR -> to.processor = from.processor;
                case NLWP -> { } // below: the tid array, from the count and the exit
                case UTIME -> to.utime = from.utime;
                case STIME -> to.stime = from.stime;
                case VSIZE -> to.vsize = from.vsize;
                case RSS -> to.rss = from.rss;
                case LOCKED -> to.lockedKiB = from.lockedKiB;
                case MINFLT -> to.minflt = from.minflt;
                case MAJFLT -> to.majflt = from.majflt;
                default -> throw new IllegalStateException();
            }
        }
        if ((mask & 1L << NLWP) != 0 && from.threads != null) {
            to.threads = from.threads;
        }
        // the cgroup sits after the numbered fields (see read): without this a replay learned a
        // move only from the next checkpoint (CgroupMoveTest failed whenever none fell between
        // the move and the instant asked, one run in five)
        if ((mask & 1L << CGROUP) != 0) {
            to.cgroup = from.cgroup;
        }
    }

    private static long peekMask(byte[] body) {
        return new In(body).varint();
    }

    // ---- bytes --------------------------------------------------------------------------------

    public static final class Out {
        private byte[] buf = new byte[64];
        private int n;

        public void varint(long v) {
            while ((v & ~0x7fL) != 0) {
                put((byte) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            put((byte) v);
        }

        public void zigzag(long v) {
            varint((v << 1) ^ (v >> 63));
        }

        public void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            varint(b.length);
            raw(b);
        }

        public void raw(byte[] b) {
            ensure(b.length);
            System.arraycopy(b, 0, buf, n, b.length);
            n += b.length;
        }

        private void put(byte b) {
            ensure(1);
            buf[n++] = b;
        }

        private void ensure(int more) {
            if (n + more > buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, n + more));
            }
        }

        public byte[] bytes() {
            return java.util.Arrays.copyOf(buf, n);
        }
    }

    /** Bounds-checked reading: a damaged entry is an IllegalArgumentException, never a wild allocation. */
    public static final class In {
        private final byte[] b;
        private int i;

        public In(byte[] b) {
            this.b = b;
        }

        public long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (i >= b.length) {
                    throw new IllegalArgumentException("truncated journal entry");
                }
                byte x = b[i++];
                v |= (long) (x & 0x7f) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
            throw new IllegalArgumentException("bad varint in a journal entry");
        }

        public long zigzag() {
            long v = varint();
            return (v >>> 1) ^ -(v & 1);
        }

        int int32() {
            return (int) zigzag();
        }

        public String string() {
            return new String(slice((int) Math.min(Integer.MAX_VALUE, varint())), StandardCharsets.UTF_8);
        }

        byte[] slice(int len) {
            if (len < 0 || len > b.length - i) {
                throw new IllegalArgumentException("truncated journal entry");
            }
            byte[] s = java.util.Arrays.copyOfRange(b, i, i + len);
            i += len;
            return s;
        }

        public int remaining() {
            return b.length - i;
        }
    }
}
