package io.procwatch.cli;

import io.procwatch.cgroup.CgroupPaths;
import io.procwatch.cgroup.Containers;
import io.procwatch.cgroup.SystemdNames;
import io.procwatch.client.ProcRow;
import io.procwatch.procfs.Numa;
import io.procwatch.protocol.Groups;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The field registry: every column of ps -o, top and --json, with procps's keywords, headers and
 * widths. Adding a field here makes it available everywhere, and tells the client which attribute
 * groups to ask the daemon for.
 */
public final class Fields {
    /** What formatting depends on besides the row: the clock, ticks, memory size, pid width. */
    public record Ctx(long nowMs, int hz, long memTotalKiB, int pageSize, int pidWidth, double uptimeSecs) {
        public static Ctx current() {
            return new Ctx(System.currentTimeMillis(), 100, readMemTotalKiB(), 4096, readPidWidth(), readUptime());
        }

        /** The same machine at an earlier instant (ps --at): its clock and uptime then. */
        Ctx asOf(long atMs) {
            double back = (nowMs - atMs) / 1000.0;
            return new Ctx(atMs, hz, memTotalKiB, pageSize, pidWidth, uptimeSecs < 0 ? -1 : uptimeSecs - back);
        }

        /** /proc/uptime's first number (seconds since boot), or -1. */
        private static double readUptime() {
            try {
                return Double.parseDouble(Files.readString(Path.of("/proc/uptime")).trim().split("\\s+")[0]);
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        /** procps's "jiffies of process life": (uptime - start) in seconds, times HZ, truncated; 0 if unknown. */
        long lifeJiffies(ProcRow r) {
            if (uptimeSecs < 0 || r.startTicks < 0) {
                long el = elapsedSecs(r);
                return el <= 0 ? 0 : el * hz;
            }
            double life = uptimeSecs - (double) r.startTicks / hz;
            return life <= 0 ? 0 : (long) (life * hz);
        }

        private static long bootTimeMs;

        /** /proc/stat's btime in ms, read once per process (only when a time column is shown). */
        static synchronized long bootTimeMs() {
            if (bootTimeMs == 0) {
                bootTimeMs = -1;
                try (var lines = Files.lines(Path.of("/proc/stat"))) {
                    bootTimeMs = lines.filter(l -> l.startsWith("btime ")).findFirst()
                            .map(l -> Long.parseLong(l.substring(6).trim()) * 1000).orElse(-1L);
                } catch (IOException | RuntimeException e) {
                    // unknown: the exact start is shown
                }
            }
            return bootTimeMs;
        }

        private static long readMemTotalKiB() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                    if (line.startsWith("MemTotal:")) {
                        return Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (IOException | RuntimeException e) {
                // unknown: %mem shows 0.0
            }
            return 0;
        }

        /** procps sizes pid columns to the digits of pid_max (at least 5). */
        private static int readPidWidth() {
            try {
                String s = Files.readString(Path.of("/proc/sys/kernel/pid_max")).trim();
                return Math.max(5, s.length() - (s.matches("10*") ? 1 : 0));
            } catch (IOException | RuntimeException e) {
                return 5;
            }
        }

        long cpuSecs(ProcRow r) {
            return r.utime < 0 ? -1 : (r.utime + r.stime) / hz;
        }

        long elapsedSecs(ProcRow r) {
            long start = psStartMs(r);
            return start < 0 ? -1 : Math.max(0, (nowMs - start) / 1000);
        }

        /**
         * The start as procps prints it: boot time (whole seconds, /proc/stat btime) plus the start
         * tick. It can differ from the exact start by up to a second, and procps's columns (STIME,
         * START, lstart, etime) are computed this way; JSON carries the exact start.
         */
        long psStartMs(ProcRow r) {
            if (r.startTicks < 0) {
                return r.startMs;
            }
            long boot = bootTimeMs();
            return boot <= 0 ? r.startMs : boot + r.startTicks * 1000 / hz;
        }

        /** procps's %cpu in tenths: CPU time over lifetime. */
        long pcpuTenths(ProcRow r) {
            long jiffies = lifeJiffies(r);
            if (r.utime < 0 || jiffies <= 0) {
                return 0;
            }
            return (r.utime + r.stime) * 1000 / jiffies;
        }

        /** procps's C: whole percent of CPU time over the process's life, at most 99. */
        long cPercent(ProcRow r) {
            long jiffies = lifeJiffies(r);
            if (r.utime < 0 || jiffies <= 0) {
                return 0;
            }
            return Math.min(99, (r.utime + r.stime) * 100 / jiffies);
        }

        long pmemTenths(ProcRow r) {
            return r.rssKiB < 0 || memTotalKiB <= 0 ? 0 : r.rssKiB * 1000 / memTotalKiB;
        }
    }

    private static final Map<String, Field> BY_KEY = new LinkedHashMap<>();

    private Fields() {
    }

    private static final long B = Groups.BASE;
    private static final long C = Groups.CRED;
    private static final long S = Groups.STAT;

    private static void add(Field f) {
        BY_KEY.put(f.key(), f);
    }

    private static void alias(String key, String alias, String header) {
        Field f = BY_KEY.get(key);
        BY_KEY.put(alias, f.as(alias, header));
    }

    private static Field num(String key, String header, int width, long groups, String json,
                             Function<ProcRow, Long> get) {
        BiFunction<ProcRow, Ctx, Object> v = (r, c) -> {
            Long x = get.apply(r);
            return x == null || x < 0 ? null : x;
        };
        return new Field(key, header, width, false, false, groups, json,
                (r, c) -> {
                    Object x = v.apply(r, c);
                    return x == null ? "-" : x.toString();
                }, v);
    }

    private static Field text(String key, String header, int width, long groups, String json,
                              BiFunction<ProcRow, Ctx, String> get) {
        return new Field(key, header, width, true, false, groups, json,
                (r, c) -> {
                    String s = get.apply(r, c);
                    return s == null ? "-" : s;
                }, (r, c) -> get.apply(r, c));
    }

    private static Field computed(String key, String header, int width, boolean left, long groups, String json,
                                  BiFunction<ProcRow, Ctx, String> text, BiFunction<ProcRow, Ctx, Object> value) {
        return new Field(key, header, width, left, false, groups, json, text, value);
    }

    static {
        add(num("pid", "PID", 5, B, "pid", r -> (long) r.pid));
        add(num("ppid", "PPID", 5, B, "ppid", r -> (long) r.ppid));
        add(num("tid", "TID", 5, B, "tid", r -> (long) r.id()));
        alias("tid", "lwp", "LWP");
        alias("tid", "spid", "SPID");
        add(num("pgid", "PGID", 5, B, "pgid", r -> (long) r.pgrp));
        alias("pgid", "pgrp", "PGRP");
        add(num("sid", "SID", 5, B, "sid", r -> (long) r.sid));
        alias("sid", "sess", "SESS");
        // a process without a terminal has tpgid -1, and procps prints -1 (unknown is "-")
        add(computed("tpgid", "TPGID", 5, false, B, "tpgid",
                (r, c) -> r.tpgid == -1 && r.tty >= 0 ? "-1" : r.tpgid < 0 ? "-" : Integer.toString(r.tpgid),
                (r, c) -> r.tpgid == -1 && r.tty < 0 ? null : (Object) (long) r.tpgid));
        add(new Field("user", "USER", 8, true, true, C, "user", (r, c) -> r.euid < 0 ? "-" : Names.user(r.euid),
                (r, c) -> r.euid < 0 ? null : Names.user(r.euid)));
        alias("user", "euser", "EUSER");
        alias("user", "uname", "USER");
        alias("user", "uid_hack", "UID"); // -f's UID column: the user's name

        add(new Field("ruser", "RUSER", 8, true, true, C, "ruser", (r, c) -> r.ruid < 0 ? "-" : Names.user(r.ruid),
                (r, c) -> r.ruid < 0 ? null : Names.user(r.ruid)));
        add(num("uid", "UID", 5, C, "uid", r -> (long) r.euid));
        alias("uid", "euid", "EUID");
        add(num("ruid", "RUID", 5, C, "ruid", r -> (long) r.ruid));
        add(num("gid", "GID", 5, C, "gid", r -> (long) r.egid));
        alias("gid", "egid", "EGID");
        add(new Field("group", "GROUP", 8, true, true, C, "group", (r, c) -> r.egid < 0 ? "-" : Names.group(r.egid),
                (r, c) -> r.egid < 0 ? null : Names.group(r.egid)));
        alias("group", "egroup", "EGROUP");
        add(text("tty", "TT", 8, B, "tty", (r, c) -> r.tty < 0 ? null : Terminals.name(r.tty)));
        alias("tty", "tname", "TTY");
        alias("tty", "tt", "TT");
        add(computed("stat", "STAT", 4, true, B | S, "stat", (r, c) -> bsdStat(r), (r, c) -> bsdStat(r)));
        add(computed("state", "S", 1, true, B, "state", (r, c) -> String.valueOf(r.state),
                (r, c) -> String.valueOf(r.state)));
        alias("state", "s", "S");
        add(text("comm", "COMMAND", 15, B, "comm", (r, c) -> r.comm));
        alias("comm", "ucomm", "COMMAND");
        alias("comm", "ucmd", "CMD");
        add(computed("args", "COMMAND", 27, true, B | Groups.CMDLINE, "args", (r, c) -> r.args(),
                (r, c) -> r.argv == null ? null : r.args()));
        alias("args", "command", "COMMAND");
        alias("args", "cmd", "CMD");
        add(text("exe", "EXE", 27, Groups.EXE, "exe", (r, c) -> r.exe == null || r.exe.isEmpty() ? null : r.exe));
        add(text("cwd", "CWD", 27, Groups.EXE, "cwd", (r, c) -> r.cwd));
        add(num("rss", "RSS", 5, S, "rss_kib", r -> r.rssKiB));
        alias("rss", "rssize", "RSS");
        alias("rss", "rsz", "RSZ");
        add(num("vsz", "VSZ", 6, S, "vsz_kib", r -> r.vsize < 0 ? -1 : r.vsize / 1024));
        alias("vsz", "vsize", "VSZ");
        add(num("sz", "SZ", 5, S, "sz_pages", r -> r.vsize < 0 ? -1 : r.vsize / 4096));
        add(computed("%cpu", "%CPU", 4, false, B | S, "cpu_percent", (r, c) -> tenths(c.pcpuTenths(r)),
                (r, c) -> c.pcpuTenths(r) / 10.0));
        alias("%cpu", "pcpu", "%CPU");
        add(computed("c", "C", 2, false, B | S, "c", (r, c) -> Long.toString(c.cPercent(r)),
                (r, c) -> c.cPercent(r)));
        add(computed("%mem", "%MEM", 4, false, S, "mem_percent", (r, c) -> tenths(c.pmemTenths(r)),
                (r, c) -> c.pmemTenths(r) / 10.0));
        alias("%mem", "pmem", "%MEM");
        add(num("nlwp", "NLWP", 4, B, "nlwp", r -> (long) r.nlwp));
        alias("nlwp", "thcount", "THCNT");
        // procps prints "-" for a task whose scheduling class has no nice (FIFO, RR, deadline, ...)
        add(new Field("ni", "NI", 3, false, false, S, "nice", (r, c) -> r.nice == Integer.MIN_VALUE ? "-"
                : niceless(r) ? "-" : Integer.toString(r.nice),
                (r, c) -> r.nice == Integer.MIN_VALUE ? null : (long) r.nice, List.of("stat.41")));
        alias("ni", "nice", "NI");
        // procps "pri": 39 - kernel priority for normal tasks (so higher is more favoured), as ps -l shows
        add(computed("pri", "PRI", 3, false, S, "pri", (r, c) -> r.priority == Integer.MIN_VALUE ? "-"
                : Long.toString(psPri(r)), (r, c) -> r.priority == Integer.MIN_VALUE ? null : (long) psPri(r)));
        // ps -l's PRI: the kernel priority shifted so a normal task shows 80 ("opri" in procps)
        add(computed("opri", "PRI", 3, false, S, "opri", (r, c) -> r.priority == Integer.MIN_VALUE ? "-"
                : Integer.toString(r.priority + 60), (r, c) -> r.priority == Integer.MIN_VALUE ? null
                : (long) (r.priority + 60)));
        add(num("psr", "PSR", 3, S, "psr", r -> (long) r.processor));
        // the NUMA node of the CPU the task last ran on (sysfs's map, read once); -1 where the
        // machine has no node for it, as procps prints without libnuma
        add(computed("numa", "NUMA", 4, false, S, "numa_node",
                (r, c) -> r.processor < 0 ? "-" : Integer.toString(Numa.nodeOf(r.processor)),
                (r, c) -> r.processor < 0 ? null : (Object) (long) Numa.nodeOf(r.processor)));
        add(computed("start", "STARTED", 8, false, B, "start", (r, c) -> Times.started(c.psStartMs(r), c.nowMs()),
                (r, c) -> r.startMs < 0 ? null : r.startMs));
        add(computed("lstart", "STARTED", 24, false, B, "lstart", (r, c) -> Times.lstart(c.psStartMs(r)),
                (r, c) -> r.startMs < 0 ? null : r.startMs));
        add(computed("bsdstart", "START", 5, false, B, "start", (r, c) -> Times.bsdStart(c.psStartMs(r), c.nowMs()),
                (r, c) -> r.startMs < 0 ? null : r.startMs));
        add(computed("stime", "STIME", 5, false, B, "stime", (r, c) -> Times.stime(c.psStartMs(r), c.nowMs()),
                (r, c) -> r.startMs < 0 ? null : r.startMs));
        // procps: start_time (BSD u's START) is pr_stime, the calendar-day rule; bsdstart is "within 24 h"
        alias("stime", "start_time", "START");
        add(computed("etime", "ELAPSED", 11, false, B, "etime", (r, c) -> Times.etime(c.elapsedSecs(r)),
                (r, c) -> c.elapsedSecs(r) < 0 ? null : c.elapsedSecs(r)));
        add(new Field("etimes", "ELAPSED", 7, false, false, B, "etimes",
                (r, c) -> c.elapsedSecs(r) < 0 ? "-" : Long.toString(c.elapsedSecs(r)),
                (r, c) -> c.elapsedSecs(r) < 0 ? null : c.elapsedSecs(r)));
        add(computed("time", "TIME", 8, false, S, "cpu_seconds", (r, c) -> Times.cputime(c.cpuSecs(r)),
                (r, c) -> c.cpuSecs(r) < 0 ? null : c.cpuSecs(r)));
        alias("time", "cputime", "TIME");
        add(computed("bsdtime", "TIME", 6, false, S, "cpu_seconds", (r, c) -> Times.bsdTime(c.cpuSecs(r)),
                (r, c) -> c.cpuSecs(r) < 0 ? null : c.cpuSecs(r)));
        add(computed("cputimes", "TIME", 6, false, S, "cpu_seconds",
                (r, c) -> c.cpuSecs(r) < 0 ? "-" : Long.toString(c.cpuSecs(r)),
                (r, c) -> c.cpuSecs(r) < 0 ? null : c.cpuSecs(r)));
        // procps shows the kernel function without its leading underscores (__skb_wait_for... is skb_wa)
        add(text("wchan", "WCHAN", 6, Groups.WCHAN, "wchan", (r, c) -> r.wchan == null || r.wchan.isEmpty() ? null
                : r.wchan.replaceFirst("^_+(?=.)", "")));
        // procps's F: bits 6-8 of stat's flags (PF_FORKNOEXEC 1, PF_SUPERPRIV 4 after the shift), in octal
        add(itemText("f", "F", 1, false, "flags", List.of("stat.9"),
                m -> Long.toOctalString((Long.parseUnsignedLong(m.get("stat.9")) >> 6) & 7)));
        alias("f", "flags", "F");
        add(computed("addr", "ADDR", 4, false, 0, "addr", (r, c) -> "-", (r, c) -> null));
        // -l's ADDR: procps prints "-" in a column one wide, so the header pushes SZ's padding away
        add(computed("addr_1", "ADDR", 1, true, 0, "addr", (r, c) -> "-", (r, c) -> null));
        add(num("maj_flt", "MAJFL", 6, S, "majflt", r -> r.majflt));
        add(num("min_flt", "MINFL", 5, S, "minflt", r -> r.minflt));
        add(num("tracer", "TRACER", 6, C, "tracer_pid", r -> (long) r.tracer));
        // top's columns (procps top's names and formats)
        add(computed("pr", "PR", 3, false, S, "priority", (r, c) -> topPriority(r),
                (r, c) -> r.priority == Integer.MIN_VALUE ? null : (long) r.priority));
        // procps "priority": the kernel's priority as stat shows it (BSD l's PRI)
        add(computed("priority", "PRI", 3, false, S, "priority", (r, c) -> r.priority == Integer.MIN_VALUE ? "-"
                : Integer.toString(r.priority), (r, c) -> r.priority == Integer.MIN_VALUE ? null : (long) r.priority));
        add(computed("virt", "VIRT", 7, false, S, "vsz_kib", (r, c) -> r.vsize < 0 ? "-" : topKiB(r.vsize / 1024, 7),
                (r, c) -> r.vsize < 0 ? null : r.vsize / 1024));
        add(computed("res", "RES", 6, false, S, "rss_kib", (r, c) -> r.rssKiB < 0 ? "-" : topKiB(r.rssKiB, 6),
                (r, c) -> r.rssKiB < 0 ? null : r.rssKiB));
        add(computed("time+", "TIME+", 9, false, S, "cpu_ticks", (r, c) -> r.utime < 0 ? "-" : timePlus(r, c.hz()),
                (r, c) -> r.utime < 0 ? null : r.utime + r.stime));
        add(computed("pcpu_now", "%CPU", 5, false, S, "cpu_percent_now",
                (r, c) -> r.cpuTenthsNow < 0 ? "-" : tenthsFixed(r.cpuTenthsNow),
                (r, c) -> r.cpuTenthsNow < 0 ? null : r.cpuTenthsNow / 10.0));
        add(computed("pmem_top", "%MEM", 5, false, S, "mem_percent", (r, c) -> tenthsFixed(c.pmemTenths(r)),
                (r, c) -> c.pmemTenths(r) / 10.0));
        add(num("rchar", "RCHAR", 8, Groups.IO, "io_rchar", r -> r.ioRchar));
        add(num("wchar", "WCHAR", 8, Groups.IO, "io_wchar", r -> r.ioWchar));
        add(num("read_bytes", "READ", 8, Groups.IO, "io_read_bytes", r -> r.ioReadBytes));
        add(num("write_bytes", "WRITE", 8, Groups.IO, "io_write_bytes", r -> r.ioWriteBytes));
        procItems();
        cgroupViews();
    }

    // ---- fields from /proc items (procfs.ProcItems): each names the items it needs, nothing more is read ----

    /** A right-aligned number from items; "-" when the daemon sent none (unreadable, not permitted). */
    private static Field itemNum(String key, String header, int width, String json, List<String> items,
                                 Function<Map<String, String>, Long> get) {
        return item(key, header, width, false, false, json, items, get::apply);
    }

    private static Field itemText(String key, String header, int width, boolean left, String json, List<String> items,
                                  Function<Map<String, String>, String> get) {
        return item(key, header, width, left, false, json, items, get::apply);
    }

    /**
     * A column made from /proc items: {@code get} reads the row's items (null, or an exception for
     * a value absent or not a number, shows "-" and sorts as unknown).
     */
    private static Field item(String key, String header, int width, boolean left, boolean plusTrunc, String json,
                              List<String> items, Function<Map<String, String>, Object> get) {
        BiFunction<ProcRow, Ctx, Object> v = (r, c) -> {
            try {
                return get.apply(r.items);
            } catch (RuntimeException e) {
                return null;
            }
        };
        return new Field(key, header, width, left, plusTrunc, Groups.BASE, json,
                (r, c) -> {
                    Object x = v.apply(r, c);
                    return x == null ? "-" : x.toString();
                }, v, items);
    }

    /** The n-th (0-based) whitespace-separated number of a status line ("Uid:  0  0  0  0"). */
    private static Long nth(String line, int n) {
        return line == null ? null : Long.parseLong(line.trim().split("\\s+")[n]);
    }

    /** The n-th number (0 the id, 1 the nice) of /proc/PID/autogroup's "/autogroup-ID nice N", or {@code none}. */
    private static long autogroup(String v, int n, long none) {
        if (v == null || !v.startsWith("/autogroup-")) {
            return none;
        }
        String[] f = v.substring(11).trim().split("\\s+");
        try {
            return n == 0 ? Long.parseLong(f[0]) : f.length >= 3 && f[1].equals("nice") ? Long.parseLong(f[2]) : none;
        } catch (NumberFormatException e) {
            return none;
        }
    }

    /** The first number of a value ("123 kB"), or 0 when there is none (procps's default). */
    private static long orZero(String v) {
        return v == null ? 0 : Long.parseLong(v.trim().split("\\s+")[0]);
    }

    /** A signal mask as procps prints it when the line is wide enough (always for a pipe): 16 hex digits. */
    private static String signals(String mask) {
        if (mask == null) {
            return null;
        }
        return mask.length() > 8 ? mask : "00000000" + mask;
    }

    /** procps's scheduling class names (POL, CLS). */
    private static String schedClass(Long policy) {
        if (policy == null) {
            return null;
        }
        return switch (policy.intValue()) {
            case -1 -> "-";
            case 0 -> "TS";
            case 1 -> "FF";
            case 2 -> "RR";
            case 3 -> "B";
            case 4 -> "ISO";
            case 5 -> "IDL";
            case 6 -> "DLN";
            case 7, 8, 9 -> "#" + policy;
            default -> "?";
        };
    }

    private static void procItems() {
        // namespaces: the inode of /proc/PID/ns/TYPE (private: the kernel's ptrace read check)
        for (String ns : List.of("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")) {
            add(itemNum(ns + "ns", ns.toUpperCase(Locale.ROOT) + "NS", 10, ns + "ns", List.of("ns." + ns),
                    m -> m.containsKey("ns." + ns) ? Long.parseLong(m.get("ns." + ns)) : null));
        }
        // saved and filesystem ids (status Uid:/Gid: real, effective, saved, filesystem)
        add(itemNum("suid", "SUID", 5, "suid", List.of("status.Uid"), m -> nth(m.get("status.Uid"), 2)));
        alias("suid", "svuid", "SVUID");
        add(itemNum("fuid", "FUID", 5, "fuid", List.of("status.Uid"), m -> nth(m.get("status.Uid"), 3)));
        add(itemNum("sgid", "SGID", 5, "sgid", List.of("status.Gid"), m -> nth(m.get("status.Gid"), 2)));
        alias("sgid", "svgid", "SVGID");
        add(itemNum("fgid", "FGID", 5, "fgid", List.of("status.Gid"), m -> nth(m.get("status.Gid"), 3)));
        add(nameOf("suser", "SUSER", "status.Uid", 2, true));
        add(nameOf("fuser", "FUSER", "status.Uid", 3, true));
        add(nameOf("sgroup", "SGROUP", "status.Gid", 2, false));
        add(nameOf("fgroup", "FGROUP", "status.Gid", 3, false));
        add(itemText("rgid", "RGID", 5, false, "rgid", List.of("status.Gid"), m -> String.valueOf(nth(m.get("status.Gid"), 0))));
        add(nameOf("rgroup", "RGROUP", "status.Gid", 0, false));
        // supplementary groups, comma-separated as procps joins them ("-" for none)
        add(itemText("supgid", "SUPGID", 20, true, "supgid", List.of("status.Groups"), m -> {
            String g = m.get("status.Groups");
            return g == null ? null : g.isBlank() ? "-" : String.join(",", g.trim().split("\\s+"));
        }));
        add(itemText("supgrp", "SUPGRP", 40, true, "supgrp", List.of("status.Groups"), m -> {
            String g = m.get("status.Groups");
            if (g == null) {
                return null;
            }
            if (g.isBlank()) {
                return "-";
            }
            StringBuilder sb = new StringBuilder();
            for (String id : g.trim().split("\\s+")) {
                sb.append(sb.isEmpty() ? "" : ",").append(Names.group(Integer.parseInt(id)));
            }
            return sb.toString();
        }));
        // signal masks from status: pending to the process (ShdPnd), blocked, ignored, caught
        for (String[] s : new String[][] {{"pending", "PENDING", "ShdPnd"}, {"blocked", "BLOCKED", "SigBlk"},
                {"ignored", "IGNORED", "SigIgn"}, {"caught", "CAUGHT", "SigCgt"}}) {
            add(itemText(s[0], s[1], 16, false, s[0] + "_signals", List.of("status." + s[2]), m -> signals(m.get("status." + s[2]))));
        }
        alias("pending", "sig", "PENDING");
        alias("blocked", "sigmask", "BLOCKED");
        alias("blocked", "sig_block", "BLOCKED");
        alias("ignored", "sig_ignore", "IGNORED");
        alias("ignored", "sigignore", "IGNORED");
        alias("caught", "sigcatch", "CAUGHT");
        // OOM killer
        add(itemNum("oom", "OOM", 4, "oom_score", List.of("oom_score"), m -> Long.parseLong(m.get("oom_score"))));
        add(itemNum("oomadj", "OOMADJ", 5, "oom_adj", List.of("oom_adj"), m -> Long.parseLong(m.get("oom_adj"))));
        // scheduling: stat field 40 rt_priority, 41 policy
        add(itemText("rtprio", "RTPRIO", 6, false, "rtprio", List.of("stat.40", "stat.41"), m -> {
            long pol = Long.parseLong(m.get("stat.41"));
            return pol == 0 || pol == -1 ? "-" : m.get("stat.40");
        }));
        add(itemText("policy", "POL", 3, true, "policy", List.of("stat.41"), m -> schedClass(Long.parseLong(m.get("stat.41")))));
        alias("policy", "class", "CLS");
        add(itemText("cls", "CLS", 3, false, "policy", List.of("stat.41"), m -> schedClass(Long.parseLong(m.get("stat.41")))));
        add(itemText("sched", "SCH", 3, false, "sched", List.of("stat.41"), m -> m.get("stat.41")));
        // I/O counts (private, as /proc/PID/io); procps prints 0 where it cannot read the file
        for (String[] io : new String[][] {{"rops", "ROPS", "syscr", "io_read_ops"}, {"wops", "WOPS", "syscw", "io_write_ops"},
                {"rchars", "RCHARS", "rchar", "io_rchar"}, {"wchars", "WCHARS", "wchar", "io_wchar"},
                {"rbytes", "RBYTES", "read_bytes", "io_read_bytes"}, {"wbytes", "WBYTES", "write_bytes", "io_write_bytes"}}) {
            add(itemNum(io[0], io[1], 5, io[3], List.of("io." + io[2]), m -> orZero(m.get("io." + io[2]))));
        }
        // memory sizes procps derives: SIZE = data + stack KiB (0 for a kernel thread, which has neither);
        // text and data resident estimates from the code bounds
        add(itemNum("size", "SIZE", 5, "size_kib", List.of("status.VmData", "status.VmStk"),
                m -> orZero(m.get("status.VmData")) + orZero(m.get("status.VmStk"))));
        add(itemNum("trs", "TRS", 4, "trs_kib", List.of("stat.23", "stat.26", "stat.27"),
                m -> Long.parseLong(m.get("stat.23")) == 0 ? 0L
                        : (Long.parseUnsignedLong(m.get("stat.27")) - Long.parseUnsignedLong(m.get("stat.26"))) >> 10));
        add(itemNum("drs", "DRS", 5, "drs_kib", List.of("stat.23", "stat.26", "stat.27"),
                m -> Long.parseLong(m.get("stat.23")) == 0 ? 0L
                        : (Long.parseLong(m.get("stat.23")) - Long.parseUnsignedLong(m.get("stat.27"))
                                + Long.parseUnsignedLong(m.get("stat.26"))) >> 10));
        // the old Linux names v uses; TRS is five wide there
        add(BY_KEY.get("trs").as("m_trs", "TRS").withWidth(5));
        alias("drs", "m_drs", "DRS");
        // faults under procps's other names, the last CPU under BSD's
        add(num("majflt", "MAJFLT", 6, S, "majflt", r -> r.majflt));
        add(num("minflt", "MINFLT", 6, S, "minflt", r -> r.minflt));
        alias("psr", "lastcpu", "C");
        // procps's other names for columns above
        alias("caught", "sig_catch", "CATCHED");
        alias("pending", "sig_pend", "SIGNAL");
        // the thread's own pending set (status SigPnd; "pending" is the process's shared one)
        add(itemText("tsig", "PENDING", 16, false, "thread_pending_signals", List.of("status.SigPnd"),
                m -> signals(m.get("status.SigPnd"))));
        alias("fuid", "fsuid", "FSUID");
        alias("fgid", "fsgid", "FSGID");
        alias("fuser", "fsuser", "FSUSER");
        alias("fgroup", "fsgroup", "FSGROUP");
        alias("suser", "svuser", "SVUSER");
        alias("sgroup", "svgroup", "SVGROUP");
        alias("majflt", "pagein", "PAGEIN");
        add(BY_KEY.get("psr").as("cpuid", "CPUID").withWidth(5));
        alias("opri", "intpri", "PRI");
        alias("pid", "tgid", "TGID");
        alias("c", "util", "C");
        alias("time", "atime", "TIME");
        alias("f", "flag", "F");
        alias("wchan", "wname", "WCHAN");
        alias("tty", "tty8", "TTY");
        alias("tty", "longtname", "TTY");
        add(BY_KEY.get("trs").as("trss", "TRSS").withWidth(4));
        add(BY_KEY.get("trs").as("tsiz", "TSIZ").withWidth(4));
        add(BY_KEY.get("drs").as("dsiz", "DSIZ").withWidth(4));
        // the whole virtual size in bytes (stat's vsize), as procps's m_size prints it
        add(itemNum("m_size", "SIZE", 5, "vsize_bytes", List.of("stat.23"), m -> Long.parseLong(m.get("stat.23"))));
        // CPU time in whole seconds
        add(computed("times", "TIME", 8, false, S, "cpu_seconds", (r, c) -> r.utime < 0 ? "-" : Long.toString(c.cpuSecs(r)),
                (r, c) -> r.utime < 0 ? null : (Object) c.cpuSecs(r)));
        add(itemNum("wcbytes", "WCBYTES", 5, "io_cancelled_write_bytes", List.of("io.cancelled_write_bytes"),
                m -> orZero(m.get("io.cancelled_write_bytes"))));
        // the scheduler's autogroup ("/autogroup-5 nice 0"): -1 and 0 where there is none, as procps
        add(itemNum("ag_id", "AGID", 5, "autogroup", List.of("autogroup"), m -> autogroup(m.get("autogroup"), 0, -1)));
        add(itemNum("ag_nice", "AGNI", 4, "autogroup_nice", List.of("autogroup"), m -> autogroup(m.get("autogroup"), 1, 0)));
        // stat's stack start and the saved stack and instruction pointers: private (the kernel
        // shows them to a ptrace-capable reader only, and zeros to others, which procps prints)
        for (String[] a : new String[][] {{"stackp", "STACKP", "28"}, {"start_stack", "STACKP", "28"},
                {"esp", "ESP", "29"}, {"eip", "EIP", "30"}}) {
            add(itemText(a[0], a[1], 16, false, a[0], List.of("stat." + a[2]), m -> {
                String v = m.get("stat." + a[2]);
                return String.format(Locale.ROOT, "%016x", v == null ? 0L : Long.parseUnsignedLong(v));
            }));
        }
        // login uid (audit), "-" when unset
        add(itemText("luid", "LUID", 5, false, "loginuid", List.of("loginuid"), m -> {
            long v = Long.parseLong(m.get("loginuid"));
            return v == 4294967295L || v < 0 ? "-" : Long.toString(v);
        }));
        // every cgroup the process is in, as procps shows it: non-root lines joined by commas, "-" if none
        add(itemText("cgroup", "CGROUP", 27, true, "cgroup", List.of("cgroup"), m -> psCgroup(m.get("cgroup"))));
        // procps's CGNAME: the cgroup column from its first named hierarchy (":name=") on, else all of it
        add(itemText("cgname", "CGNAME", 27, true, "cgname", List.of("cgroup"), m -> {
            String all = psCgroup(m.get("cgroup"));
            int at = all == null ? -1 : all.indexOf(":name=");
            return at >= 0 && at + 6 < all.length() ? all.substring(at + 6) : all;
        }));
        // memory from smaps_rollup (private: the ptrace read check, as /proc guards it). procps
        // prints 0 where it cannot read the file (another's process, a kernel thread): so does
        // the text; JSON says null (unknown), not 0
        add(smapsKiB("pss", "PSS", "pss_kib", List.of("smaps.Pss"), m -> kib(m.get("smaps.Pss"))));
        add(smapsKiB("uss", "USS", "uss_kib", List.of("smaps.Private_Clean", "smaps.Private_Dirty"),
                m -> kib(m.get("smaps.Private_Clean")) + kib(m.get("smaps.Private_Dirty"))));
        // the LSM label (SELinux context, AppArmor profile): "-" where no LSM gives one
        add(itemText("label", "LABEL", 31, true, "label", List.of("attr.current"), m -> dash(m.get("attr.current"))));
        alias("label", "context", "CONTEXT");
        alias("label", "zone", "ZONE");
        oldNames();
    }

    /**
     * The rest of {@code ps L}: SunOS, SGI, BSD and old Linux names, with procps's headers, widths
     * and output (facts from procps-ng's output.c, checked against the installed ps).
     */
    private static void oldNames() {
        alias("sid", "session", "SESS");
        // %cpu in tenths without the point ("per mill"), at most 999
        add(computed("cp", "CP", 3, false, B | S, "cpu_permill", (r, c) -> Long.toString(Math.min(999, c.pcpuTenths(r))),
                (r, c) -> Math.min(999, c.pcpuTenths(r))));
        // CPU over the ticks since the start as a percent with three decimals; cuc counts the
        // waited-for children's CPU too (stat's cutime and cstime)
        add(computed("cuu", "%CUU", 6, false, B | S, "cpu_utilization",
                (r, c) -> r.utime < 0 ? "-" : threeDecimals(utilization(r.utime + r.stime, r, c)),
                (r, c) -> r.utime < 0 ? null : (Object) utilization(r.utime + r.stime, r, c)));
        BiFunction<ProcRow, Ctx, Object> withChildren = (r, c) -> {
            String cu = r.items.get("stat.16");
            String cs = r.items.get("stat.17");
            return r.utime < 0 || cu == null || cs == null ? null
                    : (Object) utilization(r.utime + r.stime + Long.parseLong(cu) + Long.parseLong(cs), r, c);
        };
        add(new Field("cuc", "%CUC", 7, false, false, B | S, "cpu_utilization_children", (r, c) -> {
            Object v = withChildren.apply(r, c);
            return v == null ? "-" : threeDecimals((Double) v);
        }, withChildren, List.of("stat.16", "stat.17")));
        // SunOS's fname: the command name cut to 8 cells (procps reads comm, not the executable)
        add(new Field("fname", "COMMAND", 8, true, false, B, "fname",
                (r, c) -> r.comm == null ? "-" : Printable.fit(Printable.text(r.comm), 8),
                (r, c) -> r.comm == null ? null : Printable.fit(r.comm, 8)));
        // BSD's lim: the RSS limit (stat's rsslim) in KiB, "xx" when unlimited
        add(itemText("lim", "LIM", 5, false, "rss_limit_kib", List.of("stat.25"), m -> {
            long lim = Long.parseUnsignedLong(m.get("stat.25"));
            return lim == -1L ? "xx" : Long.toUnsignedString(lim >>> 10);
        }));
        // SGI's P: the CPU of a running task, '*' for any other
        add(computed("sgi_p", "P", 1, false, B | S, "sgi_p",
                (r, c) -> r.state != 'R' ? "*" : r.processor < 0 ? "-" : Integer.toString(r.processor),
                (r, c) -> r.state != 'R' ? "*" : r.processor < 0 ? null : (Object) (long) r.processor));
        // SGI's RSS: rss left-aligned in four (wider values are printed whole)
        Field rss = BY_KEY.get("rss");
        add(new Field("sgi_rss", "RSS", 4, true, false, rss.groups(), rss.json(), rss.text(), rss.value(), rss.items()));
        // the terminal without "tty" or "pts/" in front (pts/3 is 3, ttyS0 S0, tty1 1)
        add(text("tty4", "TTY", 4, B, "tty4", (r, c) -> r.tty < 0 ? null : shortTty(Terminals.name(r.tty))));
    }

    /** procps's short terminal name: "tty" then "pts/" taken off the front where something follows. */
    private static String shortTty(String name) {
        String n = name.startsWith("tty") && name.length() > 3 ? name.substring(3) : name;
        return n.startsWith("pts/") && n.length() > 4 ? n.substring(4) : n;
    }

    /**
     * procps's %CUU: CPU ticks times 100 (in float, as procps computes it) over the ticks from the
     * start to now (now truncated to a tick), at most 99.999; 0 when no time has passed.
     */
    static double utilization(long ticks, ProcRow r, Ctx c) {
        double life = c.uptimeSecs() < 0 || r.startTicks < 0 ? c.lifeJiffies(r)
                : (double) ((long) (c.uptimeSecs() * c.hz()) - r.startTicks);
        if (life <= 0) {
            return 0;
        }
        double cu = ((float) ticks * 100.0f) / life;
        return cu > 99.0 ? 99.999 : cu;
    }

    /** A number as C's "%#.3f" prints it: three decimals, the exact binary value rounded half to even. */
    static String threeDecimals(double v) {
        return new java.math.BigDecimal(v).setScale(3, java.math.RoundingMode.HALF_EVEN).toPlainString();
    }

    /** procps's CGROUP text: the non-root lines of /proc/PID/cgroup joined by commas, "-" if none; null if unread. */
    private static String psCgroup(String all) {
        if (all == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        for (String line : all.split(",")) {
            if (!line.isEmpty() && !line.endsWith("/")) {
                sb.append(sb.isEmpty() ? "" : ",").append(line);
            }
        }
        return sb.isEmpty() ? "-" : sb.toString();
    }

    /** "852 kB" as 852; a missing value is a NullPointerException (the field shows "-"). */
    private static long kib(String v) {
        return Long.parseLong(v.trim().split("\\s+")[0]);
    }

    /** A smaps_rollup size: procps's 0 when the daemon sent nothing (unreadable or not permitted), null in JSON. */
    private static Field smapsKiB(String key, String header, String json, List<String> items,
                                  Function<Map<String, String>, Long> get) {
        BiFunction<ProcRow, Ctx, Object> v = (r, c) -> {
            for (String i : items) {
                if (!r.items.containsKey(i)) {
                    return null;
                }
            }
            try {
                return get.apply(r.items);
            } catch (RuntimeException e) {
                return null;
            }
        };
        return new Field(key, header, 5, false, false, Groups.BASE, json, (r, c) -> {
            Object x = v.apply(r, c);
            return x == null ? "0" : x.toString();
        }, v, items);
    }

    /** The systemd and container view of a process, from its cgroup paths (cgroup.SystemdNames, cgroup.Containers). */
    private static void cgroupViews() {
        List<String> cg = List.of("cgroup");
        add(itemText("unit", "UNIT", 31, true, "unit", cg, m -> dash(SystemdNames.unit(systemdPath(m)))));
        add(itemText("uunit", "UUNIT", 31, true, "user_unit", cg, m -> dash(SystemdNames.userUnit(systemdPath(m)))));
        add(itemText("slice", "SLICE", 31, true, "slice", cg, m -> m.get("cgroup") == null ? null
                : SystemdNames.slice(systemdPath(m))));
        add(itemText("lsession", "SESSION", 11, true, "login_session", cg, m -> dash(SystemdNames.session(systemdPath(m)))));
        add(itemText("ouid", "OWNER", 5, true, "owner_uid", cg, m -> {
            long uid = SystemdNames.ownerUid(systemdPath(m));
            return uid < 0 ? "-" : Long.toString(uid);
        }));
        add(itemText("container", "CONTAINER", 24, true, "container", cg, m -> {
            Containers.Container c = Containers.of(CgroupPaths.lines(m.get("cgroup")));
            return c == null ? "-" : c.shortName();
        }));
        add(itemText("pod", "POD", 36, true, "pod", cg, m -> dash(Containers.pod(CgroupPaths.lines(m.get("cgroup"))))));
        // libsystemd's machine name: machined's record of the process's unit (a symlink under
        // /run/systemd/machines whose target is the name); "-" where there is none
        add(itemText("machine", "MACHINE", 31, true, "machine", cg, m -> {
            String unit = SystemdNames.unit(systemdPath(m));
            return unit == null ? "-" : dash(SystemdNames.machine(unit));
        }));
        // the seat of the login session the process is in (logind's session file), "-" if none
        add(itemText("seat", "SEAT", 11, true, "seat", cg, m -> {
            String session = SystemdNames.session(systemdPath(m));
            return session == null ? "-" : dash(SystemdNames.seat(session));
        }));
        add(itemText("lxc", "LXC", 8, true, "lxc", cg, m -> dash(Containers.lxcName(CgroupPaths.lines(m.get("cgroup"))))));
    }

    private static String systemdPath(Map<String, String> m) {
        String all = m.get("cgroup");
        if (all == null) {
            throw new IllegalStateException("no cgroup item"); // shown as "-" by the item field
        }
        return CgroupPaths.systemdPath(CgroupPaths.lines(all));
    }

    private static String dash(String s) {
        return s == null ? "-" : s;
    }

    /** A user or group name from the n-th id of a status line, cut with '+' at 8 as procps does. */
    private static Field nameOf(String key, String header, String item, int n, boolean user) {
        return item(key, header, 8, true, true, key, List.of(item), m -> {
            Long id = nth(m.get(item), n);
            return id == null ? null : user ? Names.user(id.intValue()) : Names.group(id.intValue());
        });
    }

    /**
     * The command column with BSD e: the environment after the command, as procps prints it (only
     * where /proc/PID/environ can be read, and not when it is empty).
     */
    /** BSD c: the command columns show the command's name (procps's "true command name"). */
    static Field asCommandName(Field f) {
        return new Field(f.key(), f.header(), f.width(), f.left(), f.plusTrunc(), f.groups(), "comm",
                (r, c) -> r.comm == null ? "-" : r.comm, (r, c) -> r.comm, f.items());
    }

    static Field withEnvironment(Field f) {
        List<String> items = new java.util.ArrayList<>(f.items());
        items.add("environ");
        BiFunction<ProcRow, Ctx, String> base = f.text();
        return new Field(f.key(), f.header(), f.width(), f.left(), f.plusTrunc(), f.groups(), f.json(),
                (r, c) -> {
                    String t = base.apply(r, c);
                    String env = r.items.get("environ");
                    return env == null || env.isEmpty() ? t : t + " " + env;
                }, f.value(), items);
    }

    /** The field for a ps keyword (case-insensitive), or null. */
    public static Field get(String key) {
        return BY_KEY.get(key.toLowerCase(Locale.ROOT));
    }

    public static Map<String, Field> all() {
        return BY_KEY;
    }

    /** The /proc items to request from the daemon for these fields (each once). */
    public static List<String> itemsFor(List<Field> fields) {
        java.util.LinkedHashSet<String> items = new java.util.LinkedHashSet<>();
        for (Field f : fields) {
            items.addAll(f.items());
        }
        return List.copyOf(items);
    }

    /** The groups to request from the daemon for these fields. */
    public static long groupsFor(List<Field> fields) {
        long g = Groups.BASE;
        for (Field f : fields) {
            g |= f.groups();
        }
        return g;
    }

    /** top's %CPU and %MEM: always one decimal. */
    static String tenthsFixed(long t) {
        return (t / 10) + "." + (t % 10);
    }

    /** top's PR: the kernel priority, "rt" for the highest real-time one. */
    static String topPriority(ProcRow r) {
        if (r.priority == Integer.MIN_VALUE) {
            return "-";
        }
        return r.priority <= -100 ? "rt" : Integer.toString(r.priority);
    }

    /** top's memory columns: KiB, scaled to m, g, t with one decimal when it would not fit. */
    static String topKiB(long kib, int width) {
        String plain = Long.toString(kib);
        if (plain.length() <= width) {
            return plain;
        }
        double v = kib;
        for (char unit : new char[] {'m', 'g', 't', 'p'}) {
            v /= 1024;
            String s = String.format(Locale.ROOT, "%.1f%c", v, unit);
            if (s.length() <= width) {
                return s;
            }
            s = String.format(Locale.ROOT, "%d%c", Math.round(v), unit);
            if (s.length() <= width) {
                return s;
            }
        }
        return plain;
    }

    /** top's TIME+: minutes:seconds.hundredths. */
    static String timePlus(ProcRow r, int hz) {
        long hundredths = (r.utime + r.stime) * 100 / hz;
        long secs = hundredths / 100;
        long s = secs % 60;
        long h = hundredths % 100;
        // by hand: String.format costs more than the rest of a top row together
        return (secs / 60) + (s < 10 ? ":0" : ":") + s + (h < 10 ? ".0" : ".") + h;
    }

    static String tenths(long t) {
        return t >= 1000 ? Long.toString(t / 10) : (t / 10) + "." + (t % 10);
    }

    /** A scheduling class other than normal (0), batch (3) or unknown: procps shows no nice for it. */
    static boolean niceless(ProcRow r) {
        String policy = r.items.get("stat.41");
        return policy != null && !policy.equals("0") && !policy.equals("3") && !policy.equals("-1");
    }

    /** procps "pri": 39 minus stat's priority (20 + nice for normal tasks), so higher runs sooner. */
    static int psPri(ProcRow r) {
        return 39 - r.priority;
    }

    /** BSD STAT: state plus <, N (priority), L (locked memory), s (session leader), l (threads), + (foreground). */
    static String bsdStat(ProcRow r) {
        StringBuilder sb = new StringBuilder().append(r.state);
        if (r.nice != Integer.MIN_VALUE) {
            if (r.nice < 0) {
                sb.append('<');
            } else if (r.nice > 0) {
                sb.append('N');
            }
        }
        if (r.lockedKiB > 0) {
            sb.append('L');
        }
        if (r.sid == r.pid && r.pid > 0) {
            sb.append('s');
        }
        if (r.nlwp > 1) {
            sb.append('l');
        }
        if (r.pgrp >= 0 && r.pgrp == r.tpgid) {
            sb.append('+');
        }
        return sb.toString();
    }
}
