package io.procwatch.daemon;

import io.procwatch.procfs.ProcFs;
import io.procwatch.store.HistoryStore;
import io.procwatch.store.HistoryWriter;
import io.procwatch.table.LiveTable;
import io.procwatch.table.ProcessTable;
import io.procwatch.table.Sampler;

import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** What every connection needs: the table, the query engine, /proc and the daemon's counters. */
final class DaemonContext {
    static final String VERSION = "0.1.0";

    private final LiveTable live;
    private final QueryEngine query;
    private final ProcFs proc;
    private final ProcMount mount;
    private volatile ProcMount mountNow;
    private volatile long mountReadAt;
    private final Counters counters = new Counters();
    private final long startedAtMs = System.currentTimeMillis();

    static final class Counters {
        final LongAdder connections = new LongAdder();
        final LongAdder rejectedConnections = new LongAdder();
        /** Of those, refused because the uid held its share already. */
        final LongAdder rejectedPerUid = new LongAdder();
        /** Closed by the watchdog: a request not whole in time, nothing asked for too long, an answer not read. */
        final LongAdder readTimeouts = new LongAdder();
        final LongAdder idleClosed = new LongAdder();
        final LongAdder writeTimeouts = new LongAdder();
        /** HTTP requests answered 429/503 because their user's share (or the whole) was in use. */
        final LongAdder httpRefused = new LongAdder();
        final LongAdder requests = new LongAdder();
        /** HTTP requests begun (HeapReturn waits for a moment without any request, HTTP included). */
        final LongAdder httpRequests = new LongAdder();
        final LongAdder malformed = new LongAdder();
        final LongAdder internalErrors = new LongAdder();
        final LongAdder subscriberDrops = new LongAdder();
        final AtomicInteger clients = new AtomicInteger();
        final AtomicInteger subscribers = new AtomicInteger();
        /** Time to answer a request (SNAPSHOT, HISTORY, STATS, HELLO), for latency percentiles. */
        final LatencyHistogram latency = new LatencyHistogram();
    }

    private final HistoryStore store;
    private final HistoryWriter writer;
    /** The Kafka sink, when configured (its counters go into stats and /metrics). */
    private volatile io.procwatch.sink.FleetSink fleet;

    void fleet(io.procwatch.sink.FleetSink f) {
        this.fleet = f;
    }

    io.procwatch.sink.FleetSink fleet() {
        return fleet;
    }

    DaemonContext(LiveTable live, ProcFs proc, ProcMount mount, HistoryStore store, HistoryWriter writer) {
        this.store = store;
        this.writer = writer;
        this.live = live;
        this.query = new QueryEngine(live.table(), proc.root());
        this.proc = proc;
        this.mount = mount;
        this.mountNow = mount;
        this.mountReadAt = System.nanoTime();
    }

    /** Snapshots within this long keep the rows' cached encodings; after it, they are freed. */
    static final long ENCODING_IDLE_NANOS = 30_000_000_000L;
    private volatile long lastSnapshotNanos = System.nanoTime();
    private volatile boolean encodingsHeld;

    /** A snapshot is being answered: rows may cache their encodings (see Encoder). */
    void snapshotStarted() {
        lastSnapshotNanos = System.nanoTime();
        encodingsHeld = true;
    }

    /**
     * Frees every row's cached encoding once no snapshot came for {@link #ENCODING_IDLE_NANOS}:
     * the cache pays while a top refreshes every few seconds (~350 bytes per row), not at rest.
     */
    /** Gives back heap after bursts (see HeapReturn); run by the daemon's periodic sweep. */
    final HeapReturn heapReturn = new HeapReturn(this::processEvents,
            () -> counters.requests.sum() + counters.httpRequests.sum());

    private long processEvents() {
        ProcessTable.Counters c = live.table().counters();
        return c.forks.sum() + c.exits.sum();
    }

    void dropIdleEncodings() {
        if (encodingsHeld && System.nanoTime() - lastSnapshotNanos > ENCODING_IDLE_NANOS) {
            encodingsHeld = false;
            for (io.procwatch.table.ProcessInfo p : live.table().all()) {
                p.dropEncoding();
            }
        }
    }

    /** The persistent history, or null when the daemon keeps history in memory only. */
    HistoryStore store() {
        return store;
    }

    HistoryWriter writer() {
        return writer;
    }

    /**
     * The processes a viewer selects; with {@code fresh}, re-sampled first (all of them, or just the
     * selection) and selected again, as states may have changed.
     */
    java.util.List<io.procwatch.table.ProcessInfo> select(io.procwatch.protocol.Selector s, Viewer v, boolean fresh) {
        long asked = System.nanoTime(); // a fresh answer shows values read after this
        if (fresh) {
            live.awaitCaughtUp(200); // the events queued before this request, and any overrun among them
            live.applier().resyncForQuery(); // after a loss, the processes whose forks were lost too
        }
        // No event says when a parent reaps a zombie: check the recent exits (a short set) now
        // rather than at the reaper's next tick, so an answer never lists a process already reaped.
        // After the catch-up: its exits are checked too, and a rescan has already dropped the
        // lives that are gone (reaping first raced the event reader for the CPU after a stop).
        live.applier().reap();
        var rows = selectNow(s, v, fresh, asked);
        if (live.applier().mayBeStale()) {
            // Events were lost and the rescan is still to come: a row may be a process whose exit
            // was among the lost. Serve only what /proc still shows.
            rows = new java.util.ArrayList<>(rows);
            rows.removeIf(p -> !live.applier().stillExists(p));
        }
        return rows;
    }

    private java.util.List<io.procwatch.table.ProcessInfo> selectNow(io.procwatch.protocol.Selector s, Viewer v,
                                                                    boolean fresh, long asked) {
        if (fresh && s.isAll()) {
            sampler().sampleAll(asked); // every process: no need to select them first
            return query.select(s, v);
        }
        var rows = query.select(s, v);
        if (!fresh) {
            return rows;
        }
        sampler().sample(rows, asked);
        return query.select(s, v);
    }

    ProcessTable table() {
        return live.table();
    }

    Sampler sampler() {
        return live.sampler();
    }

    QueryEngine query() {
        return query;
    }

    ProcFs proc() {
        return proc;
    }

    /**
     * The proc mount's options as they are now: /proc may be remounted with another hidepid or
     * gid= while the daemon runs, and what a viewer may see follows at once (read again at most
     * once a second; /proc/self/mountinfo is a few dozen lines).
     */
    ProcMount procMount() {
        long now = System.nanoTime();
        if (now - mountReadAt > 1_000_000_000L) {
            mountNow = ProcMount.of(mount.root());
            mountReadAt = now;
        }
        return mountNow;
    }

    Counters counters() {
        return counters;
    }

    /** Everything {@code procwatch stats} shows, as name to value. */
    Map<String, Long> stats() {
        Map<String, Long> s = new LinkedHashMap<>();
        ProcessTable t = live.table();
        s.put("uptime_ms", System.currentTimeMillis() - startedAtMs);
        s.put("started_at_ms", startedAtMs);
        s.put("daemon_pid", ProcessHandle.current().pid());
        s.put("processes", (long) t.size());
        for (var e : t.countsByState().entrySet()) {
            s.put("state_" + e.getKey(), (long) e.getValue());
        }
        ProcessTable.Counters c = t.counters();
        s.put("events_fork", c.forks.sum());
        s.put("events_thread_fork", c.threadForks.sum());
        s.put("events_exec", c.execs.sum());
        s.put("events_exit", c.exits.sum());
        s.put("events_thread_exit", c.threadExits.sum());
        s.put("events_id_change", c.idChanges.sum());
        s.put("events_comm", c.commChanges.sum());
        s.put("events_other", c.other.sum());
        s.put("losses", c.losses.sum());
        s.put("lost_events_known", c.lostEvents.sum());
        s.put("resyncs", c.resyncs.sum());
        s.put("resyncs_from_task_scan", c.resyncsFromTaskScan.sum());
        s.put("resync_last_us", c.lastResyncMicros); // of the last rescan that changed the table
        s.put("resync_last_loaded", c.lastResyncLoaded);
        s.put("resync_last_vanished", c.lastResyncVanished);
        s.put("exits_not_observed", c.exitsNotObserved.sum());
        s.put("exits_overtaken", c.exitsOvertaken.sum());
        s.put("exits_late_applied", c.exitsLateApplied.sum());
        s.put("execs_read_too_late", c.execsTooLate.sum());
        s.put("events_unknown_pid", c.eventsForUnknownPids.sum());
        var cs = live.connectorStats();
        s.put("connector_datagrams", cs.datagrams());
        s.put("connector_malformed", cs.malformedMessages());
        s.put("connector_receive_buffer", (long) live.receiveBufferBytes());
        s.put("event_source_failures", live.eventSourceFailures());
        s.put("event_source_restarts", live.eventSourceRestarts());
        s.put("event_source_ok", live.readerFailure() == null ? 1L : 0L);
        s.put("listener_failures", c.listenerFailures.sum());
        s.put("reparented", c.reparented.sum());
        s.put("execs_captured", c.execsCaptured.sum());
        s.put("execs_from_proc", c.execsFromProc.sum());
        s.put("exec_capture", live.execCaptureProblem() == null ? 1L : 0L);
        s.put("exec_capture_lost", live.execCaptureLost());
        s.put("exec_capture_unclaimed", c.execCaptureUnclaimed.sum());
        s.put("execs_uncaptured", c.execsUncaptured.sum());
        s.put("execs_argv_truncated", c.execsArgvTruncated.sum());
        s.put("table_stale", live.applier().mayBeStale() ? 1L : 0L);
        s.put("taskstats_unjoined", t.history().taskstatsUnjoined());
        s.put("taskstats_ok", live.taskstatsProblem() == null ? 1L : 0L);
        s.put("taskstats_overruns", live.taskstatsOverruns());
        s.put("runs_active", RunSession.active());
        s.put("runs_total", RunSession.total());
        s.put("runs_cancelled", RunSession.cancelled());
        s.put("runs_keys_dropped", io.procwatch.cli.RemoteTerminal.dropped());
        s.put("history_size", (long) t.history().size());
        s.put("history_capacity", (long) t.history().capacity());
        s.put("history_added", t.history().added());
        s.put("history_dropped", t.history().dropped());
        if (writer != null) {
            s.put("history_db_written", writer.written.sum());
            s.put("history_db_queued", (long) writer.queued());
            s.put("history_db_dropped", writer.dropped.sum());
            s.put("history_db_ahead_of_journal", writer.aheadOfJournal.sum());
            s.put("history_db_failures", writer.failures.sum());
            s.put("history_db_retired", writer.retired.sum());
            // 1: the database was corrupt at start, moved aside (see the log) and a new one begun
            s.put("history_db_recovered", store != null && store.movedAside() != null ? 1L : 0L);
        }
        io.procwatch.sink.FleetSink f = fleet;
        if (f != null) {
            s.putAll(f.stats());
        }
        s.put("sampler_passes", live.sampler().passes());
        s.put("sampler_last_pass_us", live.sampler().lastPassDurationNanos() / 1000);
        s.put("sampler_open_fds", (long) live.sampler().openDescriptors());
        s.put("sampler_task_scan", live.sampler().taskScanProblem() == null ? 1L : 0L);
        s.put("sampler_stat_reads", live.sampler().statReads());
        s.put("sampler_stat_skips", live.sampler().statSkips());
        s.put("sampler_scan_failures", live.table().counters().samplerScanFailures.sum());
        s.put("cgroup_moves", live.table().counters().cgroupMoves.sum());
        s.put("clients", (long) counters.clients.get());
        s.put("subscribers", (long) counters.subscribers.get());
        s.put("connections_total", counters.connections.sum());
        s.put("connections_rejected", counters.rejectedConnections.sum());
        s.put("connections_rejected_per_uid", counters.rejectedPerUid.sum());
        s.put("connections_read_timeouts", counters.readTimeouts.sum());
        s.put("connections_idle_closed", counters.idleClosed.sum());
        s.put("connections_write_timeouts", counters.writeTimeouts.sum());
        s.put("http_refused", counters.httpRefused.sum());
        s.put("requests", counters.requests.sum());
        s.put("requests_malformed", counters.malformed.sum());
        s.put("internal_errors", counters.internalErrors.sum());
        s.put("subscriber_drops", counters.subscriberDrops.sum());
        LatencyHistogram h = counters.latency;
        s.put("request_latency_count", h.count());
        s.put("request_latency_p50_us", h.percentileMicros(50));
        s.put("request_latency_p90_us", h.percentileMicros(90));
        s.put("request_latency_p99_us", h.percentileMicros(99));
        s.put("request_latency_p999_us", h.percentileMicros(99.9));
        s.put("request_latency_max_us", h.maxMicros());
        var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        s.put("heap_used_bytes", heap.getUsed());
        s.put("heap_return_collections", heapReturn.collections());
        s.put("heap_returned_bytes", heapReturn.returnedBytes());
        s.put("heap_committed_bytes", heap.getCommitted());
        s.put("heap_max_bytes", heap.getMax()); // the budget (-Xmx): bin/procwatch sets it
        return s;
    }
}
