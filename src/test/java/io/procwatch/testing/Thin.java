package io.procwatch.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the native thin client (target/procwatch-native, built by Maven when a C compiler exists)
 * as a separate process, the way {@link Cli} runs the JVM CLI. Its fallback to the JVM is pointed
 * at a launcher that fails loudly, so a test never mistakes a fallback for a run in the daemon.
 */
public final class Thin {
    public static final Path BINARY = Path.of(System.getProperty("user.dir"), "target", "procwatch-native");

    private Thin() {
    }

    public static boolean built() {
        return Files.isExecutable(BINARY);
    }

    public static Cli.Result run(Path socket, String... args) throws IOException, InterruptedException {
        return runWith(socket, List.of(), Map.of(), args);
    }

    public static Cli.Result runWith(Path socket, List<String> prefix, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        Process p = builder(socket, prefix, env, args).start();
        StringBuilder errText = new StringBuilder();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                errText.append(new String(p.getErrorStream().readAllBytes()));
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        String o = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("procwatch-native " + List.of(args) + " did not finish");
        }
        t.join();
        return new Cli.Result(p.exitValue(), o, errText.toString());
    }

    /** Starts the client without waiting (events, wait). */
    public static Process start(Path socket, String... args) throws IOException {
        return builder(socket, List.of(), Map.of(), args).start();
    }

    public static ProcessBuilder builder(Path socket, List<String> prefix, Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(BINARY.toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("PROCWATCH_SOCKET", socket.toString());
        // /bin/false: a command that fell back to the JVM exits 1 with no output, and the test sees it
        pb.environment().put("PROCWATCH_JVM", "/bin/false");
        pb.environment().putAll(env);
        return pb;
    }
}
