package io.procwatch.daemon;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A root process that overwrites a secret in its own argv (as mysql clients and many daemons do)
 * shows the scrubbed text to every user, as procps does, in ps and in the history after it exits.
 */
class ScrubbedArgvTest {
    private static final List<String> NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");

    @Test
    void aScrubbedSecretIsNotServedAfterTheProcessScrubbedIt() throws Exception {
        Path dir = Files.createTempDirectory("pw-scrub");
        Path src = dir.resolve("scrub.c");
        Files.writeString(src, """
                #include <stdio.h>
                #include <string.h>
                #include <unistd.h>
                int main(int argc, char **argv) {
                    for (int i = 1; i < argc; i++)
                        if (strncmp(argv[i], "--password=", 11) == 0)
                            memset(argv[i] + 11, 'x', strlen(argv[i] + 11));
                    printf("ready\\n");
                    fflush(stdout);
                    pause();
                    return 0;
                }
                """);
        Path bin = dir.resolve("scrub");
        Process cc = Spawn.run("cc", "-O2", "-Wall", "-Werror", "-o", bin.toString(), src.toString());
        assertThat(cc.exitValue()).as(new String(cc.getInputStream().readAllBytes())).isZero();
        try (DaemonProcess d = DaemonProcess.start()) {
            Process p = new ProcessBuilder(bin.toString(), "--user=app", "--password=hunter2").start();
            String pid = Long.toString(p.pid());
            try {
                assertThat(new String(p.getInputStream().readNBytes(6))).isEqualTo("ready\n");
                // ground truth: procps, which reads /proc/PID/cmdline now
                String procps = Spawn.output("ps", "-p", pid, "-o", "args=").strip();
                assertThat(procps).isEqualTo(bin + " --user=app --password=xxxxxxx");
                Cli.Result other = Cli.runAs(d.socket(), NOBODY, "ps", "-p", pid, "-o", "args=");
                assertThat(other.exit()).as(other.err()).isZero();
                assertThat(other.out().strip()).isEqualTo(procps);
                assertThat(Cli.run(d.socket(), "ps", "-p", pid, "-o", "args=").out().strip()).isEqualTo(procps);
            } finally {
                p.destroy();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            String history = "";
            for (int i = 0; i < 50 && !history.contains(pid); i++) {
                Thread.sleep(100);
                history = Cli.run(d.socket(), "history", "--pid", pid, "--json").out();
            }
            // the history keeps the text the process showed last: scrubbed
            assertThat(history).contains("\"pid\":" + pid).contains("--password=xxxxxxx").doesNotContain("hunter2");
            // and another user gets no exec-time command line of root's process at all
            String other = Cli.runAs(d.socket(), NOBODY, "history", "--pid", pid, "--json").out();
            assertThat(other).contains("\"pid\":" + pid).doesNotContain("hunter2").doesNotContain("--password");
        }
    }
}
