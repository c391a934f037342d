package io.procwatch.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A process's cgroup membership (/proc/PID/cgroup: "ID:CONTROLLERS:PATH" lines) and which of its
 * paths systemd's naming applies to: the unified hierarchy's ("0::") on a unified or hybrid
 * machine, the {@code name=systemd} one on a legacy machine, as libsystemd decides.
 */
public final class CgroupPaths {
    private static volatile Boolean unifiedForSystemd;

    private CgroupPaths() {
    }

    /** The lines as procps's {@code cgroup} item carries them: comma-joined (paths hold no commas in practice). */
    public static List<String> lines(String joined) {
        List<String> out = new ArrayList<>();
        if (joined == null) {
            return out;
        }
        for (String line : joined.split(",")) {
            if (!line.isEmpty()) {
                out.add(line);
            }
        }
        return out;
    }

    /** The path part of a line ("4:memory:/a/b" is "/a/b"), or null for a malformed line. */
    public static String path(String line) {
        int first = line.indexOf(':');
        int second = first < 0 ? -1 : line.indexOf(':', first + 1);
        return second < 0 ? null : line.substring(second + 1);
    }

    /** The path systemd's unit naming reads, or null when the process has none. */
    public static String systemdPath(List<String> lines) {
        String unified = null;
        String named = null;
        for (String line : lines) {
            if (line.startsWith("0::")) {
                unified = path(line);
            } else if (line.contains(":name=systemd:")) {
                named = path(line);
            }
        }
        return unifiedForSystemd() ? (unified != null ? unified : named) : (named != null ? named : unified);
    }

    /** Whether a cgroup2 hierarchy is mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified (libsystemd's test). */
    static boolean unifiedForSystemd() {
        Boolean u = unifiedForSystemd;
        if (u == null) {
            u = false;
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                    int dash = line.indexOf(" - ");
                    String[] f = line.split(" ");
                    if (dash > 0 && f.length > 4 && line.substring(dash + 3).startsWith("cgroup2 ")
                            && (f[4].equals("/sys/fs/cgroup") || f[4].equals("/sys/fs/cgroup/unified"))) {
                        u = true;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // unknown: legacy
            }
            unifiedForSystemd = u;
        }
        return u;
    }
}
