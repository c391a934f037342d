package io.procwatch.bpf;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The assembled exec capture, loaded into the running kernel: every exec a test starts comes out
 * of the ring with the argv, path, name, credentials and start it really had.
 */
class ExecCaptureTest {
    private static ExecCapture capture;

    @BeforeAll
    static void load() throws IOException {
        capture = ExecCapture.open(); // CI runs as root on a kernel with BTF: a failure here is a real failure
    }

    @AfterAll
    static void close() {
        capture.close();
    }

    private static List<ExecCapture.Exec> drainFor(long pid) {
        List<ExecCapture.Exec> out = new ArrayList<>();
        capture.drain(e -> {
            if (e.tgid() == pid) {
                out.add(e);
            }
        });
        return out;
    }

    @Test
    void recordsTheArgvPathAndIdentityOfAnExec() throws Exception {
        capture.drain(e -> { });
        Process p = new ProcessBuilder("/bin/sleep", "0.01", "--", "two words", "").start();
        long pid = p.pid();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        List<ExecCapture.Exec> got = drainFor(pid);
        // the JDK's launcher may exec a helper first; the last exec of the pid is sleep
        assertThat(got).isNotEmpty();
        ExecCapture.Exec e = got.getLast();
        assertThat(e.argvRead()).isTrue();
        assertThat(e.argvTruncated()).isFalse();
        assertThat(e.argv()).containsExactly("/bin/sleep", "0.01", "--", "two words", "");
        assertThat(e.path()).isEqualTo("/bin/sleep"); // as exec was given it; the table resolves it
        assertThat(e.comm()).isEqualTo("sleep");
        assertThat(e.oldPid()).isEqualTo((int) pid);
        assertThat(e.ruid()).isEqualTo(0);
        assertThat(e.euid()).isEqualTo(0);
        assertThat(e.startNs()).isPositive().isLessThanOrEqualTo(e.ktimeNs());
        assertThat(e.startBootNs()).isGreaterThanOrEqualTo(e.startNs());
    }

    @Test
    void marksAnArgvLongerThanTheCapAsTruncated() throws Exception {
        capture.drain(e -> { });
        String big = "x".repeat(ExecCapture.ARGV_MAX);
        Process p = new ProcessBuilder("/bin/true", big, "after").start();
        long pid = p.pid();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        ExecCapture.Exec e = drainFor(pid).getLast();
        assertThat(e.argvRead()).isTrue();
        assertThat(e.argvTruncated()).isTrue();
        assertThat(e.argv().get(0)).isEqualTo("/bin/true");
        assertThat(String.join("\0", e.argv()).length()).isEqualTo(ExecCapture.ARGV_MAX);
        assertThat(e.argv().get(1)).startsWith("xxxx");
    }

    @Test
    void aScriptRecordsItsInterpreterAndItsOwnArgv() throws Exception {
        Path script = Files.createTempFile("pw-exec", ".sh");
        Files.writeString(script, "#!/bin/sh\nexit 0\n");
        script.toFile().setExecutable(true);
        capture.drain(e -> { });
        Process p = new ProcessBuilder(script.toString(), "arg").start();
        long pid = p.pid();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        Files.delete(script);
        ExecCapture.Exec e = drainFor(pid).getLast();
        assertThat(e.path()).isEqualTo("/bin/sh");
        assertThat(e.argv()).containsExactly("/bin/sh", script.toString(), "arg");
    }

    @Test
    void nothingIsLostAtThisPace() {
        assertThat(capture.lost()).isZero();
    }
}
