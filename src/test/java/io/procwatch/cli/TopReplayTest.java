package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code top --replay FROM --until TO} in a real terminal (tmux), on a journal the test's own
 * processes wrote: pwreplay-a lived at FROM and was killed, pwreplay-b started after; the screen
 * at FROM shows a and not b, {@code g} to TO shows b and not a, {@code T} steps back to FROM,
 * {@code t} on to TO, the filter and sort keys work on the past table; batch mode prints one frame
 * per interval; an instant before the journal is exit 1 with the reason.
 */
class TopReplayTest {
    private static final String TMUX_SOCKET = "pwreplay-" + ProcessHandle.current().pid();

    @Test
    void replayStepsThroughTheJournalWithTheKeys() throws Exception {
        Path dir = Files.createTempDirectory("pw-topreplay");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path sockDir = Files.createTempDirectory("pw-topreplay-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        DaemonProcess daemon = DaemonProcess.start(socket, "--history-db", dir.resolve("h.db").toString(),
                "--journal-checkpoint", "3", "--journal-sample", "1");
        Process a = null;
        Process b = null;
        try {
            a = new ProcessBuilder("perl", "-e", "$0 = 'pwreplay-a'; sleep 600").start();
            Thread.sleep(2500);
            long from = System.currentTimeMillis();
            Thread.sleep(2000);
            a.destroyForcibly().waitFor();
            b = new ProcessBuilder("perl", "-e", "$0 = 'pwreplay-b'; sleep 600").start();
            Thread.sleep(2500);
            long until = System.currentTimeMillis();
            Thread.sleep(1500);

            String cmd = "env PROCWATCH_SOCKET=" + socket + " LC_ALL=C.UTF-8 " + Spawn.javaBinary()
                    + " --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -cp " + Spawn.projectClasspath()
                    + " io.procwatch.cli.Main top --replay " + at(from) + " --until " + at(until)
                    + " -d 1; echo procwatch-exit=$?; sleep 600";
            tmux("new-session", "-d", "-s", "top", "-x", "160", "-y", "50", cmd);
            String screen = await("the first frame, at FROM", s -> s.contains("PID USER") && s.contains("Replay "));
            assertThat(screen).contains("Replay " + Times.CLOCK_MS.format(Times.at(from)));
            // what the journal does not record is "-", not 0 (an idle, empty machine)
            assertThat(screen).contains("up -,  load average: -, -, -").contains("%Cpu(s):    - us,")
                    .contains("MiB Mem :        - total,").contains("MiB Swap:        - total,");

            // only the test's processes: the filter works on the past table
            keys("o");
            await("the filter prompt", s -> s.contains("Filter ("));
            literal("pwreplay");
            keys("Enter");
            await("pwreplay-a alone at FROM", s -> s.contains("pwreplay-a") && !s.contains("pwreplay-b"));

            keys("g");
            await("the time prompt", s -> s.contains("Go to time"));
            literal(at(until));
            keys("Enter");
            await("pwreplay-b alone at TO", s -> s.contains("pwreplay-b") && !s.contains("pwreplay-a")
                    && s.contains("Replay " + Times.CLOCK_MS.format(Times.at(until))));

            for (int i = 0; i < 8; i++) {
                keys("T"); // back one interval (1 s) each; FROM at most
            }
            await("back at FROM with T", s -> s.contains("pwreplay-a") && !s.contains("pwreplay-b")
                    && s.contains("Replay " + Times.CLOCK_MS.format(Times.at(from))));
            for (int i = 0; i < 8; i++) {
                keys("t");
            }
            await("on to TO with t", s -> s.contains("pwreplay-b") && !s.contains("pwreplay-a"));

            keys("N");
            await("sorted by PID", s -> s.contains("Sort: PID"));
            keys("q");
            await("top's exit", s -> s.contains("procwatch-exit=0"));

            // batch: one frame per interval from FROM to TO (-d 1: about 7 of them)
            Cli.Result batch = Cli.run(socket, "top", "--replay", at(from), "--until", at(until), "-d", "1", "-b");
            assertThat(batch.exit()).as(batch.err()).isZero();
            int frames = batch.out().split("PID USER", -1).length - 1;
            assertThat(frames).isEqualTo((int) ((until - from) / 1000 + 1));
            assertThat(batch.out()).contains("pwreplay-a").contains("pwreplay-b");
            // the first frame's Tasks line is the table at FROM: the same counts by state as ps --at FROM
            Cli.Result past = Cli.run(socket, "ps", "--at", at(from), "-e", "-o", "s=");
            assertThat(past.exit()).as(past.err()).isZero();
            List<String> states = Arrays.stream(past.out().split("\n")).map(String::trim)
                    .map(s -> s.replace("~", "")) // the state is a sampled column: marked when stale (docs/journal.md)
                    .filter(s -> !s.isEmpty()).toList();
            long running = states.stream().filter(s -> s.equals("R")).count();
            long sleeping = states.stream().filter(s -> s.equals("S") || s.equals("D") || s.equals("I")).count();
            long stopped = states.stream().filter(s -> s.equals("T") || s.equals("t")).count();
            long zombie = states.stream().filter(s -> s.equals("Z")).count();
            String tasks = Arrays.stream(batch.out().split("\n")).filter(l -> l.startsWith("Tasks:")).findFirst().orElseThrow();
            assertThat(tasks).isEqualTo(String.format(Locale.ROOT,
                    "Tasks: %3d total, %3d running, %3d sleeping, %3d stopped, %3d zombie",
                    states.size(), running, sleeping, stopped, zombie));
            assertThat(sleeping).as("pwreplay-a, the daemon, this JVM at least").isGreaterThanOrEqualTo(3);
            assertThat(batch.out()).contains("Events: ").contains("     - execs/s").contains("- lost");
            Cli.Result json = Cli.run(socket, "top", "--replay", at(from), "--until", at(from), "-b", "--json");
            assertThat(json.exit()).as(json.err()).isZero();
            var frame = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out().lines().findFirst().orElseThrow());
            assertThat(frame.get("load").isNull()).isTrue();
            assertThat(frame.get("cpu_percent").isNull()).isTrue();
            assertThat(frame.get("mem_kib").isNull()).isTrue();
            assertThat(frame.get("tasks").get("total").asInt()).isEqualTo(states.size());

            Cli.Result early = Cli.run(socket, "top", "--replay", "@1000000000", "--until", "@1000000001", "-b");
            assertThat(early.exit()).isEqualTo(1);
            assertThat(early.err()).contains("nothing that early");
        } finally {
            tmux("kill-server");
            if (a != null) {
                a.destroyForcibly();
            }
            if (b != null) {
                b.destroyForcibly();
            }
            daemon.close();
        }
    }

    private static String at(long ms) {
        return String.format(Locale.ROOT, "@%d.%03d", ms / 1000, ms % 1000);
    }

    private static String await(String what, Predicate<String> ok) throws Exception {
        String screen = "";
        for (int i = 0; i < 300; i++) {
            screen = tmux("capture-pane", "-p", "-t", "top");
            if (ok.test(screen)) {
                return screen;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the screen never showed " + what + "; last screen:\n" + screen);
    }

    private static void keys(String... k) throws Exception {
        List<String> args = new ArrayList<>(List.of("send-keys", "-t", "top"));
        args.addAll(Arrays.asList(k));
        tmux(args.toArray(String[]::new));
        Thread.sleep(150);
    }

    private static void literal(String text) throws Exception {
        tmux("send-keys", "-t", "top", "-l", text);
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
