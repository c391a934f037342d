package io.procwatch.table;

import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.PidStatus;
import io.procwatch.procfs.ProcFs;
import io.procwatch.procfs.SystemInfo;

import java.util.List;
import java.util.Optional;

/** Builds and refreshes {@link ProcessInfo}s from /proc files. */
final class ProcReader {
    /** Two start times within this many clock ticks belong to the same process. */
    static final long SAME_START_TICKS = 2;

    private final ProcFs proc;
    private final SystemInfo sys = SystemInfo.get();

    ProcReader(ProcFs proc) {
        this.proc = proc;
    }

    ProcFs procFs() {
        return proc;
    }

    /** Distinct cgroup texts, so the rows of the thousands of processes in one cgroup share one string. */
    private static final java.util.concurrent.ConcurrentHashMap<String, String> CGROUPS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int CGROUPS_MAX = 8192;

    /** {@code text} or an equal string already held by another row. */
    static String shared(String text) {
        if (text == null) {
            return null;
        }
        String s = CGROUPS.get(text);
        if (s != null) {
            return s;
        }
        if (CGROUPS.size() >= CGROUPS_MAX) {
            CGROUPS.clear(); // a churn of cgroups (containers come and go): start over, bounded
        }
        s = CGROUPS.putIfAbsent(text, text);
        return s == null ? text : s;
    }

    /** The process's cgroup lines (comma-joined), shared, or null when unreadable. */
    static String cgroup(ProcFs proc, int pid) {
        return shared(proc.cgroupLines(pid).orElse(null));
    }

    static boolean sameStart(long a, long b) {
        return Math.abs(a - b) <= SAME_START_TICKS;
    }

    /** The stat line of {@code pid}, or null when it is gone or unreadable. */
    PidStat stat(int pid) {
        Optional<PidStat> s = proc.stat(pid);
        return s.isEmpty() ? null : s.get();
    }

    /** A full row for {@code pid} from /proc, or null if it is gone (or unreadable). */
    ProcessInfo load(int pid) {
        PidStat stat = stat(pid);
        return stat == null ? null : load(pid, stat, 0);
    }

    /** A row read by {@link #loadOpen}, and its process's stat file, still open (the caller owns it). */
    record Loaded(ProcessInfo row, int statFd) {
    }

    /**
     * {@link #load(int)} for the rescan after a loss: the stat file is read through a descriptor
     * that is kept open and handed over (the sampler re-reads it with pread; a descriptor stays
     * bound to the process it was opened for, so it can never report a later life of the pid).
     * {@code cgroupId} is the process's cgroup as a task scan saw it before this read (0 if
     * unknown): the text is read after it, so if the process moved in between, the sampler's
     * next task scan shows another id and reads the text again.
     */
    Loaded loadOpen(int pid, long cgroupId) {
        int fd = proc.openStat(pid);
        if (fd < 0) {
            return null; // gone
        }
        PidStat stat = proc.readAll(fd).filter(b -> b.length > 0).map(b -> PidStat.parse(b, b.length)).orElse(null);
        if (stat == null) {
            io.procwatch.sys.Libc.closeQuietly(fd);
            return null;
        }
        try {
            return new Loaded(load(pid, stat, cgroupId), fd);
        } catch (RuntimeException e) {
            io.procwatch.sys.Libc.closeQuietly(fd);
            throw e;
        }
    }

    /** The rest of a row after its stat line (the line proves which life the other files are of). */
    private ProcessInfo load(int pid, PidStat stat, long cgroupId) {
        ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
        applyStat(b, stat, System.nanoTime());
        b.startTicks = stat.starttime();
        b.startExact = true;
        b.startNs = sys.startTicksToMonotonicNanos(stat.starttime());
        proc.status(pid).ifPresent(s -> {
            applyStatus(b, s);
            applyMemory(b, s, sys.pageSize());
        });
        b.argv = proc.cmdline(pid).map(List::copyOf).orElse(List.of());
        b.execArgv = b.argv;
        b.exe = proc.exe(pid).orElse("");
        b.cgroup = cgroup(proc, pid); // without an id, it stays unknown until the sampler's next task scan
        b.cgroupId = b.cgroup == null ? 0 : cgroupId;
        // one thread (most processes): no need to list the task directory; a thread created
        // since comes with its fork event
        List<Integer> tids = stat.numThreads() == 1 ? List.of(pid) : proc.tids(pid);
        b.threads = tids.isEmpty() ? new int[] {pid} : tids.stream().mapToInt(Integer::intValue).toArray();
        if (stat.state() == 'Z' || stat.state() == 'X') {
            b.leaderExited = true;
            if (tids.size() <= 1) {
                b.threads = new int[0];
            } else {
                b.threads = tids.stream().mapToInt(Integer::intValue).filter(t -> t != pid).toArray();
            }
        }
        return b.build();
    }

    static void applyStat(ProcessInfo.Builder p, PidStat s, long now) {
        p.comm = s.comm();
        p.state = s.state();
        applyFamily(p, s);
        p.minflt = s.minflt();
        p.majflt = s.majflt();
        p.utime = s.utime();
        p.stime = s.stime();
        p.priority = s.priority();
        p.nice = s.nice();
        p.numThreads = s.numThreads();
        p.vsize = s.vsize();
        p.rss = s.rss();
        p.statRss = s.rss();
        p.processor = s.processor();
        p.sampledAtNanos = now;
    }

    /** The fields no kernel event reports (the parent after re-parenting, group, terminal), from a stat line. */
    static void applyFamily(ProcessInfo.Builder p, PidStat s) {
        p.ppid = s.ppid();
        p.pgrp = s.pgrp();
        p.session = s.session();
        p.ttyNr = s.ttyNr();
        p.tpgid = s.tpgid();
    }

    /** Whether a fresh stat read says anything {@link #applyStat} would change. */
    static boolean statDiffers(ProcessInfo p, PidStat s) {
        return p.state != s.state() || p.utime != s.utime() || p.stime != s.stime() || p.statRss != s.rss()
                || p.vsize != s.vsize() || p.minflt != s.minflt() || p.majflt != s.majflt()
                || p.numThreads != s.numThreads() || p.processor != s.processor() || p.nice != s.nice()
                || p.priority != s.priority() || p.ppid != s.ppid() || p.pgrp != s.pgrp()
                || p.session != s.session() || p.ttyNr != s.ttyNr() || p.tpgid != s.tpgid()
                || !p.comm.equals(s.comm());
    }

    /** The exact resident size and the locked size from status (after applyStat, which set stat's approximation). */
    static void applyMemory(ProcessInfo.Builder p, PidStatus s, int pageSize) {
        if (s.vmRssKiB() >= 0) {
            p.rss = s.vmRssKiB() * 1024 / pageSize;
        }
        p.lockedKiB = Math.max(0, s.vmLckKiB());
    }

    static void applyStatus(ProcessInfo.Builder p, PidStatus s) {
        p.ruid = s.ruid();
        p.euid = s.euid();
        p.rgid = s.rgid();
        p.egid = s.egid();
        p.tracerPid = s.tracerPid();
    }
}
