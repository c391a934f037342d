package io.procwatch.testing;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Which processes stayed the same across a comparison: a test reads this before running procps
 * and again after running procwatch, and compares only the pids whose identity (start time,
 * parent, name, command line, uid) did not change in between. On a busy machine processes start,
 * exit, re-parent and rename between two snapshots; those are nobody's mistake.
 */
public final class StableProcesses {
    private final Map<Integer, String> identity;

    private StableProcesses(Map<Integer, String> identity) {
        this.identity = identity;
    }

    public static StableProcesses read() {
        Map<Integer, String> m = new HashMap<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : d) {
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    int close = stat.lastIndexOf(')');
                    String[] f = stat.substring(close + 2).split(" ");
                    // name, parent, group, session, start time (fields 2, 4, 5, 6, 22)
                    String id = stat.substring(stat.indexOf('(') + 1, close) + "|" + f[1] + "|" + f[2] + "|" + f[3]
                            + "|" + f[19] + "|" + Files.getAttribute(p, "unix:uid") + "|"
                            + new String(Files.readAllBytes(p.resolve("cmdline")));
                    m.put(Integer.parseInt(p.getFileName().toString()), id);
                } catch (IOException | RuntimeException gone) {
                    // exited while we looked: not stable
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return new StableProcesses(m);
    }

    /** The pids alive and unchanged in both snapshots. */
    public Set<Integer> unchangedIn(StableProcesses later) {
        Set<Integer> out = new HashSet<>();
        for (var e : identity.entrySet()) {
            if (e.getValue().equals(later.identity.get(e.getKey()))) {
                out.add(e.getKey());
            }
        }
        return out;
    }
}
