package io.procwatch.daemon;

import io.procwatch.protocol.Selector;
import io.procwatch.store.Journal;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.ProcessTable;

import java.sql.SQLException;
import java.util.List;

/**
 * The table at a past instant for a viewer: rebuilt from the journal, then selected by the same
 * QueryEngine and Viewer as the live table, so the Unix socket (SNAPSHOT with A_AT_MS) and HTTP
 * ({@code /api/v1/processes?at=}) answer an instant alike.
 */
final class PastTable {
    /** Why there is no answer: no journal, or an instant it cannot answer (a gap, before it, the future). */
    static final class NoAnswer extends Exception {
        final boolean noJournal;

        NoAnswer(String m, boolean noJournal) {
            super(m);
            this.noJournal = noJournal;
        }
    }

    private PastTable() {
    }

    static List<ProcessInfo> select(DaemonContext ctx, Selector sel, Viewer viewer, long atMs) throws NoAnswer, SQLException {
        return selectPast(ctx, sel, viewer, atMs).rows();
    }

    /** As {@link #select}, with the read times of the rows' sampled values (Journal.Past). */
    static Journal.Past selectPast(DaemonContext ctx, Selector sel, Viewer viewer, long atMs) throws NoAnswer, SQLException {
        Journal j = ctx.writer() == null ? null : ctx.writer().journal();
        if (j == null) {
            throw new NoAnswer("this daemon keeps no journal: it needs --history-db (and --journal on); see docs/journal.md", true);
        }
        Journal.Past past;
        try {
            past = j.past(atMs);
        } catch (Journal.Unanswerable e) {
            throw new NoAnswer(e.getMessage(), false);
        }
        List<ProcessInfo> rows = new QueryEngine(ProcessTable.of(past.rows()), ctx.proc().root(), true).select(sel, viewer); // cgroups as the rows of then hold them
        return new Journal.Past(rows, past.sampledAtMs(), past.atMs(), past.sampleMs());
    }

    /** Whether this viewer gets a past row's command line: it is an exec-time one (Viewer.canSeeExecArgv). */
    static boolean argvVisible(ProcessInfo p, Viewer v) {
        return v.canSeeExecArgv(p);
    }
}
