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
            // procps draws the forest in each command column (args, comm and their aliases), wherever it is
            if (lastPrefix != null && (f.json().equals("args") || f.json().equals("comm"))) {
                t = lastPrefix + t;
            }
            cells.add(t);
        }
        return line(cols, cells, false);
    }

    /**
     * One line, laid out as procps lays it out: each column starts where it should ("correct")
     * unless the text so far ran past that ("actual"); then it starts one space after, and the
     * columns that follow give up their padding until the line is back in step. A value wider
     * than its column therefore pushes the rest right only as far as it must.
     */
    private static String line(List<Col> cols, List<String> cells, boolean header) {
        StringBuilder sb = new StringBuilder();
        int actual = 0;
        int correct = 0;
        boolean dospace = false;
        for (int i = 0; i < cols.size(); i++) {
            Col c = cols.get(i);
            String t = cells.get(i);
            boolean last = i == cols.size() - 1;
            if (c.field().left() && !last && !header && t.length() > c.width() && !overflows(c.field())) {
                t = c.field().plusTrunc() ? t.substring(0, Math.max(0, c.width() - 1)) + "+" : t.substring(0, c.width());
            }
            int leftpad = c.field().left() ? 0 : Math.max(0, c.width() - t.length());
            int space = correct - actual + leftpad;
            if (space < 1) {
                space = dospace ? 1 : 0;
            }
            space = Math.min(space, 144); // procps's limit on the padding it writes at once
            sb.append(" ".repeat(space)).append(t);
            actual += space + t.length();
            correct += c.width() + 1;
            dospace = true;
        }
        return sb.toString();
    }

    /**
     * Text columns procps prints whole even when wider than the column (it shifts the rest):
     * STAT and the systemd names; the others (names, terminals, commands) are cut to the column.
     */
    private static boolean overflows(Field f) {
        return switch (f.json()) {
            case "stat", "unit", "user_unit", "slice", "login_session", "owner_uid" -> true;
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

    /** Cuts a line to the terminal width (only when printing to a terminal without -w). */
    static void print(PrintStream out, String line, int maxWidth) {
        out.println(maxWidth > 0 && line.length() > maxWidth ? line.substring(0, maxWidth) : line);
    }
}
