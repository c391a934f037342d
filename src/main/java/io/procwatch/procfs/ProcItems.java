package io.procwatch.procfs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Named values from /proc files that no event maintains and few columns need (namespaces, signal
 * masks, saved and filesystem ids, OOM score, scheduling policy, I/O operation counts, the whole
 * cgroup membership). A request names the items it wants; for each selected process each file
 * those items come from is read once, and nothing else is.
 *
 * <p>Item names: {@code status.KEY} (a line of /proc/PID/status, e.g. {@code status.SigBlk}),
 * {@code stat.N} (field N of /proc/PID/stat, 1-based as proc(5) numbers them), {@code ns.TYPE}
 * (the namespace's inode, e.g. {@code ns.net}), {@code io.KEY} ({@code io.syscr}), {@code oom_score},
 * {@code oom_adj}, {@code oom_score_adj}, {@code loginuid}, {@code sessionid}, {@code autogroup}, {@code cgroup} (every
 * line, joined by commas, as procps shows it), {@code environ} (private; the strings joined by spaces),
 * {@code smaps.KEY} (a line of /proc/PID/smaps_rollup, e.g. {@code smaps.Pss}: private, the kernel
 * guards smaps with the ptrace read check), {@code attr.current} (the LSM label of
 * /proc/PID/attr/current up to its first unprintable byte, as procps's label column reads it;
 * absent when the file cannot be read or is empty). Values are the file's text for that item.
 *
 * <p>Which items are private (the kernel guards them with its ptrace read check: namespaces, io,
 * the code and stack addresses in stat) is decided here; the caller says whether the viewer passed
 * that check.
 */
public final class ProcItems {
    /** At most this many items per request (a hostile request names thousands). */
    public static final int MAX_ITEMS = 64;
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,31}");
    private static final List<String> NS_TYPES = List.of("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts");
    /** stat fields the kernel shows only to a ptrace-capable reader (start/end code, stack, esp/eip, ...). */
    private static final int[] PRIVATE_STAT = {26, 27, 28, 29, 30, 45, 46, 47, 48, 49, 50, 51};

    private ProcItems() {
    }

    /** Null when {@code name} is a well-formed item; otherwise why not. */
    public static String check(String name) {
        int dot = name.indexOf('.');
        String file = dot < 0 ? name : name.substring(0, dot);
        String key = dot < 0 ? "" : name.substring(dot + 1);
        return switch (file) {
            case "status", "io", "smaps" -> KEY.matcher(key).matches() ? null : "bad key in item '" + name + "'";
            case "attr" -> key.equals("current") ? null : "the attr item is attr.current, not '" + name + "'";
            case "stat" -> key.matches("[1-9][0-9]?") && Integer.parseInt(key) <= 52 ? null
                    : "stat items are stat.1 to stat.52, not '" + name + "'";
            case "ns" -> NS_TYPES.contains(key) ? null : "unknown namespace in item '" + name + "'";
            case "oom_score", "oom_adj", "oom_score_adj", "loginuid", "sessionid", "cgroup", "environ", "autogroup" ->
                    dot < 0 ? null : "item '" + file + "' takes no key";
            default -> "unknown item '" + name + "'";
        };
    }

    /** Whether /proc gives this item only to a reader that passes the ptrace read check. */
    public static boolean isPrivate(String name) {
        if (name.startsWith("ns.") || name.startsWith("io.") || name.startsWith("smaps.") || name.equals("environ")) {
            return true;
        }
        if (name.startsWith("stat.")) {
            int n = Integer.parseInt(name.substring(5));
            for (int p : PRIVATE_STAT) {
                if (p == n) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The values of {@code items} for {@code pid}, as name, value, name, value...; an item whose
     * file cannot be read (gone, kernel thread, not permitted) or that the viewer may not see is
     * left out. Every name must have passed {@link #check}.
     */
    public static List<String> read(Path procRoot, int pid, List<String> items, boolean privateAllowed) {
        List<String> out = new ArrayList<>(items.size() * 2);
        Map<String, Object> files = new HashMap<>(); // each file read once: its parsed form, or a miss
        Path dir = procRoot.resolve(Integer.toString(pid));
        for (String item : items) {
            if (isPrivate(item) && !privateAllowed) {
                continue;
            }
            String v = value(dir, item, files);
            v = v == null ? null : v.replace('\0', ' '); // values travel NUL-separated
            if (v != null) {
                out.add(item);
                out.add(v);
            }
        }
        return out;
    }

    private static final Object MISSING = new Object();

    private static String value(Path dir, String item, Map<String, Object> files) {
        int dot = item.indexOf('.');
        String file = dot < 0 ? item : item.substring(0, dot);
        String key = dot < 0 ? null : item.substring(dot + 1);
        switch (file) {
            case "ns" -> {
                try {
                    String link = Files.readSymbolicLink(dir.resolve("ns").resolve(key)).toString(); // net:[4026531840]
                    int open = link.indexOf('[');
                    return open < 0 ? null : link.substring(open + 1, link.length() - 1);
                } catch (IOException | RuntimeException e) {
                    return null;
                }
            }
            case "status", "io" -> {
                Object parsed = files.computeIfAbsent(file, f -> keyed(dir.resolve(f)));
                return parsed == MISSING ? null : ((Map<?, ?>) parsed).get(key) instanceof String s ? s : null;
            }
            case "smaps" -> {
                // the whole-process sums ("Pss:  852 kB"); a kernel thread's file is empty: no items
                Object parsed = files.computeIfAbsent(file, f -> keyed(dir.resolve("smaps_rollup")));
                return parsed == MISSING ? null : ((Map<?, ?>) parsed).get(key) instanceof String s ? s : null;
            }
            case "attr" -> {
                return label(dir.resolve("attr").resolve(key));
            }
            case "stat" -> {
                Object parsed = files.computeIfAbsent(file, f -> statFields(dir.resolve(f)));
                if (parsed == MISSING) {
                    return null;
                }
                String[] f = (String[]) parsed;
                int n = Integer.parseInt(key);
                return n <= f.length ? f[n - 1] : null;
            }
            case "environ" -> {
                // the strings separated by spaces, as procps shows them after the command (BSD e)
                String text = text(dir.resolve("environ"));
                if (text == null) {
                    return null;
                }
                int end = text.length();
                while (end > 0 && text.charAt(end - 1) == '\0') {
                    end--;
                }
                return text.substring(0, end).replace('\0', ' ');
            }
            case "cgroup" -> {
                String text = text(dir.resolve("cgroup"));
                return text == null ? null : String.join(",", text.strip().split("\n"));
            }
            default -> {
                String text = text(dir.resolve(file));
                return text == null ? null : text.strip();
            }
        }
    }

    /** The longest leading run of printable ASCII in a small file (an LSM label ends in a newline or a NUL), or null. */
    private static String label(Path p) {
        byte[] b = new byte[4096];
        int n;
        try (var in = Files.newInputStream(p)) {
            n = in.readNBytes(b, 0, b.length);
        } catch (IOException | RuntimeException e) {
            return null; // no LSM offers a label (EINVAL), gone, or not permitted
        }
        int len = 0;
        while (len < n && b[len] >= 0x20 && b[len] < 0x7f) {
            len++;
        }
        return len == 0 ? null : new String(b, 0, len, StandardCharsets.US_ASCII);
    }

    private static String text(Path p) {
        try {
            byte[] b = Files.readAllBytes(p);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** "Key:\tvalue" lines (status) or "key: value" lines (io). */
    private static Object keyed(Path p) {
        String t = text(p);
        if (t == null) {
            return MISSING;
        }
        Map<String, String> m = new HashMap<>();
        for (String line : t.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.put(line.substring(0, colon), line.substring(colon + 1).strip());
            }
        }
        return m;
    }

    /** stat's fields 1..52, the name (field 2) without its parentheses. */
    private static Object statFields(Path p) {
        String t = text(p);
        if (t == null) {
            return MISSING;
        }
        int open = t.indexOf('(');
        int close = t.lastIndexOf(')');
        if (open < 0 || close < open) {
            return MISSING;
        }
        String[] rest = t.substring(close + 2).strip().split(" ");
        String[] f = new String[2 + rest.length];
        f[0] = t.substring(0, open).strip();
        f[1] = t.substring(open + 1, close);
        System.arraycopy(rest, 0, f, 2, rest.length);
        return f;
    }
}
