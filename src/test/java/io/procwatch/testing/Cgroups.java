package io.procwatch.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where this machine's cgroup2 hierarchy is mounted (/sys/fs/cgroup when unified, /sys/fs/cgroup/unified when hybrid). */
public final class Cgroups {
    private Cgroups() {
    }

    public static Path unifiedRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            int dash = line.indexOf(" - ");
            if (dash > 0 && line.substring(dash + 3).startsWith("cgroup2 ")) {
                return Path.of(line.split(" ")[4]);
            }
        }
        throw new IllegalStateException("no cgroup2 hierarchy mounted");
    }
}
