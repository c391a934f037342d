package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Numeric arguments are range-checked by one parser (Opts.number): a bad one is exit 2 with one
 * line naming the option and the range, never exit 70 with a NumberFormatException, and never
 * a value that silently means something else (a negative timeout waiting forever). Each command
 * runs as its own process against a real daemon, so an accepted value would show as a real answer.
 */
class CliArgumentsTest {
    private static DaemonProcess daemon;

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

    static Stream<Arguments> badInvocations() {
        String uidRange = "takes a number from 0 to 4294967294";
        String pidRange = "takes a number from 1 to 2147483647";
        return Stream.of(
                Arguments.of(List.of("ps", "-U", "99999999999"), "-U " + uidRange),
                Arguments.of(List.of("ps", "-u", "4294967295"), "-u " + uidRange),
                Arguments.of(List.of("ps", "--user=4294967295"), "--user " + uidRange),
                Arguments.of(List.of("ps", "--User", "-5"), "--User: user name does not exist: -5"),
                Arguments.of(List.of("ps", "-p", "99999999999"), "-p " + pidRange),
                Arguments.of(List.of("ps", "-p", "0"), "-p " + pidRange),
                Arguments.of(List.of("ps", "-p", "12x"), "-p " + pidRange + ", not '12x'"),
                Arguments.of(List.of("ps", "--pid", "1,99999999999999999999999"), "--pid " + pidRange),
                Arguments.of(List.of("ps", "--ppid", "99999999999"), "--ppid " + pidRange),
                Arguments.of(List.of("ps", "99999999999"), "process id " + pidRange),
                Arguments.of(List.of("ps", "p99999999999"), "p " + pidRange),
                Arguments.of(List.of("ps", "-o", "pid:99999999999"), "-o pid:WIDTH takes a number from 1 to 65535"),
                Arguments.of(List.of("ps", "-o", "comm:0"), "-o comm:WIDTH takes a number from 1 to 65535"),
                Arguments.of(List.of("history", "--user", "4294967296"), "--user " + uidRange),
                Arguments.of(List.of("history", "--limit", "0"), "--limit takes a number from 1 to 2147483647"),
                Arguments.of(List.of("history", "--limit", "99999999999"), "--limit takes a number from 1 to 2147483647"),
                Arguments.of(List.of("history", "--pid", "99999999999"), "--pid " + pidRange),
                Arguments.of(List.of("history", "--since", "9999999999999999d"), "--since (d ago) takes a number from 0 to "),
                Arguments.of(List.of("history", "--until", "99999999999999999999999"),
                        "--until (epoch ms) takes a number from 0 to 253402300799999"),
                Arguments.of(List.of("wait", "1", "--timeout", "-1"), "--timeout takes a number from 0 to 4294967"),
                Arguments.of(List.of("wait", "1", "--timeout", "99999999999"), "--timeout takes a number from 0 to 4294967"),
                Arguments.of(List.of("wait", "99999999999"), "PID " + pidRange),
                Arguments.of(List.of("top", "-b", "-n", "0"), "-n takes a number from 1 to 2147483647"),
                Arguments.of(List.of("top", "-b", "-n", "99999999999"), "-n takes a number from 1 to 2147483647"),
                Arguments.of(List.of("top", "-b", "-d", "-1"), "-d wants seconds between 0.1 and 86400"),
                Arguments.of(List.of("top", "-b", "-p", "99999999999"), "-p " + pidRange),
                Arguments.of(List.of("top", "-b", "-u", "4294967295"), "-u " + uidRange),
                Arguments.of(List.of("top", "-b", "-w", "99999999999"), "-w takes a number from 1 to 2147483647"),
                Arguments.of(List.of("events", "--count", "-1"), "--count takes a number from 0 to 2147483647"),
                Arguments.of(List.of("events", "--pid", "0"), "--pid " + pidRange),
                Arguments.of(List.of("events", "--tree", "99999999999"), "--tree " + pidRange),
                Arguments.of(List.of("events", "--user", "4294967295"), "--user " + uidRange),
                Arguments.of(List.of("tree", "99999999999"), "PID " + pidRange),
                Arguments.of(List.of("tree", "--user", "4294967295"), "--user " + uidRange),
                Arguments.of(List.of("daemon", "--max-clients", "0"), "--max-clients takes a number from 1 to 1000000"),
                Arguments.of(List.of("daemon", "--history", "99999999999"), "--history takes a number from 1 to 100000000"),
                Arguments.of(List.of("daemon", "--receive-buffer", "99999999999"),
                        "--receive-buffer takes a number from 4096 to 1073741824"),
                Arguments.of(List.of("daemon", "--retention-days", "99999999999999"),
                        "--retention-days takes a number from 1 to 100000000"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInvocations")
    void badNumberIsExit2WithTheOptionAndItsRange(List<String> args, String message) throws Exception {
        List<String> all = new java.util.ArrayList<>(args);
        if (all.getFirst().equals("daemon")) { // a private socket, so a wrongly accepted value cannot touch another daemon
            all.addAll(List.of("--socket", daemon.socket().resolveSibling("unused.sock").toString()));
        }
        Cli.Result r = pw(all.toArray(String[]::new));
        assertThat(r.exit()).as("exit of %s; stderr: %s", args, r.err()).isEqualTo(2);
        String first = r.err().lines().findFirst().orElse("");
        assertThat(first).as("first stderr line").startsWith("procwatch " + args.getFirst() + ": ").contains(message);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("internal error");
        assertThat(r.out()).isEmpty();
    }

    /** An empty format list is one procps rejects itself: its exit status (1) and its first stderr line. */
    @ParameterizedTest(name = "-o ''{0}''")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", ","})
    void emptyFormatListIsRejectedAsProcpsRejectsIt(String format) throws Exception {
        Process p = new ProcessBuilder("ps", "-o", format).start();
        p.getInputStream().readAllBytes();
        String procpsFirst = new String(p.getErrorStream().readAllBytes()).lines().findFirst().orElse("");
        int procpsExit = p.waitFor();
        Cli.Result r = pw("ps", "-o", format);
        assertThat(procpsFirst).startsWith("error: ");
        assertThat(r.exit()).as(r.err()).isEqualTo(procpsExit);
        assertThat(r.err().lines().findFirst().orElse("")).isEqualTo(procpsFirst);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void goodNumbersAtTheEdgesOfTheRangesAreAccepted() throws Exception {
        Cli.Result one = pw("ps", "-o", "pid:12=", "-p", "1");
        assertThat(one.exit()).as(one.err()).isZero();
        assertThat(one.out()).isEqualTo("           1\n");

        // the largest uid and pid are valid: no process has them, so ps answers "none" (1), not a usage error
        Cli.Result noUid = pw("ps", "-u", "4294967294", "-o", "pid=");
        assertThat(noUid.exit()).as(noUid.err()).isEqualTo(1);
        assertThat(noUid.err()).isEmpty();
        Cli.Result noPid = pw("ps", "-p", "2147483647", "-o", "pid=");
        assertThat(noPid.exit()).as(noPid.err()).isEqualTo(1);

        Cli.Result root = pw("ps", "-U", "0", "-o", "pid=");
        assertThat(root.exit()).isZero();
        assertThat(root.out().lines().map(String::trim)).contains("1");

        Cli.Result hist = pw("history", "--user", "0", "--limit", "5", "--since", "1d");
        assertThat(hist.exit()).as(hist.err()).isZero();
        Cli.Result top = pw("top", "-b", "-n", "1", "-d", "0.2", "-p", "1");
        assertThat(top.exit()).as(top.err()).isZero();
        assertThat(pw("tree", "1").exit()).isZero();
    }

    @Test
    void waitTimeoutIsHonouredNotForever() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            long t0 = System.nanoTime();
            Cli.Result r = pw("wait", Long.toString(sleeper.pid()), "--timeout", "1");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(r.exit()).as(r.err()).isEqualTo(124);
            assertThat(ms).isLessThan(30_000);
        } finally {
            sleeper.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        Process quick = new ProcessBuilder("sh", "-c", "sleep 0.5; exit 3").start();
        Cli.Result r = pw("wait", Long.toString(quick.pid()), "--timeout", "0");
        assertThat(r.exit()).as(r.err()).isEqualTo(3);
    }
}
