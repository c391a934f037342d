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
        return Math.floorDiv(monotonicNs + realtimeOffsetNs(), 1_000_000L);
    }

    private static volatile long offsetNs;
    private static volatile long offsetReadAt = Long.MIN_VALUE;

    /**
     * CLOCK_REALTIME minus CLOCK_MONOTONIC, the same for every caller within a second: two clock
     * reads made one after the other differ by the time between them (microseconds, more when the
     * thread is preempted), and a start time converted with a fresh pair each time would move by a
     * millisecond between two answers about one process (top keys a process by its start). Of
     * three pairs the one read closest together is used; it is read again every second and adopted
     * when it moved by more than 2 ms, so a step of the wall clock shows within a second.
     */
    public static long realtimeOffsetNs() {
        long now = System.nanoTime();
        if (now - offsetReadAt > 1_000_000_000L || offsetReadAt == Long.MIN_VALUE) {
            long best = Long.MAX_VALUE;
            long off = 0;
            for (int i = 0; i < 3; i++) {
                long m1 = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
                long w = Libc.clockNanos(Libc.CLOCK_REALTIME);
                long m2 = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
                if (m2 - m1 < best) {
                    best = m2 - m1;
                    off = w - (m1 + (m2 - m1) / 2);
                }
            }
            // kept unless the wall clock really moved (a step, or slewing that added up to 2 ms):
            // re-read jitter must not move a start time across a millisecond
            if (offsetReadAt == Long.MIN_VALUE || Math.abs(off - offsetNs) > 2_000_000L) {
                offsetNs = off;
            }
            offsetReadAt = now;
        }
        return offsetNs;
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
