package io.procwatch.cli;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** The time formats of procps ps. */
final class Times {
    private static final DateTimeFormatter HM = DateTimeFormatter.ofPattern("HH:mm", Locale.ROOT);
    private static final DateTimeFormatter HMS = DateTimeFormatter.ofPattern("HH:mm:ss", Locale.ROOT);
    private static final DateTimeFormatter MON_DD = DateTimeFormatter.ofPattern("MMMdd", Locale.ROOT);
    private static final DateTimeFormatter MON_SP_DD = DateTimeFormatter.ofPattern("MMM dd", Locale.ROOT);
    private static final DateTimeFormatter YEAR = DateTimeFormatter.ofPattern("yyyy", Locale.ROOT);
    private static final DateTimeFormatter LSTART =
            DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ROOT);
    static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT);
    static final DateTimeFormatter CLOCK_MS = DateTimeFormatter.ofPattern("HH:mm:ss.SSS", Locale.ROOT);

    private Times() {
    }

    static ZonedDateTime at(long epochMs) {
        return Instant.ofEpochMilli(epochMs).atZone(Invocation.current().zone());
    }

    /**
     * STIME (ps -f): HH:MM if it started today (by the calendar, as procps: a process from 21:38
     * yesterday shows Nov24 at 00:03), MonDD if this year, else the year. START and STARTED below
     * use "within 24 hours" instead, also as procps does.
     */
    static String stime(long startMs, long nowMs) {
        if (startMs < 0) {
            return "-";
        }
        ZonedDateTime start = at(startMs);
        ZonedDateTime now = at(nowMs);
        DateTimeFormatter f = start.toLocalDate().equals(now.toLocalDate()) ? HM
                : start.getYear() == now.getYear() ? MON_DD : YEAR;
        return f.format(start);
    }

    /** START (ps u): HH:MM within a day, else MonDD. */
    static String bsdStart(long startMs, long nowMs) {
        if (startMs < 0) {
            return "-";
        }
        return (nowMs - startMs > 86_400_000L ? MON_DD : HM).format(at(startMs));
    }

    /** STARTED (start): HH:MM:SS within a day, else "Mon DD". */
    static String started(long startMs, long nowMs) {
        if (startMs < 0) {
            return "-";
        }
        return (nowMs - startMs > 86_400_000L ? MON_SP_DD : HMS).format(at(startMs));
    }

    static String lstart(long startMs) {
        return startMs < 0 ? "-" : LSTART.format(at(startMs));
    }

    /** ELAPSED: [[DD-]hh:]mm:ss. */
    static String etime(long secs) {
        if (secs < 0) {
            return "-";
        }
        long d = secs / 86400;
        long h = secs / 3600 % 24;
        long m = secs / 60 % 60;
        long s = secs % 60;
        if (d > 0) {
            return String.format(Locale.ROOT, "%d-%02d:%02d:%02d", d, h, m, s);
        }
        if (h > 0) {
            return String.format(Locale.ROOT, "%02d:%02d:%02d", h, m, s);
        }
        return String.format(Locale.ROOT, "%02d:%02d", m, s);
    }

    /** TIME: [DD-]HH:MM:SS of CPU. */
    static String cputime(long secs) {
        if (secs < 0) {
            return "-";
        }
        long d = secs / 86400;
        String hms = String.format(Locale.ROOT, "%02d:%02d:%02d", secs / 3600 % 24, secs / 60 % 60, secs % 60);
        return d > 0 ? d + "-" + hms : hms;
    }

    /** TIME in BSD style (ps u): MMM:SS. */
    static String bsdTime(long secs) {
        return secs < 0 ? "-" : String.format(Locale.ROOT, "%d:%02d", secs / 60, secs % 60);
    }

    /** A duration for humans: 850ms, 12.3s, 5m02s, 3h04m, 2d03h. */
    static String duration(long ms) {
        if (ms < 0) {
            return "-";
        }
        if (ms < 1000) {
            return ms + "ms";
        }
        if (ms < 60_000) {
            return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
        }
        long s = ms / 1000;
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        if (s < 86400) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60);
        }
        return String.format(Locale.ROOT, "%dd%02dh", s / 86400, s / 3600 % 24);
    }
}
