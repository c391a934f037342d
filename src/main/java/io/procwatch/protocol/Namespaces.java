package io.procwatch.protocol;

import java.util.List;
import java.util.Locale;

/**
 * Namespace selector values ({@code S_NAMESPACE}): {@code TYPE:INODE}, where TYPE is one of the
 * entries of /proc/PID/ns ({@link #TYPES}; ps's column names {@code netns}, {@code pidns}... are
 * taken too) and INODE the namespace's inode number, as {@code readlink /proc/PID/ns/TYPE} prints
 * it ({@code net:[4026531840]} is taken as is). Values of one type are alternatives; several types
 * must all hold.
 */
public final class Namespaces {
    /** The namespace types /proc/PID/ns has (without the *_for_children links). */
    public static final List<String> TYPES = List.of("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts");
    /** At most this many namespace values in one selector. */
    public static final int MAX_VALUES = 64;

    private Namespaces() {
    }

    /** The value in its one form ({@code net:4026531840}); IllegalArgumentException saying what is wrong. */
    public static String normalize(String v) {
        int colon = v.indexOf(':');
        if (colon <= 0 || v.length() > 64) {
            throw new IllegalArgumentException("namespace '" + v + "' is not TYPE:INODE (e.g. net:4026531840)");
        }
        String type = v.substring(0, colon).toLowerCase(Locale.ROOT);
        if (type.endsWith("ns") && TYPES.contains(type.substring(0, type.length() - 2))) {
            type = type.substring(0, type.length() - 2);
        }
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("unknown namespace type '" + v.substring(0, colon) + "' (one of "
                    + String.join(" ", TYPES) + ")");
        }
        String inode = v.substring(colon + 1);
        if (inode.startsWith("[") && inode.endsWith("]")) {
            inode = inode.substring(1, inode.length() - 1);
        }
        long n;
        try {
            n = inode.matches("[0-9]{1,10}") ? Long.parseLong(inode) : -1;
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n <= 0 || n > 0xffffffffL) {
            throw new IllegalArgumentException("namespace '" + v + "': the inode is a number from 1 to 4294967295");
        }
        return type + ":" + n;
    }

    public static String type(String normalized) {
        return normalized.substring(0, normalized.indexOf(':'));
    }

    public static long inode(String normalized) {
        return Long.parseLong(normalized.substring(normalized.indexOf(':') + 1));
    }
}
