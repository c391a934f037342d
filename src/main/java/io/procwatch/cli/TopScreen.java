package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.event.Signals;

import java.time.Instant;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Lays a frame out as top's text: summary lines, the recently-exited strip, the column header, rows. */
final class TopScreen {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

    private TopScreen() {
    }

    /** The summary area (top's five lines, then procwatch's event and exit lines). */
    static List<String> summary(TopModel.Frame f, int width, boolean batch) {
        List<String> lines = new ArrayList<>();
        SystemSummary s = f.sys();
        String time = LocalTime.ofInstant(Instant.ofEpochMilli(f.timeMs()), Invocation.current().zone()).format(CLOCK);
        if (s == null) {
            // a replayed frame (top --replay): the journal keeps the processes, not these lines
            lines.add("top - " + time + " up -,  load average: -, -, -");
            lines.add(tasks(f));
            lines.add("%Cpu(s):    - us,    - sy,    - ni,    - id,    - wa,    - hi,    - si,    - st");
            lines.add("MiB Mem :        - total,        - free,        - used,        - buff/cache");
            lines.add("MiB Swap:        - total,        - free,        - used.        - avail Mem");
            lines.add(String.format(Locale.ROOT, "Events: %6.1f forks/s, %6s execs/s, %6.1f exits/s, %s lost",
                    f.forksPerSec(), Double.isNaN(f.execsPerSec()) ? "-" : String.format(Locale.ROOT, "%.1f", f.execsPerSec()),
                    f.exitsPerSec(), f.lostEvents() < 0 ? "-" : Long.toString(f.lostEvents())));
            lines.add(exitedStrip(f.exited(), batch ? Integer.MAX_VALUE : width));
            return lines;
        }
        lines.add(String.format(Locale.ROOT, "top - %s up %s,  load average: %.2f, %.2f, %.2f", time,
                uptime((long) s.uptimeSecs()), s.load1(), s.load5(), s.load15()));
        lines.add(tasks(f));
        double[] c = f.cpuPercent();
        lines.add(String.format(Locale.ROOT,
                "%%Cpu(s): %4.1f us, %4.1f sy, %4.1f ni, %4.1f id, %4.1f wa, %4.1f hi, %4.1f si, %4.1f st",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]));
        lines.add(String.format(Locale.ROOT, "MiB Mem : %8.1f total, %8.1f free, %8.1f used, %8.1f buff/cache",
                mib(s.memTotalKiB()), mib(s.memFreeKiB()), mib(s.memUsedKiB()), mib(s.buffersKiB() + s.cachedKiB())));
        lines.add(String.format(Locale.ROOT, "MiB Swap: %8.1f total, %8.1f free, %8.1f used. %8.1f avail Mem",
                mib(s.swapTotalKiB()), mib(s.swapFreeKiB()), mib(s.swapTotalKiB() - s.swapFreeKiB()),
                mib(s.availableKiB())));
        lines.add(String.format(Locale.ROOT, "Events: %6.1f forks/s, %6.1f execs/s, %6.1f exits/s, %d lost",
                f.forksPerSec(), f.execsPerSec(), f.exitsPerSec(), f.lostEvents()));
        lines.add(exitedStrip(f.exited(), batch ? Integer.MAX_VALUE : width));
        return lines;
    }

    private static String tasks(TopModel.Frame f) {
        return String.format(Locale.ROOT, "Tasks: %3d total, %3d running, %3d sleeping, %3d stopped, %3d zombie",
                f.total(), f.running(), f.sleeping(), f.stopped(), f.zombie());
    }

    /**
     * The processes that exited since the last refresh, newest first: what no sampling top can
     * show. Fits the width; says how many more there were.
     */
    static String exitedStrip(List<ProcRow> exited, int width) {
        StringBuilder sb = new StringBuilder("Exited:");
        if (exited.isEmpty()) {
            return sb.append(" none since the last refresh").toString();
        }
        int n = exited.size();
        for (int k = 0; k < n; k++) {
            String item = " " + exitedItem(exited.get(n - 1 - k));
            int after = n - 1 - k;
            int reserve = after > 0 ? (" +" + after + " more").length() : 0;
            if (k > 0 && sb.length() + item.length() + reserve > width) {
                return sb.append(" +").append(n - k).append(" more").toString();
            }
            sb.append(item);
        }
        return sb.toString();
    }

    /** pid name(lifetime,status), e.g. "4242 make(1.2s,0)" or "4243 cc1(35ms,SIGSEGV)". */
    static String exitedItem(ProcRow r) {
        String status;
        if (r.exitUnobserved || r.status < 0) {
            status = "?";
        } else if ((r.status & 0x7f) != 0) {
            status = Signals.name(r.status & 0x7f) + ((r.status & 0x80) != 0 ? "+core" : "");
        } else {
            status = Integer.toString((r.status >> 8) & 0xff);
        }
        String life = r.endMs >= 0 && r.startMs >= 0 ? duration(r.endMs - r.startMs) : "?";
        return r.pid + " " + Printable.text(r.comm == null ? "?" : r.comm) + "(" + life + "," + status + ")";
    }

    static String duration(long ms) {
        if (ms < 1000) {
            return ms + "ms";
        }
        if (ms < 60_000) {
            return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
        }
        if (ms < 3_600_000) {
            return (ms / 60_000) + "m" + (ms / 1000 % 60) + "s";
        }
        return (ms / 3_600_000) + "h" + (ms / 60_000 % 60) + "m";
    }

    /** top's uptime: "5 min", "2:03", "3 days,  2:03". */
    static String uptime(long secs) {
        long days = secs / 86400;
        long hours = secs / 3600 % 24;
        long mins = secs / 60 % 60;
        String clock = hours > 0 ? String.format(Locale.ROOT, "%2d:%02d", hours, mins) : mins + " min";
        return days > 0 ? days + (days == 1 ? " day, " : " days, ") + clock : clock;
    }

    private static double mib(long kib) {
        return kib / 1024.0;
    }

    /** The frame as one JSON object (batch --json prints one per iteration). */
    static Map<String, Object> json(TopModel.Frame f, List<TopView.Row> rows, List<Field> fields, Fields.Ctx ctx) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time_ms", f.timeMs());
        SystemSummary s = f.sys(); // null for a replayed frame: not journaled, so null, not 0
        m.put("uptime_seconds", s == null ? null : s.uptimeSecs());
        m.put("load", s == null ? null : List.of(s.load1(), s.load5(), s.load15()));
        m.put("tasks", ordered("total", f.total(), "running", f.running(), "sleeping", f.sleeping(),
                "stopped", f.stopped(), "zombie", f.zombie()));
        double[] c = f.cpuPercent();
        Map<String, Object> cpu = null;
        if (c != null) {
            cpu = new LinkedHashMap<>();
            String[] names = {"us", "sy", "ni", "id", "wa", "hi", "si", "st"};
            for (int i = 0; i < names.length; i++) {
                cpu.put(names[i], Math.round(c[i] * 10) / 10.0);
            }
        }
        m.put("cpu_percent", cpu);
        m.put("mem_kib", s == null ? null : ordered("total", s.memTotalKiB(), "free", s.memFreeKiB(),
                "used", s.memUsedKiB(), "available", s.availableKiB()));
        m.put("events_per_second", ordered("fork", round(f.forksPerSec()),
                "exec", Double.isNaN(f.execsPerSec()) ? null : round(f.execsPerSec()), "exit", round(f.exitsPerSec())));
        m.put("events_lost", f.lostEvents() < 0 ? null : f.lostEvents());
        List<Map<String, Object>> ex = new ArrayList<>();
        for (ProcRow r : f.exited()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("pid", r.pid);
            e.put("comm", r.comm);
            e.put("lifetime_ms", r.endMs >= 0 && r.startMs >= 0 ? r.endMs - r.startMs : null);
            e.put("status", r.status < 0 ? null : r.status);
            ex.add(e);
        }
        m.put("exited", ex);
        List<ProcRow> plain = new ArrayList<>(rows.size());
        for (TopView.Row r : rows) {
            plain.add(r.row());
        }
        m.put("processes", Columns.json(fields, plain, ctx));
        return m;
    }

    /** A JSON object whose keys keep the order given (key, value, key, value...). */
    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
