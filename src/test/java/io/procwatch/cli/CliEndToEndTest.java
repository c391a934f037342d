package io.procwatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command as a separate process against a real daemon and real processes. */
class CliEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static DaemonProcess daemon;
    private static final String SELF = Long.toString(ProcessHandle.current().pid());

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
    }

    private static Cli.Result pw(String... args) throws Exception {
        return Cli.run(daemon.socket(), args);
    }

    @Test
    void psOptionsAndJson() throws Exception {
        Cli.Result one = pw("ps", "-o", "pid=", "-p", "1");
        assertThat(one.exit()).isZero();
        assertThat(one.out()).isEqualTo("    1\n");

        JsonNode rows = JSON.readTree(pw("ps", "-e", "-o", "pid,user,comm,rss,args", "--json").out());
        assertThat(rows.isArray()).isTrue();
        JsonNode me = null;
        for (JsonNode r : rows) {
            if (r.get("pid").asText().equals(SELF)) {
                me = r;
            }
        }
        assertThat(me).isNotNull();
        assertThat(me.get("user").asText()).isEqualTo("root");
        assertThat(me.get("comm").asText()).isEqualTo("java");
        assertThat(me.get("rss_kib").asLong()).isPositive();

        String sorted = pw("ps", "-e", "-o", "pid=,rss=", "--sort=-rss").out();
        List<Long> rss = sorted.lines().map(l -> Long.parseLong(l.trim().split("\\s+")[1])).toList();
        assertThat(rss).isSortedAccordingTo((a, b) -> Long.compare(b, a));

        String forest = pw("ps", "-e", "-o", "pid,args", "--forest").out();
        assertThat(forest).contains(" \\_ ");
        String threads = pw("ps", "-L", "-p", SELF, "-o", "pid=,lwp=").out();
        assertThat(threads.lines().count()).isGreaterThan(1);
        assertThat(pw("ps", "-C", "java", "-o", "pid=").out()).contains(SELF);
        assertThat(pw("ps", "-u", "root", "-o", "user=").out().lines().distinct().toList()).containsExactly("root");
    }

    @Test
    void badOptionsAndUnknownThingsGiveClearErrors() throws Exception {
        Cli.Result bad = pw("ps", "--frobnicate");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("unknown option --frobnicate").contains("--help");
        Cli.Result field = pw("ps", "-o", "pid,nonsense");
        assertThat(field.exit()).isEqualTo(2);
        assertThat(field.err()).contains("unknown field 'nonsense'");
        Cli.Result user = pw("ps", "-u", "no-such-user-here");
        assertThat(user.exit()).isEqualTo(2);
        assertThat(user.err()).contains("user name does not exist");
        Cli.Result gone = pw("ps", "-p", "999999999");
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(pw("frob").exit()).isEqualTo(2);
        assertThat(pw("history", "--since", "yesterday-ish").err()).contains("cannot read the time");
        assertThat(pw("wait").err()).contains("give at least one PID");
        assertThat(pw("wait", "abc").exit()).isEqualTo(2);
        for (String cmd : List.of("ps", "tree", "events", "history", "wait", "stats", "daemon")) {
            Cli.Result h = pw(cmd, "--help");
            assertThat(h.exit()).as(cmd).isZero();
            assertThat(h.out()).as(cmd).contains("Usage: procwatch " + cmd).contains("--");
        }
    }

    @Test
    void missingDaemonSaysHowToStartItAndPsFallsBack() throws Exception {
        Path none = Path.of("/tmp/pw-no-daemon-here/none.sock");
        // run as nobody so the client does not start a daemon on demand
        List<String> nobody = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
        Cli.Result stats = Cli.runAs(none, nobody, "stats");
        assertThat(stats.exit()).isEqualTo(1);
        assertThat(stats.err()).contains("no procwatch daemon at " + none).contains("sudo procwatch daemon");
        Cli.Result ps = Cli.runAs(none, nobody, "ps", "-o", "pid=", "-p", "1");
        assertThat(ps.out()).isEqualTo("    1\n");
        assertThat(ps.err()).contains("reading /proc directly instead");
    }

    @Test
    void rootStartsTheDaemonOnDemand() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("pw-ondemand");
        Path sock = dir.resolve("procwatch.sock");
        Cli.Result r = Cli.run(sock, "ps", "-o", "pid=", "-p", "1");
        try {
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.err()).contains("started the daemon");
            assertThat(Cli.run(sock, "stats", "--json").out()).contains("\"processes\"");
        } finally {
            String pid = JSON.readTree(Cli.run(sock, "stats", "--json").out()).get("daemon_pid").asText();
            Spawn.run("kill", pid);
            Thread.sleep(500);
        }
    }

    @Test
    void treeShowsAncestry() throws Exception {
        Cli.Result t = pw("tree", "1", "--ascii");
        assertThat(t.exit()).isZero();
        assertThat(t.out().lines().findFirst().orElse("")).startsWith("1 ");
        assertThat(t.out()).contains(SELF + " java");
        JsonNode j = JSON.readTree(pw("tree", "--json").out());
        assertThat(j.isArray()).isTrue();
        assertThat(j.get(0).get("children").isArray()).isTrue();
        assertThat(pw("tree", "999999999").exit()).isEqualTo(1);
    }

    @Test
    void eventsStreamForkExecExit() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED", "-cp",
                Spawn.projectClasspath(), "io.procwatch.cli.Main", "events", "--json", "--name", "pw-evt-test",
                "--count", "1", "--type", "exit");
        pb.environment().put("PROCWATCH_SOCKET", daemon.socket().toString());
        Process events = pb.start();
        Thread.sleep(1500); // the client starts and subscribes
        Spawn.run("perl", "-e", "$0 = 'pw-evt-test'; exit 5");
        assertThat(events.waitFor(20, TimeUnit.SECONDS)).isTrue();
        JsonNode e = JSON.readTree(new String(events.getInputStream().readAllBytes()).lines().findFirst().orElseThrow());
        assertThat(e.get("event").asText()).isEqualTo("exit");
        assertThat(e.get("comm").asText()).isEqualTo("pw-evt-test");
        assertThat(e.get("exit_code").asInt()).isEqualTo(5);
        assertThat(e.get("lifetime_ms").asLong()).isNotNegative();
    }

    @Test
    void historyAndWait() throws Exception {
        Process sleeper = Spawn.start("/bin/sh", "-c", "sleep 0.5; exit 7");
        Cli.Result w = pw("wait", Long.toString(sleeper.pid()));
        assertThat(w.exit()).isEqualTo(7);
        assertThat(w.out()).contains(sleeper.pid() + " (sh) exited with status 7 after");
        Process killed = Spawn.start("/bin/sleep", "30");
        Thread.sleep(200);
        killed.destroyForcibly();
        assertThat(pw("wait", Long.toString(killed.pid())).exit()).isEqualTo(137);
        Process forever = Spawn.start("/bin/sleep", "30");
        try {
            Cli.Result t = pw("wait", Long.toString(forever.pid()), "--timeout", "1");
            assertThat(t.exit()).isEqualTo(124);
        } finally {
            forever.destroyForcibly();
        }

        Thread.sleep(300);
        JsonNode failed = JSON.readTree(pw("history", "--failed", "--json", "--since", "5m").out());
        assertThat(failed.isArray()).isTrue();
        boolean found = false;
        for (JsonNode e : failed) {
            // --failed selects non-zero codes, signals, and exits the daemon did not observe
            if (e.get("exit_observed").asBoolean()) {
                assertThat(e.get("exit_code").isNull() ? e.get("signal").asInt() : e.get("exit_code").asInt())
                        .isNotZero();
            }
            found |= e.get("pid").asLong() == sleeper.pid();
        }
        assertThat(found).isTrue();
        String table = pw("history", "--pid", Long.toString(sleeper.pid())).out();
        assertThat(table.lines().findFirst().orElse("")).startsWith("END").contains("STATUS").contains("LIFETIME");
        assertThat(table).contains("exit 7").contains("sh -c sleep 0.5; exit 7");
    }

    @Test
    void statsTextAndJson() throws Exception {
        Cli.Result s = pw("stats");
        assertThat(s.exit()).isZero();
        assertThat(s.out()).contains("processes").contains("events").contains("losses").contains("clients");
        JsonNode j = JSON.readTree(pw("stats", "--json").out());
        assertThat(j.get("processes").asLong()).isPositive();
        assertThat(j.get("daemon_pid").asLong()).isEqualTo(daemon.pid());
    }
}
