package io.procwatch.procfs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Which NUMA node each CPU belongs to, from sysfs ({@code /sys/devices/system/node/nodeN/cpulist},
 * the map libnuma reads too), read once: CPUs do not change nodes while a system runs. A CPU with
 * no node (no NUMA support in the kernel, or a CPU beyond the map) is node -1, as procps prints
 * when it has no node for it.
 */
public final class Numa {
    /** More CPUs than any machine procwatch could run on: a hostile or broken cpulist cannot take the heap. */
    private static final int MAX_CPUS = 1 << 16;
    private static volatile int[] nodeOfCpu;

    private Numa() {
    }

    /** The node of {@code cpu}, or -1. */
    public static int nodeOf(int cpu) {
        int[] map = nodeOfCpu;
        if (map == null) {
            map = read(Path.of("/sys/devices/system/node"));
            nodeOfCpu = map;
        }
        return cpu >= 0 && cpu < map.length ? map[cpu] : -1;
    }

    static int[] read(Path nodes) {
        int[] map = new int[0];
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(nodes, "node[0-9]*")) {
            for (Path d : dirs) {
                int node;
                try {
                    node = Integer.parseInt(d.getFileName().toString().substring(4));
                } catch (NumberFormatException e) {
                    continue;
                }
                String list;
                try {
                    list = Files.readString(d.resolve("cpulist")).strip();
                } catch (IOException | RuntimeException e) {
                    continue;
                }
                for (String range : list.split(",")) {
                    if (range.isEmpty()) {
                        continue;
                    }
                    int dash = range.indexOf('-');
                    int from;
                    int to;
                    try {
                        from = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
                        to = dash < 0 ? from : Integer.parseInt(range.substring(dash + 1));
                    } catch (NumberFormatException e) {
                        continue;
                    }
                    if (from < 0 || to < from || to >= MAX_CPUS) {
                        continue;
                    }
                    if (to >= map.length) {
                        int old = map.length;
                        map = Arrays.copyOf(map, to + 1);
                        Arrays.fill(map, old, map.length, -1);
                    }
                    Arrays.fill(map, from, to + 1, node);
                }
            }
        } catch (IOException | RuntimeException e) {
            return new int[0]; // no NUMA in sysfs: every CPU is node -1
        }
        return map;
    }
}
