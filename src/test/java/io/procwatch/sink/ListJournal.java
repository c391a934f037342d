package io.procwatch.sink;

import java.util.ArrayList;
import java.util.List;

/**
 * A journal held in memory, standing in for issue #17's journal until its reader lands: the test
 * appends what the journal would hold and the sink reads it through the same interface.
 */
final class ListJournal implements JournalSource {
    private final List<Entry> entries = new ArrayList<>();
    private long oldest;

    ListJournal(long firstSeq) {
        this.oldest = firstSeq;
    }

    synchronized void append(long epochMs, Object content) {
        entries.add(new Entry(oldest + entries.size(), epochMs, content));
    }

    /** Retention: drops every entry before {@code seq}. */
    synchronized void trimTo(long seq) {
        int n = (int) Math.min(entries.size(), Math.max(0, seq - oldest));
        entries.subList(0, n).clear();
        oldest += n;
    }

    @Override
    public synchronized long oldestSeq() {
        return oldest;
    }

    @Override
    public synchronized long newestSeq() {
        return oldest + entries.size() - 1;
    }

    @Override
    public Cursor openAt(long seq) {
        return new Cursor() {
            long next = Math.max(seq, oldestSeq());

            @Override
            public Entry next() {
                synchronized (ListJournal.this) {
                    next = Math.max(next, oldest); // retention went past the cursor
                    int i = (int) (next - oldest);
                    if (i >= entries.size()) {
                        return null;
                    }
                    next++;
                    return entries.get(i);
                }
            }

            @Override
            public void close() {
            }
        };
    }
}
