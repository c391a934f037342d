package io.procwatch.store;

import io.procwatch.sink.JournalSource;
import io.procwatch.table.ExitedProcess;

import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The history database's exits as a {@link JournalSource}, until the event journal (issue #17)
 * replaces it: entries are exit rows by their seq, which the daemon numbers in order and keeps
 * across restarts. The writer commits whole batches in seq order, so a seq missing below one
 * that is present will not come later: it was dropped (the disk could not keep up) and is handed
 * on as a {@link JournalSource.Gap} with its count, never skipped silently.
 *
 * <p>An exit's taskstats that arrive after its batch was written update the row, not the record
 * already sent (the writer waits 250 ms for them, which is nearly always enough).
 */
public final class HistoryJournal implements JournalSource {
    private static final int PAGE = 512;
    private final HistoryStore store;

    public HistoryJournal(HistoryStore store) {
        this.store = store;
    }

    @Override
    public long oldestSeq() {
        try {
            long min = store.minSeq();
            return min >= 0 ? min : store.maxSeq() + 1;
        } catch (SQLException e) {
            throw new IllegalStateException("history database: " + e.getMessage(), e);
        }
    }

    @Override
    public long newestSeq() {
        try {
            return store.maxSeq();
        } catch (SQLException e) {
            throw new IllegalStateException("history database: " + e.getMessage(), e);
        }
    }

    @Override
    public Cursor openAt(long seq) {
        return new Cursor() {
            long next = Math.max(seq, oldestSeq());
            final ArrayDeque<ExitedProcess> page = new ArrayDeque<>();

            @Override
            public Entry next() {
                if (page.isEmpty()) {
                    try {
                        List<ExitedProcess> rows = store.page(new HistoryStore.Query(Long.MIN_VALUE, Long.MAX_VALUE,
                                null, null, null, false, PAGE), next, Long.MAX_VALUE, true);
                        page.addAll(rows);
                    } catch (SQLException e) {
                        // a busy or failing database: nothing now, asked again at the next poll
                        return null;
                    }
                    if (page.isEmpty()) {
                        return null;
                    }
                }
                ExitedProcess p = page.peekFirst();
                if (p.seq() > next) {
                    Entry gap = new Entry(next, p.endEpochMs(), new Gap(p.seq() - next));
                    next = p.seq();
                    return gap;
                }
                page.pollFirst();
                next = p.seq() + 1;
                return new Entry(p.seq(), p.endEpochMs(), p);
            }

            @Override
            public void close() {
            }
        };
    }
}
