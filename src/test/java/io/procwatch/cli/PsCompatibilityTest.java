package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.StableProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.params.provider.Arguments;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * procwatch ps against procps ps on this machine, same arguments, one right after the other:
 * the same header, the same processes, and the same values in every column that is not a time
 * or a sampled value. Only processes that exist unchanged across both runs are compared (read
 * from /proc before procps and after procwatch), so the test holds on a busy machine.
 */
class PsCompatibilityTest {
    private static DaemonProcess daemon;
    /** A parent that never reaps its child: the compared rows always include a zombie. */
    private static Process zombieParent;
    private static long zombiePid;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        zombieParent = new ProcessBuilder("perl", "-e",
                "$|=1; my $c = fork(); if ($c == 0) { exit 3 } print \"$c\\n\"; sleep 600").start();
        zombiePid = Long.parseLong(zombieParent.inputReader().readLine().trim());
        while (!Files.readString(Path.of("/proc/" + zombiePid + "/stat")).contains(") Z ")) {
            Thread.sleep(10);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        zombieParent.destroyForcibly().waitFor();
        daemon.close();
    }

    /**
     * Arguments, number of columns before the free-text last one, and the indexes of columns to
     * compare exactly (others are times or samples).
     */
    static Stream<Arguments> formats() {
        return Stream.of(
                Arguments.of(List.of("-ef"), 7, Set.of(0, 1, 2, 4, 5)),                 // UID PID PPID C STIME TTY TIME
                Arguments.of(List.of("aux"), 10, Set.of(0, 1, 6)),                     // USER PID ... TTY STAT START TIME
                Arguments.of(List.of("-eo", "pid,ppid,user,stat,rss,comm,args"), 6, Set.of(0, 1, 2, 5)));
    }

    @ParameterizedTest
    @MethodSource("formats")
    void sameRowsAsProcps(List<String> args, int fixedColumns, Set<Integer> exact) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ps"));
        cmd.addAll(args);
        StableProcesses before = StableProcesses.read();
        Process real = new ProcessBuilder(cmd).start();
        String theirs = new String(real.getInputStream().readAllBytes());
        real.waitFor();
        Cli.Result ours = Cli.run(daemon.socket(), Stream.concat(Stream.of("ps"), args.stream()).toArray(String[]::new));
        assertThat(ours.exit()).as(ours.err()).isZero();
        Set<Integer> stable = before.unchangedIn(StableProcesses.read());

        List<String> t = theirs.lines().toList();
        List<String> o = ours.out().lines().toList();
        assertThat(o.getFirst()).as("header").isEqualTo(t.getFirst());

        int pidCol = args.getFirst().equals("-ef") || args.getFirst().equals("aux") ? 1 : 0;
        Map<String, String[]> theirRows = index(t, fixedColumns, pidCol);
        Map<String, String[]> ourRows = index(o, fixedColumns, pidCol);
        int compared = 0;
        List<String> problems = new ArrayList<>();
        for (var e : theirRows.entrySet()) {
            String pid = e.getKey();
            if (!stable.contains(Integer.parseInt(pid))) {
                continue; // started, ended or changed between the two runs
            }
            String[] mine = ourRows.get(pid);
            if (mine == null) {
                problems.add("missing from procwatch: " + String.join(" ", e.getValue()));
                continue;
            }
            String[] their = e.getValue();
            for (int i : exact) {
                // kernel workers rename themselves with every work item: their names are samples
                if (!their[i].equals(mine[i]) && !their[i].startsWith("kworker/")) {
                    problems.add("pid " + pid + " column " + i + ": ps '" + their[i] + "' procwatch '" + mine[i] + "'");
                }
            }
            String theirCmd = their[fixedColumns];
            String myCmd = mine[fixedColumns];
            boolean workqueue = theirCmd.startsWith("[kworker/") || theirCmd.startsWith("kworker/");
            if (!theirCmd.equals(myCmd) && !workqueue) {
                problems.add("pid " + pid + " command: ps '" + theirCmd + "' procwatch '" + myCmd + "'");
            }
            compared++;
        }
        for (var e : ourRows.entrySet()) {
            if (!theirRows.containsKey(e.getKey()) && stable.contains(Integer.parseInt(e.getKey()))) {
                problems.add("only in procwatch: " + String.join(" ", e.getValue()));
            }
        }
        System.out.printf("ps %s: %d rows compared with procps%n", args, compared);
        problems.forEach(p -> System.out.println("  mismatch: " + p));
        assertThat(problems).isEmpty();
        assertThat(ourRows.get(Long.toString(zombiePid))).as("the zombie's row").isNotNull()
                .satisfies(row -> assertThat(row[fixedColumns]).isEqualTo("[perl] <defunct>"));
        assertThat(compared).isGreaterThan(30);
    }

    /**
     * Plain BSD ps (no selection, a BSD option) lists the user's processes on any terminal, not
     * only on ps's own (procps's select bits for BSD "g"): a process on a pseudo-terminal of its
     * own (made with script) is listed by both, whatever terminal this test has.
     */
    @org.junit.jupiter.api.Test
    void plainBsdPsListsOwnProcessesOnAnyTerminal() throws Exception {
        Process script = new ProcessBuilder("script", "-qc", "exec sleep 300", "/dev/null")
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            long deadline = System.currentTimeMillis() + 10_000;
            ProcessHandle sleep = null;
            while (sleep == null || !Files.readString(Path.of("/proc/" + sleep.pid() + "/comm")).startsWith("sleep")) {
                assertThat(System.currentTimeMillis()).as("script's sleep").isLessThan(deadline);
                Thread.sleep(50);
                sleep = script.children().findAny().orElse(null);
            }
            String pts = Files.readSymbolicLink(Path.of("/proc/" + sleep.pid() + "/fd/0")).toString();
            assertThat(pts).startsWith("/dev/pts/");
            Process real = new ProcessBuilder("ps", "o", "pid,tty,comm").start();
            String theirs = new String(real.getInputStream().readAllBytes());
            real.waitFor();
            Cli.Result ours = Cli.run(daemon.socket(), "ps", "o", "pid,tty,comm");
            List<String> row = List.of(Long.toString(sleep.pid()), pts.substring("/dev/".length()), "sleep");
            assertThat(theirs.lines().map(l -> List.of(l.trim().split("\\s+")))).as("procps's plain BSD ps").contains(row);
            assertThat(ours.out().lines().map(l -> List.of(l.trim().split("\\s+"))))
                    .as("procwatch's plain BSD ps: " + ours.err()).contains(row);
        } finally {
            script.descendants().forEach(ProcessHandle::destroyForcibly);
            script.destroyForcibly().waitFor();
        }
    }

    /** Splits each row into its fixed columns plus the rest, keyed by pid. */
    private static Map<String, String[]> index(List<String> lines, int fixed, int pidCol) {
        Map<String, String[]> m = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] parts = line.trim().split("\\s+", fixed + 1);
            if (parts.length == fixed + 1) {
                m.put(parts[pidCol], parts);
            }
        }
        return m;
    }
}
