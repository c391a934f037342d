package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Thin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * ps inside the daemon keeps the lines of rows that did not change (cli/PsLines). A kept line
 * must never outlive a change: a child this test controls is renamed (an event), stopped (no
 * event: only the fresh pass sees it), grown (RSS, no event) and continued, and after each change
 * the very next thin {@code ps} with the same columns, run twice before the change so the line
 * was kept, shows what the test did.
 */
class PsKeptLinesTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Thin.built(), "no C compiler at build time: the thin client is not built");
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    /** The child's line from one thin ps with fixed columns. */
    private static String[] line(long pid) throws Exception {
        Cli.Result r = Thin.run(daemon.socket(), "ps", "-e", "-o", "pid,stat,rss,comm,args");
        assertThat(r.exit()).as(r.err()).isZero();
        for (String l : r.out().lines().toList()) {
            String[] f = l.trim().split("\\s+", 5);
            if (f[0].equals(Long.toString(pid))) {
                return f;
            }
        }
        return new String[] {Long.toString(pid), "-", "0", "(absent)", ""}; // not in the table (yet)
    }

    /** Waits until the kernel shows the child in {@code state} (a signal is delivered after kill returns). */
    private static void awaitState(long pid, char state) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
            if (stat.charAt(stat.lastIndexOf(')') + 2) == state) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("pid " + pid + " not in state " + state + ": " + stat);
            }
            Thread.sleep(5);
        }
    }

    /** Two runs with the same columns: the child's line is kept for the next. */
    private static String[] kept(long pid) throws Exception {
        line(pid);
        return line(pid);
    }

    @Test
    void aKeptLineNeverOutlivesAChange() throws Exception {
        String script = String.join("\n",
                "import ctypes, sys",
                "libc = ctypes.CDLL(None)",
                "hold = []",
                "for line in sys.stdin:",
                "    cmd, arg = line.split()",
                "    if cmd == 'name':",
                "        libc.prctl(15, arg.encode(), 0, 0, 0)",
                "    elif cmd == 'grow':",
                "        b = bytearray(int(arg) * 1024 * 1024)",
                "        for i in range(0, len(b), 4096): b[i] = 1",
                "        hold.append(b)",
                "    print('ok', flush=True)");
        Process child = new ProcessBuilder("python3", "-c", script, "kept-lines-marker").start();
        try (Writer in = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8);
             BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            long pid = child.pid();
            // until the daemon has applied the child's exec (its events can lag a busy machine)
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!(line(pid)[3].equals("python3")) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String[] f = kept(pid);
            assertThat(f[3]).isEqualTo("python3");
            assertThat(f[4]).contains("kept-lines-marker");
            long rss0 = Long.parseLong(f[2]);

            kept(pid);
            in.write("name renamed42\n");
            in.flush();
            assertThat(out.readLine()).isEqualTo("ok");
            assertThat(line(pid)[3]).as("comm after PR_SET_NAME").isEqualTo("renamed42");

            kept(pid);
            in.write("grow 64\n");
            in.flush();
            assertThat(out.readLine()).isEqualTo("ok");
            long rss1 = Long.parseLong(line(pid)[2]);
            assertThat(rss1).as("RSS after touching 64 MiB (was %d KiB)", rss0).isGreaterThanOrEqualTo(rss0 + 60 * 1024);

            kept(pid); // stop: no event; only the fresh pass can see it
            new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
            awaitState(pid, 'T');
            assertThat(line(pid)[1]).as("STAT after SIGSTOP").startsWith("T");
            kept(pid);
            new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
            awaitState(pid, 'S'); // back in its read of stdin
            assertThat(line(pid)[1]).as("STAT after SIGCONT").startsWith("S");
        } finally {
            child.destroyForcibly().waitFor();
        }
    }
}
