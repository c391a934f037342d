package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.PidStatus;
import io.procwatch.procfs.ProcFs;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.protocol.Groups;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Without a daemon, ps and tree read /proc themselves, the old way (and say so on stderr). Only
 * the groups asked for are read.
 */
final class LocalSnapshot {
    private LocalSnapshot() {
    }

    static List<ProcRow> read(long groups, boolean threads) throws IOException {
        return read(groups, threads, List.of());
    }

    /** With /proc items, read as this user may (the kernel refuses what it must). */
    static List<ProcRow> read(long groups, boolean threads, List<String> items) throws IOException {
        ProcFs proc = ProcFs.system();
        SystemInfo sys = SystemInfo.get();
        List<ProcRow> rows = new ArrayList<>();
        for (int pid : proc.pids()) {
            PidStat st = proc.stat(pid).orElse(null);
            if (st == null) {
                continue;
            }
            ProcRow base = fromStat(st, sys, pid, -1);
            if ((groups & Groups.CRED) != 0) {
                PidStatus s = proc.status(pid).orElse(null);
                if (s != null) {
                    base.ruid = s.ruid();
                    base.euid = s.euid();
                    base.rgid = s.rgid();
                    base.egid = s.egid();
                    base.tracer = s.tracerPid();
                    if (s.vmRssKiB() >= 0) {
                        base.rssKiB = s.vmRssKiB(); // exact, as procps shows it (stat's rss is approximate)
                    }
                    base.lockedKiB = Math.max(0, s.vmLckKiB());
                }
            }
            if ((groups & Groups.CMDLINE) != 0) {
                base.argv = proc.cmdline(pid).orElse(List.of());
            }
            if ((groups & Groups.EXE) != 0) {
                base.exe = proc.exe(pid).orElse(null);
                base.cwd = proc.cwd(pid).orElse(null);
            }
            if ((groups & Groups.CGROUP) != 0) {
                base.cgroup = proc.cgroup(pid).orElse(null);
            }
            if ((groups & Groups.WCHAN) != 0) {
                base.wchan = proc.wchan(pid).orElse(null);
            }
            if (!items.isEmpty()) {
                List<String> kv = io.procwatch.procfs.ProcItems.read(proc.root(), pid, items, true);
                java.util.Map<String, String> m = new java.util.HashMap<>();
                for (int i = 0; i + 1 < kv.size(); i += 2) {
                    m.put(kv.get(i), kv.get(i + 1));
                }
                base.items = m;
            }
            if (!threads) {
                rows.add(base);
                continue;
            }
            for (int tid : proc.tids(pid)) {
                PidStat t = proc.threadStat(pid, tid).orElse(null);
                if (t != null) {
                    ProcRow r = fromStat(t, sys, pid, tid);
                    r.ruid = base.ruid;
                    r.euid = base.euid;
                    r.rgid = base.rgid;
                    r.egid = base.egid;
                    r.argv = base.argv;
                    r.nlwp = base.nlwp;
                    rows.add(r);
                }
            }
        }
        return rows;
    }

    private static ProcRow fromStat(PidStat st, SystemInfo sys, int pid, int tid) {
        ProcRow r = new ProcRow();
        r.pid = pid;
        r.tid = tid;
        r.ppid = st.ppid();
        r.pgrp = st.pgrp();
        r.sid = st.session();
        r.tty = st.ttyNr();
        r.tpgid = st.tpgid();
        r.state = st.state();
        r.comm = st.comm();
        r.nlwp = st.numThreads();
        r.startMs = sys.startTicksToEpochMillis(st.starttime());
        r.startTicks = st.starttime();
        r.utime = st.utime();
        r.stime = st.stime();
        r.vsize = st.vsize();
        r.rssKiB = st.rss() * sys.pageSize() / 1024;
        r.minflt = st.minflt();
        r.majflt = st.majflt();
        r.priority = st.priority();
        r.nice = st.nice();
        r.processor = st.processor();
        return r;
    }
}
