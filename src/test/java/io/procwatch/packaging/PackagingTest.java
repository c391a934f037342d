package io.procwatch.packaging;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The systemd unit passes systemd's own verifier, and the shipped config file is what the daemon reads. */
class PackagingTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir"));

    @Test
    void unitFilePassesSystemdAnalyzeVerify() throws Exception {
        Path dir = Files.createTempDirectory("pw-unit");
        Path unit = dir.resolve("procwatch.service");
        // as `bin/procwatch install` writes it: the checkout's path in ExecStart
        Files.writeString(unit, Files.readString(ROOT.resolve("packaging/procwatch.service"))
                .replace("@ROOT@", ROOT.toString()));
        Process p = new ProcessBuilder("systemd-analyze", "verify", unit.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        Files.delete(unit);
        Files.delete(dir);
        assertThat(rc).as(out).isZero();
        assertThat(out.lines().filter(l -> l.contains("procwatch.service"))).as("warnings about the unit").isEmpty();
        String text = Files.readString(ROOT.resolve("packaging/procwatch.service"));
        assertThat(text).contains("Type=notify").contains("Restart=on-failure")
                .contains("CapabilityBoundingSet=CAP_NET_ADMIN").contains("ProtectSystem=strict")
                .contains("--config /etc/procwatch/procwatch.conf");
    }

    @Test
    void daemonTellsSystemdItIsReadyOverNotifySocket() throws Exception {
        Path dir = Files.createTempDirectory("pw-notify");
        Path notify = dir.resolve("notify.sock");
        // systemd's side of Type=notify: a Unix datagram socket (perl, as the JDK cannot bind one)
        Process systemd = new ProcessBuilder("perl", "-MIO::Socket::UNIX", "-e",
                "$| = 1; my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Local => $ARGV[0]) or die $!; "
                        + "print \"bound\\n\"; $s->recv(my $m, 4096); print $m;", notify.toString()).start();
        assertThat(systemd.inputReader().readLine()).isEqualTo("bound");
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("pw.sock"), java.util.Map.of("NOTIFY_SOCKET", notify.toString()))) {
            String message = new String(systemd.getInputStream().readAllBytes());
            assertThat(systemd.waitFor()).isZero();
            assertThat(message).contains("READY=1").contains("MAINPID=" + d.pid());
        } finally {
            systemd.destroyForcibly();
            Files.deleteIfExists(notify);
        }
    }

    @Test
    void shippedConfigStartsADaemonAndBadConfigIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("pw-conf");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // the shipped file, with this test's paths winning on the command line; copied to a
        // directory only root can change, as /etc/procwatch is (the daemon refuses others)
        Path shipped = Files.copy(ROOT.resolve("packaging/procwatch.conf"), dir.resolve("procwatch.conf"));
        Files.setPosixFilePermissions(shipped, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        try (DaemonProcess d = DaemonProcess.start("--config", shipped.toString(),
                "--history-db", dir.resolve("h.db").toString(), "--http", "127.0.0.1:" + port)) {
            assertThat(d.log()).contains("history in " + dir.resolve("h.db")).contains("http on 127.0.0.1:" + port)
                    .contains("task scan on");
            assertThat(Cli.run(d.socket(), "stats", "--json").out()).contains("\"history_db_written\"")
                    .contains("\"sampler_task_scan\":1");
        }
        // the task scan can be turned off (every stat file read each pass), and says so
        try (DaemonProcess d = DaemonProcess.start("--task-scan", "off")) {
            assertThat(d.log()).contains("task scan off: turned off (--task-scan off)");
            Cli.run(d.socket(), "ps", "-e");
            String stats = Cli.run(d.socket(), "stats").out();
            assertThat(stats).contains("task scan off").contains(" 0 skipped (unchanged)");
        }
        Cli.Result scan = Cli.run(null, "daemon", "--task-scan", "maybe", "--socket", dir.resolve("s.sock").toString());
        assertThat(scan.exit()).isEqualTo(2);
        assertThat(scan.err()).contains("--task-scan takes on or off, not 'maybe'");
        Path bad = dir.resolve("bad.conf");
        Files.writeString(bad, "history = 10\nno-such-setting = 1\n");
        Files.setPosixFilePermissions(bad, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        Cli.Result r = Cli.run(null, "daemon", "--config", bad.toString(), "--socket", dir.resolve("s.sock").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("bad.conf:2: unknown setting 'no-such-setting'");
        // a config file another user could change (it names the socket, the database, the
        // exempt group) is refused before anything is read from it
        Path open = dir.resolve("open.conf");
        Files.writeString(open, "history = 10\nno-such-setting = 1\n"); // read at all: a fast, other failure
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        Cli.Result o = Cli.run(null, "daemon", "--config", open.toString(), "--socket", dir.resolve("s.sock").toString());
        assertThat(o.exit()).isEqualTo(2);
        assertThat(o.err()).contains("refusing " + open).contains("writable by every user");
        try (var s = Files.list(dir)) {
            for (Path f : s.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }
}
