package io.procwatch.cgroup;

import io.procwatch.protocol.Membership;

import java.util.List;

/** Whether a process's cgroup lines satisfy a {@link Membership}: the one rule ps, the protocol and HTTP use. */
public final class CgroupMatch {
    private CgroupMatch() {
    }

    /**
     * @param lines the process's /proc/PID/cgroup lines ("ID:CONTROLLERS:PATH"), or null when
     *              unknown (gone, unreadable): then it is no member of anything asked for
     */
    public static boolean matches(List<String> lines, Membership m) {
        if (m.isAny()) {
            return true;
        }
        if (lines == null) {
            return false;
        }
        if (!m.cgroups().isEmpty() && m.cgroups().stream().noneMatch(c -> inCgroup(lines, c))) {
            return false;
        }
        if (!m.containers().isEmpty()) {
            Containers.Container c = Containers.of(lines);
            if (c == null || m.containers().stream().noneMatch(want -> names(c, want))) {
                return false;
            }
        }
        if (!m.units().isEmpty()) {
            String path = CgroupPaths.systemdPath(lines);
            String unit = SystemdNames.unit(path);
            String userUnit = SystemdNames.userUnit(path);
            return m.units().stream().anyMatch(u -> u.equals(unit) || u.equals(userUnit));
        }
        return true;
    }

    private static boolean inCgroup(List<String> lines, String cgroup) {
        String c = cgroup.length() > 1 && cgroup.endsWith("/") ? cgroup.substring(0, cgroup.length() - 1) : cgroup;
        for (String line : lines) {
            String p = CgroupPaths.path(line);
            if (p != null && (c.equals("/") || p.equals(c) || p.startsWith(c + "/"))) {
                return true;
            }
        }
        return false;
    }

    private static boolean names(Containers.Container c, String want) {
        return c.id().startsWith(want) || c.shortName().equals(want)
                || (want.startsWith(c.runtime() + ":") && c.id().startsWith(want.substring(c.runtime().length() + 1)));
    }
}
