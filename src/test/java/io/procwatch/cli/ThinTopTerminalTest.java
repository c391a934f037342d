package io.procwatch.cli;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Thin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Interactive top through the native thin client against a real daemon, in a real terminal
 * (tmux): the command runs in the daemon (the client's JVM fallback is /bin/false, which would
 * print nothing and exit 1), the screen shows the processes this test started, keys sort and
 * filter, a resize redraws at the new width, and every way out (q, Ctrl-C, the daemon going)
 * gives the terminal back exactly as it was (stty -a before = after). A daemon without STDIN and
 * WINSIZE (an older one, played here by a socket that answers as it would) gets the command handed
 * to the JVM client, with the terminal already restored.
 */
class ThinTopTerminalTest {
    private static final String TMUX_SOCKET = "pwthin-" + ProcessHandle.current().pid();
    private static DaemonProcess daemon;
    private static Process big;
    private static Process small;
    private static Path dir;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Thin.built(), "no C compiler at build time: the thin client is not built");
        daemon = DaemonProcess.start();
        dir = Files.createTempDirectory("pwthintop");
        // two named processes of our own: one holding 300 MB resident, one small
        big = new ProcessBuilder("perl", "-e", "$0 = 'pwthinbig'; $| = 1; my $x = 'x' x 300_000_000; print \"ok\\n\"; sleep 600")
                .start();
        assertThat(big.inputReader().readLine()).isEqualTo("ok");
        small = new ProcessBuilder("perl", "-e", "$0 = 'pwthinsmall'; sleep 600").start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon == null) {
            return;
        }
        tmux("kill-server");
        big.destroyForcibly().waitFor();
        small.destroyForcibly().waitFor();
        daemon.close();
    }

    @AfterEach
    void closeSession() throws Exception {
        tmux("kill-session", "-t", "top");
    }

    /**
     * A script for the tmux pane: the terminal's modes before, the thin client's top, its status,
     * the modes after. bash with an INT trap, so that Ctrl-C ends the client and not the pane.
     */
    private static void session(String name, Path socket, String jvm, int cols, int rows) throws Exception {
        Path script = dir.resolve(name + ".sh");
        Files.writeString(script, "#!/bin/bash\ntrap 'echo got-sigint' INT\n"
                + "stty -a > " + dir.resolve(name + ".before") + "\n"
                + "env PROCWATCH_SOCKET=" + socket + " PROCWATCH_JVM=" + jvm + " LC_ALL=C.UTF-8 "
                + Thin.BINARY + " top -d 0.5\n"
                + "echo procwatch-exit=$?\n"
                + "stty -a > " + dir.resolve(name + ".after") + "\n"
                + "echo modes-saved\nsleep 600\n");
        script.toFile().setExecutable(true);
        tmux("new-session", "-d", "-s", "top", "-x", String.valueOf(cols), "-y", String.valueOf(rows), script.toString());
    }

    private static void assertTerminalRestored(String name) throws Exception {
        await("the modes saved after the client", s -> s.contains("modes-saved"));
        // all of it but the window size, which the resize test changes itself
        assertThat(modes(dir.resolve(name + ".after"))).as("stty -a after the client")
                .isEqualTo(modes(dir.resolve(name + ".before")));
    }

    private static String modes(Path sttyA) throws IOException {
        return Files.readString(sttyA).replaceFirst("rows \\d+; columns \\d+;", "");
    }

    private static long stat(String name) throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            return c.stats().get(name);
        }
    }

    @Test
    void runsInTheDaemonSortsFiltersResizesAndQuitsWithTheTerminalRestored() throws Exception {
        long runsBefore = stat("runs_total");
        session("q", daemon.socket(), "/bin/false", 120, 40);
        String screen = await("the first screen", s -> s.contains("PID USER") && s.contains("Tasks:"));
        assertThat(screen).contains("load average:").contains("%Cpu(s):").contains("Events:").contains("Sort: %CPU");
        assertThat(screen.lines()).allMatch(l -> l.length() <= 120);
        // served by the daemon: a run of it is under way (the JVM fallback would have ended at once)
        assertThat(stat("runs_active")).isEqualTo(1);
        assertThat(stat("runs_total")).isGreaterThan(runsBefore);

        // M: sorted by memory, the largest %MEM first (column 9)
        keys("M");
        // (a screen caught while tmux takes in a redraw mixes two frames: wait for a whole one)
        screen = await("sorted by %MEM", s -> s.contains("Sort: %MEM") && memColumn(s).size() > 5
                && isDescending(memColumn(s)));
        assertThat(screen).contains("Sort: %MEM");

        // a filter on our two processes: both there, with their pids, the big one first
        filter("pwthin");
        screen = await("only ours", s -> s.contains("Filter: pwthin") && rows(s).size() == 2);
        List<String> ours = rows(screen);
        assertThat(ours.get(0)).contains("pwthinbig").startsWith(String.format("%5d ", big.pid()));
        assertThat(ours.get(1)).contains("pwthinsmall").startsWith(String.format("%5d ", small.pid()));
        // N: by pid, highest first (small was started after big)
        keys("N");
        screen = await("sorted by PID", s -> s.contains("Sort: PID") && rows(s).size() == 2);
        assertThat(rows(screen).get(0)).contains("pwthinsmall");
        keys("=");
        await("filter cleared", s -> !s.contains("Filter: ") && rows(s).size() > 3);

        // resize: the screen follows at the new width and height
        tmux("resize-window", "-t", "top", "-x", "72", "-y", "22");
        screen = await("the small screen", s -> s.lines().count() <= 22 && s.contains("PID USER")
                && s.lines().allMatch(l -> l.length() <= 72) && s.lines().count() >= 18);
        assertThat(screen.lines().toList().get(7)).startsWith("Sort:");
        tmux("resize-window", "-t", "top", "-x", "130", "-y", "30");
        // wider and taller than 72x22 allowed (a line over 120 columns needs a long enough
        // process name on screen, which a quiet machine may not have)
        await("the wide screen", s -> s.lines().anyMatch(l -> l.length() > 72) && s.lines().count() > 22
                && s.lines().allMatch(l -> l.length() <= 130) && s.contains("PID USER"));

        // q: exit 0, the normal screen back, the modes as they were
        keys("q");
        screen = await("the exit", s -> s.contains("procwatch-exit="));
        assertThat(screen).contains("procwatch-exit=0").doesNotContain("PID USER");
        assertTerminalRestored("q");
        awaitRuns(0);
    }

    @Test
    void ctrlCEndsItOnBothSidesAndRestoresTheTerminal() throws Exception {
        long cancelled = stat("runs_cancelled");
        session("int", daemon.socket(), "/bin/false", 100, 30);
        await("the first screen", s -> s.contains("PID USER"));
        keys("C-c");
        String screen = await("the exit", s -> s.contains("procwatch-exit="));
        // it dies of SIGINT, as top does: bash says 130
        assertThat(screen).contains("procwatch-exit=130").doesNotContain("PID USER");
        assertTerminalRestored("int");
        awaitRuns(0);
        assertThat(stat("runs_cancelled")).isEqualTo(cancelled + 1);
    }

    @Test
    void theClientGoingEndsTheRunInTheDaemon() throws Exception {
        session("kill", daemon.socket(), "/bin/false", 100, 30);
        await("the first screen", s -> s.contains("PID USER"));
        awaitRuns(1);
        long pid = clientPid();
        new ProcessBuilder("kill", "-KILL", String.valueOf(pid)).start().waitFor();
        await("the exit", s -> s.contains("procwatch-exit=137"));
        awaitRuns(0); // the daemon saw the socket close and ended its top
    }

    @Test
    void theDaemonGoingEndsTheClientWithTheTerminalRestored() throws Exception {
        Path sock = dir.resolve("second.sock");
        try (DaemonProcess second = DaemonProcess.start(sock)) {
            session("gone", sock, "/bin/false", 100, 30);
            await("the first screen", s -> s.contains("PID USER"));
            second.kill(); // SIGKILL: the kernel closes its end, nothing is said
            String screen = await("the exit", s -> s.contains("procwatch-exit="));
            assertThat(screen).contains("procwatch-exit=70").contains("the daemon closed the connection")
                    .doesNotContain("PID USER");
            assertTerminalRestored("gone");
        }
    }

    @Test
    void aDaemonWithoutKeysGetsTheCommandHandedToTheJvmWithTheTerminalRestored() throws Exception {
        Path sock = dir.resolve("old.sock");
        Files.deleteIfExists(sock);
        // what a daemon of before STDIN/WINSIZE answers: HELLO_REPLY without bits 9 and 10, and
        // E_BAD_ARGUMENT for interactive top
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            Thread old = Thread.ofPlatform().daemon(true).start(() -> {
                try (SocketChannel ch = server.accept()) {
                    var in = Channels.newInputStream(ch);
                    var out = Channels.newOutputStream(ch);
                    Message hello = Message.read(in, Wire.MAX_REQUEST);
                    long caps = 1L << Wire.HELLO | 1L << Wire.SNAPSHOT | 1L << Wire.RUN;
                    new MessageBuilder().u32(Wire.A_VERSION, 1).u64(Wire.R_CAPABILITIES, caps)
                            .build(Wire.HELLO_REPLY, 0, hello.seq()).write(out);
                    Message run = Message.read(in, Wire.MAX_REQUEST);
                    new MessageBuilder().u32(Wire.R_ERROR_CODE, Wire.E_BAD_ARGUMENT)
                            .string(Wire.R_ERROR_TEXT, "interactive top runs in the client").build(Wire.ERROR, 0, run.seq())
                            .write(out);
                    out.flush();
                    in.read(); // until the client has gone to the JVM
                } catch (IOException ignored) {
                    // the client went
                }
            });
            // the "JVM client": records the terminal's modes it was handed and its arguments
            Path jvm = dir.resolve("jvm.sh");
            Files.writeString(jvm, "#!/bin/sh\nstty -a > " + dir.resolve("old.after") + "\necho jvm-fallback \"$@\"\n");
            jvm.toFile().setExecutable(true);
            Path script = dir.resolve("old.sh");
            Files.writeString(script, "#!/bin/bash\nstty -a > " + dir.resolve("old.before") + "\n"
                    + "env PROCWATCH_SOCKET=" + sock + " PROCWATCH_JVM=" + jvm + " " + Thin.BINARY + " top -d 0.5\n"
                    + "echo procwatch-exit=$?\nsleep 600\n");
            script.toFile().setExecutable(true);
            tmux("new-session", "-d", "-s", "top", "-x", "100", "-y", "30", script.toString());
            String screen = await("the fallback", s -> s.contains("procwatch-exit="));
            assertThat(screen).contains("jvm-fallback top -d 0.5").contains("procwatch-exit=0");
            assertThat(Files.readString(dir.resolve("old.after"))).as("the modes the JVM client got")
                    .isEqualTo(Files.readString(dir.resolve("old.before")));
            old.join(5000);
        }
    }

    /** The thin client's pid: the tmux pane's bash has it as its one child. */
    private static long clientPid() throws Exception {
        long pane = Long.parseLong(tmux("display", "-p", "-t", "top", "#{pane_pid}").trim());
        for (int i = 0; i < 100; i++) {
            var child = ProcessHandle.of(pane).flatMap(p -> p.children().findFirst());
            if (child.isPresent()) {
                return child.get().pid();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no client under the pane's shell");
    }

    private static void awaitRuns(long n) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        long active;
        while ((active = stat("runs_active")) != n && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(active).as("runs active in the daemon").isEqualTo(n);
    }

    private static List<Double> memColumn(String screen) {
        List<Double> mem = new ArrayList<>();
        for (String r : rows(screen)) {
            String[] f = r.trim().split("\\s+");
            if (f.length > 8 && f[8].matches("\\d+\\.\\d")) {
                mem.add(Double.parseDouble(f[8]));
            }
        }
        return mem;
    }

    private static boolean isDescending(List<Double> v) {
        for (int i = 1; i < v.size(); i++) {
            if (v.get(i) > v.get(i - 1)) {
                return false;
            }
        }
        return true;
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

    /** o, then a filter text at its prompt, then Enter. */
    private static void filter(String text) throws Exception {
        keys("o");
        await("the filter prompt", s -> s.contains("Filter ("));
        tmux("send-keys", "-t", "top", "-l", text);
        keys("Enter");
    }

    private static void keys(String... k) throws Exception {
        List<String> args = new ArrayList<>(List.of("send-keys", "-t", "top"));
        args.addAll(Arrays.asList(k));
        tmux(args.toArray(String[]::new));
        Thread.sleep(100);
    }

    /** Polls the screen (15 s at most) until it shows what {@code ok} wants. */
    private static String await(String what, Predicate<String> ok) throws Exception {
        String screen = "";
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (System.nanoTime() < deadline) {
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
