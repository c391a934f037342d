package io.procwatch.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small GNU-style option parser for the subcommands other than ps: --name value, --name=value,
 * flags, and positional arguments. Unknown options are an error, never ignored.
 */
final class Opts {
    final Map<String, String> values = new HashMap<>();
    final Set<String> flags = new java.util.HashSet<>();
    final List<String> positional = new ArrayList<>();

    static Opts parse(List<String> args, Set<String> withValue, Set<String> flagNames) throws UsageException {
        Opts o = new Opts();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                o.positional.addAll(args.subList(i + 1, args.size()));
                break;
            }
            if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                String name = eq > 0 ? a.substring(2, eq) : a.substring(2);
                if (withValue.contains(name)) {
                    if (eq > 0) {
                        o.values.put(name, a.substring(eq + 1));
                    } else if (i + 1 < args.size()) {
                        o.values.put(name, args.get(++i));
                    } else {
                        throw new UsageException("option --" + name + " needs a value");
                    }
                } else if (flagNames.contains(name) && eq < 0) {
                    o.flags.add(name);
                } else {
                    throw new UsageException("unknown option " + a);
                }
            } else if (a.startsWith("-") && a.length() > 1 && !a.chars().skip(1).allMatch(Character::isDigit)) {
                throw new UsageException("unknown option " + a);
            } else {
                o.positional.add(a);
            }
        }
        return o;
    }

    boolean has(String flag) {
        return flags.contains(flag);
    }

    String get(String name) {
        return values.get(name);
    }

    /** The largest pid the kernel's pid_t can hold; procps accepts up to this too. */
    static final long PID_MAX = Integer.MAX_VALUE;
    /** (uid_t) -1 means "no change" to the kernel, so the largest uid is one less. */
    static final long UID_MAX = 4294967294L;

    /** --NAME as an int in [min, max], or dflt when not given. */
    int intValue(String name, int dflt, long min, long max) throws UsageException {
        String v = values.get(name);
        return v == null ? dflt : (int) number("--" + name, v, min, max);
    }

    /** --NAME as a long in [min, max], or dflt when not given. */
    long longValue(String name, long dflt, long min, long max) throws UsageException {
        String v = values.get(name);
        return v == null ? dflt : number("--" + name, v, min, max);
    }

    /**
     * The one parser of numeric arguments: a decimal integer (optional sign) in [min, max], else a
     * UsageException naming the option and the range. Never a NumberFormatException.
     */
    static long number(String opt, String v, long min, long max) throws UsageException {
        String t = v == null ? "" : v.trim();
        if (!t.matches("[+-]?\\d+")) {
            throw new UsageException(opt + " takes a number from " + min + " to " + max + ", not '" + v + "'");
        }
        long n;
        try {
            n = Long.parseLong(t);
        } catch (NumberFormatException e) { // more digits than a long holds: out of range either way
            n = t.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        if (n < min || n > max) {
            throw new UsageException(opt + " takes a number from " + min + " to " + max + ", not " + t);
        }
        return n;
    }

    /** A user by name or number (0 to 4294967294, as the int the protocol carries); never -1. */
    static int uid(String opt, String nameOrNumber) throws UsageException {
        String s = nameOrNumber.trim();
        if (!s.isEmpty() && s.chars().allMatch(Character::isDigit)) {
            return (int) number(opt, s, 0, UID_MAX); // uids above 2^31 travel as their 32 bits
        }
        int uid = Names.uid(s);
        if (uid == -1) {
            throw new UsageException(opt + ": user name does not exist: " + s);
        }
        return uid;
    }

    /** Narrows a selector by the common filters --user, --name and --match, where given. */
    io.procwatch.protocol.Selector narrow(io.procwatch.protocol.Selector sel) throws UsageException {
        if (get("user") != null) {
            sel = sel.withUids(List.of(uid("--user", get("user"))));
        }
        if (get("name") != null) {
            sel = sel.withName(get("name"));
        }
        if (get("match") != null) {
            sel = sel.withMatch(get("match"));
        }
        return sel;
    }

    static int pid(String s) throws UsageException {
        return pid("process id", s);
    }

    /** A process id, 1 to 2147483647 (procps's range). */
    static int pid(String opt, String s) throws UsageException {
        return (int) number(opt, s, 1, PID_MAX);
    }
}
