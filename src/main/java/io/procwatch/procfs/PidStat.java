package io.procwatch.procfs;


/**
 * {@code /proc/PID/stat} (proc_pid_stat(5)): one line, space separated, with the command name in
 * parentheses (it may itself contain spaces and parentheses, so the last ')' ends it). Field names
 * and units follow the man page: times in clock ticks, rss in pages, vsize in bytes.
 */
public record PidStat(int pid, String comm, char state, int ppid, int pgrp, int session, int ttyNr,
                      int tpgid, long flags, long minflt, long majflt, long utime, long stime,
                      int priority, int nice, int numThreads, long starttime, long vsize, long rss,
                      int processor, long wchanIgnored) {

    /** Parses the file's bytes; returns null when they are not a stat line (never throws). */
    public static PidStat parse(byte[] b, int len) {
        int open = indexOf(b, len, (byte) '(');
        int close = lastIndexOf(b, len, (byte) ')');
        if (open < 1 || close < open || close + 2 >= len) {
            return null;
        }
        FieldCursor c = new FieldCursor(b, close + 2, len);
        try {
            int pid = (int) parseLong(b, 0, open - 1);
            String comm = Utf8.decode(b, open + 1, close - open - 1);
            char state = (char) b[close + 2];
            c.skip(1);                       // 3 state
            int ppid = (int) c.next();       // 4
            int pgrp = (int) c.next();       // 5
            int session = (int) c.next();    // 6
            int tty = (int) c.next();        // 7
            int tpgid = (int) c.next();      // 8
            long flags = c.next();           // 9
            long minflt = c.next();          // 10
            c.skip(1);                       // 11 cminflt
            long majflt = c.next();          // 12
            c.skip(1);                       // 13 cmajflt
            long utime = c.next();           // 14
            long stime = c.next();           // 15
            c.skip(2);                       // 16 cutime, 17 cstime
            int priority = (int) c.next();   // 18
            int nice = (int) c.next();       // 19
            int threads = (int) c.next();    // 20
            c.skip(1);                       // 21 itrealvalue
            long starttime = c.next();       // 22
            long vsize = c.next();           // 23
            long rss = c.next();             // 24
            c.skip(14);                      // 25..38
            int processor = (int) c.next();  // 39
            return new PidStat(pid, comm, state, ppid, pgrp, session, tty, tpgid, flags, minflt, majflt,
                    utime, stime, priority, nice, threads, starttime, vsize, rss, processor, 0);
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            return null;
        }
    }

    /** Reads space-separated decimal fields (possibly negative) without allocating. */
    static final class FieldCursor {
        private final byte[] b;
        private final int end;
        private int pos;

        FieldCursor(byte[] b, int start, int end) {
            this.b = b;
            this.pos = start;
            this.end = end;
        }

        long next() {
            while (pos < end && b[pos] == ' ') {
                pos++;
            }
            int start = pos;
            while (pos < end && b[pos] != ' ' && b[pos] != '\n') {
                pos++;
            }
            if (start == pos) {
                throw new NumberFormatException("missing field");
            }
            return parseLong(b, start, pos);
        }

        /** Skips fields without parsing them (some are letters, some exceed a long). */
        void skip(int n) {
            for (int i = 0; i < n; i++) {
                while (pos < end && b[pos] == ' ') {
                    pos++;
                }
                if (pos >= end) {
                    throw new NumberFormatException("missing field");
                }
                while (pos < end && b[pos] != ' ' && b[pos] != '\n') {
                    pos++;
                }
            }
        }
    }

    static long parseLong(byte[] b, int from, int to) {
        boolean neg = from < to && b[from] == '-';
        int i = neg ? from + 1 : from;
        if (i >= to) {
            throw new NumberFormatException("empty number");
        }
        long v = 0;
        for (; i < to; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                throw new NumberFormatException("not a digit");
            }
            v = v * 10 + d;
        }
        return neg ? -v : v;
    }

    private static int indexOf(byte[] b, int len, byte x) {
        for (int i = 0; i < len; i++) {
            if (b[i] == x) {
                return i;
            }
        }
        return -1;
    }

    private static int lastIndexOf(byte[] b, int len, byte x) {
        for (int i = len - 1; i >= 0; i--) {
            if (b[i] == x) {
                return i;
            }
        }
        return -1;
    }
}
