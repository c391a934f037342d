package io.procwatch.testing;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starts real child processes for tests. */
public final class Spawn {
    private Spawn() {
    }

    public static Process start(String... command) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** Runs to completion (30 s at most) and returns the process. */
    public static Process run(String... command) throws IOException, InterruptedException {
        Process p = start(command);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + List.of(command));
        }
        return p;
    }

    /** Runs and returns stdout+stderr. */
    public static String output(String... command) throws IOException, InterruptedException {
        Process p = start(command);
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + List.of(command));
        }
        return out;
    }

    /** The java binary running this test, to start helper JVMs. */
    public static String javaBinary() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** Our own compiled classes (no test libraries), for helper JVMs. */
    public static String projectClasspath() {
        return System.getProperty("user.dir") + "/target/classes:" + System.getProperty("user.dir") + "/target/test-classes";
    }
}
