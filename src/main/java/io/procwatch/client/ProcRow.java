package io.procwatch.client;

import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Wire;

import java.util.List;

/**
 * A process, thread, exit or event as a client received it. Only the attributes the daemon sent
 * are set; the others keep their "absent" value (-1, null). Attribute types this client does not
 * know are skipped, so newer daemons work with it.
 */
public final class ProcRow {
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

    public static ProcRow decode(Attrs a) throws ProtocolException {
        ProcRow r = new ProcRow();
        while (a.next()) {
            switch (a.type()) {
                case Wire.P_PID -> r.pid = a.u32();
                case Wire.P_TID -> r.tid = a.u32();
                case Wire.P_PPID -> r.ppid = a.u32();
                case Wire.P_PGRP -> r.pgrp = a.u32();
                case Wire.P_SID -> r.sid = a.u32();
                case Wire.P_TTY -> r.tty = a.u32();
                case Wire.P_TPGID -> r.tpgid = a.u32();
                case Wire.P_STATE -> r.state = (char) a.u8();
                case Wire.P_COMM -> r.comm = a.string();
                case Wire.P_NLWP -> r.nlwp = a.u32();
                case Wire.P_START_MS -> r.startMs = a.u64();
                case Wire.P_START_TICKS -> r.startTicks = a.u64();
                case Wire.P_RUID -> r.ruid = a.u32();
                case Wire.P_EUID -> r.euid = a.u32();
                case Wire.P_RGID -> r.rgid = a.u32();
                case Wire.P_EGID -> r.egid = a.u32();
                case Wire.P_TRACER -> r.tracer = a.u32();
                case Wire.P_ARGV -> r.argv = a.strings();
                case Wire.P_ARGV_UNKNOWN -> r.argvUnknown = true;
                case Wire.P_EXE -> r.exe = a.string();
                case Wire.P_CWD -> r.cwd = a.string();
                case Wire.P_UTIME -> r.utime = a.u64();
                case Wire.P_STIME -> r.stime = a.u64();
                case Wire.P_VSIZE -> r.vsize = a.u64();
                case Wire.P_RSS_KIB -> r.rssKiB = a.u64();
                case Wire.P_MINFLT -> r.minflt = a.u64();
                case Wire.P_MAJFLT -> r.majflt = a.u64();
                case Wire.P_PRIORITY -> r.priority = a.u32();
                case Wire.P_NICE -> r.nice = a.u32();
                case Wire.P_PROCESSOR -> r.processor = a.u32();
                case Wire.P_IO_RCHAR -> r.ioRchar = a.u64();
                case Wire.P_IO_WCHAR -> r.ioWchar = a.u64();
                case Wire.P_IO_READ_BYTES -> r.ioReadBytes = a.u64();
                case Wire.P_IO_WRITE_BYTES -> r.ioWriteBytes = a.u64();
                case Wire.P_TS_UTIME_US -> r.tsUtimeUs = a.u64();
                case Wire.P_TS_STIME_US -> r.tsStimeUs = a.u64();
                case Wire.P_TS_MAXRSS_KIB -> r.tsMaxRssKiB = a.u64();
                case Wire.P_TS_READ_BYTES -> r.tsReadBytes = a.u64();
                case Wire.P_TS_WRITE_BYTES -> r.tsWriteBytes = a.u64();
                case Wire.P_TS_NVCSW -> r.tsNvcsw = a.u64();
                case Wire.P_TS_NIVCSW -> r.tsNivcsw = a.u64();
                case Wire.P_CGROUP -> r.cgroup = a.string();
                case Wire.P_WCHAN -> r.wchan = a.string();
                case Wire.P_LOCKED_KIB -> r.lockedKiB = a.u64();
                case Wire.P_ITEMS -> {
                    List<String> kv = a.strings();
                    java.util.Map<String, String> m = new java.util.HashMap<>();
                    for (int i = 0; i + 1 < kv.size(); i += 2) {
                        m.put(kv.get(i), kv.get(i + 1));
                    }
                    r.items = m;
                }
                case Wire.E_KIND -> {
                    r.eventKind = a.u32();
                    r.isEvent = true;
                }
                case Wire.E_TIME_MS -> r.eventTimeMs = a.u64();
                case Wire.E_STATUS -> r.status = a.u32();
                case Wire.E_END_MS -> r.endMs = a.u64();
                case Wire.E_EXIT_UNOBSERVED -> r.exitUnobserved = true;
                case Wire.E_CORE -> r.coreDumped = true;
                case Wire.E_SEQ -> r.seq = a.u64();
                case Wire.E_THREAD -> r.thread = true;
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
