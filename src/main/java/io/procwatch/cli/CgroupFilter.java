package io.procwatch.cli;

import io.procwatch.cgroup.CgroupMatch;
import io.procwatch.cgroup.CgroupPaths;
import io.procwatch.cgroup.Containers;
import io.procwatch.client.ProcRow;
import io.procwatch.protocol.Membership;

import java.util.ArrayList;
import java.util.List;

/**
 * ps's narrowing by cgroup membership: {@code --cgroup PATH} (the process's path in any hierarchy
 * is PATH or below it), {@code --container ID}, {@code --unit NAME}, {@code --pod UID}. Several
 * values of one kind (comma-separated or repeated) are alternatives; different kinds must all hold.
 * It reads the {@code cgroup} item, which the command then asks for.
 */
final class CgroupFilter {
    private final List<String> cgroups = new ArrayList<>();
    private final List<String> containers = new ArrayList<>();
    private final List<String> units = new ArrayList<>();
    private final List<String> pods = new ArrayList<>();

    void add(String kind, String values) throws UsageException {
        for (String v : values.split(",")) {
            if (v.isEmpty()) {
                throw new UsageException("--" + kind + " needs a value");
            }
            switch (kind) {
                case "cgroup" -> {
                    if (!v.startsWith("/")) {
                        throw new UsageException("--cgroup takes a path from / (as /proc/PID/cgroup shows it), not '" + v + "'");
                    }
                    cgroups.add(v.length() > 1 && v.endsWith("/") ? v.substring(0, v.length() - 1) : v);
                }
                case "container" -> containers.add(v);
                case "unit" -> units.add(v);
                case "pod" -> pods.add(v);
                default -> throw new IllegalArgumentException(kind);
            }
        }
    }

    boolean active() {
        return !cgroups.isEmpty() || !containers.isEmpty() || !units.isEmpty() || !pods.isEmpty();
    }

    /** The part the daemon can apply too (S_CGROUP, S_CONTAINER, S_UNIT); --pod is applied here only. */
    Membership membership() {
        return new Membership(cgroups, containers, units);
    }

    boolean matches(ProcRow r) {
        String all = r.items.get("cgroup");
        if (all == null) {
            return false; // membership unknown (gone, unreadable): not shown as a member
        }
        List<String> lines = CgroupPaths.lines(all);
        if (!CgroupMatch.matches(lines, membership())) {
            return false;
        }
        if (!pods.isEmpty()) {
            String pod = Containers.pod(lines);
            return pod != null && pods.contains(pod);
        }
        return true;
    }
}
