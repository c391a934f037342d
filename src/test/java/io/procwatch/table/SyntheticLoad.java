package io.procwatch.table;

import io.procwatch.procfs.SystemInfo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A process table changed the way the event applier changes it (fork, exec, exit, reap, samples),
 * at made-up instants, for the journal's benchmark (JournalBench): the journal sees exactly the
 * ChangeTap calls the daemon's table makes, without a kernel producing them at 1,000/s for an hour.
 */
public final class SyntheticLoad {
    private final ProcessTable table = new ProcessTable(1);
    private final SplittableRandom random = new SplittableRandom(17);
    private final List<Integer> stable = new ArrayList<>();
    private int nextPid = 1000;
    /** The epoch ms the next change is stamped with, as a kernel event's CLOCK_MONOTONIC time. */
    private long nowMs;

    /**
     * @param startMs the first change's epoch ms; moved up to a second after boot if earlier: the
     *                changes are stamped on CLOCK_MONOTONIC, which starts at boot, and a negative
     *                stamp means "no event time" to the journal (it then dates the change by the
     *                wall clock at flush, an hour off). A machine up for less than an hour (a fresh
     *                CI machine) made JournalReplayTest fail every run.
     */
    public SyntheticLoad(long startMs) {
        this.nowMs = Math.max(startMs, SystemInfo.monotonicToEpochMillis(1_000_000_000L));
    }

    public ProcessTable table() {
        return table;
    }

    public long nowMs() {
        return nowMs;
    }

    /** Moves the made-up clock on. */
    public void advance(long ms) {
        nowMs += ms;
    }

    private long ns() {
        // the inverse of SystemInfo.monotonicToEpochMillis: the journal turns it back into nowMs
        long offsetMs = SystemInfo.monotonicToEpochMillis(0);
        return (nowMs - offsetMs) * 1_000_000L;
    }

    private void apply(ProcessInfo old, ProcessInfo now) {
        table.writeLock.lock();
        try {
            table.eventTime(ns());
            if (now == null) {
                table.remove(old);
            } else {
                table.put(old, now);
            }
        } finally {
            table.eventTime(0);
            table.writeLock.unlock();
        }
    }

    private ProcessInfo.Builder row(int pid, int ppid, String comm, List<String> argv) {
        ProcessInfo.Builder b = new ProcessInfo.Builder(pid);
        b.ppid = ppid;
        b.pgrp = ppid;
        b.session = ppid;
        b.startNs = ns();
        b.startTicks = b.startNs / 10_000_000L;
        b.startExact = true;
        b.comm = comm;
        b.exe = "/usr/bin/" + comm;
        b.argv = argv;
        b.execArgv = argv;
        b.state = 'S';
        b.utime = random.nextInt(1000);
        b.vsize = 10_000_000L + random.nextInt(1_000_000);
        b.rss = 1000 + random.nextInt(5000);
        return b;
    }

    /** {@code n} long-lived processes (daemons, shells, workers), as a rescan would find them. */
    public void populate(int n) {
        for (int i = 0; i < n; i++) {
            int pid = nextPid++;
            int ppid = stable.isEmpty() ? 1 : stable.get(random.nextInt(stable.size()));
            String comm = "worker" + (i % 50);
            apply(null, row(pid, ppid, comm, List.of("/usr/bin/" + comm, "--id", Integer.toString(i), "--config",
                    "/etc/" + comm + ".conf")).build());
            stable.add(pid);
        }
    }

    /**
     * One short-lived process: fork from a long-lived one (NEW), exec with argv (CHANGE), exit
     * (CHANGE: a zombie), reap (REMOVE); {@code gapMs} between events. Four table changes.
     */
    public void shortLived(long gapMs) {
        int parent = stable.get(random.nextInt(stable.size()));
        ProcessInfo p = table.get(parent);
        int pid = nextPid++;
        if (nextPid > 4_000_000) {
            nextPid = 1000 + stable.size() + 1;
        }
        ProcessInfo child = p.toBuilder().build();
        ProcessInfo.Builder b = child.toBuilder();
        b.pid = pid;
        b.threads = new int[] {pid};
        b.ppid = parent;
        b.startNs = ns();
        b.state = 'R';
        ProcessInfo forked = b.build();
        apply(null, forked);
        advance(gapMs);
        ProcessInfo.Builder e = forked.toBuilder();
        e.comm = "cc1";
        e.exe = "/usr/lib/gcc/cc1";
        e.argv = List.of("cc1", "-O2", "-c", "src/file" + pid + ".c", "-o", "obj/file" + pid + ".o");
        e.execArgv = e.argv;
        e.execCount = 1;
        ProcessInfo execed = e.build();
        apply(forked, execed);
        advance(gapMs);
        ProcessInfo.Builder x = execed.toBuilder();
        x.leaderExited = true;
        x.state = 'Z';
        x.exitStatusRaw = 0;
        ProcessInfo zombie = x.build();
        apply(execed, zombie);
        advance(gapMs);
        apply(zombie, null);
    }

    /** A sampler pass that moved {@code n} long-lived processes' CPU and memory. */
    public void sample(int n) {
        for (int i = 0; i < n; i++) {
            int pid = stable.get(random.nextInt(stable.size()));
            ProcessInfo old = table.get(pid);
            ProcessInfo.Builder b = old.toBuilder();
            b.utime += 1 + random.nextInt(10);
            b.rss += random.nextInt(3) - 1;
            apply(old, b.build());
        }
    }
}
