package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What top shows, refreshed from the daemon: one snapshot per refresh (re-sampled by the daemon
 * for this request, so the daemon samples only while a top runs and at its pace; a delta snapshot,
 * so only the rows that changed cross the socket and get decoded), per-interval
 * %CPU from two consecutive snapshots, and a subscription to fork, exec and exit events for the
 * event rates and the processes that lived and died between two refreshes.
 */
final class TopModel implements AutoCloseable {
    /** One refresh. */
    record Frame(long timeMs, SystemSummary sys, double[] cpuPercent, List<ProcRow> rows, int total, int running,
                 int sleeping, int stopped, int zombie, double forksPerSec, double execsPerSec, double exitsPerSec,
                 long lostEvents, List<ProcRow> exited) {
    }

    private static final int EXITED_KEPT = 200;

    private final ProcwatchClient query;
    private final ProcwatchClient events;
    private final Thread eventReader;
    private final Path proc = Path.of("/proc");
    /** USER_HZ: the unit of /proc CPU times, 100 on the architectures this runs on (as Fields.Ctx assumes). */
    private final int hz = 100;
    private final Object lock = new Object();
    private long forks;
    private long execs;
    private long exits;
    private long lost;
    private final Deque<ProcRow> exitedSince = new ArrayDeque<>();
    private Map<Long, Long> lastTicks = new HashMap<>();
    private long lastTimeMs;
    private SystemSummary lastSys;
    /** top --replay: frames from the journal instead (TopReplay); null for the live table. */
    private final TopReplay replay;

    /** Frames from the journal (top --replay): no live connection, no event subscription. */
    TopModel(TopReplay replay) {
        this.replay = replay;
        this.query = null;
        this.events = null;
        this.eventReader = null;
    }

    TopReplay replay() {
        return replay;
    }

    /** @param query an open connection for the snapshots; a second one is opened for the events */
    TopModel(ProcwatchClient query, Path socket, Selector scope) throws IOException {
        this.query = query;
        this.replay = null;
        try {
            this.events = Invocation.current().daemon().connect(socket);
        } catch (IOException e) {
            query.close();
            throw e;
        }
        int mask = EventType.FORK.bit | EventType.EXEC.bit | EventType.EXIT.bit;
        this.eventReader = Thread.ofPlatform().daemon(true).name("procwatch-top-events").start(() -> {
            try {
                // no command lines: top counts events and names exits by comm (a JVM's argv is kilobytes)
                events.subscribe(scope, mask, 0, Groups.BASE | Groups.CRED, item -> {
                    synchronized (lock) {
                        switch (item) {
                            case ProcwatchClient.Event e -> count(e.row());
                            case ProcwatchClient.Lost l -> lost += l.events();
                        }
                    }
                    return true;
                });
            } catch (IOException e) {
                // closed by close(), or the daemon went away: the next snapshot says which
            }
        });
    }

    private void count(ProcRow r) {
        if (r.eventKind == EventType.FORK.bit) {
            if (!r.thread) {
                forks++;
            }
        } else if (r.eventKind == EventType.EXEC.bit) {
            execs++;
        } else if (r.eventKind == EventType.EXIT.bit) {
            exits++;
            exitedSince.addLast(r);
            while (exitedSince.size() > EXITED_KEPT) {
                exitedSince.removeFirst();
            }
        }
    }

    /** Takes a snapshot and works out everything a screen or a batch iteration shows. */
    Frame refresh(Selector scope, boolean threads, boolean cmdline) throws IOException {
        return refresh(scope, threads, cmdline, false);
    }

    /**
     * @param cgroups with each process's cgroup lines (the group view folds by them): a whole
     *                answer then, since a delta listing carries no /proc items
     */
    Frame refresh(Selector scope, boolean threads, boolean cmdline, boolean cgroups) throws IOException {
        if (replay != null) {
            return replay.refresh(scope, threads, cmdline);
        }
        long groups = Groups.BASE | Groups.CRED | Groups.STAT | (cmdline ? Groups.CMDLINE : 0);
        int flags = Wire.F_FRESH | (threads ? Wire.F_THREADS : 0);
        ProcwatchClient.Listing l = cgroups ? query.snapshot(scope, groups, flags, List.of("cgroup"))
                : query.snapshotDelta(scope, groups, flags);
        SystemSummary sys = SystemSummary.read(proc);
        // When the values were read: the daemon's pass started sampleAge before its answer. Every
        // pass reads the processes in the same order, so the time between two passes' starts is
        // each row's interval too; the answer's own time would add the pass's length under load.
        long answered = l.done().timeMs() > 0 ? l.done().timeMs() : System.currentTimeMillis();
        long now = l.done().sampleAgeMs() >= 0 ? answered - l.done().sampleAgeMs() : answered;
        double secs = lastTimeMs == 0 ? 0 : (now - lastTimeMs) / 1000.0;
        Map<Long, Long> ticks = new HashMap<>(l.rows().size() * 2);
        Tally n = tally(l.rows(), lastTicks, secs, hz, ticks);
        double[] cpu = SystemSummary.cpuPercent(lastSys, sys);
        List<ProcRow> exited;
        double f;
        double x;
        double e;
        long lostNow;
        synchronized (lock) {
            f = secs > 0 ? forks / secs : 0;
            x = secs > 0 ? execs / secs : 0;
            e = secs > 0 ? exits / secs : 0;
            forks = 0;
            execs = 0;
            exits = 0;
            lostNow = lost;
            exited = new ArrayList<>(exitedSince);
            exitedSince.clear();
        }
        lastTicks = ticks;
        lastTimeMs = now;
        lastSys = sys;
        return new Frame(now, sys, cpu, l.rows(), l.rows().size(), n.running(), n.sleeping(), n.stopped(), n.zombie(),
                f, x, e, lostNow, exited);
    }

    /** A frame's task counts by state, and how many of its rows the frame before did not have. */
    record Tally(int running, int sleeping, int stopped, int zombie, int newRows) {
    }

    /** The key a row's CPU time is remembered by between frames: its id and start (pid reuse). */
    static long tickKey(ProcRow r) {
        return ((long) r.id() << 40) ^ r.startMs;
    }

    /** The CPU time a row has used, in ticks (0 when not sent). */
    static long ticks(ProcRow r) {
        return r.utime < 0 ? 0 : r.utime + r.stime;
    }

    /**
     * The frame arithmetic live and replayed frames (TopReplay) share: each row's %CPU over the
     * interval from its CPU time then ({@code before}, by {@link #tickKey}) and now, when the
     * interval is known ({@code secs > 0}), and the counts by state.
     *
     * @param ticksOut receives every row's CPU time now (the next frame's {@code before}), or null
     */
    static Tally tally(List<ProcRow> rows, Map<Long, Long> before, double secs, int hz, Map<Long, Long> ticksOut) {
        int running = 0;
        int sleeping = 0;
        int stopped = 0;
        int zombie = 0;
        int newRows = 0;
        for (ProcRow r : rows) {
            long key = tickKey(r);
            long t = ticks(r);
            if (ticksOut != null) {
                ticksOut.put(key, t);
            }
            Long b = before.get(key);
            if (b == null) {
                newRows++;
            }
            if (secs > 0) {
                // a process born during the interval used all its CPU time within it
                r.cpuTenthsNow = Math.max(0, Math.round((t - (b == null ? 0 : b)) * 1000.0 / hz / secs));
            }
            switch (r.state) {
                case 'R' -> running++;
                case 'S', 'D', 'I' -> sleeping++;
                case 'T', 't' -> stopped++;
                case 'Z' -> zombie++;
                default -> {
                }
            }
        }
        return new Tally(running, sleeping, stopped, zombie, newRows);
    }

    int hz() {
        return hz;
    }

    @Override
    public void close() {
        if (replay != null) {
            try {
                replay.close();
            } catch (IOException ignored) {
                // closing
            }
            return;
        }
        try {
            events.close();
        } catch (IOException ignored) {
            // closing
        }
        try {
            query.close();
        } catch (IOException ignored) {
            // closing
        }
        eventReader.interrupt();
    }
}
