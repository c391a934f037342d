package io.procwatch.cgroup;

import java.util.List;
import java.util.Locale;

/**
 * Which group a process falls into when rows are folded by cgroup, systemd unit or container
 * (top's group view, /metrics aggregates), and which cgroup of the unified hierarchy holds that
 * group, so that its own files (cpu.stat, memory.current, PSI) can be read. The names come from
 * the same readings as the {@code cgroup}, {@code unit} and {@code container} columns.
 */
public final class CgroupGroups {
    /** What to fold by. */
    public enum By {
        CGROUP, UNIT, CONTAINER;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** "cgroup", "unit" or "container" (case-insensitive), or null. */
        public static By parse(String s) {
            for (By b : values()) {
                if (b.label().equalsIgnoreCase(s)) {
                    return b;
                }
            }
            return null;
        }
    }

    /** Processes whose membership could not be read (gone, unreadable). */
    public static final String UNKNOWN = "?";
    /** Processes in no unit, or in no container (the host's). */
    public static final String NONE = "-";

    /**
     * A group: its name, and its path in the unified hierarchy ("/system.slice/cron.service"), or
     * null when it has none there (no cgroup2 line, a container seen only in a v1 path, no unit).
     */
    public record Group(String name, String unifiedPath) {
    }

    private CgroupGroups() {
    }

    /** @param lines the process's /proc/PID/cgroup lines, or null when unknown */
    public static Group of(List<String> lines, By by) {
        if (lines == null || lines.isEmpty()) {
            return new Group(UNKNOWN, null);
        }
        String unified = null;
        for (String line : lines) {
            if (line.startsWith("0::")) {
                unified = CgroupPaths.path(line);
            }
        }
        String path = CgroupPaths.systemdPath(lines);
        return switch (by) {
            case CGROUP -> path == null ? new Group(UNKNOWN, null) : new Group(path, path.equals(unified) ? unified : null);
            case UNIT -> {
                String unit = SystemdNames.unit(path);
                yield unit == null ? new Group(NONE, null)
                        : new Group(unit, path.equals(unified) ? prefixThrough(unified, unit, null) : null);
            }
            case CONTAINER -> {
                Containers.Container c = Containers.of(lines);
                yield c == null ? new Group(NONE, null)
                        : new Group(c.shortName(), unified == null ? null : prefixThrough(unified, null, c.id()));
            }
        };
    }

    /**
     * The path up to and including its first component that is {@code name}, or that names the
     * container {@code id} in one of the runtimes' shapes (ID, docker-ID.scope, libpod-ID,
     * lxc.payload.ID...); null when no component does.
     */
    static String prefixThrough(String path, String name, String id) {
        String[] parts = path.replaceAll("^/+", "").split("/+");
        StringBuilder sb = new StringBuilder();
        for (String p : parts) {
            sb.append('/').append(p);
            boolean hit = name != null ? p.equals(name)
                    : p.equals(id) || p.equals("libpod-" + id) || p.equals("lxc.payload." + id)
                    || p.endsWith("-" + id + ".scope");
            if (hit) {
                return sb.toString();
            }
        }
        return null;
    }
}
