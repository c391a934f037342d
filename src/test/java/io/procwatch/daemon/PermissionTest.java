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
            // remounted without hidepid while the daemon runs: the other user sees everyone again
            Process remount = Spawn.run("mount", "-o", "remount,hidepid=0", mnt.toString());
            assertThat(remount.exitValue()).as(new String(remount.getInputStream().readAllBytes())).isZero();
            Thread.sleep(1200); // the daemon reads the mount options again at most once a second
            Cli.Result after = Cli.runAs(hidden.socket(), NOBODY, "ps", "-e", "-o", "pid=,user=");
            assertThat(rows(after.out())).containsKey(SELF);
        } finally {
            Spawn.run("umount", mnt.toString());
            Files.deleteIfExists(mnt);
        }
    }

    /**
     * The owner of a process that made itself non-dumpable (PR_SET_DUMPABLE 0, as ssh-agent does)
     * may not read its /proc/PID/exe or io — the kernel says so, checked here as that user — and
     * procwatch gives it neither.
     */
    @Test
    void aNonDumpableProcessKeepsItsPrivateFieldsFromItsOwner() throws Exception {
        Process guarded = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", "import ctypes,sys,time; ctypes.CDLL(None).prctl(4,0,0,0,0); print('ready', flush=True);"
                        + " time.sleep(60)").start();
        try {
            assertThat(new String(guarded.getInputStream().readNBytes(6))).isEqualTo("ready\n");
            String pid = Long.toString(guarded.pid());
            // ground truth: the kernel refuses the owner
            Process probe = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "readlink", "/proc/" + pid + "/exe").redirectErrorStream(true).start();
            assertThat(probe.waitFor()).as("the kernel refuses readlink of a non-dumpable process's exe").isNotZero();
            Cli.Result r = Cli.runAs(daemon.socket(), NOBODY, "ps", "-p", pid + "," + nobodySleep.pid(),
                    "-o", "pid=,user=,exe=,rchar=");
            assertThat(r.exit()).as(r.err()).isZero();
            Map<String, String> seen = rows(r.out());
            assertThat(seen.get(pid).split("\\s+")).containsExactly("nobody", "-", "-");
            // the same user's dumpable process: exe and io as before
            assertThat(seen.get(Long.toString(nobodySleep.pid()))).contains("/usr/bin/sleep");
            // root sees it all
            assertThat(rows(Cli.run(daemon.socket(), "ps", "-p", pid, "-o", "pid=,exe=").out()).get(pid)).contains("python3");
        } finally {
            guarded.destroyForcibly();
        }
    }

    /** Runs a command as uid 65534 and returns its output, or null when it fails. */
    private static String asNobody(String... cmd) throws Exception {
        List<String> all = new java.util.ArrayList<>(NOBODY);
        all.addAll(List.of(cmd));
        Process p = new ProcessBuilder(all).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        return p.waitFor() == 0 ? out : null;
    }

    /** Private_Clean + Private_Dirty of a process of nobody's, as nobody reads it. */
    private static long ownUss(String pid) throws Exception {
        String own = asNobody("cat", "/proc/" + pid + "/smaps_rollup");
        assertThat(own).as("nobody reads its own").isNotNull();
        long uss = 0;
        for (String line : own.lines().toList()) {
            if (line.startsWith("Private_Clean:") || line.startsWith("Private_Dirty:")) {
                uss += Long.parseLong(line.split("\\s+")[1]);
            }
        }
        return uss;
    }

    /**
     * smaps_rollup (pss, uss) is guarded by the ptrace read check like exe and io: another user
     * gets procps's 0 for root's process (JSON: null) and the real sizes of its own, which it
     * reads itself here as the truth.
     */
    @Test
    void smapsSizesOnlyOfTheirOwnProcesses() throws Exception {
        // A page of a shared library or of /bin/sleep turns shared while another process maps it
        // (on a busy machine some sleep or shell always comes and goes), so a dynamically linked
        // process's uss moves between any two reads. A static program at a path of its own, with
        // a private buffer it wrote, shares nothing but the kernel's vdso: its uss holds still.
        Path dir = Files.createTempDirectory("pw-uss");
        Path src = dir.resolve("private.c");
        Files.writeString(src, """
                #include <string.h>
                #include <unistd.h>
                static char buf[256 << 10];
                int main(void) { memset(buf, 1, sizeof buf); write(1, "ready\\n", 6); pause(); return 0; }
                """);
        Path bin = dir.resolve("pw-private");
        Process cc = Spawn.run("cc", "-O2", "-static", "-Wall", "-Werror", "-o", bin.toString(), src.toString());
        assertThat(cc.exitValue()).as(new String(cc.getInputStream().readAllBytes())).isZero();
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Process own = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.toString())
                .start();
        try {
            assertThat(new String(own.getInputStream().readNBytes(6))).isEqualTo("ready\n");
            smapsOf(Long.toString(own.pid()));
        } finally {
            own.destroyForcibly();
        }
    }

    private void smapsOf(String sleepPid) throws Exception {
        assertThat(asNobody("cat", "/proc/" + SELF + "/smaps_rollup")).as("the kernel refuses root's smaps to nobody").isNull();
        // the truth: a uss read unchanged before and after ps
        Map<String, String> seen = null;
        long uss = -1;
        for (int attempt = 0; attempt < 5 && uss < 0; attempt++) {
            long before = ownUss(sleepPid);
            Cli.Result r = Cli.runAs(daemon.socket(), NOBODY, "ps", "-p", SELF + "," + sleepPid, "-o", "pid=,pss=,uss=");
            assertThat(r.exit()).as(r.err()).isZero();
            if (ownUss(sleepPid) == before) {
                uss = before;
                seen = rows(r.out());
            }
        }
        assertThat(uss).as("its own process's uss, unchanged across one ps in one of 5 tries").isGreaterThan(256);
        assertThat(seen.get(SELF).split("\\s+")).as("root's process, to nobody").containsExactly("0", "0");
        assertThat(asNobody("ps", "-o", "pss=,uss=", "-p", SELF).trim().split("\\s+")).as("procps as nobody")
                .containsExactly("0", "0");
        String[] mine = seen.get(sleepPid).split("\\s+");
        assertThat(Long.parseLong(mine[1])).as("uss of its own process (nothing shared to move)").isEqualTo(uss).isPositive();
        assertThat(Long.parseLong(mine[0])).as("pss of its own process").isGreaterThanOrEqualTo(uss);
        Cli.Result json = Cli.runAs(daemon.socket(), NOBODY, "ps", "-p", SELF, "-o", "pid,pss,uss", "--json");
        assertThat(json.out()).contains("\"pss_kib\":null").contains("\"uss_kib\":null");
        Cli.Result root = Cli.run(daemon.socket(), "ps", "-p", SELF, "-o", "pid=,uss=");
        assertThat(Long.parseLong(rows(root.out()).get(SELF))).as("root sees this JVM's uss").isPositive();
    }

    /** Root's storage I/O totals at exit are not another user's business (as /proc/PID/io is not). */
    @Test
    void exitAccountingKeepsStorageIoFromOtherUsers() throws Exception {
        Path out = Files.createTempFile("pw-io", ".bin");
        Process dd = new ProcessBuilder("dd", "if=/dev/zero", "of=" + out, "bs=1M", "count=2", "conv=fsync")
                .redirectErrorStream(true).start();
        dd.getInputStream().readAllBytes();
        assertThat(dd.waitFor()).isZero();
        Files.delete(out);
        String pid = Long.toString(dd.pid());
        String rootView = "";
        for (int i = 0; i < 50 && !rootView.contains("write_bytes"); i++) { // taskstats may come a little after the exit
            Thread.sleep(100);
            rootView = Cli.run(daemon.socket(), "history", "--pid", pid, "--json").out();
        }
        assertThat(rootView).contains("\"write_bytes\":").contains("\"cpu_user_us\":");
        Cli.Result other = Cli.runAs(daemon.socket(), NOBODY, "history", "--pid", pid, "--json");
        assertThat(other.exit()).as(other.err()).isZero();
        assertThat(other.out()).contains("\"pid\":" + pid).contains("\"cpu_user_us\":")
                .doesNotContain("write_bytes").doesNotContain("read_bytes");
    }

    /**
     * Exec-time command lines are root's and the owner's: another user's exec event and history
     * entry carry the name, not the argv (a live process's current command line stays public, as
     * /proc shows it).
     */
    @Test
    void execTimeArgvOfAnotherUsersProcessIsNotServed() throws Exception {
        Process events = Cli.startAs(daemon.socket(), NOBODY, "events", "--type", "exec", "--name", "perl",
                "--json", "--count", "1");
        Thread.sleep(1500); // subscribed
        Process p = new ProcessBuilder("perl", "-e", "select(undef, undef, undef, 0.3)", "pw-secret-argv").start();
        assertThat(p.waitFor()).isZero();
        assertThat(events.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String seen = new String(events.getInputStream().readAllBytes());
        assertThat(seen).contains("\"pid\":" + p.pid()).doesNotContain("pw-secret-argv");
        String pid = Long.toString(p.pid());
        String rootHistory = "";
        for (int i = 0; i < 50 && !rootHistory.contains("pw-secret-argv"); i++) {
            Thread.sleep(100);
            rootHistory = Cli.run(daemon.socket(), "history", "--pid", pid, "--json").out();
        }
        assertThat(rootHistory).contains("pw-secret-argv");
        String other = Cli.runAs(daemon.socket(), NOBODY, "history", "--pid", pid, "--json").out();
        assertThat(other).contains("\"pid\":" + pid).doesNotContain("pw-secret-argv");
    }
}
