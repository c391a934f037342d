package io.procwatch.table;

import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.PidStatus;
import io.procwatch.procfs.ProcFs;

import java.util.List;
import java.util.Optional;

/** Builds and refreshes {@link ProcessInfo}s from /proc files. */
final class ProcReader {
    /** Two start times within this many clock ticks belong to the same process. */
    static final long SAME_START_TICKS = 2;

    private final ProcFs proc;

    ProcReader(ProcFs proc) {
        this.proc = proc;
    }

    ProcFs procFs() {
        return proc;
    }

    static boolean sameStart(long a, long b) {
        return Math.abs(a - b) <= SAME_START_TICKS;
    }

    /** A full ProcessInfo for {@code pid} from /proc, or null if it is gone (or unreadable). */
    ProcessInfo load(int pid) {
        Optional<PidStat> stat = proc.stat(pid);
        if (stat.isEmpty() || stat.get() == null) {
            return null;
        }
        ProcessInfo p = new ProcessInfo(pid);
        applyStat(p, stat.get(), System.nanoTime());
        p.startTicks = stat.get().starttime();
        p.startExact = true;
        proc.status(pid).ifPresent(s -> applyStatus(p, s));
        p.argv = proc.cmdline(pid).map(List::copyOf).orElse(List.of());
        p.exe = proc.exe(pid).orElse("");
        List<Integer> tids = proc.tids(pid);
        p.threads = tids.isEmpty() ? new int[] {pid} : tids.stream().mapToInt(Integer::intValue).toArray();
        return p;
    }

    static void applyStat(ProcessInfo p, PidStat s, long now) {
        p.comm = s.comm();
        p.state = s.state();
        p.ppid = s.ppid();
        p.pgrp = s.pgrp();
        p.session = s.session();
        p.ttyNr = s.ttyNr();
        p.tpgid = s.tpgid();
        p.minflt = s.minflt();
        p.majflt = s.majflt();
        p.utime = s.utime();
        p.stime = s.stime();
        p.priority = s.priority();
        p.nice = s.nice();
        p.numThreads = s.numThreads();
        p.vsize = s.vsize();
        p.rss = s.rss();
        p.processor = s.processor();
        p.sampledAtNanos = now;
    }

    /** Whether a fresh stat read says anything {@link #applyStat} would change. */
    static boolean statDiffers(ProcessInfo p, PidStat s) {
        return p.state != s.state() || p.utime != s.utime() || p.stime != s.stime() || p.rss != s.rss()
                || p.vsize != s.vsize() || p.minflt != s.minflt() || p.majflt != s.majflt()
                || p.numThreads != s.numThreads() || p.processor != s.processor() || p.nice != s.nice()
                || p.priority != s.priority() || p.ppid != s.ppid() || p.pgrp != s.pgrp()
                || p.session != s.session() || p.ttyNr != s.ttyNr() || p.tpgid != s.tpgid()
                || !p.comm.equals(s.comm());
    }

    static void applyStatus(ProcessInfo p, PidStatus s) {
        p.ruid = s.ruid();
        p.euid = s.euid();
        p.rgid = s.rgid();
        p.egid = s.egid();
        p.tracerPid = s.tracerPid();
    }
}
