package io.procwatch.sink;

/**
 * What the Kafka sink reads: the event journal (issue #17), seen through the few calls the sink
 * needs, so the sink does not depend on the journal's file format. The journal's own reader will
 * implement it; until it lands nothing does.
 */
public interface JournalSource {
    /** The oldest sequence still retained; what lies before it was dropped by retention. */
    long oldestSeq();

    /** The newest sequence written so far (oldestSeq() - 1 when empty): how far the sink lags. */
    long newestSeq();

    /** Records from {@code seq} on (or from {@link #oldestSeq()} if that is later), oldest first. */
    Cursor openAt(long seq);

    interface Cursor extends AutoCloseable {
        /** The next record, or null when the journal holds nothing newer yet. */
        Entry next();

        @Override
        void close();
    }

    /** The journal's own word that events were lost before this point (count -1: unknown). */
    record Gap(long count) {
    }

    /** One journal record: its sequence (64-bit, increasing across restarts), wall time, content (an ExitedProcess or a Gap). */
    record Entry(long seq, long epochMs, Object content) {
    }
}
