package io.procwatch.sink;

/**
 * What the Kafka sink reads: the event journal (issue #17), seen through the few calls the sink
 * needs, so the sink does not depend on the journal's file format. Implemented by
 * store/Journal (docs/journal.md).
 */
public interface JournalSource {
    /** The oldest sequence still retained; what lies before it was dropped by retention. */
    long oldestSeq();

    /** The newest sequence written so far (oldestSeq() - 1 when empty): how far the sink lags. */
    long newestSeq();

    /** Records from {@code seq} on (or from {@link #oldestSeq()} if that is later), oldest first. */
    Cursor openAt(long seq);

    /**
     * Calls {@code r} after each commit of new entries, so that a reader waits for them instead of
     * finding them at its next poll (the sink's lag, docs/benchmarks.md). Called on the committing
     * thread: it must be quick. By default never: the reader polls.
     */
    default void onCommit(Runnable r) {
    }

    interface Cursor extends AutoCloseable {
        /** The next record, or null when the journal holds nothing newer yet. */
        Entry next();

        @Override
        void close();
    }

    /** The journal's own word that events were lost before this point (count -1: unknown). */
    record Gap(long count) {
    }

    /** A process exec'd: its program and argv after the exec (startNs: the life's key, as in ExitedProcess). */
    record Exec(int pid, long startNs, String comm, String exe, java.util.List<String> argv) {
    }

    /** A process's real and effective user and group ids changed (setuid, setgid, a set-id exec). */
    record IdChange(int pid, long startNs, int ruid, int euid, int rgid, int egid) {
    }

    /** A process renamed itself (prctl PR_SET_NAME, or a write to /proc/PID/comm). */
    record Rename(int pid, long startNs, String comm) {
    }

    /**
     * A process was found in another cgroup (no event reports a move; the sampler notices it at
     * its next pass): the /proc/PID/cgroup lines before and after, comma-joined.
     */
    record CgroupChange(int pid, long startNs, String from, String to) {
    }

    /**
     * One journal record: its sequence (64-bit, increasing across restarts), wall time, content:
     * an ExitedProcess, a Gap, an Exec, an IdChange, a Rename or a CgroupChange. Readers skip content they do not
     * know (more kinds may come).
     */
    record Entry(long seq, long epochMs, Object content) {
    }
}
