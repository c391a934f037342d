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
 * It reads the {@code cgroup} item, which the command then asks for. {@code --ns TYPE:INODE}
 * (protocol.Namespaces: {@code net:4026531840}, {@code netns:4026531840} or readlink's
 * {@code net:[4026531840]}) narrows by namespace the same way, from the {@code ns.TYPE} items.
 */
final class CgroupFilter {
    private final List<String> cgroups = new ArrayList<>();
    private final List<String> containers = new ArrayList<>();
    private final List<String> units = new ArrayList<>();
    private final List<String> pods = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();

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
                case "ns" -> {
                    if (namespaces.size() >= io.procwatch.protocol.Namespaces.MAX_VALUES) {
                        throw new UsageException("--ns takes at most " + io.procwatch.protocol.Namespaces.MAX_VALUES + " namespaces");
                    }
                    try {
                        namespaces.add(io.procwatch.protocol.Namespaces.normalize(v));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--ns: " + e.getMessage());
                    }
                }
                default -> throw new IllegalArgumentException(kind);
            }
        }
    }

    boolean active() {
        return cgroupActive() || !namespaces.isEmpty();
    }

    private boolean cgroupActive() {
        return !cgroups.isEmpty() || !containers.isEmpty() || !units.isEmpty() || !pods.isEmpty();
    }

    /** The --ns values, normalized (S_NAMESPACE). */
    List<String> namespaces() {
        return List.copyOf(namespaces);
    }

    /** The ps fields whose items the namespace part reads ({@code netns} for net:...). */
    List<String> namespaceFields() {
        return namespaces.stream().map(n -> io.procwatch.protocol.Namespaces.type(n) + "ns").distinct().toList();
    }

    /** Whether the cgroup part needs the cgroup item. */
    boolean needsCgroup() {
        return cgroupActive();
    }

    /** The part the daemon can apply too (S_CGROUP, S_CONTAINER, S_UNIT); --pod is applied here only. */
    Membership membership() {
        return new Membership(cgroups, containers, units);
    }

    boolean matches(ProcRow r) {
        if (!namespaces.isEmpty() && !inNamespaces(r)) {
            return false;
        }
        if (!cgroupActive()) {
            return true;
        }
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

    /** The daemon's rule (QueryEngine) here too, for a daemon that does not know S_NAMESPACE. */
    private boolean inNamespaces(ProcRow r) {
        for (String type : namespaceFields()) {
            String t = type.substring(0, type.length() - 2);
            String have = r.items.get("ns." + t);
            if (have == null || namespaces.stream().noneMatch(n -> n.equals(t + ":" + have))) {
                return false; // not readable for this viewer, or in another namespace
            }
        }
        return true;
    }
}
