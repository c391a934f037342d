package io.procwatch.cgroup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A cgroup's own accounting in the unified hierarchy (cgroup v2): CPU used ({@code cpu.stat}
 * usage_usec), memory charged ({@code memory.current}) and pressure stall information
 * ({@code cpu.pressure}, {@code memory.pressure}, {@code io.pressure}: the avg10 values). Each
 * value is read on its own: a file that is absent (memory.current where the memory controller is
 * bound to a v1 hierarchy, as on hybrid machines, or not enabled for the group), unreadable, gone
 * (the cgroup was removed) or malformed leaves that value unknown, never the rest.
 */
public final class GroupFiles {
    /** Unknown values are -1 (longs) and NaN (pressures, in percent). */
    public record Stats(long cpuUsageUsec, long memoryCurrentBytes, double cpuSome10, double cpuFull10,
                        double memorySome10, double memoryFull10, double ioSome10, double ioFull10) {
        public static final Stats NONE = new Stats(-1, -1, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                Double.NaN, Double.NaN);
    }

    /** A kernel file of these is a few hundred bytes; more than this is not one. */
    private static final int MAX_FILE = 16 * 1024;
    private static volatile Path unifiedMount;
    private static volatile boolean looked;

    private GroupFiles() {
    }

    /** Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid machines), or null. */
    public static Path unifiedMount() {
        if (!looked) {
            Path found = null;
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                    int dash = line.indexOf(" - ");
                    String[] f = line.split(" ");
                    if (dash > 0 && f.length > 4 && line.substring(dash + 3).startsWith("cgroup2 ")) {
                        found = Path.of(f[4].replace("\\040", " "));
                        break;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no mountinfo: no v2 files
            }
            unifiedMount = found;
            looked = true;
        }
        return unifiedMount;
    }

    /** The group's values, read from the unified hierarchy; {@link Stats#NONE} when there is none. */
    public static Stats read(String unifiedPath) {
        Path root = unifiedMount();
        Path dir = root == null ? null : dirOf(root, unifiedPath);
        if (dir == null) {
            return Stats.NONE;
        }
        String cpu = text(dir.resolve("cpu.stat"));
        double[] cp = pressure(text(dir.resolve("cpu.pressure")));
        double[] mp = pressure(text(dir.resolve("memory.pressure")));
        double[] ip = pressure(text(dir.resolve("io.pressure")));
        return new Stats(keyed(cpu, "usage_usec"), single(text(dir.resolve("memory.current"))),
                cp[0], cp[1], mp[0], mp[1], ip[0], ip[1]);
    }

    /**
     * The directory of a cgroup path below the mount, or null for a path that is not a plain
     * absolute one (".", "..", empty components, NUL): a path from /proc never is, and nothing
     * outside the hierarchy is ever read.
     */
    static Path dirOf(Path root, String path) {
        if (path == null || !path.startsWith("/") || path.indexOf('\0') >= 0 || path.length() > 4096) {
            return null;
        }
        if (path.equals("/")) {
            return root;
        }
        for (String c : path.substring(1).split("/", -1)) {
            if (c.isEmpty() || c.equals(".") || c.equals("..")) {
                return null;
            }
        }
        try {
            Path d = root.resolve(path.substring(1)).normalize();
            return d.startsWith(root) ? d : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String text(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(MAX_FILE + 1);
            return b.length > MAX_FILE ? null : new String(b, StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            return null; // absent, unreadable, or the group went away
        }
    }

    /** A file holding one number ("memory.current"); "max" and anything else unparseable are unknown. */
    static long single(String text) {
        if (text == null) {
            return -1;
        }
        try {
            long v = Long.parseLong(text.strip());
            return v < 0 ? -1 : v;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The value of "KEY VALUE" in a flat-keyed file (cpu.stat), or -1. */
    static long keyed(String text, String key) {
        if (text == null) {
            return -1;
        }
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals(key)) {
                return single(f[1]);
            }
        }
        return -1;
    }

    /** {some avg10, full avg10} of a PSI file ("some avg10=0.12 avg60=... total=..."), NaN for each one missing. */
    static double[] pressure(String text) {
        double[] out = {Double.NaN, Double.NaN};
        if (text == null) {
            return out;
        }
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            int which = f.length > 1 && f[0].equals("some") ? 0 : f.length > 1 && f[0].equals("full") ? 1 : -1;
            if (which < 0) {
                continue;
            }
            for (String kv : f) {
                if (kv.startsWith("avg10=")) {
                    try {
                        double v = Double.parseDouble(kv.substring(6));
                        if (v >= 0 && v <= 100) {
                            out[which] = v;
                        }
                    } catch (NumberFormatException e) {
                        // unknown
                    }
                }
            }
        }
        return out;
    }
}
