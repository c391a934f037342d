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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code procwatch ps}: procps ps syntax (UNIX -ef, BSD aux, -o FORMAT, --sort, --forest), answered
 * from the daemon's table instead of a /proc scan.
 */
final class PsCommand {
    static final String HELP = """
            Usage: procwatch ps [options]
            Report a snapshot of the current processes, like procps ps, from the procwatch daemon.

            Selection (several are combined with OR, as in ps):
              -e, -A            all processes              a / x / ax   BSD: with a tty / without / all
              -p, --pid LIST    by process id              -u, --user LIST   by effective user
              -U LIST           by real user               -C LIST           by command name
              --ppid LIST       by parent id               -t LIST           by terminal (pts/0, tty1)
            Narrowing (each one ANDs with the above; alone, it narrows all processes):
              --cgroup PATH     in this cgroup or below it (any hierarchy's path, e.g. /system.slice)
              --container ID    in a container (id prefix, docker:0123456789ab, or an lxc name)
              --unit NAME       in a systemd unit or user unit (cron.service)   --pod UID  in a pod
            Format:
              -f  full   -F  extra full   -l  long   -j  jobs   u  BSD user   j  BSD jobs
              -o, --format FMT  columns, e.g. -o pid,ppid,user,stat,rss,comm,args   (pid= hides a header,
                                comm:20 sets a width)
              -L  one row per thread (LWP, NLWP)    -T  threads (SPID)
              --sort KEYS       e.g. --sort=-rss,pid        --forest, f  process tree
              --no-headers, h   no header line             -w, -ww      do not cut lines to the terminal
              --json            JSON array of objects (keys are the fields' JSON names)
              --socket PATH     daemon socket (default /run/procwatch/procwatch.sock or $PROCWATCH_SOCKET)
              --local           read /proc directly, without the daemon
            Examples:
              procwatch ps -ef                    procwatch ps aux --sort=-%cpu
              procwatch ps -o pid= -p 1           procwatch ps -eo pid,ppid,user,stat,rss,comm,args
              procwatch ps -u root --forest       procwatch ps -C sshd --json
            Fields: {fields}
            """;

    /** The widest column -o NAME:WIDTH may ask for. */
    static final int MAX_WIDTH = 65535;

    private boolean all;
    private boolean bsdA;
    private boolean bsdX;
    private boolean bsdStyle;
    private final List<Integer> pids = new ArrayList<>();
    private final List<Integer> ppids = new ArrayList<>();
    private final List<Integer> euids = new ArrayList<>();
    private final List<Integer> ruids = new ArrayList<>();
    private final List<String> commands = new ArrayList<>();
    private final List<Integer> ttys = new ArrayList<>();
    private final List<String> formats = new ArrayList<>();
    /** --cgroup, --container, --unit, --pod: narrowing by cgroup membership (CgroupFilter). */
    private final CgroupFilter cgroupFilter = new CgroupFilter();
    private String preset;
    private boolean threads;
    private boolean threadsSpid;
    private String sort;
    private boolean forest;
    /** -H: the forest indented two spaces a level, without art (procps's UNIX style). */
    private boolean unixForest;
    private boolean noHeaders;
    private boolean wide;
    private boolean json;
    private boolean local;
    private String socket;

    static int run(List<String> args, PrintStream out, PrintStream err) {
        PsCommand ps = new PsCommand();
        try {
            ps.parse(args);
        } catch (UsageException e) {
            err.println("procwatch ps: " + e.getMessage());
            err.println("Try 'procwatch ps --help'.");
            return 2;
        } catch (HelpRequested h) {
            out.print(HELP.replace("{fields}", String.join(" ", Fields.all().keySet())));
            return 0;
        }
        try {
            return ps.execute(out, err);
        } catch (UsageException e) {
            err.println("procwatch ps: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch ps: " + e.getMessage());
            return 1;
        }
    }

    static final class HelpRequested extends Exception {
    }

    private void parse(List<String> args) throws UsageException, HelpRequested {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--help")) {
                throw new HelpRequested();
            }
            if (a.startsWith("--")) {
                String name = a;
                String val = null;
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    val = a.substring(eq + 1);
                }
                switch (name) {
                    case "--pid" -> pids.addAll(ints("--pid", val != null ? val : arg(args, ++i, a)));
                    case "--ppid" -> ppids.addAll(ints("--ppid", val != null ? val : arg(args, ++i, a)));
                    case "--cgroup", "--container", "--unit", "--pod" ->
                            cgroupFilter.add(name.substring(2), val != null ? val : arg(args, ++i, a));
                    case "--user" -> euids.addAll(users("--user", val != null ? val : arg(args, ++i, a)));
                    case "--User" -> ruids.addAll(users("--User", val != null ? val : arg(args, ++i, a)));
                    case "--format" -> formats.add(val != null ? val : arg(args, ++i, a));
                    case "--sort" -> sort = val != null ? val : arg(args, ++i, a);
                    case "--forest" -> forest = true;
                    case "--no-headers", "--no-heading" -> noHeaders = true;
                    case "--json" -> json = true;
                    case "--local" -> local = true;
                    case "--socket" -> socket = val != null ? val : arg(args, ++i, a);
                    case "--cols", "--columns", "--width" -> {
                        if (val == null) {
                            i++;
                        }
                        wide = true;
                    }
                    default -> throw new UsageException("unknown option " + a);
                }
            } else if (a.startsWith("-") && a.length() > 1) {
                for (int k = 1; k < a.length(); k++) {
                    char c = a.charAt(k);
                    String rest = a.substring(k + 1);
                    switch (c) {
                        case 'e', 'A' -> all = true;
                        case 'f' -> preset = preset != null && preset.equals("l") ? "lf" : "f";
                        case 'F' -> preset = "F";
                        case 'l' -> preset = preset != null && preset.equals("f") ? "lf" : "l";
                        case 'j' -> preset = "j";
                        case 'L' -> threads = true;
                        case 'T' -> {
                            threads = true;
                            threadsSpid = true;
                        }
                        case 'H' -> {
                            forest = true;
                            unixForest = true;
                        }
                        case 'w' -> wide = true;
                        case 'a', 'd', 'N', 'M', 'Z', 'y', 'c' -> {
                            // -a/-d (all but leaders) approximated as all with a tty / all
                            if (c == 'd') {
                                all = true;
                            }
                        }
                        case 'p', 'u', 'U', 'C', 't', 'o', 'q', 'g', 's' -> {
                            String v = !rest.isEmpty() ? rest : arg(args, ++i, "-" + c);
                            switch (c) {
                                case 'p', 'q' -> pids.addAll(ints("-" + c, v));
                                case 'u' -> euids.addAll(users("-u", v));
                                case 'U' -> ruids.addAll(users("-U", v));
                                case 'C' -> commands.addAll(List.of(v.split(",")));
                                case 't' -> ttys.addAll(terminals(v));
                                case 'o' -> formats.add(v);
                                default -> throw new UsageException("-" + c + " is not supported");
                            }
                            k = a.length();
                        }
                        default -> throw new UsageException("unknown option -" + c);
                    }
                }
            } else if (!a.isEmpty() && a.chars().allMatch(ch -> Character.isDigit(ch) || ch == ',')) {
                pids.addAll(ints("process id", a)); // "ps 1234"
            } else {
                bsdStyle = true;
                for (int k = 0; k < a.length(); k++) {
                    char c = a.charAt(k);
                    switch (c) {
                        case 'a' -> bsdA = true;
                        case 'x' -> bsdX = true;
                        case 'u' -> preset = "u";
                        case 'j' -> preset = "bj";
                        case 'l' -> preset = "bl";
                        case 'v' -> preset = "v";
                        case 'f' -> forest = true;
                        case 'w' -> wide = true;
                        case 'h' -> noHeaders = true;
                        case 'e', 'c', 'S', 'r', 'n' -> {
                            // accepted and ignored (environment, true command name, sums, running, numeric)
                        }
                        case 'H', 'm' -> threads = true;
                        case 'o', 'O' -> {
                            formats.add(k + 1 < a.length() ? a.substring(k + 1) : arg(args, ++i, "o"));
                            k = a.length();
                        }
                        case 'p' -> {
                            pids.addAll(ints("p", k + 1 < a.length() ? a.substring(k + 1) : arg(args, ++i, "p")));
                            k = a.length();
                        }
                        case 'U' -> {
                            euids.addAll(users("U", k + 1 < a.length() ? a.substring(k + 1) : arg(args, ++i, "U")));
                            k = a.length();
                        }
                        case 't' -> {
                            ttys.addAll(terminals(k + 1 < a.length() ? a.substring(k + 1) : arg(args, ++i, "t")));
                            k = a.length();
                        }
                        case 'k' -> {
                            sort = k + 1 < a.length() ? a.substring(k + 1) : arg(args, ++i, "k");
                            k = a.length();
                        }
                        default -> throw new UsageException("unknown BSD option '" + c + "' in " + a);
                    }
                }
            }
        }
    }

    private static String arg(List<String> args, int i, String opt) throws UsageException {
        if (i >= args.size()) {
            throw new UsageException("option " + opt + " needs an argument");
        }
        return args.get(i);
    }

    /** A list of process ids, each 1 to 2147483647 as in procps. */
    private static List<Integer> ints(String opt, String v) throws UsageException {
        List<Integer> out = new ArrayList<>();
        for (String s : v.split("[,\\s]+")) {
            if (!s.isEmpty()) {
                out.add(Opts.pid(opt, s));
            }
        }
        if (out.isEmpty()) {
            throw new UsageException(opt + ": empty process id list");
        }
        return out;
    }

    private static List<Integer> users(String opt, String v) throws UsageException {
        List<Integer> out = new ArrayList<>();
        for (String s : v.split("[,\\s]+")) {
            if (!s.isEmpty()) {
                out.add(Opts.uid(opt, s));
            }
        }
        if (out.isEmpty()) {
            throw new UsageException(opt + ": empty user list");
        }
        return out;
    }

    private static List<Integer> terminals(String v) throws UsageException {
        List<Integer> out = new ArrayList<>();
        for (String s : v.split(",")) {
            int n = s.equals("?") || s.equals("-") ? 0 : Terminals.number(s);
            if (n < 0) {
                throw new UsageException("unknown terminal " + s);
            }
            out.add(n);
        }
        return out;
    }

    /** The columns: -o formats, else the preset (-f, -l, u, j...), else the default. */
    List<Field> columns(List<String> headers) throws UsageException {
        String fmt;
        if (!formats.isEmpty()) {
            fmt = String.join(",", formats);
        } else {
            fmt = switch (preset == null ? "" : preset) {
                case "f" -> threads ? "user:UID,pid,ppid,lwp,c,nlwp,stime,tname,time,args:CMD"
                        : "user:UID,pid,ppid,c,stime,tname,time,args:CMD";
                case "F" -> threads ? "user:UID,pid,ppid,lwp,c,nlwp,sz,rss,psr,stime,tname,time,args:CMD"
                        : "user:UID,pid,ppid,c,sz,rss,psr,stime,tname,time,args:CMD";
                case "l" -> "f,state,uid,pid,ppid,c,opri,ni,addr,sz,wchan,tname,time,comm:CMD";
                case "lf" -> "f,state,user:UID,pid,ppid,c,opri,ni,addr,sz,wchan,stime,tname,time,args:CMD";
                case "j" -> "pid,pgid,sid,tname,time,comm:CMD";
                case "u" -> "user,pid,%cpu,%mem,vsz,rss,tname,stat,bsdstart,bsdtime,args:COMMAND";
                case "bj" -> "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args:COMMAND";
                case "bl" -> "f,uid,pid,ppid,opri,ni,vsz,rss,wchan,stat,tname,bsdtime,args:COMMAND";
                case "v" -> "pid,tname,stat,bsdtime,maj_flt,vsz,rss,%mem,args:COMMAND";
                default -> bsdStyle ? "pid,tname,stat,bsdtime,args:COMMAND"
                        : threads ? "pid," + (threadsSpid ? "spid" : "lwp") + ",tname,time,comm:CMD"
                        : "pid,tname,time,comm:CMD";
            };
        }
        List<Field> out = new ArrayList<>();
        if (!formats.isEmpty() && fmt.replaceAll("[,\\s]", "").isEmpty()) {
            throw new UsageException("-o: empty format list (give at least one field, e.g. -o pid,comm)");
        }
        for (String spec : fmt.split("[,\\s]+")) {
            if (spec.isEmpty()) {
                continue;
            }
            String name = spec;
            String header = null;
            int width = -1;
            int eq = spec.indexOf('=');
            if (eq >= 0) {
                name = spec.substring(0, eq);
                header = spec.substring(eq + 1);
            }
            int colon = name.indexOf(':');
            if (colon >= 0) {
                String w = name.substring(colon + 1);
                name = name.substring(0, colon);
                if (w.chars().allMatch(Character::isDigit) && !w.isEmpty()) {
                    width = (int) Opts.number("-o " + name + ":WIDTH", w, 1, MAX_WIDTH);
                } else {
                    header = w; // preset shorthand: field:HEADER
                }
            }
            Field f = Fields.get(name);
            if (f == null) {
                throw new UsageException("unknown field '" + name + "' in format (see procwatch ps --help)");
            }
            if (width > 0) {
                f = f.withWidth(width);
            }
            if (header != null) {
                f = f.withHeader(header);
                if (!f.left() && header.length() > f.width()) {
                    f = f.withWidth(header.length());
                }
            }
            out.add(f);
            headers.add(f.header());
        }
        return out;
    }

    private int execute(PrintStream out, PrintStream err) throws IOException, UsageException {
        List<String> headers = new ArrayList<>();
        List<Field> fields = columns(headers);
        Set<Field> needed = new LinkedHashSet<>(fields);
        List<Field> sortKeys = new ArrayList<>();
        List<Boolean> descending = new ArrayList<>();
        if (sort != null) {
            for (String k : sort.split(",")) {
                if (k.isEmpty()) {
                    continue;
                }
                boolean desc = k.startsWith("-");
                String name = k.startsWith("-") || k.startsWith("+") ? k.substring(1) : k;
                Field f = Fields.get(name);
                if (f == null) {
                    throw new UsageException("unknown sort key '" + name + "'");
                }
                sortKeys.add(f);
                descending.add(desc);
                needed.add(f);
            }
        }
        if (cgroupFilter.active()) {
            needed.add(Fields.get("cgroup")); // the filter reads the membership, shown or not
        }
        long groups = Fields.groupsFor(new ArrayList<>(needed)) | Groups.CRED;
        List<ProcRow> rows;
        if (local) {
            rows = LocalSnapshot.read(groups | Groups.STAT, threads, Fields.itemsFor(new ArrayList<>(needed)));
        } else {
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(socket), true, err)) {
                // always fresh: state, process group and terminal change without an event
                int flags = Wire.F_FRESH | (threads ? Wire.F_THREADS : 0);
                rows = snapshot(c, serverSelector(), groups, flags, Fields.itemsFor(new ArrayList<>(needed)));
            } catch (DaemonUnavailableException e) {
                err.println("procwatch ps: " + e.getMessage());
                err.println("procwatch ps: reading /proc directly instead (slower; sees no exited processes)");
                rows = LocalSnapshot.read(groups | Groups.STAT, threads, Fields.itemsFor(new ArrayList<>(needed)));
            }
        }
        rows = select(rows);
        Fields.Ctx ctx = Fields.Ctx.current();
        Comparator<ProcRow> order = Comparator.comparingInt((ProcRow r) -> r.pid).thenComparingInt(ProcRow::id);
        // procps draws a forest's siblings in start order unless --sort says otherwise
        Comparator<ProcRow> forestOrder = Comparator.comparingLong((ProcRow r) -> r.startTicks).thenComparing(order);
        if (!sortKeys.isEmpty()) {
            order = sortOrder(sortKeys, descending, ctx);
            forestOrder = order;
        }
        rows.sort(order);
        Map<ProcRow, String> prefixes = forest ? forest(rows, forestOrder, unixForest) : Map.of();
        if (forest) {
            rows = new ArrayList<>(prefixes.keySet());
        }
        if (json) {
            out.println(Json.value(Columns.json(fields, rows, ctx)));
            return rows.isEmpty() ? 1 : 0;
        }
        int maxWidth = !wide && Invocation.current().consoleTerminal() ? terminalWidth() : 0;
        List<Columns.Col> cols = Columns.of(fields);
        StringBuilder buf = new StringBuilder();
        if (!noHeaders && Columns.anyHeader(cols)) {
            Columns.print(out, Columns.header(cols), maxWidth);
        }
        for (ProcRow r : rows) {
            Columns.print(out, Columns.row(cols, r, ctx, prefixes.get(r)), maxWidth);
        }
        out.flush();
        return rows.isEmpty() ? 1 : 0;
    }

    /**
     * The daemon's answer for a selector; a pid or uid list longer than one selector may hold
     * (Selector.MAX_PIDS) is asked for in pages, one SNAPSHOT per page on the same connection,
     * and the pages merged in pid order (each pid asked for once, so no row comes twice).
     */
    static List<ProcRow> snapshot(ProcwatchClient c, Selector sel, long groups, int flags) throws IOException {
        return snapshot(c, sel, groups, flags, List.of());
    }

    static List<ProcRow> snapshot(ProcwatchClient c, Selector sel, long groups, int flags, List<String> items)
            throws IOException {
        List<Integer> pids = new ArrayList<>(new java.util.TreeSet<>(sel.pids()));
        List<Integer> uids = List.copyOf(new LinkedHashSet<>(sel.uids()));
        if (pids.size() <= Selector.MAX_PIDS && uids.size() <= Selector.MAX_PIDS) {
            return c.snapshot(sel.withPids(pids).withUids(uids), groups, flags, items).rows();
        }
        if (pids.size() > Selector.MAX_PIDS && uids.size() > Selector.MAX_PIDS) {
            // both long: ask for the pids only and let select() apply the users
            uids = List.of();
        }
        List<ProcRow> out = new ArrayList<>();
        boolean byPid = pids.size() > Selector.MAX_PIDS;
        List<Integer> list = byPid ? pids : uids;
        for (int from = 0; from < list.size(); from += Selector.MAX_PIDS) {
            List<Integer> page = list.subList(from, Math.min(list.size(), from + Selector.MAX_PIDS));
            Selector s = byPid ? sel.withPids(page).withUids(uids) : sel.withPids(pids).withUids(page);
            out.addAll(c.snapshot(s, groups, flags, items).rows());
        }
        out.sort(Comparator.comparingInt((ProcRow r) -> r.pid).thenComparingInt(ProcRow::id));
        return out;
    }

    /** Narrows the daemon's work where one criterion alone decides (a pid list, one user...). */
    /** What the daemon can narrow by (the membership always ANDs, so it always narrows), then the rest here. */
    private Selector serverSelector() {
        return plainServerSelector().withMember(cgroupFilter.membership());
    }

    private Selector plainServerSelector() {
        boolean onlyPids = !pids.isEmpty() && ppids.isEmpty() && euids.isEmpty() && ruids.isEmpty()
                && commands.isEmpty() && ttys.isEmpty() && !all;
        if (onlyPids) {
            return Selector.all().withPids(pids);
        }
        boolean onlyUsers = !euids.isEmpty() && pids.isEmpty() && ppids.isEmpty() && ruids.isEmpty()
                && commands.isEmpty() && ttys.isEmpty() && !all && !bsdA && !bsdX;
        if (onlyUsers) {
            return Selector.all().withUids(euids);
        }
        return Selector.all();
    }

    /** ps selection: the list options are unioned; with none, ps's defaults apply. */
    private List<ProcRow> select(List<ProcRow> rows) {
        boolean lists = !pids.isEmpty() || !ppids.isEmpty() || !euids.isEmpty() || !ruids.isEmpty()
                || !commands.isEmpty() || !ttys.isEmpty();
        // sets: ps -p may list thousands of pids
        Set<Integer> pids = new HashSet<>(this.pids);
        Set<Integer> ppids = new HashSet<>(this.ppids);
        Set<Integer> euids = new HashSet<>(this.euids);
        Set<Integer> ruids = new HashSet<>(this.ruids);
        Set<String> commands = new HashSet<>(this.commands);
        Set<Integer> ttys = new HashSet<>(this.ttys);
        int myUid = Invocation.current().uid();
        int myTty = Invocation.current().ttyNr();
        List<ProcRow> out = new ArrayList<>();
        for (ProcRow r : rows) {
            boolean keep;
            if (cgroupFilter.active() && !cgroupFilter.matches(r)) {
                keep = false;
            } else if (all || (bsdA && bsdX) || (cgroupFilter.active() && !lists && !bsdA && !bsdX)) {
                keep = true;
            } else if (lists || bsdA || bsdX) {
                keep = pids.contains(r.pid) || ppids.contains(r.ppid) || euids.contains(r.euid)
                        || ruids.contains(r.ruid) || commands.contains(r.comm) || ttys.contains(r.tty)
                        || (bsdA && r.tty > 0) || (bsdX && !bsdA && r.euid == myUid);
            } else if (bsdStyle) {
                keep = r.euid == myUid && r.tty > 0 && r.tty == myTty; // plain BSD "ps": own with a tty
            } else {
                keep = r.euid == myUid && r.tty == Math.max(myTty, 0); // ps: same user, same terminal
            }
            if (keep) {
                out.add(r);
            }
        }
        return out;
    }

    private static int terminalWidth() {
        try {
            String c = Invocation.current().getenv("COLUMNS");
            if (c != null) {
                return Integer.parseInt(c.trim());
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        return 80;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Comparator<ProcRow> sortOrder(List<Field> keys, List<Boolean> desc, Fields.Ctx ctx) {
        Comparator<ProcRow> c = null;
        for (int i = 0; i < keys.size(); i++) {
            Field f = keys.get(i);
            Comparator<ProcRow> k = (a, b) -> {
                Object x = f.value().apply(a, ctx);
                Object y = f.value().apply(b, ctx);
                if (x == null || y == null) {
                    return x == null ? (y == null ? 0 : -1) : 1;
                }
                if (x instanceof Number nx && y instanceof Number ny) {
                    return Double.compare(nx.doubleValue(), ny.doubleValue());
                }
                return ((Comparable) x.toString()).compareTo(y.toString());
            };
            if (desc.get(i)) {
                k = k.reversed();
            }
            c = c == null ? k : c.thenComparing(k);
        }
        return c.thenComparingInt(r -> r.pid);
    }

    /**
     * The forest as procps 4.0 draws it. Rows are ordered by parent, then by start time (or by the
     * --sort keys); trees are drawn from the roots (rows whose parent is not shown) taken last to
     * first, so kthreadd's tree comes before init's; each process's children follow it, drawn
     * one level deeper with {@code " \_ "}, and {@code " |  "} under an ancestor that has more
     * children to come. With {@code --forest} and {@code f} (not {@code -H}) init's children stay
     * at init's level, as procps keeps them.
     *
     * @param unixStyle -H: two spaces a level, no art
     */
    static Map<ProcRow, String> forest(List<ProcRow> rows, Comparator<ProcRow> order, boolean unixStyle) {
        List<ProcRow> sorted = new ArrayList<>(rows);
        sorted.sort(Comparator.comparingInt(PsCommand::treeParent).thenComparing(order));
        Map<Integer, ProcRow> byPid = new HashMap<>();
        for (ProcRow r : sorted) {
            if (r.tid < 0 || r.tid == r.pid) {
                byPid.putIfAbsent(r.pid, r);
            }
        }
        Map<Integer, List<ProcRow>> children = new HashMap<>();
        List<ProcRow> roots = new ArrayList<>();
        for (ProcRow r : sorted) {
            ProcRow parent = byPid.get(treeParent(r));
            if (parent != null && parent != r) {
                children.computeIfAbsent(parent.pid, k -> new ArrayList<>()).add(r);
            } else {
                roots.add(r);
            }
        }
        Map<ProcRow, String> out = new java.util.LinkedHashMap<>();
        Set<ProcRow> seen = new HashSet<>();
        StringBuilder art = new StringBuilder();
        for (ProcRow root : roots.reversed()) {
            walk(root, 0, false, art, children, out, seen, unixStyle);
        }
        return out;
    }

    /** The row a row hangs under: a thread's process, a process's parent. */
    private static int treeParent(ProcRow r) {
        return r.tid >= 0 && r.tid != r.pid ? r.pid : r.ppid;
    }

    /**
     * Draws {@code r} at {@code level}. {@code art} holds one mark per level above: 'L' or '+'
     * (this row is the last child, or has siblings after it), then ' ' or '|' for its children.
     */
    private static void walk(ProcRow r, int level, boolean haveSibling, StringBuilder art,
                             Map<Integer, List<ProcRow>> children, Map<ProcRow, String> out, Set<ProcRow> seen,
                             boolean unixStyle) {
        if (!seen.add(r)) {
            return;
        }
        art.setLength(level);
        if (level > 0) {
            art.setCharAt(level - 1, haveSibling ? '+' : 'L');
        }
        out.put(r, render(art, unixStyle));
        if (r.tid >= 0 && r.tid != r.pid) {
            return;
        }
        List<ProcRow> kids = children.getOrDefault(r.pid, List.of());
        if (kids.isEmpty()) {
            return;
        }
        if (level > 0) {
            art.setCharAt(level - 1, haveSibling ? '|' : ' ');
        }
        int childLevel = r.pid == 1 && !unixStyle ? level : level + 1;
        for (int i = 0; i < kids.size(); i++) {
            art.setLength(level);
            walk(kids.get(i), childLevel, i + 1 < kids.size(), art, children, out, seen, unixStyle);
        }
        art.setLength(level);
    }

    private static String render(CharSequence art, boolean unixStyle) {
        StringBuilder b = new StringBuilder(art.length() * 4);
        for (int i = 0; i < art.length(); i++) {
            b.append(unixStyle ? "  " : switch (art.charAt(i)) {
                case '|' -> " |  ";
                case 'L', '+' -> " \\_ ";
                default -> "    ";
            });
        }
        return b.toString();
    }
}
