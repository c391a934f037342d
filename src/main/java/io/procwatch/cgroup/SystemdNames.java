package io.procwatch.cgroup;

import java.util.regex.Pattern;

/**
 * What systemd's cgroup layout says about a process, read from its cgroup path the way libsystemd
 * reads it (so procps's unit, uunit, slice, lsession and ouid columns come out the same): leading
 * ".slice" components are slices, the first component after them is the unit; a user manager
 * ({@code user@UID.service}) holds user units; {@code session-N.scope} is login session N; a slice
 * {@code user-UID.slice} says who owns it. Nothing is asked of systemd: a machine without it
 * (as here) still has the paths a container manager or an administrator made.
 */
public final class SystemdNames {
    private static final Pattern UNIT = Pattern.compile(
            "[A-Za-z0-9:_.\\\\-]+(@[A-Za-z0-9:_.\\\\-]+)?\\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)");

    private SystemdNames() {
    }

    private static boolean isUnit(String c) {
        return c.length() <= 255 && UNIT.matcher(c).matches() && !c.startsWith(".");
    }

    private static boolean isSlice(String c) {
        return c.endsWith(".slice") && c.length() > 6 && isUnit(c) && !c.contains("@");
    }

    private static String[] parts(String path) {
        return path == null ? new String[0] : path.replaceAll("^/+", "").split("/+");
    }

    /** Index of the first component that is not a slice. */
    private static int afterSlices(String[] p, int from) {
        int i = from;
        while (i < p.length && isSlice(p[i])) {
            i++;
        }
        return i;
    }

    /** The unit the process is in ("cron.service", "session-3.scope"), or null. */
    public static String unit(String path) {
        return unitFrom(parts(path), 0);
    }

    private static String unitFrom(String[] p, int from) {
        int i = afterSlices(p, from);
        return i < p.length && isUnit(p[i]) && !p[i].endsWith(".slice") ? p[i] : null;
    }

    /** The innermost of the leading slices, "-.slice" (the root slice) when there is none. */
    public static String slice(String path) {
        String[] p = parts(path);
        int i = afterSlices(p, 0);
        return i == 0 ? "-.slice" : p[i - 1];
    }

    /** The user unit a process of a user manager ({@code user@UID.service}) is in, or null. */
    public static String userUnit(String path) {
        String[] p = parts(path);
        int i = afterSlices(p, 0);
        if (i >= p.length) {
            return null;
        }
        if (p[i].startsWith("session-") && p[i].endsWith(".scope")) {
            return unitFrom(p, i + 1);
        }
        if (p[i].startsWith("user@") && p[i].endsWith(".service")) {
            return unitFrom(p, i + 1);
        }
        return null;
    }

    /** The login session ("3" for session-3.scope), or null. */
    public static String session(String path) {
        String u = unit(path);
        return u != null && u.startsWith("session-") && u.endsWith(".scope") && u.length() > 14
                ? u.substring(8, u.length() - 6) : null;
    }

    /** The uid whose user-UID.slice the process is in, or -1. */
    public static long ownerUid(String path) {
        String s = slice(path);
        if (s.startsWith("user-") && s.endsWith(".slice")) {
            try {
                return Long.parseLong(s.substring(5, s.length() - 6));
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return -1;
    }
    /** Where systemd-machined records machines and logind sessions (libsystemd reads them there). */
    static java.nio.file.Path machines = java.nio.file.Path.of("/run/systemd/machines");
    static java.nio.file.Path sessions = java.nio.file.Path.of("/run/systemd/sessions");
    private static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9]{1,64}");

    /**
     * The machine a unit belongs to, as libsystemd names it: machined keeps a symlink
     * {@code unit:UNIT} whose target is the machine's name; null when there is none (no machined,
     * or the unit is no machine's).
     */
    public static String machine(String unit) {
        if (unit == null || !isUnit(unit)) {
            return null;
        }
        try {
            String name = java.nio.file.Files.readSymbolicLink(machines.resolve("unit:" + unit)).toString();
            return name.isEmpty() ? null : name;
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The seat of login session {@code id} ("seat0"): the SEAT= line of logind's session file;
     * null when the session has no file or no seat (a remote or background session).
     */
    public static String seat(String id) {
        if (id == null || !SESSION_ID.matcher(id).matches()) {
            return null;
        }
        java.nio.file.Path f = sessions.resolve(id);
        try {
            if (!java.nio.file.Files.isRegularFile(f) || java.nio.file.Files.size(f) > 65536) {
                return null; // logind's files are small; anything else there is not one
            }
            for (String line : java.nio.file.Files.readAllLines(f)) {
                if (line.startsWith("SEAT=")) {
                    String v = line.substring(5).strip();
                    if (v.length() >= 2 && (v.charAt(0) == '"' || v.charAt(0) == '\'') && v.endsWith(v.substring(0, 1))) {
                        v = v.substring(1, v.length() - 1);
                    }
                    return v.isEmpty() ? null : v;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
        return null;
    }
}
