package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.protocol.Selector;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the operator chose to see: sort column, filters, tree, threads, full command lines. The
 * columns come from the field registry under procps top's names, so -o, the sort keys and --json
 * agree with ps.
 */
final class TopView {
    /** top's column names, in top's order, and the registry field each one shows. */
    static final Map<String, String> COLUMNS = new LinkedHashMap<>();

    static {
        COLUMNS.put("PID", "pid");
        COLUMNS.put("USER", "user");
        COLUMNS.put("PR", "pr");
        COLUMNS.put("NI", "ni");
        COLUMNS.put("VIRT", "virt");
        COLUMNS.put("RES", "res");
        COLUMNS.put("S", "state");
        COLUMNS.put("%CPU", "pcpu_now");
        COLUMNS.put("%MEM", "pmem_top");
        COLUMNS.put("TIME+", "time+");
        COLUMNS.put("COMMAND", "comm");
    }

    String sortColumn = "%CPU";
    /** Lowest first instead of top's highest first. */
    boolean ascending;
    Integer uid;
    String userText = "";
    /** A case-insensitive text the command must contain, or COLUMN=text / COLUMN>n / COLUMN<n. */
    String filter = "";
    boolean tree;
    boolean threads;
    boolean cmdline;
    List<Integer> pids = List.of();
    int scroll;
    /** The group view's fold (g, --group), or null for process rows. */
    io.procwatch.cgroup.CgroupGroups.By groupBy;
    /** --cgroup, --container, --unit: applied by the daemon (S_CGROUP, S_CONTAINER, S_UNIT). */
    io.procwatch.protocol.Membership member = io.procwatch.protocol.Membership.ANY;
    /** --ns TYPE:INODE, normalized: applied by the daemon (S_NAMESPACE). */
    List<String> namespaces = List.of();

    Selector selector() {
        Selector s = Selector.all();
        if (!pids.isEmpty()) {
            s = s.withPids(pids);
        }
        if (uid != null) {
            s = s.withUids(List.of(uid));
        }
        if (!member.isAny()) {
            s = s.withMember(member);
        }
        if (!namespaces.isEmpty()) {
            s = s.withNamespaces(namespaces);
        }
        return s;
    }

    /** The registry field behind a top column name (case-insensitive), or null. */
    static Field field(String column, boolean cmdline, boolean threads) {
        String key = COLUMNS.get(column.toUpperCase(Locale.ROOT));
        if (key == null) {
            return null;
        }
        if (key.equals("comm") && cmdline) {
            key = "args";
        }
        Field f = Fields.get(key);
        return switch (column.toUpperCase(Locale.ROOT)) {
            case "PID" -> threads ? Fields.get("tid").withHeader("PID") : f;
            case "COMMAND" -> f.withHeader("COMMAND");
            default -> f;
        };
    }

    List<Columns.Col> columns() {
        List<Field> fields = new ArrayList<>();
        for (String name : COLUMNS.keySet()) {
            fields.add(field(name, cmdline, threads));
        }
        return Columns.of(fields);
    }

    /** Filtered, sorted (and in tree view, ordered parent before children) rows, with tree prefixes. */
    List<Row> arrange(List<ProcRow> rows, Fields.Ctx ctx) {
        Field sort = field(sortColumn, cmdline, threads);
        if (sort == null) { // a column of the group view only (TASKS, CGMEM...): processes by %CPU
            sort = field("%CPU", cmdline, threads);
        }
        // each row's sort value computed once, not once per comparison
        List<Keyed> keyed = new ArrayList<>(rows.size());
        for (ProcRow r : rows) {
            if (matches(r, ctx)) {
                keyed.add(new Keyed(r, sort.value().apply(r, ctx)));
            }
        }
        keyed.sort(comparator());
        List<ProcRow> kept = new ArrayList<>(keyed.size());
        for (Keyed k : keyed) {
            kept.add(k.row());
        }
        List<Row> out = new ArrayList<>(kept.size());
        if (!tree || threads) {
            for (ProcRow r : kept) {
                out.add(new Row(r, null));
            }
            return out;
        }
        Map<Integer, List<ProcRow>> children = new HashMap<>();
        Map<Integer, ProcRow> byPid = new HashMap<>();
        for (ProcRow r : kept) {
            byPid.put(r.pid, r);
        }
        List<ProcRow> roots = new ArrayList<>();
        for (ProcRow r : kept) { // kept is sorted, so each child list is too
            if (r.ppid > 0 && byPid.containsKey(r.ppid) && r.ppid != r.pid) {
                children.computeIfAbsent(r.ppid, k -> new ArrayList<>()).add(r);
            } else {
                roots.add(r);
            }
        }
        for (ProcRow root : roots) {
            walk(root, 0, children, out);
        }
        return out;
    }

    private static void walk(ProcRow r, int depth, Map<Integer, List<ProcRow>> children, List<Row> out) {
        out.add(new Row(r, depth == 0 ? "" : " ".repeat(4 * depth - 3) + "`- "));
        if (depth > 200) {
            return; // a cycle cannot happen in a snapshot, but never recurse without bound
        }
        for (ProcRow c : children.getOrDefault(r.pid, List.of())) {
            walk(c, depth + 1, children, out);
        }
    }

    record Row(ProcRow row, String treePrefix) {
    }

    private record Keyed(ProcRow row, Object key) {
    }

    private Comparator<Keyed> comparator() {
        Comparator<Keyed> byValue = (a, b) -> compareValues(a.key(), b.key());
        // top puts the highest first; text columns too (it sorts them descending as well)
        Comparator<Keyed> c = ascending ? byValue : byValue.reversed();
        return c.thenComparingInt(k -> k.row().id());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static int compareValues(Object a, Object b) {
        if (a == null || b == null) {
            return a == null ? (b == null ? 0 : -1) : 1;
        }
        if (a instanceof Number x && b instanceof Number y) {
            return Double.compare(x.doubleValue(), y.doubleValue());
        }
        if (a.getClass() == b.getClass() && a instanceof Comparable ca) {
            return ca.compareTo(b);
        }
        return a.toString().compareTo(b.toString());
    }

    /** The text filter: plain text in the command, or COLUMN=text, COLUMN>number, COLUMN<number. */
    boolean matches(ProcRow r, Fields.Ctx ctx) {
        if (filter.isEmpty()) {
            return true;
        }
        int op = indexOfOperator(filter);
        if (op > 0) {
            Field f = field(filter.substring(0, op), cmdline, threads);
            if (f != null) {
                char c = filter.charAt(op);
                String want = filter.substring(op + 1);
                Object v = f.value().apply(r, ctx);
                if (c == '=') {
                    String text = f.text().apply(r, ctx);
                    return text.toLowerCase(Locale.ROOT).contains(want.toLowerCase(Locale.ROOT));
                }
                try {
                    double n = Double.parseDouble(want);
                    return v instanceof Number x && (c == '>' ? x.doubleValue() > n : x.doubleValue() < n);
                } catch (NumberFormatException e) {
                    return false;
                }
            }
        }
        String needle = filter.toLowerCase(Locale.ROOT);
        String cmd = cmdline && r.argv != null ? r.args() : r.comm == null ? "" : r.comm;
        return cmd.toLowerCase(Locale.ROOT).contains(needle);
    }

    private static int indexOfOperator(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '=' || c == '>' || c == '<') {
                return i;
            }
        }
        return -1;
    }

    /** Moves the sort one column left (-1) or right (+1), as top's < and > do. */
    void moveSort(int step) {
        List<String> names = groupBy != null ? TopGroups.COLUMNS : new ArrayList<>(COLUMNS.keySet());
        int i = names.indexOf(sortColumn);
        sortColumn = names.get(Math.floorMod(i + step, names.size()));
    }
}
