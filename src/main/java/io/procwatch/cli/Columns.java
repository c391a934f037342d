package io.procwatch.cli;

import io.procwatch.client.ProcRow;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prints rows as ps does: one space between columns, numbers right-aligned, text left-aligned and
 * cut to the column (user names with a '+'), the last column never cut unless the output is a
 * terminal narrower than the line.
 */
final class Columns {
    /**
     * A column: the field, its header as the user asked for it (may be empty), and what the row
     * loop would otherwise work out from the field's name for every cell.
     *
     * @param args      a command line (a newline in it reads as a space)
     * @param command   a command column, where procps draws the forest (args, comm, their aliases, fname)
     * @param overflows printed whole when wider than the column ({@link #overflows(Field)})
     */
    record Col(Field field, String header, int width, boolean args, boolean command, boolean overflows) {
        Col(Field field, String header, int width) {
            this(field, header, width, field.json().equals("args"),
                    field.json().equals("args") || field.json().equals("comm") || field.json().equals("fname"),
                    Columns.overflows(field));
        }
    }

    /** Padding is appended from here: procps writes at most 144 spaces at once (see line()). */
    private static final String SPACES = " ".repeat(144);

    private Columns() {
    }

    static List<Col> of(List<Field> fields) {
        List<Col> cols = new ArrayList<>();
        for (Field f : fields) {
            cols.add(new Col(f, f.header(), f.width()));
        }
        return cols;
    }

    static boolean anyHeader(List<Col> cols) {
        return cols.stream().anyMatch(c -> !c.header().isEmpty());
    }

    static String header(List<Col> cols) {
        String[] cells = new String[cols.size()];
        for (int i = 0; i < cells.length; i++) {
            cells[i] = cols.get(i).header();
        }
        return line(cols, cells, true);
    }

    static String row(List<Col> cols, ProcRow r, Fields.Ctx ctx, String lastPrefix) {
        String[] cells = new String[cols.size()];
        boolean utf8 = Invocation.current().utf8();
        for (int i = 0; i < cells.length; i++) {
            Col c = cols.get(i);
            String t = Printable.clean(c.field().text().apply(r, ctx), c.args(), utf8);
            // procps draws the forest in each command column, wherever it is
            if (lastPrefix != null && c.command()) {
                t = lastPrefix + t;
            }
            if (r.sampledStale && sampled(c.field())) {
                t = t + STALE_MARK;
            }
            cells[i] = t;
        }
        return line(cols, cells, false);
    }

    /**
     * Appended to a past row's sampled cells (ps --at) when they are older than the journal's
     * sample interval at that instant, or were never sampled (docs/journal.md): a value a script
     * would take for the truth at WHEN does not parse as a number then.
     */
    static final String STALE_MARK = "~";

    /** A column made from values the sampler reads (CPU, memory, faults, priority, state), not from events. */
    static boolean sampled(Field f) {
        return (f.groups() & io.procwatch.protocol.Groups.STAT) != 0 || f.json().equals("state") || f.json().equals("stat");
    }

    /**
     * One line, laid out as procps lays it out: each column starts where it should ("correct")
     * unless the text so far ran past that ("actual"); then it starts one space after, and the
     * columns that follow give up their padding until the line is back in step. A value wider
     * than its column therefore pushes the rest right only as far as it must.
     */
    private static String line(List<Col> cols, String[] cells, boolean header) {
        StringBuilder sb = new StringBuilder(16 * cells.length);
        int actual = 0;
        int correct = 0;
        boolean dospace = false;
        for (int i = 0; i < cols.size(); i++) {
            Col c = cols.get(i);
            String t = cells[i];
            boolean last = i == cells.length - 1;
            int used = Printable.cells(t); // procps counts terminal cells: a wide character takes two
            if (c.field().left() && !last && !header && used > c.width() && !c.overflows()) {
                t = c.field().plusTrunc() ? Printable.fit(t, Math.max(0, c.width() - 1)) + "+" : Printable.fit(t, c.width());
                used = Printable.cells(t);
            }
            int leftpad = c.field().left() ? 0 : Math.max(0, c.width() - used);
            int space = correct - actual + leftpad;
            if (space < 1) {
                space = dospace ? 1 : 0;
            }
            space = Math.min(space, 144); // procps's limit on the padding it writes at once
            sb.append(SPACES, 0, space).append(t);
            actual += space + used;
            correct += c.width() + 1;
            dospace = true;
        }
        return sb.toString();
    }

    /**
     * Text columns procps prints whole even when wider than the column (it shifts the rest):
     * STAT, the systemd names, tty4 and SGI's left-aligned RSS (sgi_rss); the others (names,
     * terminals, commands) are cut to the column.
     */
    private static boolean overflows(Field f) {
        return switch (f.json()) {
            case "stat", "unit", "user_unit", "slice", "login_session", "owner_uid", "tty4", "rss_kib" -> true;
            default -> false;
        };
    }

    /** Rows as JSON objects keyed by each field's JSON name. */
    static List<Map<String, Object>> json(List<Field> fields, List<ProcRow> rows, Fields.Ctx ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ProcRow r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Field f : fields) {
                m.put(f.json(), f.value().apply(r, ctx));
            }
            out.add(m);
        }
        return out;
    }

    /**
     * Cuts a line to the terminal width (only when printing to a terminal without -w). Written as
     * bytes in the stream's own charset, which is what println would write: println goes through
     * the stream's char buffer and encoder instead, which at 10,000 lines was a fifth of ps's time.
     */
    static void print(PrintStream out, String line, int maxWidth) {
        String l = maxWidth > 0 && line.length() > maxWidth ? line.substring(0, maxWidth) : line;
        out.writeBytes(l.getBytes(out.charset()));
        out.write('\n');
    }
}
