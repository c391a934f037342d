package io.procwatch.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The man pages and the bash completion, as `procwatch install` writes them: groff renders the
 * pages without a warning and they carry every command's --help; the completion script, sourced
 * by a real bash, completes commands, each command's options, -o field lists and --type values.
 */
class OperatorKitTest {
    private static String generate(String what) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(b, true, StandardCharsets.UTF_8);
        assertThat(Main.run(List.of("generate", what), p, p)).isZero();
        return b.toString(StandardCharsets.UTF_8);
    }

    private static String sh(Path dir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void manPagesRenderCleanlyAndCarryEveryCommandsHelp(@TempDir Path dir) throws Exception {
        for (String page : List.of("man1", "man8")) {
            Path f = dir.resolve(page);
            Files.writeString(f, generate(page));
            // -ww: all warnings; -z: no output, only the diagnostics
            String warnings = sh(dir, "groff", "-man", "-ww", "-z", "-Tutf8", f.toString());
            assertThat(warnings).as(page + " warnings").isEmpty();
        }
        Files.writeString(dir.resolve("procwatch.1"), generate("man1"));
        String rendered = sh(dir, "sh", "-c", "MANWIDTH=200 man -l procwatch.1 | col -bx");
        for (String c : OperatorKit.COMMANDS) {
            if (c.equals("daemon")) {
                continue;
            }
            for (String line : OperatorKit.help(c).split("\n")) {
                assertThat(rendered).as("procwatch.1 carries `%s --help`", c).contains(line.strip());
            }
        }
        Files.writeString(dir.resolve("procwatch-daemon.8"), generate("man8"));
        String daemon = sh(dir, "sh", "-c", "MANWIDTH=200 man -l procwatch-daemon.8 | col -bx");
        for (String line : OperatorKit.help("daemon").split("\n")) {
            assertThat(daemon).contains(line.strip());
        }
    }

    /** What the completion offers for the words typed so far (the last one is being completed). */
    private static List<String> complete(Path script, String... words) throws Exception {
        StringBuilder arr = new StringBuilder();
        for (String w : words) {
            arr.append(" '").append(w.replace("'", "'\\''")).append('\'');
        }
        String cmd = "source " + script + "; COMP_WORDS=(procwatch" + arr + "); COMP_CWORD=" + words.length
                + "; _procwatch; printf '%s\\n' \"${COMPREPLY[@]}\"";
        Process p = new ProcessBuilder("bash", "--norc", "-c", cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        List<String> got = new ArrayList<>(Arrays.asList(out.split("\n")));
        got.removeIf(String::isEmpty);
        return got;
    }

    @Test
    void bashCompletesCommandsOptionsAndFields(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("procwatch.bash");
        Files.writeString(script, generate("bash-completion"));
        assertThat(complete(script, "")).containsAll(OperatorKit.COMMANDS);
        assertThat(complete(script, "hi")).containsExactly("history");
        assertThat(complete(script, "events", "--ty")).containsExactly("--type");
        assertThat(complete(script, "events", "--type", "ex")).containsExactlyInAnyOrder("exec", "exit");
        assertThat(complete(script, "history", "--si")).containsExactly("--since");
        assertThat(complete(script, "daemon", "--history-")).containsExactly("--history-db");
        assertThat(complete(script, "ps", "-o", "pid,pp")).containsExactly("pid,ppid");
        assertThat(complete(script, "ps", "--sort", "-rs")).contains("-rss");
        assertThat(complete(script, "ps", "-o", "pidn")).containsExactly("pidns");
        // every option a command's help names is offered, and only those
        for (String c : OperatorKit.COMMANDS) {
            assertThat(complete(script, c, "-")).as(c).containsExactlyInAnyOrderElementsOf(
                    OperatorKit.options(c).stream().filter(o -> o.startsWith("-")).toList());
        }
    }
}
