package io.procwatch.table;

import io.procwatch.event.EventType;
import io.procwatch.event.Loss;

/**
 * What the table tells its listeners after applying a kernel event: the event enriched with what
 * the table knows (names, command lines, lifetimes), for live streams such as {@code procwatch events}.
 */
public sealed interface TableEvent {
    /** Kernel CLOCK_MONOTONIC time of the underlying event, in nanoseconds. */
    long timestampNs();

    /** The live row the event is about (fork, exec, change, thread exit), or null (exit, loss, rescan). */
    default ProcessInfo live() {
        return switch (this) {
            case Forked f -> f.process();
            case Execed x -> x.process();
            case Changed c -> c.process();
            case ThreadExited t -> t.process();
            case Exited x -> null;
            case Lost l -> null;
            case Resynced r -> null;
        };
    }

    /** A new process (thread == false) or thread (tid is the new thread) appeared. */
    record Forked(long timestampNs, ProcessInfo process, boolean thread, int tid) implements TableEvent {
    }

    /** The process exec'd; process carries the new comm, exe and argv. */
    record Execed(long timestampNs, ProcessInfo process) implements TableEvent {
    }

    /** uid, gid, sid, comm, ptrace or coredump: the process as it is after the change. */
    record Changed(long timestampNs, EventType kind, ProcessInfo process, int tid) implements TableEvent {
    }

    record ThreadExited(long timestampNs, ProcessInfo process, int tid) implements TableEvent {
    }

    /** The process ended; the entry is the one added to the history. */
    record Exited(long timestampNs, ExitedProcess exited) implements TableEvent {
    }

    /** Events were lost; the table is being rebuilt from /proc. */
    record Lost(long timestampNs, Loss loss) implements TableEvent {
    }

    /** A rescan after a loss finished: pids added and pids found gone. */
    record Resynced(long timestampNs, int added, int vanished) implements TableEvent {
    }
}
