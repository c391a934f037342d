package io.procwatch.cli;

import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives the real interactive top in a real terminal (tmux): start, sort, filter, tree, resize,
 * kill a test process, quit; every step asserts what is on the screen.
 */
class TopTerminalTest {
    private static final String TMUX_SOCKET = "pwtest-" + ProcessHandle.current().pid();
    private static DaemonProcess daemon;
    private static Process burner;
    private static Process victim;
    private static long childPid;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        // a CPU burner and a sleeping parent with one child, each with a name to look for
        burner = new ProcessBuilder("perl", "-e", "$0 = 'pwburn'; 1 while 1").start();
        victim = new ProcessBuilder("perl", "-e",
                "$0 = 'pwvictim'; $| = 1; my $c = fork; if (!$c) { $0 = 'pwchild'; sleep 600; exit } "
                        + "print \"$c\\n\"; sleep 600").start();
        childPid = Long.parseLong(victim.inputReader().readLine().trim());
    }

    @AfterAll
    static void stop() throws Exception {
        tmux("kill-server");
        burner.destroyForcibly().waitFor();
        victim.destroyForcibly().waitFor();
        ProcessHandle.of(childPid).ifPresent(ProcessHandle::destroyForcibly);
        daemon.close();
    }

    @Test
    void startSortFilterTreeResizeKillQuit() throws Exception {
        String cmd = "env PROCWATCH_SOCKET=" + daemon.socket() + " LC_ALL=C.UTF-8 " + Spawn.javaBinary()
                + " --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -cp " + Spawn.projectClasspath()
                + " io.procwatch.cli.Main top -d 0.5; echo procwatch-exit=$?; stty -a | grep -o ' icanon '; sleep 600";
        tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "40", cmd);

        // start: the summary, the event lines and the column header
        String screen = await("the first screen", s -> s.contains("PID USER") && s.contains("Tasks:"));
        assertThat(screen).contains("load average:").contains("%Cpu(s):").contains("MiB Mem :")
                .contains("Events:").contains("Exited:").contains("Sort: %CPU");

        // sort by %CPU (the default, and P): the burner is the first row
        keys("P");
        keys("P"); // pressing again reverses; twice is back to highest first
        await("the burner on top", s -> firstRow(s).contains("pwburn"));

        // sort by PID: the status line says so, and rows go from the highest pid down
        keys("N");
        screen = await("sorted by PID", s -> s.contains("Sort: PID"));
        List<Integer> pids = rowPids(screen);
        assertThat(pids).hasSizeGreaterThan(5);
        assertThat(pids).isSortedAccordingTo((a, b) -> Integer.compare(b, a));

        // filter by text: only the victim and its child remain
        filter("pwvictim");
        screen = await("only the victim", s -> s.contains("Filter: pwvictim") && s.contains("pwvictim"));
        assertThat(rows(screen)).allMatch(r -> r.contains("pwvictim"));
        keys("=");
        await("filter cleared", s -> !s.contains("Filter: ") && rows(s).size() > 3);

        // tree (of our three test processes): the child is drawn under its parent
        filter("pw");
        keys("V");
        screen = await("the tree", s -> s.contains("Tree") && s.contains("`- pwchild"));
        List<String> r = rows(screen);
        assertThat(indexOf(r, "`- pwchild")).isEqualTo(indexOf(r, "pwvictim") + 1);
        assertThat(r.get(indexOf(r, "pwvictim"))).doesNotContain("`-");
        keys("V");
        keys("=");

        // resize to 80x24: the screen follows, nothing wider than the terminal
        tmux("resize-window", "-t", "top", "-x", "80", "-y", "24");
        screen = await("the small screen", s -> s.lines().count() <= 24 && s.contains("PID USER")
                && s.lines().allMatch(l -> l.length() <= 80) && s.lines().count() >= 20);
        assertThat(screen.lines().toList().get(7)).startsWith("Sort:");

        // renice: filter to the parent, r, Enter for the default pid (the top row), value 7
        filter("pwvictim");
        await("only the parent", s -> s.contains("Filter: pwvictim") && firstRow(s).contains("pwvictim"));
        keys("r");
        await("the renice prompt", s -> s.contains("PID to renice [default pid = " + victim.pid() + "]"));
        keys("Enter");
        await("the value prompt", s -> s.contains("Renice PID " + victim.pid() + " to value"));
        literal("7");
        keys("Enter");
        await("the renice confirmation", s -> s.contains("Reniced " + victim.pid() + " to 7"));
        String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + victim.pid() + "/stat"));
        assertThat(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]).as("nice of the parent").isEqualTo("7");
        await("NI 7 on screen", s -> firstRow(s).matches("\\s*" + victim.pid() + " +root +\\d+ +7 .*"));

        // kill: filter to the child, k, Enter for the default pid (the top row), signal 9
        filter("pwchild");
        await("only the child", s -> s.contains("Filter: pwchild") && firstRow(s).contains("pwchild"));
        keys("k");
        await("the pid prompt", s -> s.contains("PID to signal/kill [default pid = " + childPid + "]"));
        keys("Enter");
        await("the signal prompt", s -> s.contains("Send pid " + childPid + " signal [15/sigterm]"));
        literal("9");
        keys("Enter");
        await("the confirmation", s -> s.contains("Sent SIGKILL to " + childPid));
        // its parent sleeps without reaping it: killed, it stays a zombie
        for (int i = 0; i < 100 && ProcFsState.of(childPid) != 'Z'; i++) {
            Thread.sleep(50);
        }
        assertThat(ProcFsState.of(childPid)).as("the child after SIGKILL").isEqualTo('Z');
        await("the zombie on screen", s -> firstRow(s).contains(" Z ") && firstRow(s).contains("pwchild"));

        // quit: the program ends with status 0 and gives the terminal back (normal screen, line mode)
        keys("q");
        screen = await("the exit, then the terminal in line mode again",
                s -> s.contains("procwatch-exit=") && s.contains(" icanon"));
        assertThat(screen).contains("procwatch-exit=0").contains(" icanon").doesNotContain("PID USER");
    }

    /** The state letter of a process from /proc, '?' when it is gone. */
    private static final class ProcFsState {
        static char of(long pid) {
            try {
                String s = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
                return s.charAt(s.lastIndexOf(')') + 2);
            } catch (IOException e) {
                return '?';
            }
        }
    }

    private static int indexOf(List<String> rows, String text) {
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).contains(text)) {
                return i;
            }
        }
        return -1;
    }

    /** Process rows: the lines after the column header. */
    private static List<String> rows(String screen) {
        List<String> lines = screen.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains("PID USER")) {
                return lines.subList(i + 1, lines.size()).stream().filter(l -> !l.isBlank()).toList();
            }
        }
        return List.of();
    }

    private static String firstRow(String screen) {
        List<String> r = rows(screen);
        return r.isEmpty() ? "" : r.getFirst();
    }

    private static List<Integer> rowPids(String screen) {
        List<Integer> pids = new ArrayList<>();
        for (String row : rows(screen)) {
            pids.add(Integer.parseInt(row.trim().split("\\s+")[0]));
        }
        return pids;
    }

    /** o, then a filter text at its prompt, then Enter. */
    private static void filter(String text) throws Exception {
        keys("o");
        await("the filter prompt", s -> s.contains("Filter ("));
        literal(text);
        keys("Enter");
    }

    private static void keys(String... k) throws Exception {
        List<String> args = new ArrayList<>(List.of("send-keys", "-t", "top"));
        args.addAll(Arrays.asList(k));
        tmux(args.toArray(String[]::new));
        Thread.sleep(100);
    }

    private static void literal(String text) throws Exception {
        tmux("send-keys", "-t", "top", "-l", text);
    }

    /** Polls the screen (10 s at most) until it shows what {@code ok} wants. */
    private static String await(String what, Predicate<String> ok) throws Exception {
        String screen = "";
        for (int i = 0; i < 200; i++) {
            screen = tmux("capture-pane", "-p", "-t", "top");
            if (ok.test(screen)) {
                return screen;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the screen never showed " + what + "; last screen:\n" + screen);
    }

    private static String tmux(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("tmux", "-L", TMUX_SOCKET));
        cmd.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return out;
    }
}
