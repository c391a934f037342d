package io.procwatch.client;

import io.procwatch.protocol.AttrSink;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Wire;

import java.util.List;

/**
 * A process, thread, exit or event as a client received it. Only the attributes the daemon sent
 * are set; the others keep their "absent" value (-1, null). Attribute types this client does not
 * know are skipped, so newer daemons work with it.
 */
public final class ProcRow implements AttrSink {
    public int pid = -1;
    public int tid = -1;
    public int ppid = -1;
    public int pgrp = -1;
    public int sid = -1;
    public int tty = -1;
    public int tpgid = -1;
    public char state = '?';
    public String comm;
    public int nlwp = -1;
    /** Start, wall clock: exact (the fork event), the same in the live table, events and history. */
    public long startMs = -1;
    /** Start in clock ticks since boot, as /proc/PID/stat says: procps's time columns are computed from it. */
    public long startTicks = -1;
    public int ruid = -1;
    public int euid = -1;
    public int rgid = -1;
    public int egid = -1;
    public int tracer = -1;
    public List<String> argv;
    public boolean argvUnknown;
    public String exe;
    public String cwd;
    public long utime = -1;
    public long stime = -1;
    public long vsize = -1;
    public long rssKiB = -1;
    public long minflt = -1;
    public long majflt = -1;
    public int priority = Integer.MIN_VALUE;
    public int nice = Integer.MIN_VALUE;
    public int processor = -1;
    public long ioRchar = -1;
    public long ioWchar = -1;
    public long ioReadBytes = -1;
    public long ioWriteBytes = -1;
    public long tsUtimeUs = -1;
    public long tsStimeUs = -1;
    public long tsMaxRssKiB = -1;
    public long tsReadBytes = -1;
    public long tsWriteBytes = -1;
    public long tsNvcsw = -1;
    public long tsNivcsw = -1;
    public String cgroup;
    public String wchan;
    /** Locked memory in KiB (0 when none or not sent). */
    public long lockedKiB;
    /** /proc items asked for with A_ITEMS (name to the file's text); absent when unreadable or private. */
    public java.util.Map<String, String> items = java.util.Map.of();
    /**
     * A past instant's row (ps --at): how old its sampled values were then, in ms; -1 never
     * dated by the journal, -2 not sent (a live row, or an older daemon).
     */
    public long sampledAgeMs = -2;
    /** A past row whose sampled values are older than the journal's sample interval (ps --at marks them). */
    public boolean sampledStale;
    // exits and events
    /** EventType bit of an event (EXIT's is negative as an int); see {@link #isEvent}. */
    public int eventKind;
    /** True when the row is an event (it carried E_KIND). */
    public boolean isEvent;
    public long eventTimeMs = -1;
    public int status = -1;
    public long endMs = -1;
    public boolean exitUnobserved;
    public boolean coreDumped;
    public long seq = -1;
    public boolean thread;
    /** CPU use over the last refresh interval in tenths of a percent of one CPU; set by top. */
    public long cpuTenthsNow = -1;
    /**
     * Inside the daemon only: the table row this row was made from, when this row is a function of
     * that row alone (no /proc read at request time, nothing guarded by the reader's rights). Table
     * rows are immutable and replaced on any change, so a command may keep what it made from a row
     * while the origin is the same object (cli/PsLines). Null otherwise, and always over the wire.
     */
    public Object origin;

    /**
     * A row from a PROCESS, EVENT or EXITED message. The attribute's type says how to read its
     * payload; the value then goes where {@link #u32} and its siblings put it, the same place an
     * encoder writing into this row directly puts it.
     */
    public static ProcRow decode(Attrs a) throws ProtocolException {
        ProcRow r = new ProcRow();
        while (a.next()) {
            int t = a.type();
            switch (t) {
                case Wire.P_STATE -> r.u8(t, a.u8());
                case Wire.P_PID, Wire.P_TID, Wire.P_PPID, Wire.P_PGRP, Wire.P_SID, Wire.P_TTY, Wire.P_TPGID,
                     Wire.P_NLWP, Wire.P_RUID, Wire.P_EUID, Wire.P_RGID, Wire.P_EGID, Wire.P_TRACER,
                     Wire.P_PRIORITY, Wire.P_NICE, Wire.P_PROCESSOR, Wire.E_KIND, Wire.E_STATUS -> r.u32(t, a.u32());
                case Wire.P_START_MS, Wire.P_START_TICKS, Wire.P_UTIME, Wire.P_STIME, Wire.P_VSIZE, Wire.P_RSS_KIB,
                     Wire.P_MINFLT, Wire.P_MAJFLT, Wire.P_LOCKED_KIB, Wire.P_IO_RCHAR, Wire.P_IO_WCHAR,
                     Wire.P_IO_READ_BYTES, Wire.P_IO_WRITE_BYTES, Wire.P_TS_UTIME_US, Wire.P_TS_STIME_US,
                     Wire.P_TS_MAXRSS_KIB, Wire.P_TS_READ_BYTES, Wire.P_TS_WRITE_BYTES, Wire.P_TS_NVCSW,
                     Wire.P_TS_NIVCSW, Wire.E_TIME_MS, Wire.E_END_MS, Wire.E_SEQ, Wire.P_SAMPLED_AGE_MS -> r.u64(t, a.u64());
                case Wire.P_COMM, Wire.P_EXE, Wire.P_CWD, Wire.P_CGROUP, Wire.P_WCHAN -> r.string(t, a.string());
                case Wire.P_ARGV, Wire.P_ITEMS -> r.strings(t, a.strings());
                case Wire.P_ARGV_UNKNOWN, Wire.E_EXIT_UNOBSERVED, Wire.E_CORE, Wire.E_THREAD, Wire.P_SAMPLED_STALE -> r.flag(t);
                default -> {
                    // newer attribute: skipped
                }
            }
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed attribute from the daemon");
        }
        return r;
    }

    // Where each attribute goes: the one map from the protocol's attribute types to this row's fields.

    @Override
    public ProcRow u8(int type, int v) {
        if (type == Wire.P_STATE) {
            state = (char) v;
        }
        return this;
    }

    @Override
    public ProcRow u32(int type, int v) {
        switch (type) {
            case Wire.P_PID -> pid = v;
            case Wire.P_TID -> tid = v;
            case Wire.P_PPID -> ppid = v;
            case Wire.P_PGRP -> pgrp = v;
            case Wire.P_SID -> sid = v;
            case Wire.P_TTY -> tty = v;
            case Wire.P_TPGID -> tpgid = v;
            case Wire.P_NLWP -> nlwp = v;
            case Wire.P_RUID -> ruid = v;
            case Wire.P_EUID -> euid = v;
            case Wire.P_RGID -> rgid = v;
            case Wire.P_EGID -> egid = v;
            case Wire.P_TRACER -> tracer = v;
            case Wire.P_PRIORITY -> priority = v;
            case Wire.P_NICE -> nice = v;
            case Wire.P_PROCESSOR -> processor = v;
            case Wire.E_KIND -> {
                eventKind = v;
                isEvent = true;
            }
            case Wire.E_STATUS -> status = v;
            default -> {
            }
        }
        return this;
    }

    @Override
    public ProcRow u64(int type, long v) {
        switch (type) {
            case Wire.P_START_MS -> startMs = v;
            case Wire.P_START_TICKS -> startTicks = v;
            case Wire.P_UTIME -> utime = v;
            case Wire.P_STIME -> stime = v;
            case Wire.P_VSIZE -> vsize = v;
            case Wire.P_RSS_KIB -> rssKiB = v;
            case Wire.P_SAMPLED_AGE_MS -> sampledAgeMs = v < 0 ? -1 : v;
            case Wire.P_MINFLT -> minflt = v;
            case Wire.P_MAJFLT -> majflt = v;
            case Wire.P_LOCKED_KIB -> lockedKiB = v;
            case Wire.P_IO_RCHAR -> ioRchar = v;
            case Wire.P_IO_WCHAR -> ioWchar = v;
            case Wire.P_IO_READ_BYTES -> ioReadBytes = v;
            case Wire.P_IO_WRITE_BYTES -> ioWriteBytes = v;
            case Wire.P_TS_UTIME_US -> tsUtimeUs = v;
            case Wire.P_TS_STIME_US -> tsStimeUs = v;
            case Wire.P_TS_MAXRSS_KIB -> tsMaxRssKiB = v;
            case Wire.P_TS_READ_BYTES -> tsReadBytes = v;
            case Wire.P_TS_WRITE_BYTES -> tsWriteBytes = v;
            case Wire.P_TS_NVCSW -> tsNvcsw = v;
            case Wire.P_TS_NIVCSW -> tsNivcsw = v;
            case Wire.E_TIME_MS -> eventTimeMs = v;
            case Wire.E_END_MS -> endMs = v;
            case Wire.E_SEQ -> seq = v;
            default -> {
            }
        }
        return this;
    }

    @Override
    public ProcRow flag(int type) {
        switch (type) {
            case Wire.P_ARGV_UNKNOWN -> argvUnknown = true;
            case Wire.P_SAMPLED_STALE -> sampledStale = true;
            case Wire.E_EXIT_UNOBSERVED -> exitUnobserved = true;
            case Wire.E_CORE -> coreDumped = true;
            case Wire.E_THREAD -> thread = true;
            default -> {
            }
        }
        return this;
    }

    @Override
    public ProcRow string(int type, String v) {
        switch (type) {
            case Wire.P_COMM -> comm = v;
            case Wire.P_EXE -> exe = v;
            case Wire.P_CWD -> cwd = v;
            case Wire.P_CGROUP -> cgroup = v;
            case Wire.P_WCHAN -> wchan = v;
            default -> {
            }
        }
        return this;
    }

    @Override
    public ProcRow strings(int type, List<String> v) {
        switch (type) {
            case Wire.P_ARGV -> argv = v;
            case Wire.P_ITEMS -> {
                java.util.Map<String, String> m = new java.util.HashMap<>();
                for (int i = 0; i + 1 < v.size(); i += 2) {
                    m.put(v.get(i), v.get(i + 1));
                }
                items = m;
            }
            default -> {
            }
        }
        return this;
    }

    /**
     * ps's args: the command line, or [comm] when there is none (kernel threads), followed by
     * {@code <defunct>} for a zombie, as procps prints it.
     */
    public String args() {
        if (argv == null || argv.isEmpty()) {
            String name = "[" + (comm == null ? "" : comm) + "]";
            return state == 'Z' ? name + " <defunct>" : name;
        }
        return String.join(" ", argv);
    }

    public int id() {
        return tid > 0 ? tid : pid;
    }
}
