package io.procwatch.cli;

import io.procwatch.client.ProcRow;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * top's printed rows, kept from one refresh to the next. With delta snapshots a process that did
 * not change is the very same {@link ProcRow} object, and top's columns depend only on the row,
 * its %CPU over the interval, its tree prefix and two machine facts (memory size for %MEM, pid_max
 * for the PID width): such a row prints the same line again. In batch mode at 10,000 processes,
 * formatting every line anew was most of the client's work per refresh.
 *
 * <p>Only for columns known to depend on nothing else (no clock: ps's ELAPSED or STARTED would
 * change while the row does not); with any other column every line is formatted each time.
 */
final class LineCache {
    /** Field keys whose text is a function of the row and the machine facts above. */
    private static final Set<String> ROW_ONLY = Set.of("pid", "tid", "user", "pr", "ni", "virt", "res", "state",
            "pcpu_now", "pmem_top", "time+", "comm", "args");

    private record Line(long cpuTenths, String prefix, byte[] bytes) {
    }

    private IdentityHashMap<ProcRow, Line> last = new IdentityHashMap<>();
    private IdentityHashMap<ProcRow, Line> next = new IdentityHashMap<>();
    private List<Columns.Col> cols;
    private long memTotalKiB = -1;
    private int pidWidth = -1;
    private boolean usable;

    /** Starts a refresh; what was kept is dropped when the columns or the machine facts changed. */
    void begin(List<Columns.Col> columns, Fields.Ctx ctx) {
        if (!columns.equals(cols) || ctx.memTotalKiB() != memTotalKiB || ctx.pidWidth() != pidWidth) {
            last.clear();
            cols = columns;
            memTotalKiB = ctx.memTotalKiB();
            pidWidth = ctx.pidWidth();
            usable = columns.stream().allMatch(c -> ROW_ONLY.contains(c.field().key()));
        }
    }

    /** Prints one row, cut to {@code width} when it is positive. */
    void print(PrintStream out, TopView.Row r, Fields.Ctx ctx, int width) {
        if (!usable) {
            Columns.print(out, Columns.row(cols, r.row(), ctx, r.treePrefix()), width);
            return;
        }
        Line l = last.get(r.row());
        if (l == null || l.cpuTenths() != r.row().cpuTenthsNow || !java.util.Objects.equals(l.prefix(), r.treePrefix())) {
            String text = Columns.row(cols, r.row(), ctx, r.treePrefix());
            l = new Line(r.row().cpuTenthsNow, r.treePrefix(), (text + "\n").getBytes(StandardCharsets.UTF_8));
        }
        next.put(r.row(), l);
        if (width > 0 && l.bytes().length - 1 > width) {
            // rare (-w narrower than a line): cut by characters, as Columns.print does
            Columns.print(out, new String(l.bytes(), 0, l.bytes().length - 1, StandardCharsets.UTF_8), width);
        } else {
            out.write(l.bytes(), 0, l.bytes().length);
        }
    }

    /** Ends a refresh: the lines printed now are the ones kept; rows not printed are forgotten. */
    void end() {
        IdentityHashMap<ProcRow, Line> t = last;
        last = next;
        next = t;
        next.clear();
    }
}
