package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.DaemonUnavailableException;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code procwatch tree [PID]}: the process tree, like pstree -p. */
final class TreeCommand {
    static final String HELP = """
            Usage: procwatch tree [PID] [options]
            Show the process tree (all processes, or the subtree under PID), like pstree -p.

              --args       show command lines instead of names
              --user USER  only processes of USER (and the branches leading to them)
              --ascii      draw with ASCII instead of Unicode lines
              --json       nested JSON: {pid, ppid, user, comm, args, children: [...]}
              --local      read /proc directly, without the daemon
              --at WHEN    the tree as it was at WHEN (as ps --at; docs/journal.md)
            Examples:
              procwatch tree              procwatch tree 1234 --args      procwatch tree --json
            """;

    private TreeCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket", "user", "at"), Set.of("args", "ascii", "json", "local", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (o.positional.size() > 1) {
                throw new UsageException("at most one PID");
            }
            Integer root = o.positional.isEmpty() ? null : Opts.pid("PID", o.positional.getFirst());
            Integer user = null;
            if (o.get("user") != null) {
                user = Opts.uid("--user", o.get("user"));
            }
            long groups = Groups.BASE | Groups.CRED | Groups.CMDLINE;
            List<ProcRow> rows;
            if (o.get("at") != null) {
                if (o.has("local")) {
                    throw new UsageException("--at takes the table from the daemon's journal: not with --local");
                }
                long atMs = HistoryCommand.when("--at", o.get("at"), System.currentTimeMillis());
                try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                    c.at(atMs);
                    rows = c.snapshot(root == null ? Selector.all() : Selector.all().withSubtreeOf(root), groups, 0).rows();
                } catch (DaemonUnavailableException e) {
                    err.println("procwatch tree: " + e.getMessage());
                    return 1;
                }
            } else if (o.has("local")) {
                rows = LocalSnapshot.read(groups, false);
            } else {
                try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                    rows = c.snapshot(root == null ? Selector.all() : Selector.all().withSubtreeOf(root), groups, Wire.F_FRESH).rows();
                } catch (DaemonUnavailableException e) {
                    err.println("procwatch tree: " + e.getMessage());
                    err.println("procwatch tree: reading /proc directly instead");
                    rows = LocalSnapshot.read(groups, false);
                }
            }
            Map<Integer, ProcRow> byPid = new HashMap<>();
            for (ProcRow r : rows) {
                byPid.put(r.pid, r);
            }
            if (root != null && !byPid.containsKey(root)) {
                err.println("procwatch tree: no such process: " + root);
                return 1;
            }
            Map<Integer, List<ProcRow>> kids = new HashMap<>();
            List<ProcRow> roots = new ArrayList<>();
            for (ProcRow r : rows) {
                if ((root != null && r.pid == root) || !byPid.containsKey(r.ppid) || r.ppid == r.pid) {
                    if (root == null || r.pid == root) {
                        roots.add(r);
                    }
                } else {
                    kids.computeIfAbsent(r.ppid, k -> new ArrayList<>()).add(r);
                }
            }
            Comparator<ProcRow> byPidOrder = Comparator.comparingInt(r -> r.pid);
            roots.sort(byPidOrder);
            kids.values().forEach(l -> l.sort(byPidOrder));
            Integer onlyUser = user;
            java.util.function.Predicate<ProcRow> keep = r -> onlyUser == null || hasUser(r, onlyUser, kids);
            if (o.has("json")) {
                List<Object> trees = new ArrayList<>();
                for (ProcRow r : roots) {
                    if (keep.test(r)) {
                        trees.add(json(r, kids, keep));
                    }
                }
                out.println(Json.value(trees));
                return 0;
            }
            boolean ascii = o.has("ascii");
            for (ProcRow r : roots) {
                if (keep.test(r)) {
                    print(out, r, "", true, true, kids, keep, o.has("args"), ascii);
                }
            }
            return 0;
        } catch (UsageException e) {
            err.println("procwatch tree: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch tree: " + e.getMessage());
            return 1;
        }
    }

    private static boolean hasUser(ProcRow r, int uid, Map<Integer, List<ProcRow>> kids) {
        if (r.euid == uid) {
            return true;
        }
        for (ProcRow k : kids.getOrDefault(r.pid, List.of())) {
            if (hasUser(k, uid, kids)) {
                return true;
            }
        }
        return false;
    }

    private static void print(PrintStream out, ProcRow r, String indent, boolean last, boolean top,
                              Map<Integer, List<ProcRow>> kids, java.util.function.Predicate<ProcRow> keep,
                              boolean args, boolean ascii) {
        String branch = top ? "" : (last ? (ascii ? "`-- " : "└─ ") : (ascii ? "|-- " : "├─ "));
        out.println(indent + branch + r.pid + " " + (args ? Printable.args(r.args()) : Printable.text(r.comm)));
        String childIndent = top ? "" : indent + (last ? "   " + (ascii ? " " : "") : (ascii ? "|   " : "│  "));
        List<ProcRow> children = kids.getOrDefault(r.pid, List.of()).stream().filter(keep).toList();
        for (int i = 0; i < children.size(); i++) {
            print(out, children.get(i), childIndent, i == children.size() - 1, false, kids, keep, args, ascii);
        }
    }

    private static Map<String, Object> json(ProcRow r, Map<Integer, List<ProcRow>> kids,
                                            java.util.function.Predicate<ProcRow> keep) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", r.pid);
        m.put("ppid", r.ppid);
        m.put("user", r.euid < 0 ? null : Names.user(r.euid));
        m.put("comm", r.comm);
        m.put("args", r.args());
        List<Object> children = new ArrayList<>();
        for (ProcRow k : kids.getOrDefault(r.pid, List.of())) {
            if (keep.test(k)) {
                children.add(json(k, kids, keep));
            }
        }
        m.put("children", children);
        return m;
    }
}
