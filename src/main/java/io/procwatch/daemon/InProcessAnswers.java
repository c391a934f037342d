package io.procwatch.daemon;

import io.procwatch.client.DaemonErrorException;
import io.procwatch.client.InProcessSnapshots;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.procfs.PidStat;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.ProtocolException;
import io.procwatch.protocol.Wire;
import io.procwatch.table.ProcessInfo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A RUN's live snapshots, answered from the table in memory (see {@link InProcessSnapshots}). The
 * request is parsed by the wire's own parser ({@link Connection#args}) and the rows come from the
 * wire's own encoder ({@link Encoder#processInto}), so a command run here gets exactly the rows,
 * and only the attributes, that the same request over the socket would; what is saved is the
 * bytes. At 10,000 processes encoding and decoding those was two fifths of a thin {@code ps}.
 */
final class InProcessAnswers implements InProcessSnapshots {
    private final DaemonContext ctx;
    private final Viewer viewer;
    private final Encoder encoder;

    /** A row of the last F_DELTA answer, and the table's row it was made from. */
    private record Kept(ProcessInfo from, long groups, ProcRow row) {
    }

    private Map<Integer, Kept> kept = Map.of();

    InProcessAnswers(DaemonContext ctx, Viewer viewer) {
        this.ctx = ctx;
        this.viewer = viewer;
        this.encoder = new Encoder(ctx.proc());
    }

    @Override
    public ProcwatchClient.Listing snapshot(Message req) throws IOException {
        try {
            return answer(req);
        } catch (ProtocolException e) {
            // what the same request over the socket would give the command: an ERROR answer
            throw new DaemonErrorException(e.code(), e.getMessage());
        }
    }

    private ProcwatchClient.Listing answer(Message req) throws IOException {
        if (req.type() != Wire.SNAPSHOT) {
            throw new ProtocolException(Wire.E_UNKNOWN_REQUEST, "only SNAPSHOT is answered in process");
        }
        Connection.Args a = Connection.args(req);
        if (a.atMs() >= 0) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "a past instant is answered over the connection");
        }
        List<ProcessInfo> selected = LiveRows.select(ctx, a.selector(), a.groups(), req.flags(), viewer);
        boolean threads = LiveRows.threads(a.selector(), req.flags());
        // a row made of the table's row alone (no /proc read at request time) can be kept while the
        // table's row is the same object, which it is until something about the process changes
        boolean reuse = req.has(Wire.F_DELTA) && !threads && Encoder.rowOnly(a.groups(), a.items());
        // a row that is a function of the table's row alone may name it as its origin (cli/PsLines)
        boolean ownRow = !threads && Encoder.rowAndReader(a.groups(), a.items());
        Map<Integer, Kept> last = kept;
        Map<Integer, Kept> next = reuse ? new HashMap<>(selected.size() * 2) : Map.of();
        List<ProcRow> rows = new ArrayList<>(selected.size());
        LiveRows.Walk w = LiveRows.walk(ctx, selected, threads, new LiveRows.Out() {
            @Override
            public void process(ProcessInfo p) {
                Kept k = reuse ? last.get(p.pid()) : null;
                ProcRow r;
                if (k != null && k.from() == p && k.groups() == a.groups()) {
                    r = k.row();
                } else {
                    r = new ProcRow();
                    encoder.processInto(r, p, a.groups(), a.items(), viewer);
                    if (ownRow) {
                        r.origin = p;
                    }
                }
                if (reuse) {
                    next.put(p.pid(), new Kept(p, a.groups(), r));
                }
                rows.add(r);
            }

            @Override
            public void thread(ProcessInfo p, int tid, PidStat t) {
                ProcRow r = new ProcRow();
                encoder.threadInto(r, p, tid, t, a.groups());
                rows.add(r);
            }
        });
        kept = next;
        long ageMs = w.sampleAgeNanos() < 0 ? -1 : w.sampleAgeNanos() / 1_000_000L;
        return new ProcwatchClient.Listing(rows, new ProcwatchClient.Done(w.count(), System.currentTimeMillis(), ageMs));
    }

    void close() {
        encoder.close();
    }
}
