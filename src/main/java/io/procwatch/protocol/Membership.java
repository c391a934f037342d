package io.procwatch.protocol;

import java.util.List;

/**
 * The cgroup part of a selector: a cgroup path (the process's path in any hierarchy is it or below
 * it), a container (an id prefix, {@code runtime:shortid}, or an LXC name) and a systemd unit or
 * user unit. Values of one kind are alternatives; kinds that are present must all hold. Matching is
 * {@code cgroup.CgroupMatch}'s, the same in the daemon and the CLI.
 */
public record Membership(List<String> cgroups, List<String> containers, List<String> units) {
    public static final Membership ANY = new Membership(List.of(), List.of(), List.of());
    /** At most this many values per kind, each at most MAX_LENGTH characters. */
    public static final int MAX_VALUES = 64;
    public static final int MAX_LENGTH = 4096;

    public Membership {
        cgroups = List.copyOf(cgroups);
        containers = List.copyOf(containers);
        units = List.copyOf(units);
    }

    public boolean isAny() {
        return cgroups.isEmpty() && containers.isEmpty() && units.isEmpty();
    }
}
