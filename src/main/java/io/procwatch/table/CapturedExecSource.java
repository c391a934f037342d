package io.procwatch.table;

import io.procwatch.bpf.ExecCapture;
import io.procwatch.event.ProcEvent;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.SystemInfo;
import io.procwatch.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The exec source when the BPF capture runs: pairs each connector exec event with the record the
 * kernel wrote at that exec.
 *
 * <p>Pairing: the record of an exec is in the ring before its connector event can be read (the
 * tracepoint fires first, in the exec'ing task), so the event thread drains the ring and takes,
 * of the records of the pid up to the event's timestamp, the newest that belongs to the row's
 * life: written after the life's fork event (a row made from a fork) or with the life's start
 * tick (a row made from a scan). Older records of the pid are execs whose events were lost, or
 * an earlier life's: dropped and counted, never used. An event with no record (ring full, or the
 * capture started after the exec) falls back to /proc, counted, with that reader's safeguards.
 *
 * <p>A reader thread empties the ring continuously, so that a burst of execs does not fill it
 * while the event thread is behind; what it takes waits here, bounded by count and age.
 */
final class CapturedExecSource implements ExecSource, AutoCloseable {
    /** Records waiting for their event; beyond this the oldest are dropped, counted. */
    static final int MAX_PENDING = 8192;
    /** A record whose event has not come in this long never will (lost, or its pid left the table). */
    static final long MAX_AGE_NS = 10_000_000_000L;

    private final ExecCapture capture;
    private final ProcExecSource fallback;
    private final ProcReader reader;
    private final ProcessTable.Counters counters;
    private final long nsPerTick = 1_000_000_000L / SystemInfo.get().clockTicks();
    /** Per pid, records in the order written. Guarded by this. */
    private final Map<Integer, ArrayDeque<ExecCapture.Exec>> pending = new HashMap<>();
    private int pendingCount;
    private volatile boolean closing;
    private final Thread drainer;

    CapturedExecSource(ExecCapture capture, ProcReader reader, ProcessTable.Counters counters) {
        this.capture = capture;
        this.reader = reader;
        this.counters = counters;
        this.fallback = new ProcExecSource(reader, counters, "proc (exec had no BPF record)");
        this.drainer = Thread.ofPlatform().name("procwatch-exec-capture").daemon(true).start(this::drainLoop);
    }

    @Override
    public Program program(ProcEvent.Exec x, ProcessInfo row) {
        capture.drain(this::add);
        ExecCapture.Exec rec = claim(x.tgid(), row, x.timestampNs());
        if (rec == null) {
            counters.execsUncaptured.increment();
            return fallback.program(x, row);
        }
        counters.execsCaptured.increment();
        List<String> argv = rec.argv();
        boolean known = rec.argvRead();
        if (known && rec.argvTruncated()) {
            argv = whole(x.tgid(), rec.startBootNs() / nsPerTick, argv);
        }
        if (!known) {
            // the argument area could not be read (a page not present): /proc, with its checks
            Program p = fallback.program(x, row);
            argv = p.argv();
            known = p.argvKnown();
        }
        return new Program(rec.comm(), exe(x.tgid(), rec.path()), argv, known, rec.startBootNs() / nsPerTick,
                new int[] {rec.ruid(), rec.euid(), rec.rgid(), rec.egid()});
    }

    @Override
    public String describe() {
        return "bpf";
    }

    /** Kernel-side losses (ring full at an exec). */
    long lost() {
        return capture.lost();
    }

    synchronized int pending() {
        return pendingCount;
    }

    private synchronized void add(ExecCapture.Exec e) {
        if (pendingCount >= MAX_PENDING) {
            dropOldest();
        }
        pending.computeIfAbsent(e.tgid(), k -> new ArrayDeque<>(2)).addLast(e);
        pendingCount++;
    }

    /** The newest record of {@code tgid} for this exec of this life; removes it and every older one. */
    private synchronized ExecCapture.Exec claim(int tgid, ProcessInfo row, long execNs) {
        ArrayDeque<ExecCapture.Exec> q = pending.get(tgid);
        if (q == null) {
            return null;
        }
        ExecCapture.Exec best = null;
        while (!q.isEmpty() && q.peekFirst().ktimeNs() <= execNs) {
            ExecCapture.Exec e = q.pollFirst();
            pendingCount--;
            if (best != null) {
                counters.execCaptureUnclaimed.increment(); // an exec whose event was lost
            }
            best = belongsTo(e, row) ? e : null;
            if (best == null) {
                counters.execCaptureUnclaimed.increment(); // another life's
            }
        }
        if (q.isEmpty()) {
            pending.remove(tgid);
        }
        return best;
    }

    private boolean belongsTo(ExecCapture.Exec e, ProcessInfo row) {
        if (!row.startExact) {
            return e.ktimeNs() >= row.startNs; // after this life's fork event: no earlier life's
        }
        return ProcReader.sameStart(row.startTicks, e.startBootNs() / nsPerTick);
    }

    private void dropOldest() {
        ExecCapture.Exec oldest = null;
        for (ArrayDeque<ExecCapture.Exec> q : pending.values()) {
            if (oldest == null || q.peekFirst().ktimeNs() < oldest.ktimeNs()) {
                oldest = q.peekFirst();
            }
        }
        if (oldest != null) {
            ArrayDeque<ExecCapture.Exec> q = pending.get(oldest.tgid());
            q.pollFirst();
            if (q.isEmpty()) {
                pending.remove(oldest.tgid());
            }
            pendingCount--;
            counters.execCaptureUnclaimed.increment();
        }
    }

    private synchronized void expire(long nowNs) {
        for (Iterator<ArrayDeque<ExecCapture.Exec>> it = pending.values().iterator(); it.hasNext(); ) {
            ArrayDeque<ExecCapture.Exec> q = it.next();
            while (!q.isEmpty() && nowNs - q.peekFirst().ktimeNs() > MAX_AGE_NS) {
                q.pollFirst();
                pendingCount--;
                counters.execCaptureUnclaimed.increment();
            }
            if (q.isEmpty()) {
                it.remove();
            }
        }
    }

    /**
     * The captured start of a longer argv, made whole from /proc when /proc still shows this life
     * with the same start; otherwise the captured part (exact, only shorter).
     */
    private List<String> whole(int pid, long startTicks, List<String> start) {
        counters.execsArgvTruncated.increment();
        Optional<List<String>> full = reader.procFs().cmdlineAsExeced(pid);
        PidStat after = reader.stat(pid);
        if (full.isEmpty() || after == null || !ProcReader.sameStart(startTicks, after.starttime())) {
            return start;
        }
        String prefix = String.join("\0", start);
        return String.join("\0", full.get()).startsWith(prefix) ? full.get() : start;
    }

    /**
     * The executable as /proc/PID/exe names it: the path exec was given (relative ones against the
     * process's cwd), with symlinks resolved ({@code /bin/sleep} is {@code /usr/bin/sleep} on a
     * merged-/usr system). Null when it cannot be resolved (the file is gone already).
     */
    private String exe(int pid, String path) {
        if (path == null || path.isEmpty()) {
            return null;
        }
        try {
            Path p = path.startsWith("/") ? Path.of(path)
                    : Path.of(reader.procFs().cwd(pid).orElseThrow()).resolve(path);
            return p.toRealPath().toString();
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    private void drainLoop() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(8, 4);
            long lastExpiry = System.nanoTime();
            while (!closing) {
                pfd.set(ValueLayout.JAVA_INT, 0, capture.pollFd());
                pfd.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                pfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                Libc.pollOrErrno(pfd, 1, 200);
                if (closing) {
                    return;
                }
                capture.drain(this::add);
                long now = System.nanoTime();
                if (now - lastExpiry > 1_000_000_000L) {
                    expire(monotonicNow());
                    lastExpiry = now;
                }
            }
        }
    }

    private static long monotonicNow() {
        return Libc.clockNanos(Libc.CLOCK_MONOTONIC);
    }

    @Override
    public void close() {
        closing = true;
        try {
            drainer.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        capture.close();
    }
}
