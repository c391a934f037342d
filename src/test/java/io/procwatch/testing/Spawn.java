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

    private static String sharedClasspath;

    /**
     * Our own compiled classes and the daemon's runtime libraries (no test libraries), for helper JVMs. They are copied once per test
     * JVM to a world-readable directory: some helpers run as an unprivileged user, and the
     * checkout may sit under a directory only root can enter (a fresh clone in a 0700 temp dir).
     */
    public static synchronized String projectClasspath() {
        if (sharedClasspath == null) {
            try {
                java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("pw-classes");
                String base = System.getProperty("user.dir");
                StringBuilder cp = new StringBuilder();
                for (String sub : List.of("classes", "test-classes")) {
                    java.nio.file.Path from = java.nio.file.Path.of(base, "target", sub);
                    java.nio.file.Path to = dir.resolve(sub);
                    try (var walk = java.nio.file.Files.walk(from)) {
                        for (java.nio.file.Path p : walk.toList()) {
                            java.nio.file.Path t = to.resolve(from.relativize(p).toString());
                            if (java.nio.file.Files.isDirectory(p)) {
                                java.nio.file.Files.createDirectories(t);
                            } else {
                                java.nio.file.Files.copy(p, t);
                            }
                        }
                    }
                    cp.append(cp.isEmpty() ? "" : ":").append(to);
                }
                // from this JVM's class path
                java.nio.file.Path lib = java.nio.file.Files.createDirectories(dir.resolve("lib"));
                for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                    // the daemon's runtime libraries: SQLite, Prometheus, and the Kafka client with what it
                    // needs (lz4, zstd, slf4j); not the broker's jars, which only tests start
                    if (entry.endsWith(".jar") && (entry.contains("/org/xerial/") || entry.contains("/io/prometheus/")
                            || entry.contains("/org/apache/kafka/kafka-clients/") || entry.contains("/org/lz4/")
                            || entry.contains("/com/github/luben/") || entry.contains("/org/slf4j/"))) {
                        java.nio.file.Path jar = java.nio.file.Path.of(entry);
                        java.nio.file.Path t = lib.resolve(jar.getFileName().toString());
                        java.nio.file.Files.copy(jar, t, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        cp.append(':').append(t);
                    }
                }
                new ProcessBuilder("chmod", "-R", "a+rX", dir.toString()).start().waitFor();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor();
                    } catch (IOException | InterruptedException ignored) {
                        // a temp dir left behind is harmless
                    }
                }));
                sharedClasspath = cp.toString();
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException("cannot prepare the helper classpath", e);
            }
        }
        return sharedClasspath;
    }
}
