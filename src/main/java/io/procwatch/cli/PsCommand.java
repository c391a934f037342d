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
              -a, -d            with a tty / all, without session leaders     -N  all but the selected
              -p, --pid LIST    by process id              -u, --user LIST   by effective user
              -U LIST           by real user               -C LIST           by command name
              --ppid LIST       by parent id               -t LIST           by terminal (pts/0, tty1)
              -s, --sid LIST    by session
            Narrowing (each one ANDs with the above; alone, it narrows all processes):
              --cgroup PATH     in this cgroup or below it (any hierarchy's path, e.g. /system.slice)
              --container ID    in a container (id prefix, docker:0123456789ab, or an lxc name)
              --unit NAME       in a systemd unit or user unit (cron.service)   --pod UID  in a pod
              --ns TYPE:INODE   in a namespace: TYPE pid net mnt ipc uts user cgroup time (or netns...),
                                INODE as the NETNS... columns or readlink /proc/PID/ns/TYPE show it
            Format (mixed as procps mixes them: -fl, -lj, -Fly, -f x ...):
              -f  full   -F  extra full   -l  long   -j  jobs   -y  RSS for F/ADDR (with -l)
              -c  scheduling class   -P  processor     u  v  j  l  s   BSD user, memory, jobs, long, signals
              -o, --format FMT  columns, e.g. -o pid,ppid,user,stat,rss,comm,args   (pid= hides a header,
                                comm:20 sets a width)     -O FMT, O FMT  PID, FMT, then the default's rest
              -L  one row per thread (LWP, NLWP)    -T  threads (SPID)    H  threads as processes
              --sort KEYS       e.g. --sort=-rss,pid        --forest, f  process tree   -H  indented tree
              --no-headers, h   no header line             -w, -ww      do not cut lines to the terminal
              e  environment after the command             c  the command's name for its line
              --json            JSON array of objects (keys are the fields' JSON names)
              --socket PATH     daemon socket (default /run/procwatch/procwatch.sock or $PROCWATCH_SOCKET)
              --local           read /proc directly, without the daemon
              --at WHEN         the processes as they were at WHEN (10m, 2h, "2026-11-24 03:12:07",
                                @EPOCH[.mmm]), from the daemon's journal; exit 1 if WHEN is in a gap
            Examples:
              procwatch ps -ef                    procwatch ps aux --sort=-%cpu
              procwatch ps -o pid= -p 1           procwatch ps -eo pid,ppid,user,stat,rss,comm,args
              procwatch ps -u root --forest       procwatch ps -C sshd --json
            Fields: {fields}
            """;

    /** The widest column -o NAME:WIDTH may ask for. */
    static final int MAX_WIDTH = 65535;

    // procps's option model (src/ps/parser.c, sortformat.c): which format flags, output modifiers and
    // thread flags the options set decides the columns, exactly as procps decides them
    static final int FF_UF = 1, FF_UL = 2, FF_BJ = 4, FF_BL = 8, FF_BS = 16, FF_BU = 32, FF_BV = 64, FF_LX = 128;
    static final int FM_F = 1, FM_J = 2, FM_Y = 4, FM_C = 8, FM_P = 16, FM_M = 32;
    static final int TF_U_L = 1, TF_U_T = 2, TF_U_M = 4, TF_B_H = 8, TF_B_M = 16;

    /** What procps prints after "error: MESSAGE" when it rejects a command line (to stderr, exit 1). */
    static final String PROCPS_USAGE = """

            Usage:
             ps [options]

             Try 'ps --help <simple|list|output|threads|misc|all>'
              or 'ps --help <s|l|o|t|m|a>'
             for additional help text.

            For more details see ps(1).
            """;

    /** A command line procps rejects, with procps's message; printed as "error: MESSAGE", exit 1. */
    static final class ProcpsError extends Exception {
        ProcpsError(String message) {
            super(message);
        }
    }

    private boolean all;
    private boolean bsdA;
    private boolean bsdX;
    /** Any BSD option or bare pid: procps's prefer_bsd_defaults (BSD columns, BSD default selection). */
    private boolean bsdStyle;
    /** The second parse procps makes when the first fails: every option read as BSD. */
    private boolean forceBsd;
    private int formatFlags;
    private int modifiers;
    private int threadFlags;
    /** BSD e: the environment after the command. */
    private boolean bsdE;
    /** BSD c: the command's name in the command columns. */
    private boolean bsdC;
    /** -a / -d: all with a terminal / all, both without session leaders. */
    private boolean unixA;
    private boolean unixD;
    private boolean negate;
    private boolean runningOnly;
    private final List<Integer> pids = new ArrayList<>();
    private final List<Integer> ppids = new ArrayList<>();
    private final List<Integer> sessions = new ArrayList<>();
    private final List<Integer> euids = new ArrayList<>();
    private final List<Integer> ruids = new ArrayList<>();
    private final List<String> commands = new ArrayList<>();
    private final List<Integer> ttys = new ArrayList<>();
    /** Format and sort options in command-line order: {"o"|"-O"|"O"|"sort", text}. */
    private final List<String[]> sfOptions = new ArrayList<>();
    /** --cgroup, --container, --unit, --pod: narrowing by cgroup membership (CgroupFilter). */
    private final CgroupFilter cgroupFilter = new CgroupFilter();
    /** The columns procps's rules give for the options (set by parse). */
    private List<Field> fields;
    private boolean threads;
    private String sort;
    private boolean forest;
    /** -H: the forest indented two spaces a level, without art (procps's UNIX style). */
    private boolean unixForest;
    private boolean noHeaders;
    private boolean headerChosen;
    private boolean wide;
    private boolean json;
    private boolean local;
    private String socket;
    /** --at WHEN: the table as it was then, from the daemon's journal (docs/journal.md). */
    private String at;

    static int run(List<String> args, PrintStream out, PrintStream err) {
        PsCommand ps = new PsCommand();
        try {
            try {
                ps.parse(args, false);
            } catch (ProcpsError first) {
                // procps reads the whole line again as BSD options; if that fails too, the first error stands
                PsCommand bsd = new PsCommand();
                try {
                    bsd.parse(args, true);
                    ps = bsd;
                } catch (ProcpsError | UsageException second) {
                    err.print("error: " + first.getMessage() + "\n" + PROCPS_USAGE);
                    err.flush();
                    return 1;
                }
            }
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

    /** An option's argument: the rest of this word, else the next word (none if it is empty or absent). */
    private static String optArg(List<String> args, int[] i, String word, int k) {
        if (k + 1 < word.length()) {
            return word.substring(k + 1);
        }
        if (i[0] + 1 >= args.size() || args.get(i[0] + 1).isEmpty()) {
            return null;
        }
        return args.get(++i[0]);
    }

    private static String need(String v, String message) throws ProcpsError {
        if (v == null) {
            throw new ProcpsError(message);
        }
        return v;
    }

    private void parse(List<String> args, boolean forceBsd) throws UsageException, HelpRequested, ProcpsError {
        this.forceBsd = forceBsd;
        int[] i = {0};
        for (; i[0] < args.size(); i[0]++) {
            String a = args.get(i[0]);
            if (a.equals("--help")) {
                throw new HelpRequested();
            }
            if (a.startsWith("--")) {
                gnuOption(args, i, a);
            } else if (a.startsWith("-") && a.length() > 1 && !Character.isDigit(a.charAt(1))) {
                if (forceBsd) {
                    bsdStyle = true;
                    bsdOption(args, i, a, 1);
                } else {
                    sysvOption(args, i, a);
                }
            } else if (!a.isEmpty() && a.chars().allMatch(ch -> Character.isDigit(ch) || ch == ',')) {
                bsdStyle = true;
                pids.addAll(ints("process id", a)); // "ps 1234"
            } else if (!a.isEmpty() && !a.startsWith("-")) {
                if (forceBsd) {
                    throw new ProcpsError("way bad"); // procps's second parse takes only dashed words as BSD
                }
                bsdStyle = true;
                bsdOption(args, i, a, 0);
            } else {
                throw new ProcpsError("garbage option");
            }
        }
        threadCheck();
        fields = formatFromOptions();
    }

    private void gnuOption(List<String> args, int[] i, String a) throws UsageException, ProcpsError {
        String name = a;
        String val = null;
        int eq = a.indexOf('=');
        if (eq > 0) {
            name = a.substring(0, eq);
            val = a.substring(eq + 1);
        }
        java.util.function.Supplier<String> next = () -> i[0] + 1 < args.size() ? args.get(++i[0]) : null;
        switch (name) {
            case "--pid" -> pids.addAll(ints("--pid", val != null ? val : arg(args, ++i[0], a)));
            case "--ppid" -> ppids.addAll(ints("--ppid", val != null ? val : arg(args, ++i[0], a)));
            case "--sid" -> sessions.addAll(ints("--sid", val != null ? val : arg(args, ++i[0], a)));
            case "--cgroup", "--container", "--unit", "--pod", "--ns" ->
                    cgroupFilter.add(name.substring(2), val != null ? val : arg(args, ++i[0], a));
            case "--user" -> euids.addAll(users("--user", val != null ? val : arg(args, ++i[0], a)));
            case "--User" -> ruids.addAll(users("--User", val != null ? val : arg(args, ++i[0], a)));
            case "--tty" -> ttys.addAll(terminals(val != null ? val : arg(args, ++i[0], a)));
            case "--format" -> sfOptions.add(new String[] {"o",
                    need(val != null ? val : next.get(), "format specification must follow --format")});
            case "--sort" -> sfOptions.add(new String[] {"sort",
                    need(val != null ? val : next.get(), "long sort specification must follow --sort")});
            case "--forest" -> {
                forest = true;
                unixForest = false;
            }
            case "--deselect" -> negate = true;
            case "--no-headers", "--no-heading", "--no-header", "--no-headings", "--noheader", "--noheaders",
                 "--noheading", "--noheadings" -> {
                if (headerChosen) {
                    throw new ProcpsError("only one heading option may be specified");
                }
                headerChosen = true;
                noHeaders = true;
            }
            case "--headers", "--header", "--heading", "--headings" -> {
                if (headerChosen) {
                    throw new ProcpsError("only one heading option may be specified");
                }
                headerChosen = true;
            }
            case "--json" -> json = true;
            case "--at" -> at = val != null ? val : arg(args, ++i[0], a);
            case "--local" -> local = true;
            case "--socket" -> socket = val != null ? val : arg(args, ++i[0], a);
            case "--cols", "--columns", "--width", "--rows", "--lines" -> {
                if (val == null) {
                    i[0]++;
                }
                wide = true;
            }
            default -> throw new UsageException("unknown option " + a);
        }
    }

    private void sysvOption(List<String> args, int[] i, String a) throws UsageException, ProcpsError {
        for (int k = 1; k < a.length(); k++) {
            char c = a.charAt(k);
            switch (c) {
                case 'e', 'A' -> all = true;
                case 'f' -> formatFlags |= FF_UF;
                case 'F' -> {
                    modifiers |= FM_F;
                    formatFlags |= FF_UF;
                }
                case 'l' -> formatFlags |= FF_UL;
                case 'j' -> modifiers |= FM_J;
                case 'y' -> modifiers |= FM_Y;
                case 'c' -> modifiers |= FM_C;
                case 'P' -> modifiers |= FM_P;
                case 'M', 'Z' -> modifiers |= FM_M;
                case 'L' -> threadFlags |= TF_U_L;
                case 'T' -> threadFlags |= TF_U_T;
                case 'm' -> threadFlags |= TF_U_M;
                case 'H' -> {
                    forest = true;
                    unixForest = true;
                }
                case 'w' -> wide = true;
                case 'a' -> unixA = true;
                case 'd' -> unixD = true;
                case 'N' -> negate = true;
                case 'x' -> throw new ProcpsError("must set personality to get -x option");
                case '-' -> throw new ProcpsError("embedded '-' among SysV options makes no sense");
                case 'p', 'q', 'u', 'U', 'C', 't', 's', 'o', 'O', 'g', 'G' -> {
                    String v = optArg(args, i, a, k);
                    switch (c) {
                        case 'p', 'q' -> pids.addAll(ints("-" + c, need(v, "list of process IDs must follow -" + c)));
                        case 'u' -> euids.addAll(users("-u", need(v, "list of users must follow -u")));
                        case 'U' -> ruids.addAll(users("-U", need(v, "list of real users must follow -U")));
                        case 'C' -> commands.addAll(List.of(need(v, "list of command names must follow -C").split(",")));
                        case 't' -> ttys.addAll(terminals(need(v, "list of terminals (pty, tty...) must follow -t")));
                        case 's' -> sessions.addAll(ints("-s", need(v, "list of session IDs must follow -s")));
                        case 'o' -> sfOptions.add(new String[] {"o", need(v, "format specification must follow -o")});
                        case 'O' -> sfOptions.add(new String[] {"-O", need(v, "format or sort specification must follow -O")});
                        default -> throw new UsageException("-" + c + " is not supported");
                    }
                    return;
                }
                default -> throw new ProcpsError("unsupported SysV option");
            }
        }
    }

    private void bsdOption(List<String> args, int[] i, String a, int from) throws UsageException, ProcpsError {
        for (int k = from; k < a.length(); k++) {
            char c = a.charAt(k);
            switch (c) {
                case 'a' -> bsdA = true;
                case 'x' -> bsdX = true;
                case 'u' -> formatFlags |= FF_BU;
                case 'j' -> formatFlags |= FF_BJ;
                case 'l' -> formatFlags |= FF_BL;
                case 'v' -> formatFlags |= FF_BV;
                case 's' -> formatFlags |= FF_BS;
                case 'X' -> formatFlags |= FF_LX;
                case 'f' -> {
                    forest = true;
                    unixForest = false;
                }
                case 'w' -> wide = true;
                case 'h' -> {
                    if (headerChosen) {
                        throw new ProcpsError("only one heading option may be specified");
                    }
                    headerChosen = true;
                    noHeaders = true;
                }
                case 'e' -> bsdE = true;
                case 'c' -> bsdC = true;
                case 'g', 'n' -> {
                    // all (session leaders too), numeric: no change to the output here
                }
                case 'r' -> runningOnly = true;
                case 'H' -> threadFlags |= TF_B_H;
                case 'm' -> {
                    if (forceBsd) {
                        throw new UsageException("BSD m (memory format) is not supported");
                    }
                    threadFlags |= TF_B_M;
                }
                case 'M' -> threadFlags |= TF_B_M;
                case 'Z' -> modifiers |= FM_M;
                case 'T' -> ttys.add(Math.max(Invocation.current().ttyNr(), 0));
                case 'W' -> throw new ProcpsError("obsolete W option not supported (you have a /dev/drum?)");
                case 'L', 'V', 'S' -> throw new UsageException("BSD option '" + c + "' is not supported");
                case '-' -> throw new ProcpsError("embedded '-' among BSD options makes no sense");
                case 'o', 'O', 'p', 'q', 'U', 't', 'k' -> {
                    String v = optArg(args, i, a, k);
                    switch (c) {
                        case 'o' -> sfOptions.add(new String[] {"o", need(v, "format specification must follow o")});
                        case 'O' -> sfOptions.add(new String[] {"O", need(v, "format or sort specification must follow O")});
                        case 'p', 'q' -> pids.addAll(ints(String.valueOf(c), need(v, "list of process IDs must follow " + c)));
                        case 'U' -> euids.addAll(users("U", need(v, "list of users must follow U")));
                        case 't' -> {
                            if (v == null) {
                                ttys.add(Math.max(Invocation.current().ttyNr(), 0)); // obsolete BSD syntax: this terminal
                            } else {
                                ttys.addAll(terminals(v));
                            }
                        }
                        default -> sfOptions.add(new String[] {"sort", need(v, "long sort specification must follow 'k'")});
                    }
                    return;
                }
                default -> {
                    if (Character.isDigit(c)) {
                        pids.addAll(ints("process id", a.substring(k)));
                        return;
                    }
                    throw new ProcpsError("unsupported option (BSD syntax)");
                }
            }
        }
    }

    /** procps's thread_option_check. */
    private void threadCheck() throws ProcpsError, UsageException {
        if (threadFlags == 0) {
            return;
        }
        if (forest) {
            throw new ProcpsError("thread display conflicts with forest display");
        }
        if ((threadFlags & TF_B_H) != 0 && (threadFlags & (TF_B_M | TF_U_M)) != 0) {
            throw new ProcpsError("thread flags conflict; can't use H with m or -m");
        }
        if ((threadFlags & TF_B_M) != 0 && (threadFlags & TF_U_M) != 0) {
            throw new ProcpsError("thread flags conflict; can't use both m and -m");
        }
        if ((threadFlags & TF_U_L) != 0 && (threadFlags & TF_U_T) != 0) {
            throw new ProcpsError("thread flags conflict; can't use both -L and -T");
        }
        if ((threadFlags & (TF_B_M | TF_U_M)) != 0) {
            throw new UsageException("m / -m (each process followed by its threads) is not supported; use -L, -T or H");
        }
        if ((threadFlags & (TF_U_T | TF_U_L)) != 0 && (threadFlags & TF_B_H) != 0) {
            throw new UsageException("-L/-T with H is not supported");
        }
        threads = true;
    }

    /** procps's process_sf_options: the user's formats, else the one the format flags and modifiers make. */
    private List<Field> formatFromOptions() throws UsageException, ProcpsError {
        List<Field> list = null;
        boolean parsedFormat = false;
        boolean parsedSort = false;
        for (String[] o : sfOptions) {
            switch (o[0]) {
                case "o" -> {
                    List<Field> f = parseFormat(o[1]);
                    list = list == null ? new ArrayList<>(f) : concat(list, f);
                    parsedFormat = true;
                }
                case "-O", "O" -> {
                    if (parsedFormat) {
                        throw new ProcpsError(o[0].equals("-O") ? "option -O can not follow other format options"
                                : "option O is neither first format nor sort order");
                    }
                    List<Field> f = new ArrayList<>(spec("pid"));
                    f.addAll(parseFormat(o[1]));
                    // procps's trailers after the user's columns (END_SYS5, END_BSD)
                    f.addAll(parseFormat(o[0].equals("-O") ? "state,tname,time,command" : "state,tname,cputime,comm"));
                    list = list == null ? f : concat(list, f);
                    parsedFormat = true;
                }
                default -> {
                    if (parsedSort) {
                        throw new ProcpsError("multiple sort options");
                    }
                    parsedSort = true;
                    sort = o[1];
                }
            }
        }
        if (list != null) {
            if (formatFlags != 0) {
                throw new ProcpsError("conflicting format options");
            }
            if (modifiers != 0) {
                throw new ProcpsError("can not use output modifiers with user-defined output");
            }
            return withEnviron(list);
        }
        String macro = switch (formatFlags) {
            case 0, FF_UF, FF_UL, FF_UF | FF_UL -> null;
            case FF_BJ -> "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args";
            case FF_BL -> "f,uid,pid,ppid,priority,ni,vsz,rss,wchan,stat,tname,bsdtime,args";
            case FF_BS -> "uid,pid,pending,sig_block,sig_ignore,caught,stat,tname,bsdtime,args";
            case FF_BU -> "user,pid,%cpu,%mem,vsz,rss,tname,stat,start_time,bsdtime,args";
            case FF_BV -> "pid,tname,stat,bsdtime,maj_flt,m_trs,m_drs,rss,%mem,args";
            case FF_LX -> throw new UsageException("BSD X (i386 register format) is not supported");
            default -> throw new ProcpsError("conflicting format options");
        };
        if (macro == null) {
            return withEnviron(sysvList());
        }
        List<Field> f = parseFormat(macro);
        // the modifiers procps applies to a BSD format
        if ((modifiers & FM_J) != 0) {
            if (!addAfter(f, "PPID", spec("pgid")) && !addAfter(f, "PID", spec("pgid"))) {
                throw new ProcpsError("internal error: no PID or PPID for -j option");
            }
            addAfter(f, "PGID", spec("sid"));
        }
        if ((modifiers & FM_Y) != 0) {
            delete(f, "F");
            if (addAfter(f, "ADDR", spec("rss"))) {
                delete(f, "ADDR");
            }
        }
        if ((modifiers & FM_C) != 0) {
            for (String h : List.of("%CPU", "CPU", "CP", "C", "NI")) {
                delete(f, h);
            }
            if (!addAfter(f, "PRI", spec("class"))) {
                throw new ProcpsError("internal error: no PRI for -c option");
            }
            delete(f, "PRI");
            addAfter(f, "CLS", spec("pri"));
        }
        if ((threadFlags & TF_U_T) != 0) {
            addAfter(f, "PID", spec("spid"));
        }
        if ((threadFlags & TF_U_L) != 0) {
            for (String h : List.of("SID", "SESS", "PGID", "PGRP", "PPID", "PID")) {
                if (addAfter(f, h, spec("lwp"))) {
                    break;
                }
            }
            addAfter(f, "%CPU", spec("nlwp"));
        }
        if ((modifiers & FM_M) != 0) {
            f.addAll(0, spec("label"));
        }
        return withEnviron(f);
    }

    private static List<Field> concat(List<Field> a, List<Field> b) {
        List<Field> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static boolean addAfter(List<Field> f, String header, List<Field> put) {
        for (int i = 0; i < f.size(); i++) {
            if (f.get(i).header().equals(header)) {
                f.addAll(i + 1, put);
                return true;
            }
        }
        return false;
    }

    private static void delete(List<Field> f, String header) {
        for (int i = 0; i < f.size(); i++) {
            if (f.get(i).header().equals(header)) {
                f.remove(i);
                return;
            }
        }
    }

    private static List<Field> spec(String name) throws UsageException, ProcpsError {
        return parseFormat(name);
    }

    /** procps's SysV columns (generate_sysv_list), built from the last column back as procps builds them. */
    private List<Field> sysvList() throws ProcpsError, UsageException {
        boolean f = (formatFlags & FF_UF) != 0;
        boolean l = (formatFlags & FF_UL) != 0;
        boolean y = (modifiers & FM_Y) != 0;
        if (y && !l) {
            throw new ProcpsError("modifier -y without format -l makes no sense");
        }
        java.util.ArrayDeque<String> s = new java.util.ArrayDeque<>();
        if (bsdStyle) {
            s.push(formatFlags != 0 ? "cmd" : "args");
            s.push("bsdtime");
            if (!l) {
                s.push("stat");
            }
        } else {
            s.push(f ? "cmd" : "ucmd");
            s.push("time");
        }
        s.push("tname");
        if (f) {
            s.push("stime");
        }
        if ((modifiers & FM_F) != 0) {
            if ((modifiers & FM_P) == 0) {
                s.push("psr");
            }
            if (!(l && y)) {
                s.push("rss");
            }
        }
        if (l) {
            s.push("wchan");
        }
        if ((modifiers & FM_F) != 0 || l) {
            s.push("sz");
        }
        if (l) {
            s.push(y ? "rss" : "addr_1");
        }
        if ((modifiers & FM_C) != 0) {
            s.push("pri");
            s.push("class");
        } else if (l) {
            s.push("ni");
            s.push("opri");
        }
        if ((threadFlags & TF_U_L) != 0 && f) {
            s.push("nlwp");
        }
        if ((f || l) && (modifiers & FM_C) == 0) {
            s.push("c");
        }
        if ((modifiers & FM_P) != 0) {
            s.push("psr");
        }
        if ((threadFlags & TF_U_L) != 0) {
            s.push("lwp");
        }
        if ((modifiers & FM_J) != 0) {
            s.push("sid");
            s.push("pgid");
        }
        if (f || l) {
            s.push("ppid");
        }
        if ((threadFlags & TF_U_T) != 0) {
            s.push("spid");
        }
        s.push("pid");
        if (f) {
            s.push("uid_hack");
        } else if (l) {
            s.push("uid");
        }
        if (l) {
            s.push("s");
            if (!y) {
                s.push("f");
            }
        }
        if ((modifiers & FM_M) != 0) {
            s.push("label");
        }
        return parseFormat(String.join(",", s));
    }

    /** With BSD e, the command columns carry the environment after the command line, as procps prints it. */
    private List<Field> withEnviron(List<Field> list) {
        List<Field> out = new ArrayList<>();
        for (Field f : list) {
            boolean command = f.json().equals("args") || f.json().equals("comm");
            if (command && bsdC) {
                f = Fields.asCommandName(f);
            }
            out.add(command && bsdE ? Fields.withEnvironment(f) : f);
        }
        return out;
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

    /** A format list as -o takes it: NAME, NAME=HEADER, NAME:WIDTH, separated by commas or spaces. */
    static List<Field> parseFormat(String fmt) throws UsageException, ProcpsError {
        List<Field> out = new ArrayList<>();
        if (fmt.replaceAll("[,\\s]", "").isEmpty()) {
            throw new ProcpsError("improper format list"); // procps's words for a list of no fields
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
        }
        return out;
    }

    private int execute(PrintStream out, PrintStream err) throws IOException, UsageException {
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
        if (cgroupFilter.needsCgroup()) {
            needed.add(Fields.get("cgroup")); // the filter reads the membership, shown or not
        }
        for (String f : cgroupFilter.namespaceFields()) {
            needed.add(Fields.get(f)); // and the namespaces (--ns), shown or not
        }
        // the clock (uptime) before the daemon samples, as procps reads it before it reads the processes
        Fields.Ctx ctx = Fields.Ctx.current();
        long groups = Fields.groupsFor(new ArrayList<>(needed)) | Groups.CRED;
        List<ProcRow> rows;
        if (at != null) {
            long atMs = HistoryCommand.when("--at", at, ctx.nowMs());
            if (local || threads) {
                throw new UsageException("--at takes the table from the daemon's journal: not with --local, nor with threads (-L, -T, H)");
            }
            // formatting as of then: elapsed times and %cpu are the ones ps would have printed then
            ctx = ctx.asOf(atMs);
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(socket), true, err)) {
                c.at(atMs);
                // the cgroup is the one /proc item the journal keeps (moves are journaled); others print "-"
                List<String> pastItems = Fields.itemsFor(new ArrayList<>(needed)).contains("cgroup") ? List.of("cgroup") : List.of();
                rows = snapshot(c, serverSelector(), groups, 0, pastItems);
            } catch (DaemonUnavailableException e) {
                err.println("procwatch ps: " + e.getMessage());
                return 1;
            }
        } else if (local) {
            rows = LocalSnapshot.read(groups | Groups.STAT, threads, Fields.itemsFor(new ArrayList<>(needed)));
        } else {
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(socket), true, err)) {
                // always fresh: state, process group and terminal change without an event
                int flags = Wire.F_FRESH | (threads ? Wire.F_THREADS : 0);
                rows = snapshot(c, serverSelector(), groups, flags, Fields.itemsFor(new ArrayList<>(needed)));
                if (threads) {
                    rows = leadersAsProcesses(rows,
                            snapshot(c, serverSelector(), groups, Wire.F_FRESH, Fields.itemsFor(new ArrayList<>(needed))));
                }
            } catch (DaemonUnavailableException e) {
                err.println("procwatch ps: " + e.getMessage());
                err.println("procwatch ps: reading /proc directly instead (slower; sees no exited processes)");
                rows = LocalSnapshot.read(groups | Groups.STAT, threads, Fields.itemsFor(new ArrayList<>(needed)));
            }
        }
        rows = select(rows);
        // a process's threads as /proc/PID/task lists them: the leader, then the others as they were made
        Comparator<ProcRow> base = Comparator.comparingInt((ProcRow r) -> r.pid)
                .thenComparingInt((ProcRow r) -> r.id() == r.pid ? 0 : 1)
                .thenComparingLong((ProcRow r) -> r.startTicks).thenComparingInt(ProcRow::id);
        Comparator<ProcRow> keys = sortKeys.isEmpty() ? null : sortOrder(sortKeys, descending, ctx);
        if (keys != null && (threadFlags & (TF_U_L | TF_U_T)) != 0) {
            // procps reads processes only when it sorts: -L/-T with a sort shows each leader alone
            rows.removeIf(r -> r.id() != r.pid);
        }
        Map<ProcRow, String> prefixes = Map.of();
        if (forest) {
            // procps sorts a forest by start time, then by the --sort keys or else by parent (each sort stable)
            Comparator<ProcRow> first = keys != null ? keys : Comparator.comparingInt((ProcRow r) -> r.ppid);
            rows.sort(first.thenComparingLong((ProcRow r) -> r.startTicks).thenComparing(base));
            prefixes = forest(rows, unixForest);
            rows = new ArrayList<>(prefixes.keySet());
        } else {
            rows.sort(keys != null ? keys.thenComparing(base) : base);
        }
        if (json) {
            List<Map<String, Object>> objects = Columns.json(fields, rows, ctx);
            if (at != null) {
                // how old each row's sampled values were then (null: never sampled), see docs/journal.md
                for (int k = 0; k < objects.size(); k++) {
                    ProcRow r = rows.get(k);
                    objects.get(k).put("sampled_age_ms", r.sampledAgeMs >= 0 ? r.sampledAgeMs : null);
                    objects.get(k).put("sampled_stale", r.sampledStale);
                }
            }
            out.println(Json.value(objects));
            return rows.isEmpty() ? 1 : 0;
        }
        int maxWidth = !wide && Invocation.current().consoleTerminal() ? terminalWidth() : 0;
        List<Columns.Col> cols = Columns.of(fields);
        StringBuilder buf = new StringBuilder();
        if (!noHeaders && Columns.anyHeader(cols)) {
            Columns.print(out, Columns.header(cols), maxWidth);
        }
        // lines of unchanged rows from the last run with these columns (daemon runs, no forest, no cut)
        PsLines kept = forest || maxWidth > 0 ? null
                : PsLines.open(cols, Invocation.current().uid(), Invocation.current().utf8(), out.charset());
        for (ProcRow r : rows) {
            byte[] line = kept == null ? null : kept.get(r);
            if (line == null) {
                String text = Columns.row(cols, r, ctx, prefixes.get(r));
                if (kept == null) {
                    Columns.print(out, text, maxWidth);
                    continue;
                }
                line = (text + "\n").getBytes(out.charset());
            }
            kept.keep(r, line);
            out.write(line, 0, line.length);
        }
        if (kept != null) {
            kept.close();
        }
        out.flush();
        if (at != null && cols.stream().anyMatch(c -> Columns.sampled(c.field()))) {
            long marked = rows.stream().filter(r -> r.sampledStale).count();
            if (marked > 0) {
                err.println("procwatch ps: " + Columns.STALE_MARK + " marks sampled values older than the journal's sample interval"
                        + " at that instant, or never sampled (" + marked + " of " + rows.size() + " rows); --json gives sampled_age_ms");
            }
        }
        return rows.isEmpty() ? 1 : 0;
    }

    /**
     * procps shows a process's leader thread with the process's own numbers (CPU time of all its
     * threads, its /proc items): the leader's row is the process's row, with its thread id.
     */
    private static List<ProcRow> leadersAsProcesses(List<ProcRow> threadRows, List<ProcRow> processRows) {
        Map<Integer, ProcRow> byPid = new HashMap<>();
        for (ProcRow p : processRows) {
            byPid.put(p.pid, p);
        }
        List<ProcRow> out = new ArrayList<>(threadRows.size());
        for (ProcRow t : threadRows) {
            ProcRow p = t.id() == t.pid ? byPid.get(t.pid) : null;
            if (p != null) {
                p.tid = t.pid;
                out.add(p);
            } else {
                out.add(t);
            }
        }
        return out;
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
        return plainServerSelector().withMember(cgroupFilter.membership()).withNamespaces(cgroupFilter.namespaces());
    }

    private Selector plainServerSelector() {
        boolean onlyPids = !pids.isEmpty() && ppids.isEmpty() && euids.isEmpty() && ruids.isEmpty()
                && commands.isEmpty() && ttys.isEmpty() && !all && !bsdA && !bsdX && !unixA && !unixD
                && sessions.isEmpty() && !negate;
        if (onlyPids) {
            return Selector.all().withPids(pids);
        }
        boolean onlyUsers = !euids.isEmpty() && pids.isEmpty() && ppids.isEmpty() && ruids.isEmpty()
                && commands.isEmpty() && ttys.isEmpty() && !all && !bsdA && !bsdX && !unixA && !unixD
                && sessions.isEmpty() && !negate;
        if (onlyUsers) {
            return Selector.all().withUids(euids);
        }
        return Selector.all();
    }

    /**
     * ps selection as procps makes it: the list options and a/x/-a/-d/-e are unioned; with none, ps's
     * defaults apply; -N turns the choice around; r keeps the running ones.
     */
    private List<ProcRow> select(List<ProcRow> rows) {
        boolean lists = !pids.isEmpty() || !ppids.isEmpty() || !euids.isEmpty() || !ruids.isEmpty()
                || !commands.isEmpty() || !ttys.isEmpty() || !sessions.isEmpty();
        boolean simple = bsdA || bsdX || unixA || unixD;
        // sets: ps -p may list thousands of pids
        Set<Integer> pids = new HashSet<>(this.pids);
        Set<Integer> ppids = new HashSet<>(this.ppids);
        Set<Integer> sessions = new HashSet<>(this.sessions);
        Set<Integer> euids = new HashSet<>(this.euids);
        Set<Integer> ruids = new HashSet<>(this.ruids);
        Set<String> commands = new HashSet<>(this.commands);
        Set<Integer> ttys = new HashSet<>(this.ttys);
        int myUid = Invocation.current().uid();
        int myTty = Invocation.current().ttyNr();
        List<ProcRow> out = new ArrayList<>();
        for (ProcRow r : rows) {
            boolean keep;
            boolean leader = r.sid == r.pid;
            if (all || (bsdA && bsdX) || (cgroupFilter.active() && !lists && !simple)) {
                keep = true;
            } else if (lists || simple) {
                keep = pids.contains(r.pid) || ppids.contains(r.ppid) || euids.contains(r.euid)
                        || ruids.contains(r.ruid) || commands.contains(r.comm) || ttys.contains(r.tty)
                        || sessions.contains(r.sid)
                        || (bsdA && r.tty > 0) || (bsdX && !bsdA && r.euid == myUid)
                        || (unixA && r.tty > 0 && !leader) || (unixD && !leader);
            } else if (bsdStyle) {
                keep = r.euid == myUid && r.tty > 0; // plain BSD "ps": own with a terminal, any terminal
            } else {
                keep = r.euid == myUid && r.tty == Math.max(myTty, 0); // ps: same user, same terminal
            }
            if (negate) {
                keep = !keep;
            }
            if (runningOnly && r.state != 'R') {
                keep = false;
            }
            if (cgroupFilter.active() && !cgroupFilter.matches(r)) {
                keep = false;
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
        return c;
    }

    /**
     * The forest as procps 4.0 draws it, from rows already in procps's forest order (by parent, or by
     * the --sort keys, then start time). Trees are drawn from the rows whose parent is not shown,
     * taken last to first, so kthreadd's tree comes before init's; a process's children are the run
     * of rows with its pid as parent that starts at the first such row (procps looks no further, so
     * with a --sort that splits siblings apart only the first run is drawn), one level deeper with
     * {@code " \\_ "}, and {@code " |  "} under an ancestor that has more children to come. With
     * {@code --forest} and {@code f} (not {@code -H}) init's children stay at init's level, as procps keeps them.
     *
     * @param unixStyle -H: two spaces a level, no art
     */
    static Map<ProcRow, String> forest(List<ProcRow> rows, boolean unixStyle) {
        Set<Integer> shown = new HashSet<>();
        for (ProcRow r : rows) {
            shown.add(r.pid);
        }
        Map<ProcRow, String> out = new java.util.LinkedHashMap<>();
        StringBuilder art = new StringBuilder();
        for (int i = rows.size() - 1; i >= 0; i--) {
            if (!shown.contains(rows.get(i).ppid)) {
                tree(rows, i, 0, false, art, out, unixStyle, 0);
            }
        }
        return out;
    }

    /**
     * Draws row {@code self} at {@code level}, then its children. {@code art} holds one mark per
     * level above: 'L' or '+' (this row is the last child, or has siblings after it), then ' ' or '|'
     * for its children.
     */
    private static void tree(List<ProcRow> rows, int self, int level, boolean haveSibling, StringBuilder art,
                             Map<ProcRow, String> out, boolean unixStyle, int depth) {
        if (depth > 4096 || out.containsKey(rows.get(self))) {
            return;
        }
        art.setLength(level);
        if (level > 0) {
            art.setCharAt(level - 1, haveSibling ? '+' : 'L');
        }
        out.put(rows.get(self), render(art, unixStyle));
        int selfPid = rows.get(self).pid;
        int i = 0;
        while (i < rows.size() && rows.get(i).ppid != selfPid) {
            i++;
        }
        if (i >= rows.size()) {
            return;
        }
        if (level > 0) {
            art.setCharAt(level - 1, haveSibling ? '|' : ' ');
        }
        art.setLength(level);
        for (; i < rows.size(); i++) {
            boolean more = i + 1 < rows.size() && rows.get(i + 1).ppid == selfPid;
            int childLevel = selfPid == 1 && !unixStyle ? level : level + 1;
            tree(rows, i, childLevel, more, art, out, unixStyle, depth + 1);
            art.setLength(level);
            if (!more) {
                break;
            }
        }
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
