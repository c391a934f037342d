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

    int intValue(String name, int dflt) throws UsageException {
        String v = values.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects a number, got '" + v + "'");
        }
    }

    /** Narrows a selector by the common filters --user, --name and --match, where given. */
    io.procwatch.protocol.Selector narrow(io.procwatch.protocol.Selector sel) throws UsageException {
        if (get("user") != null) {
            int uid = Names.uid(get("user"));
            if (uid < 0) {
                throw new UsageException("no such user: " + get("user"));
            }
            sel = sel.withUids(List.of(uid));
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
        try {
            int p = Integer.parseInt(s);
            if (p <= 0) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new UsageException("'" + s + "' is not a process id");
        }
    }
}
