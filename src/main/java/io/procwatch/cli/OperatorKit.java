package io.procwatch.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The man pages and the bash completion, generated from the commands' own --help text and the
 * field registry, so they cannot drift from what the commands accept: {@code procwatch generate
 * man1 | man8 | bash-completion} prints one of them (packaging/install.sh writes them where man
 * and bash-completion look).
 */
final class OperatorKit {
    /** The commands in the order the pages list them. */
    static final List<String> COMMANDS = List.of("ps", "top", "tree", "events", "history", "diff", "wait", "stats", "fleet",
            "daemon");

    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--?[A-Za-z][\\w-]*)");

    private OperatorKit() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        String what = args.size() == 1 ? args.getFirst() : "";
        switch (what) {
            case "man1" -> out.print(manPage());
            case "man8" -> out.print(daemonManPage());
            case "bash-completion" -> out.print(bashCompletion());
            default -> {
                err.println("usage: procwatch generate man1 | man8 | bash-completion");
                return 2;
            }
        }
        return 0;
    }

    /** What `procwatch CMD --help` prints (or `procwatch --help` for null). */
    static String help(String command) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(b, true, StandardCharsets.UTF_8);
        Main.run(command == null ? List.of("--help") : List.of(command, "--help"), p, p);
        return b.toString(StandardCharsets.UTF_8);
    }

    /** The options a command's help names, in the order they first appear. */
    static List<String> options(String command) {
        Map<String, Boolean> seen = new LinkedHashMap<>();
        String text = help(command);
        // "Examples:" shows options already named; "Fields:" (ps) lists -o names, not options
        int end = text.indexOf("\nExamples:");
        Matcher m = OPTION.matcher(end < 0 ? text : text.substring(0, end));
        while (m.find()) {
            seen.putIfAbsent(m.group(1), true);
        }
        seen.putIfAbsent("--help", true);
        return List.copyOf(seen.keySet());
    }

    // ---- man pages

    private static String manPage() {
        StringBuilder s = new StringBuilder();
        s.append(".TH PROCWATCH 1 \"\" \"procwatch\" \"User Commands\"\n");
        s.append(".SH NAME\nprocwatch \\- process monitor fed by the kernel's process events\n");
        s.append(".SH SYNOPSIS\n.B procwatch\n.I command\n[\\fIoptions\\fR]\n");
        s.append(".SH DESCRIPTION\n");
        preformatted(s, help(null));
        s.append(".SH COMMANDS\n");
        for (String c : COMMANDS) {
            if (c.equals("daemon")) {
                s.append(".SS procwatch daemon\nSee\n.BR procwatch\\-daemon (8).\n");
                continue;
            }
            s.append(".SS procwatch ").append(c).append('\n');
            preformatted(s, help(c));
        }
        s.append(".SH ENVIRONMENT\n");
        definition(s, "PROCWATCH_SOCKET", "the daemon's socket (default /run/procwatch/procwatch.sock)");
        definition(s, "PROCWATCH_KAFKA", "fleet: the brokers when --kafka is not given");
        definition(s, "PROCWATCH_NO_NATIVE", "set: every command runs in a JVM, not through the thin client");
        definition(s, "LC_ALL, LC_CTYPE, LANG, TZ, COLUMNS, LINES, TERM, PS_FORMAT, PS_PERSONALITY, NO_COLOR",
                "as for procps; the thin client passes them to the daemon's run of the command");
        s.append(".SH EXIT STATUS\n");
        definition(s, "0", "success");
        definition(s, "1", "no such process, or a command line procps would reject");
        definition(s, "2", "bad options");
        definition(s, "70", "an internal error (please report it)");
        definition(s, "128+N", "wait: the process was killed by signal N");
        s.append(".SH SEE ALSO\n.BR procwatch\\-daemon (8),\n.BR ps (1),\n.BR top (1),\n.BR pstree (1)\n");
        return s.toString();
    }

    private static String daemonManPage() {
        StringBuilder s = new StringBuilder();
        s.append(".TH PROCWATCH\\-DAEMON 8 \"\" \"procwatch\" \"System Administration\"\n");
        s.append(".SH NAME\nprocwatch\\-daemon \\- the procwatch daemon: live process table, history, socket and HTTP\n");
        s.append(".SH SYNOPSIS\n.B procwatch daemon\n[\\fIoptions\\fR]\n");
        s.append(".SH DESCRIPTION\n");
        preformatted(s, help("daemon"));
        s.append(".SH FILES\n");
        definition(s, "/etc/procwatch/procwatch.conf", "options as \"name = value\" lines (--config)");
        definition(s, "/run/procwatch/procwatch.sock", "the clients' socket");
        definition(s, "/etc/systemd/system/procwatch.service", "the unit procwatch install writes");
        s.append(".SH SEE ALSO\n.BR procwatch (1)\n");
        return s.toString();
    }

    /** Text kept as it is: no filling, backslashes and leading dots or quotes escaped. */
    private static void preformatted(StringBuilder s, String text) {
        s.append(".nf\n");
        for (String line : text.split("\n", -1)) {
            String l = line.replace("\\", "\\e").replace("-", "\\-");
            if (l.startsWith(".") || l.startsWith("'")) {
                l = "\\&" + l;
            }
            s.append(l).append('\n');
        }
        s.append(".fi\n");
    }

    private static void definition(StringBuilder s, String term, String text) {
        s.append(".TP\n.B ").append(term.replace("-", "\\-")).append('\n').append(text.replace("-", "\\-")).append('\n');
    }

    // ---- bash completion

    private static String bashCompletion() {
        StringBuilder s = new StringBuilder();
        s.append("# bash completion for procwatch, generated by `procwatch generate bash-completion`\n");
        s.append("# from the commands' --help and the field registry: regenerate it after an upgrade.\n");
        s.append("_procwatch() {\n");
        s.append("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}\n");
        s.append("    local fields=").append(quote(String.join(" ", fieldNames()))).append('\n');
        s.append("    if [[ $COMP_CWORD -eq 1 ]]; then\n");
        s.append("        COMPREPLY=($(compgen -W ").append(quote(String.join(" ", COMMANDS) + " install uninstall --help --version"))
                .append(" -- \"$cur\"))\n        return\n    fi\n");
        // values of the options that take one
        s.append("    case $cmd:$prev in\n");
        s.append("        ps:-o|ps:--format|ps:o|ps:-O|ps:O|ps:--sort|ps:k)\n");
        s.append("            local head=${cur%,*} last=${cur##*,} sign=\n");
        s.append("            [[ $cur == *,* ]] && head=\"$head,\" || head=\n");
        s.append("            [[ $last == [-+]* ]] && { sign=${last:0:1}; last=${last:1}; }\n");
        s.append("            COMPREPLY=($(compgen -W \"$fields\" -P \"$head$sign\" -- \"$last\"))\n");
        s.append("            [[ ${#COMPREPLY[@]} -eq 1 ]] && compopt -o nospace 2>/dev/null\n");
        s.append("            return ;;\n");
        s.append("        *:-u|*:--user|*:-U|*:U)\n");
        s.append("            COMPREPLY=($(compgen -u -- \"$cur\")); return ;;\n");
        s.append("        *:-p|*:--pid|*:--ppid|*:--tree|*:p)\n");
        s.append("            COMPREPLY=($(compgen -W \"$(cd /proc && echo [0-9]*)\" -- \"$cur\")); return ;;\n");
        s.append("        events:--type)\n");
        s.append("            COMPREPLY=($(compgen -W ").append(quote("fork exec exit uid gid sid ptrace comm coredump failed"))
                .append(" -- \"${cur##*,}\")); return ;;\n");
        s.append("        *:--socket|*:--config|*:--history-db|*:--proc-root)\n");
        s.append("            COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
        s.append("    esac\n");
        s.append("    case $cmd in\n");
        for (String c : COMMANDS) {
            s.append("        ").append(c).append(") COMPREPLY=($(compgen -W ")
                    .append(quote(String.join(" ", options(c)))).append(" -- \"$cur\"))");
            if (c.equals("wait")) {
                s.append("\n            [[ $cur != -* ]] && COMPREPLY+=($(compgen -W \"$(cd /proc && echo [0-9]*)\" -- \"$cur\"))");
            }
            s.append(" ;;\n");
        }
        s.append("    esac\n}\ncomplete -F _procwatch procwatch\n");
        return s.toString();
    }

    /** Every -o name, lower case as procps takes them, sorted. */
    private static List<String> fieldNames() {
        TreeSet<String> names = new TreeSet<>();
        for (String k : Fields.all().keySet()) {
            names.add(k.toLowerCase(Locale.ROOT));
        }
        return List.copyOf(names);
    }

    /** A single-quoted bash word. */
    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
