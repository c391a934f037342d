package io.procwatch.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The machine-wide lines of top's header, from the four small /proc files that hold them
 * (uptime, loadavg, stat's cpu line, meminfo): a handful of reads per refresh, whatever the
 * number of processes.
 */
record SystemSummary(double uptimeSecs, double load1, double load5, double load15, long[] cpuTicks,
                     long memTotalKiB, long memFreeKiB, long buffersKiB, long cachedKiB, long availableKiB,
                     long swapTotalKiB, long swapFreeKiB) {

    /** Indexes into cpuTicks, in /proc/stat's order. */
    static final int USER = 0, NICE = 1, SYSTEM = 2, IDLE = 3, IOWAIT = 4, IRQ = 5, SOFTIRQ = 6, STEAL = 7;

    static SystemSummary read(Path proc) {
        double up = 0;
        double[] load = new double[3];
        long[] cpu = new long[8];
        long[] mem = new long[8];
        try {
            up = Double.parseDouble(Files.readString(proc.resolve("uptime")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            // unknown: shown as 0
        }
        try {
            String[] f = Files.readString(proc.resolve("loadavg")).split(" ");
            for (int i = 0; i < 3; i++) {
                load[i] = Double.parseDouble(f[i]);
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        try (var lines = Files.lines(proc.resolve("stat"))) {
            String first = lines.findFirst().orElse("");
            String[] f = first.trim().split("\\s+");
            for (int i = 0; i < cpu.length && i + 1 < f.length; i++) {
                cpu[i] = Long.parseLong(f[i + 1]);
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        try {
            for (String line : Files.readAllLines(proc.resolve("meminfo"))) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                int slot = switch (line.substring(0, colon)) {
                    case "MemTotal" -> 0;
                    case "MemFree" -> 1;
                    case "Buffers" -> 2;
                    case "Cached" -> 3;
                    case "SReclaimable" -> 4;
                    case "MemAvailable" -> 5;
                    case "SwapTotal" -> 6;
                    case "SwapFree" -> 7;
                    default -> -1;
                };
                if (slot >= 0) {
                    mem[slot] = Long.parseLong(line.substring(colon + 1).replace("kB", "").trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        // top's buff/cache: Buffers + Cached + SReclaimable
        return new SystemSummary(up, load[0], load[1], load[2], cpu, mem[0], mem[1], mem[2], mem[3] + mem[4],
                mem[5], mem[6], mem[7]);
    }

    long memUsedKiB() {
        long used = memTotalKiB - memFreeKiB - buffersKiB - cachedKiB;
        return used < 0 ? memTotalKiB - memFreeKiB : used;
    }

    /** Per-state CPU percentages between two readings (us sy ni id wa hi si st, as top orders them). */
    static double[] cpuPercent(SystemSummary before, SystemSummary after) {
        long[] d = new long[8];
        long total = 0;
        for (int i = 0; i < 8; i++) {
            d[i] = Math.max(0, after.cpuTicks[i] - (before == null ? 0 : before.cpuTicks[i]));
            total += d[i];
        }
        double[] p = new double[8];
        if (total == 0) {
            return new double[] {0, 0, 0, 100, 0, 0, 0, 0};
        }
        int[] order = {USER, SYSTEM, NICE, IDLE, IOWAIT, IRQ, SOFTIRQ, STEAL};
        for (int i = 0; i < 8; i++) {
            p[i] = d[order[i]] * 100.0 / total;
        }
        return p;
    }
}
