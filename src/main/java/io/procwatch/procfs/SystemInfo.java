package io.procwatch.procfs;

import io.procwatch.sys.Libc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Machine-wide facts the process fields are relative to: boot time (/proc/stat btime), clock ticks
 * per second and page size (sysconf), total memory (/proc/meminfo), and the offset between the
 * kernel's event clock (CLOCK_MONOTONIC) and wall time.
 */
public final class SystemInfo {
    private static final SystemInfo INSTANCE = load();

    private final long bootTimeSecs;
    private final int clockTicks;
    private final int pageSize;
    private final long memTotalKiB;

    private SystemInfo(long bootTimeSecs, int clockTicks, int pageSize, long memTotalKiB) {
        this.bootTimeSecs = bootTimeSecs;
        this.clockTicks = clockTicks;
        this.pageSize = pageSize;
        this.memTotalKiB = memTotalKiB;
    }

    public static SystemInfo get() {
        return INSTANCE;
    }

    private static SystemInfo load() {
        long btime = 0;
        long memTotal = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("btime ")) {
                    btime = Long.parseLong(line.substring(6).trim());
                }
            }
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memTotal = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // leave zeros: fields relative to them read as unknown rather than wrong
        }
        return new SystemInfo(btime, (int) Libc.sysconf(Libc.SC_CLK_TCK), (int) Libc.sysconf(Libc.SC_PAGESIZE),
                memTotal);
    }

    /** Boot time in seconds since the epoch (ps computes START from it, as do we). */
    public long bootTimeSecs() {
        return bootTimeSecs;
    }

    public int clockTicks() {
        return clockTicks;
    }

    public int pageSize() {
        return pageSize;
    }

    public long memTotalKiB() {
        return memTotalKiB;
    }

    /** Converts a kernel event timestamp (CLOCK_MONOTONIC ns) to wall-clock epoch milliseconds. */
    public static long monotonicToEpochMillis(long monotonicNs) {
        long nowMono = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        long nowWall = Libc.clockNanos(Libc.CLOCK_REALTIME);
        return (nowWall - (nowMono - monotonicNs)) / 1_000_000L;
    }

    /**
     * Process start in clock ticks since boot, as /proc/PID/stat field 22 would show it, estimated
     * from the fork event's monotonic timestamp (start_boottime also counts suspend; add it back).
     */
    public long startTicksFromFork(long forkMonotonicNs) {
        long suspendNs = Libc.clockNanos(Libc.CLOCK_BOOTTIME) - Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        return (forkMonotonicNs + Math.max(0, suspendNs)) / (1_000_000_000L / clockTicks);
    }

    /** A start time in clock ticks since boot on the monotonic clock (which does not count suspend). */
    public long startTicksToMonotonicNanos(long ticks) {
        long suspendNs = Libc.clockNanos(Libc.CLOCK_BOOTTIME) - Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        return ticks * (1_000_000_000L / clockTicks) - Math.max(0, suspendNs);
    }

    /** Wall-clock epoch milliseconds of a start time in clock ticks since boot. */
    public long startTicksToEpochMillis(long ticks) {
        return bootTimeSecs * 1000 + ticks * 1000 / clockTicks;
    }
}
