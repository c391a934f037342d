package io.procwatch.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** User and group names from /etc/passwd and /etc/group, read once; numbers when unknown. */
final class Names {
    private static Map<Integer, String> users;
    private static Map<Integer, String> groups;
    private static Map<String, Integer> uidsByName;

    private Names() {
    }

    static synchronized String user(int uid) {
        if (users == null) {
            users = new HashMap<>();
            uidsByName = new HashMap<>();
            read("/etc/passwd", users, uidsByName);
        }
        String n = users.get(uid);
        return n != null ? n : Integer.toString(uid);
    }

    static synchronized String group(int gid) {
        if (groups == null) {
            groups = new HashMap<>();
            read("/etc/group", groups, new HashMap<>());
        }
        String n = groups.get(gid);
        return n != null ? n : Integer.toString(gid);
    }

    /**
     * A user given by name or number; -1 if there is no such user. Numbers are range-checked by
     * {@link Opts#uid}, which callers with an option to name use instead.
     */
    static synchronized int uid(String nameOrNumber) {
        if (!nameOrNumber.isEmpty() && nameOrNumber.chars().allMatch(Character::isDigit)) {
            try {
                long n = Long.parseLong(nameOrNumber);
                return n <= Opts.UID_MAX ? (int) n : -1;
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        user(0);
        Integer u = uidsByName.get(nameOrNumber);
        return u == null ? -1 : u;
    }

    private static void read(String file, Map<Integer, String> byId, Map<String, Integer> byName) {
        try {
            for (String line : Files.readAllLines(Path.of(file))) {
                String[] f = line.split(":", -1);
                if (f.length >= 3) {
                    try {
                        int id = Integer.parseInt(f[2]);
                        byId.putIfAbsent(id, f[0]);
                        byName.putIfAbsent(f[0], id);
                    } catch (NumberFormatException ignored) {
                        // a comment or a broken line
                    }
                }
            }
        } catch (IOException e) {
            // no names: numbers are shown
        }
    }
}
