package io.procwatch.daemon;

import io.procwatch.event.EventType;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.ProcFs;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.procfs.ProcItems;
import io.procwatch.protocol.AttrSink;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;
import io.procwatch.taskstats.Taskstats;
import io.procwatch.taskstats.TaskstatsClient;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.TableEvent;

import java.util.List;
import java.util.Optional;

/**
 * Turns table rows, history entries and events into protocol messages, sending only the
 * attribute groups asked for and only what the viewer may see. Groups that the table does not
 * hold (cwd, io, cgroup, wchan, taskstats) are read now, for these processes only.
 */
final class Encoder {
    private final ProcFs proc;
    private final SystemInfo sys = SystemInfo.get();
    private TaskstatsClient taskstats;
    private boolean taskstatsUnavailable;

    Encoder(ProcFs proc) {
        this.proc = proc;
    }

    /**
     * Groups whose attributes come from the row alone, the same for every viewer, and small: these
     * encodings are kept with the row (top's every refresh asks for them; MemoryBench: +349 bytes
     * per row) and freed when snapshots stop (DaemonContext.dropIdleEncodings). Command lines are
     * left out: they would add ~470 bytes more per row for a request (ps) that is not repeated
     * every second.
     */
    private static final long CACHEABLE = Groups.BASE | Groups.CRED | Groups.STAT;

    Message process(ProcessInfo p, long groups, Viewer v, int seq) {
        return process(p, groups, List.of(), v, seq);
    }

    /** With /proc items ({@link ProcItems}): read for this process now, private ones only if the viewer may. */
    Message process(ProcessInfo p, long groups, List<String> items, Viewer v, int seq) {
        boolean cacheable = rowOnly(groups, items);
        if (cacheable) {
            byte[] cached = p.cachedEncoding(groups);
            if (cached != null) {
                return new Message(Wire.PROCESS, 0, seq, cached);
            }
        }
        MessageBuilder m = new MessageBuilder();
        processInto(m, p, groups, items, v);
        Message built = m.build(Wire.PROCESS, 0, seq);
        if (cacheable) {
            p.cacheEncoding(groups, built.body());
        }
        return built;
    }

    /** A process row's attributes into {@code sink}: a message, or a row of the daemon's own commands. */
    void processInto(AttrSink sink, ProcessInfo p, long groups, List<String> items, Viewer v) {
        sink.u32(Wire.P_PID, p.pid());
        // the ptrace rule costs a stat of /proc/PID/stat for a viewer's own processes: asked once,
        // and only when something private is asked for
        boolean priv = ((groups & PRIVATE) != 0 || anyPrivate(items)) && v.canSeePrivate(p);
        processAttrs(sink, p, groups, priv);
        if (!items.isEmpty()) {
            sink.strings(Wire.P_ITEMS, ProcItems.read(proc.root(), p.pid(), items, priv));
        }
    }

    private static boolean anyPrivate(List<String> items) {
        for (int i = 0; i < items.size(); i++) {
            if (ProcItems.isPrivate(items.get(i))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a process's row for these groups and items is made of the table's row alone: no
     * /proc read at request time (cgroup, wchan, /proc items) and nothing the ptrace rule guards,
     * so every reader allowed to see the process gets the same attributes from the same table row
     * (the command line included: /proc shows it to anyone who may see the process).
     */
    static boolean rowAndReader(long groups, List<String> items) {
        return (groups & ~(CACHEABLE | Groups.CMDLINE)) == 0 && items.isEmpty();
    }

    /** Whether a process's row for these groups and items is a function of the row alone (no /proc read, same for every viewer). */
    static boolean rowOnly(long groups, List<String> items) {
        return (groups & ~CACHEABLE) == 0 && items.isEmpty();
    }

    /**
     * A row of a table at a past instant (rebuilt from the journal): only what the row holds. Its
     * command line is the one journaled at exec time, no longer one /proc shows: like an exec
     * event's, it is root's and the owner's (Viewer.canSeeExecArgv); anyone else gets
     * P_ARGV_UNKNOWN, as for events and the history. The {@code cgroup} item, the one /proc item
     * the journal keeps, comes from the row (a move is journaled), never from /proc now.
     */
    /**
     * @param sampledAgeMs how old the sampled values were at the instant (-1 never dated, -2 not sent)
     * @param stale        older than the journal's sample interval: ps --at marks them
     */
    Message pastProcess(ProcessInfo p, long groups, boolean cgroupItem, Viewer v, int seq, long sampledAgeMs, boolean stale) {
        boolean argv = (groups & Groups.CMDLINE) != 0 && v.canSeeExecArgv(p);
        MessageBuilder m = new MessageBuilder();
        m.u32(Wire.P_PID, p.pid());
        long shown = groups & ~(Groups.CGROUP | PRIVATE | Groups.WCHAN);
        processAttrs(m, p, argv ? shown : shown & ~Groups.CMDLINE, false);
        if ((groups & Groups.CMDLINE) != 0 && !argv) {
            m.flag(Wire.P_ARGV_UNKNOWN);
        }
        if ((groups & Groups.CGROUP) != 0 && p.cgroup() != null) {
            m.string(Wire.P_CGROUP, unifiedPath(p.cgroup()));
        }
        if (cgroupItem && p.cgroup() != null) {
            m.strings(Wire.P_ITEMS, List.of("cgroup", p.cgroup()));
        }
        if (sampledAgeMs != -2) {
            m.u64(Wire.P_SAMPLED_AGE_MS, sampledAgeMs < 0 ? -1L : sampledAgeMs);
            if (stale) {
                m.flag(Wire.P_SAMPLED_STALE);
            }
        }
        return m.build(Wire.PROCESS, 0, seq);
    }

    /** What ProcFs.cgroup gives for these lines: the unified hierarchy's path, else the first line. */
    private static String unifiedPath(String joined) {
        for (String line : joined.split(",")) {
            if (line.startsWith("0::")) {
                return line.substring(3);
            }
        }
        int c = joined.indexOf(',');
        return c < 0 ? joined : joined.substring(0, c);
    }

    /** One thread of a process, from /proc/PID/task/TID/stat (threads are listed on demand). */
    Message thread(ProcessInfo p, int tid, PidStat t, long groups, Viewer v, int seq) {
        MessageBuilder m = new MessageBuilder();
        threadInto(m, p, tid, t, groups);
        return m.build(Wire.PROCESS, 0, seq);
    }

    void threadInto(AttrSink m, ProcessInfo p, int tid, PidStat t, long groups) {
        m.u32(Wire.P_PID, p.pid());
        m.u32(Wire.P_TID, tid);
        identity(m, p, groups, t.state(), t.comm());
        if ((groups & Groups.STAT) != 0) {
            stat(m, t.utime(), t.stime(), t.vsize(), t.rss(), t.minflt(), t.majflt(), t.priority(), t.nice(),
                    t.processor());
        }
    }

    /**
     * BASE, CRED and CMDLINE: what a process row and its thread rows share, except that a thread
     * has its own state and name.
     */
    private void identity(AttrSink m, ProcessInfo p, long groups, char state, String comm) {
        if ((groups & Groups.BASE) != 0) {
            base(m, p);
            m.u8(Wire.P_STATE, state);
            m.string(Wire.P_COMM, comm);
        }
        if ((groups & Groups.CRED) != 0) {
            cred(m, p);
        }
        if ((groups & Groups.CMDLINE) != 0) {
            cmdline(m, p);
        }
    }

    /** Groups with attributes /proc guards with its ptrace read check. */
    private static final long PRIVATE = Groups.EXE | Groups.IO | Groups.TASKSTATS;

    /** @param priv whether the viewer passes the ptrace rule for {@code p} (only asked when a private group is) */
    private void processAttrs(AttrSink m, ProcessInfo p, long groups, boolean priv) {
        identity(m, p, groups, p.state(), p.comm());
        if ((groups & Groups.EXE) != 0 && priv) {
            m.string(Wire.P_EXE, p.exe());
            proc.cwd(p.pid()).ifPresent(c -> m.string(Wire.P_CWD, c));
        }
        if ((groups & Groups.STAT) != 0) {
            stat(m, p.utime(), p.stime(), p.vsize(), p.rss(), p.minflt(), p.majflt(), p.priority(), p.nice(),
                    p.processor());
            if (p.lockedKiB() > 0) {
                m.u64(Wire.P_LOCKED_KIB, p.lockedKiB());
            }
        }
        if ((groups & Groups.IO) != 0 && priv) {
            proc.io(p.pid()).ifPresent(io -> m.u64(Wire.P_IO_RCHAR, io[0]).u64(Wire.P_IO_WCHAR, io[1])
                    .u64(Wire.P_IO_READ_BYTES, io[2]).u64(Wire.P_IO_WRITE_BYTES, io[3]));
        }
        if ((groups & Groups.TASKSTATS) != 0 && priv) {
            liveTaskstats(p.pid()).ifPresent(t -> taskstatsAttrs(m, t, true));
        }
        if ((groups & Groups.CGROUP) != 0) {
            proc.cgroup(p.pid()).ifPresent(c -> m.string(Wire.P_CGROUP, c));
        }
        if ((groups & Groups.WCHAN) != 0) {
            proc.wchan(p.pid()).ifPresent(w -> m.string(Wire.P_WCHAN, w));
        }
    }

    /** The STAT group, for a process (from the sampler) or a thread (from its task stat file). */
    private void stat(AttrSink m, long utime, long stime, long vsize, long rssPages, long minflt,
                      long majflt, int priority, int nice, int processor) {
        m.u64(Wire.P_UTIME, utime).u64(Wire.P_STIME, stime).u64(Wire.P_VSIZE, vsize)
                .u64(Wire.P_RSS_KIB, rssPages * sys.pageSize() / 1024).u64(Wire.P_MINFLT, minflt)
                .u64(Wire.P_MAJFLT, majflt).u32(Wire.P_PRIORITY, priority).u32(Wire.P_NICE, nice)
                .u32(Wire.P_PROCESSOR, processor);
    }

    private void base(AttrSink m, ProcessInfo p) {
        m.u32(Wire.P_PPID, p.ppid()).u32(Wire.P_PGRP, p.pgrp()).u32(Wire.P_SID, p.session())
                .u32(Wire.P_TTY, p.ttyNr()).u32(Wire.P_TPGID, p.tpgid()).u32(Wire.P_NLWP, p.numThreads())
                .u64(Wire.P_START_MS, SystemInfo.monotonicToEpochMillis(p.startNs()))
                .u64(Wire.P_START_TICKS, p.startTicks());
    }

    private static void cred(AttrSink m, ProcessInfo p) {
        m.u32(Wire.P_RUID, p.ruid()).u32(Wire.P_EUID, p.euid()).u32(Wire.P_RGID, p.rgid())
                .u32(Wire.P_EGID, p.egid()).u32(Wire.P_TRACER, p.tracerPid());
    }

    private static void cmdline(AttrSink m, ProcessInfo p) {
        m.strings(Wire.P_ARGV, p.argv());
        if (!p.argvKnown()) {
            m.flag(Wire.P_ARGV_UNKNOWN);
        }
    }

    private Optional<Taskstats> liveTaskstats(int pid) {
        if (taskstatsUnavailable) {
            return Optional.empty();
        }
        try {
            if (taskstats == null) {
                taskstats = TaskstatsClient.open();
            }
            return taskstats.ofProcess(pid);
        } catch (Exception e) {
            taskstatsUnavailable = true;
            return Optional.empty();
        }
    }

    /**
     * Accounting. CPU time, peak RSS and context switches are what stat and status show every
     * user; the storage I/O bytes are what /proc/PID/io guards, sent only with {@code io}.
     */
    private static void taskstatsAttrs(AttrSink m, Taskstats t, boolean io) {
        m.u64(Wire.P_TS_UTIME_US, t.userMicros()).u64(Wire.P_TS_STIME_US, t.systemMicros())
                .u64(Wire.P_TS_MAXRSS_KIB, t.hiwaterRssKiB()).u64(Wire.P_TS_NVCSW, t.voluntarySwitches())
                .u64(Wire.P_TS_NIVCSW, t.involuntarySwitches());
        if (io) {
            m.u64(Wire.P_TS_READ_BYTES, t.readBytes()).u64(Wire.P_TS_WRITE_BYTES, t.writeBytes());
        }
    }

    Message exited(ExitedProcess e, Viewer v, int type, int seq) {
        MessageBuilder m = new MessageBuilder();
        exitedAttrs(m, e, v);
        return m.build(type, 0, seq);
    }

    private static void exitedAttrs(MessageBuilder m, ExitedProcess e, Viewer v) {
        exitedAttrs(m, e, v, true);
    }

    /** @param withArgv false: leave the command line out (a subscriber that does not want it) */
    private static void exitedAttrs(MessageBuilder m, ExitedProcess e, Viewer v, boolean withArgv) {
        m.u32(Wire.P_PID, e.pid()).u32(Wire.P_PPID, e.ppid()).u32(Wire.P_EUID, e.uid()).u32(Wire.P_RUID, e.uid())
                .u32(Wire.P_EGID, e.gid()).string(Wire.P_COMM, e.comm())
                .u64(Wire.P_START_MS, e.startEpochMs()).u64(Wire.E_END_MS, e.endEpochMs()).u64(Wire.E_SEQ, e.seq());
        if (withArgv && v.canSeeExecArgv(e)) {
            m.strings(Wire.P_ARGV, e.argv());
        }
        if (!withArgv || !e.argvKnown() || !v.canSeeExecArgv(e)) {
            m.flag(Wire.P_ARGV_UNKNOWN);
        }
        if (v.canSeePrivate(e) && !e.exe().isEmpty()) {
            m.string(Wire.P_EXE, e.exe());
        }
        if (e.status() != null) {
            m.u32(Wire.E_STATUS, e.status().raw());
        }
        if (!e.exitObserved()) {
            m.flag(Wire.E_EXIT_UNOBSERVED);
        }
        if (e.coreDumped()) {
            m.flag(Wire.E_CORE);
        }
        if (e.taskstats() != null) {
            taskstatsAttrs(m, e.taskstats(), v.canSeePrivate(e));
        }
        if (e.cgroup() != null) {
            // the cgroup it exited in, as ps's cgroup item carries a live one (/proc/PID/cgroup is
            // world-readable: whoever may see the entry may see this)
            m.strings(Wire.P_ITEMS, List.of("cgroup", e.cgroup()));
        }
    }

    /** A live event; null when the viewer may not see it. */
    Message event(TableEvent ev, Viewer v, int seq) {
        return event(ev, v, seq, true);
    }

    /**
     * @param withArgv false: without the command line (SUBSCRIBE with A_GROUPS lacking CMDLINE):
     *                 a JVM's argv is kilobytes, and top only counts and names its events
     */
    Message event(TableEvent ev, Viewer v, int seq, boolean withArgv) {
        MessageBuilder m = new MessageBuilder();
        long when = ev.timestampNs() > 0 ? SystemInfo.monotonicToEpochMillis(ev.timestampNs())
                : System.currentTimeMillis();
        switch (ev) {
            case TableEvent.Forked f -> {
                if (!v.canSee(f.process())) {
                    return null;
                }
                m.u32(Wire.E_KIND, EventType.FORK.bit);
                eventProcess(m, f.process(), v, withArgv);
                if (f.thread()) {
                    m.flag(Wire.E_THREAD).u32(Wire.P_TID, f.tid());
                }
            }
            case TableEvent.Execed x -> {
                if (!v.canSee(x.process())) {
                    return null;
                }
                m.u32(Wire.E_KIND, EventType.EXEC.bit);
                eventProcess(m, x.process(), v, withArgv);
            }
            case TableEvent.Changed c -> {
                if (!v.canSee(c.process())) {
                    return null;
                }
                m.u32(Wire.E_KIND, c.kind().bit);
                eventProcess(m, c.process(), v, withArgv);
                if (c.tid() != c.process().pid()) {
                    m.flag(Wire.E_THREAD).u32(Wire.P_TID, c.tid());
                }
            }
            case TableEvent.ThreadExited t -> {
                if (!v.canSee(t.process())) {
                    return null;
                }
                m.u32(Wire.E_KIND, EventType.EXIT.bit).flag(Wire.E_THREAD).u32(Wire.P_TID, t.tid());
                eventProcess(m, t.process(), v, withArgv);
            }
            case TableEvent.Exited x -> {
                if (!v.canSee(x.exited())) {
                    return null;
                }
                m.u32(Wire.E_KIND, EventType.EXIT.bit);
                exitedAttrs(m, x.exited(), v, withArgv);
            }
            case TableEvent.Resynced r -> {
                m.u32(Wire.E_KIND, 0).u32(Wire.R_COUNT, r.added()).u64(Wire.R_LOST, r.vanished());
            }
            case TableEvent.Lost l -> {
                return new MessageBuilder().u64(Wire.R_LOST, Math.max(0, l.loss().lostEvents()))
                        .string(Wire.R_ERROR_TEXT, "kernel events lost (" + l.loss().reason() + "); table resynchronised")
                        .build(Wire.LOSS, 0, seq);
            }
        }
        m.u64(Wire.E_TIME_MS, when);
        return m.build(Wire.EVENT, 0, seq);
    }

    private void eventProcess(MessageBuilder m, ProcessInfo p, Viewer v, boolean withArgv) {
        m.u32(Wire.P_PID, p.pid());
        boolean argv = withArgv && v.canSeeExecArgv(p);
        processAttrs(m, p, Groups.BASE | Groups.CRED | (argv ? Groups.CMDLINE : 0), false); // no private group
        if (!argv) {
            m.flag(Wire.P_ARGV_UNKNOWN); // another user's exec-time command line: root's and the owner's only
        }
    }

    void close() {
        if (taskstats != null) {
            taskstats.close();
        }
    }
}
