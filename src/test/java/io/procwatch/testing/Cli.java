package io.procwatch.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real procwatch CLI as a separate process. */
public final class Cli {
    public record Result(int exit, String out, String err) {
    }

    private Cli() {
    }

    public static Result run(Path socket, String... args) throws IOException, InterruptedException {
        return runAs(socket, List.of(), args);
    }

    /** With a command prefix, e.g. setpriv to run as another user. */
    public static Result runAs(Path socket, List<String> prefix, String... args) throws IOException, InterruptedException {
        return runWith(socket, prefix, java.util.Map.of(), args);
    }

    /** Starts the CLI without waiting: for commands that run while the test acts (top, events). */
    public static Process start(Path socket, String... args) throws IOException {
        return builder(socket, List.of(), java.util.Map.of(), args).start();
    }

    /** As {@link #start}, with a command prefix (setpriv, to run as another user). */
    public static Process startAs(Path socket, List<String> prefix, String... args) throws IOException {
        return builder(socket, prefix, java.util.Map.of(), args).start();
    }

    private static ProcessBuilder builder(Path socket, List<String> prefix, java.util.Map<String, String> env,
                                          String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-cp", Spawn.projectClasspath(), "io.procwatch.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (socket != null) {
            pb.environment().put("PROCWATCH_SOCKET", socket.toString());
        }
        pb.environment().remove("PROCWATCH_LAUNCHER");
        pb.environment().putAll(env);
        return pb;
    }

    /** With a command prefix and extra environment variables (e.g. a locale). */
    public static Result runWith(Path socket, List<String> prefix, java.util.Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        Process p = builder(socket, prefix, env, args).start();
        var out = p.getInputStream();
        var err = p.getErrorStream();
        StringBuilder errText = new StringBuilder();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                errText.append(new String(err.readAllBytes()));
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        String o = new String(out.readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("procwatch " + List.of(args) + " did not finish");
        }
        t.join();
        return new Result(p.exitValue(), o, errText.toString());
    }
}
