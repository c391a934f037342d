package io.procwatch.procfs;

/**
 * The credential lines of {@code /proc/PID/status} (proc_pid_status(5)): Uid and Gid each give
 * real, effective, saved and filesystem ids; TracerPid is the ptrace tracer (0 if none); Tgid the
 * process a thread belongs to (-1 if the line is missing). VmRSS and VmLck (KiB; -1 when missing,
 * as for a kernel thread) are the resident and locked memory: status sums the per-CPU counters,
 * so its VmRSS is exact where stat's rss is the kernel's cheap approximation (procps shows VmRSS).
 */
public record PidStatus(int ruid, int euid, int suid, int fsuid, int rgid, int egid, int sgid, int fsgid,
                        int tracerPid, int tgid, long vmRssKiB, long vmLckKiB) {

    /** Parses the file's text; returns null when the Uid/Gid lines are missing. */
    public static PidStatus parse(String text) {
        int[] uid = null;
        int[] gid = null;
        int tracer = 0;
        int tgid = -1;
        long rss = -1;
        long lck = -1;
        int at = 0;
        while (at < text.length()) {
            int nl = text.indexOf('\n', at);
            if (nl < 0) {
                nl = text.length();
            }
            if (text.startsWith("Uid:", at)) {
                uid = ids(text, at + 4, nl);
            } else if (text.startsWith("Gid:", at)) {
                gid = ids(text, at + 4, nl);
            } else if (text.startsWith("Tgid:", at)) {
                tgid = Integer.parseInt(text.substring(at + 5, nl).trim());
            } else if (text.startsWith("TracerPid:", at)) {
                tracer = Integer.parseInt(text.substring(at + 10, nl).trim());
            } else if (text.startsWith("VmRSS:", at)) {
                rss = kib(text, at + 6, nl);
            } else if (text.startsWith("VmLck:", at)) {
                lck = kib(text, at + 6, nl);
            }
            at = nl + 1;
        }
        if (uid == null || gid == null) {
            return null;
        }
        return new PidStatus(uid[0], uid[1], uid[2], uid[3], gid[0], gid[1], gid[2], gid[3], tracer, tgid, rss, lck);
    }

    /** "   12288 kB" as 12288. */
    private static long kib(String text, int from, int to) {
        String v = text.substring(from, to).trim();
        int sp = v.indexOf(' ');
        return Long.parseLong(sp < 0 ? v : v.substring(0, sp));
    }

    /** The first four whitespace-separated numbers in {@code text[from, to)} (no regex: it ran per status read). */
    private static int[] ids(String text, int from, int to) {
        int[] v = new int[4];
        int i = 0;
        int at = from;
        while (i < 4) {
            while (at < to && Character.isWhitespace(text.charAt(at))) {
                at++;
            }
            if (at >= to) {
                break;
            }
            int end = at;
            while (end < to && !Character.isWhitespace(text.charAt(end))) {
                end++;
            }
            v[i++] = (int) Long.parseLong(text, at, end, 10);
            at = end;
        }
        return v;
    }
}
