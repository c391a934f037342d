package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Processes whose names and arguments hold control characters, escape sequences, unprintable
 * characters and bytes that are not UTF-8 print as procps prints them, in a UTF-8 locale and in
 * the C locale, from the daemon and from the /proc fallback: no raw control byte reaches the
 * terminal or a script.
 *
 * <p>One documented difference: after a byte that cannot start a UTF-8 sequence, procps 4.0
 * switches the rest of that string to C-locale escaping ('é' becomes "??", a tab '.'); procwatch
 * goes on escaping character by character. The broken process is compared in the C locale, where
 * both escape byte by byte, and checked against that rule in UTF-8.
 */
class PsEscapingTest {
    private static DaemonProcess daemon;
    private static Process clean;
    private static Process broken;

    /** Every kind of control byte, DEL, C1 controls, printable and unprintable UTF-8, an escape sequence. */
    private static final String CLEAN_HEX = "01 09 0a 0d 1b5b33316d 7f 41 c3a9 c285 c2a0 e2808b e280a8 efbfbe "
            + "f09f9880 e4b8ad ee8080 cdb8";
    /** comm is at most 15 bytes: a tab, an escape sequence, a newline, UTF-8. */
    private static final String CLEAN_COMM_HEX = "7409611b5b316d0a62c3a9";
    /** Bytes that are not UTF-8: stray continuation, truncated, overlong, surrogate, beyond U+10FFFF. */
    private static final String BROKEN_HEX = "41ff42 c3 e282 c0af eda080 80 f4908080";
    private static final String BROKEN_COMM_HEX = "62ff72c3";

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        clean = spawn(CLEAN_COMM_HEX, CLEAN_HEX);
        broken = spawn(BROKEN_COMM_HEX, BROKEN_HEX);
    }

    /** A sleeping perl whose comm and arguments are exactly the given bytes. */
    private static Process spawn(String commHex, String argsHex) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("perl", "-e",
                "open(F, '>', '/proc/self/comm') or die; print F pack('H*', '" + commHex + "'); close F; "
                        + "$| = 1; print \"ready\\n\"; sleep 600", "--"));
        // perl's exec passes the bytes untouched: to the kernel an argument is not text
        List<String> wrapper = new ArrayList<>(List.of("perl", "-e",
                "exec { $ARGV[0] } @ARGV[0..3], map { pack('H*', $_) } @ARGV[4..$#ARGV]"));
        wrapper.addAll(cmd);
        wrapper.addAll(List.of(argsHex.split(" ")));
        Process p = new ProcessBuilder(wrapper).start();
        assertThat(p.inputReader().readLine()).isEqualTo("ready");
        byte[] comm = Files.readAllBytes(Path.of("/proc/" + p.pid() + "/comm"));
        assertThat(comm.length).isEqualTo(commHex.length() / 2 + 1);
        return p;
    }

    @AfterAll
    static void stop() throws Exception {
        clean.destroyForcibly().waitFor();
        broken.destroyForcibly().waitFor();
        daemon.close();
    }

    static Stream<Arguments> cases() {
        return Stream.of(Arguments.of("C.UTF-8", false), Arguments.of("C", false),
                Arguments.of("C.UTF-8", true), Arguments.of("C", true));
    }

    @ParameterizedTest(name = "LC_ALL={0} local={1}")
    @MethodSource("cases")
    void printsLikeProcps(String locale, boolean local) throws Exception {
        String theirs = procps(locale, clean);
        String ours = procwatch(locale, local, clean);
        assertThat(ours).isEqualTo(theirs);
        assertNoControlCharacters(ours);

        String brokenOurs = procwatch(locale, local, broken);
        assertNoControlCharacters(brokenOurs);
        if (locale.equals("C")) {
            assertThat(brokenOurs).isEqualTo(procps(locale, broken));
        } else {
            String row = brokenOurs.lines().skip(1).findFirst().orElseThrow();
            assertThat(row).startsWith(String.format("%5d b?r?", broken.pid()))
                    .endsWith("-- A?B ? ?? ?? ??? ? ????");
        }
    }

    private static String procps(String locale, Process target) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("ps", "-o", "pid,comm,args", "-p", Long.toString(target.pid()));
        pb.environment().put("LC_ALL", locale);
        Process ps = pb.start();
        String out = new String(ps.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(ps.waitFor()).isZero();
        return out;
    }

    private static String procwatch(String locale, boolean local, Process target) throws Exception {
        List<String> args = new ArrayList<>(List.of("ps", "-o", "pid,comm,args", "-p", Long.toString(target.pid())));
        if (local) {
            args.add("--local");
        }
        Cli.Result r = Cli.runWith(local ? Path.of("/nonexistent/procwatch.sock") : daemon.socket(), List.of(),
                Map.of("LC_ALL", locale), args.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        return r.out();
    }

    private static void assertNoControlCharacters(String out) {
        assertThat(out.chars().filter(c -> (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f)))
                .as("control characters in " + out).isEmpty();
    }
}
