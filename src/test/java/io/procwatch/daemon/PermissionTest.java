package io.procwatch.daemon;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An unprivileged client (uid 65534 through setpriv) sees what /proc would show it, no more:
 * everyone's pids, users and command lines, but exe and io only of its own processes; and with
 * /proc mounted hidepid=2, only its own processes at all.
 */
class PermissionTest {
    private static final List<String> NOBODY = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
    private static final String SELF = Long.toString(ProcessHandle.current().pid());
    private static DaemonProcess daemon;
    private static Process nobodySleep;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        nobodySleep = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/bin/sleep", "60").start();
        Thread.sleep(300);
    }

    @AfterAll
    static void stop() throws Exception {
        nobodySleep.destroyForcibly();
        daemon.close();
    }

    /** pid to the rest of the line, from "ps -o pid=,..." output. */
    private static Map<String, String> rows(String out) {
        Map<String, String> m = new HashMap<>();
        for (String line : out.lines().toList()) {
            String t = line.trim();
            int sp = t.indexOf(' ');
            if (sp > 0) {
                m.put(t.substring(0, sp), t.substring(sp + 1).trim());
            }
        }
        return m;
    }

    @Test
    void otherUsersSeeEveryoneButNotTheirPrivateFiles() throws Exception {
        String sleepPid = Long.toString(nobodySleep.pid());
        Cli.Result r = Cli.runAs(daemon.socket(), NOBODY, "ps", "-e", "-o", "pid=,user=,exe=,rchar=,args=");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, String> seen = rows(r.out());
        // root's processes: listed with user and command line, but exe and io hidden ("-")
        assertThat(seen).containsKey(SELF);
        assertThat(seen.get(SELF)).startsWith("root").contains("surefire");
        assertThat(seen.get(SELF).split("\\s+")[1]).isEqualTo("-");
        assertThat(seen.get(SELF).split("\\s+")[2]).isEqualTo("-");
        // its own processes: everything
        assertThat(seen.get(sleepPid)).startsWith("nobody").contains("/usr/bin/sleep");
        assertThat(seen.get(sleepPid).split("\\s+")[2]).matches("\\d+");

        Cli.Result root = Cli.run(daemon.socket(), "ps", "-e", "-o", "pid=,exe=");
        assertThat(rows(root.out()).get(SELF)).endsWith("/bin/java");
    }

    @Test
    void daemonKnowsWhoTheClientIs() throws Exception {
        Cli.Result r = Cli.runAs(daemon.socket(), NOBODY, "stats", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"processes\":");
    }

    @Test
    void hidepidMountHidesOtherUsersProcesses() throws Exception {
        Path mnt = Files.createTempDirectory("pw-proc");
        Files.setPosixFilePermissions(mnt, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Process mount = Spawn.run("mount", "-t", "proc", "-o", "hidepid=2", "proc", mnt.toString());
        assertThat(mount.exitValue()).as(new String(mount.getInputStream().readAllBytes())).isZero();
        try (DaemonProcess hidden = DaemonProcess.start("--proc-root", mnt.toString())) {
            Cli.Result r = Cli.runAs(hidden.socket(), NOBODY, "ps", "-e", "-o", "pid=,user=");
            assertThat(r.exit()).as(r.err()).isZero();
            Map<String, String> seen = rows(r.out());
            assertThat(seen).isNotEmpty();
            assertThat(seen.values()).allMatch(u -> u.equals("nobody"));
            assertThat(seen).containsKey(Long.toString(nobodySleep.pid())).doesNotContainKey(SELF).doesNotContainKey("1");
            // and history and wait cannot be used to peek at them either
            Cli.Result w = Cli.runAs(hidden.socket(), NOBODY, "wait", SELF, "--timeout", "1");
            assertThat(w.err()).contains("no such process");
            // root still sees everything
            assertThat(rows(Cli.run(hidden.socket(), "ps", "-e", "-o", "pid=,user=").out())).containsKey(SELF);
        } finally {
            Spawn.run("umount", mnt.toString());
            Files.deleteIfExists(mnt);
        }
    }
}
