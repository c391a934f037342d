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
    /** A column: the field, and its header as the user asked for it (may be empty). */
    record Col(Field field, String header, int width) {
    }

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
        List<String> cells = new ArrayList<>();
        for (Col c : cols) {
            cells.add(c.header());
        }
        return line(cols, cells, true);
    }

    static String row(List<Col> cols, ProcRow r, Fields.Ctx ctx, String lastPrefix) {
        List<String> cells = new ArrayList<>();
        for (int i = 0; i < cols.size(); i++) {
            Field f = cols.get(i).field();
            String t = f.text().apply(r, ctx);
            t = f.json().equals("args") ? Printable.args(t) : Printable.text(t);
            if (i == cols.size() - 1 && lastPrefix != null) {
                t = lastPrefix + t;
            }
            cells.add(t);
        }
        return line(cols, cells, false);
    }

    private static String line(List<Col> cols, List<String> cells, boolean header) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cols.size(); i++) {
            Col c = cols.get(i);
            String t = cells.get(i);
            boolean last = i == cols.size() - 1;
            if (i > 0) {
                sb.append(' ');
            }
            if (c.field().left()) {
                if (!last && !header && t.length() > c.width()) {
                    if (c.field().plusTrunc()) {
                        t = t.substring(0, Math.max(0, c.width() - 1)) + "+";
                    } else if (!c.field().key().equals("stat")) {
                        t = t.substring(0, c.width());
                    }
                }
                sb.append(t);
                if (!last) {
                    sb.append(" ".repeat(Math.max(0, c.width() - t.length())));
                }
            } else {
                sb.append(" ".repeat(Math.max(0, c.width() - t.length()))).append(t);
            }
        }
        return sb.toString();
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

    /** Cuts a line to the terminal width (only when printing to a terminal without -w). */
    static void print(PrintStream out, String line, int maxWidth) {
        out.println(maxWidth > 0 && line.length() > maxWidth ? line.substring(0, maxWidth) : line);
    }
}
