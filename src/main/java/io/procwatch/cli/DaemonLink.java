package io.procwatch.cli;

import io.procwatch.client.DaemonUnavailableException;
import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Connects to the daemon. When none answers and we are root, starts one in the background first
 * (so {@code sudo procwatch top} just works on a fresh machine); otherwise says how to start it.
 */
final class DaemonLink {
    private DaemonLink() {
    }

    static ProcwatchClient connect(Path socket, boolean autoStart, PrintStream err) throws IOException {
        Invocation inv = Invocation.current();
        try {
            return inv.daemon().connect(socket);
        } catch (DaemonUnavailableException e) {
            if (!autoStart || !inv.autoStart() || !isRoot()) {
                throw e;
            }
        }
        startDaemon(socket, err);
        return ProcwatchClient.connect(socket);
    }

    static boolean isRoot() {
        return currentUid() == 0;
    }

    /** The uid this command runs as (the owner of /proc/self), or -1 if unknown. */
    static int currentUid() {
        try {
            return (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Starts {@code procwatch daemon} detached and waits (15 s at most) until it answers. */
    static void startDaemon(Path socket, PrintStream err) throws IOException {
        startDaemon(socket, List.of(), err);
    }

    /** With the daemon's own options (those of {@code procwatch daemon --background ...}). */
    static void startDaemon(Path socket, List<String> daemonArgs, PrintStream err) throws IOException {
        String launcher = System.getenv("PROCWATCH_LAUNCHER");
        Path log = socket.toAbsolutePath().getParent().resolve("daemon.log");
        Files.createDirectories(log.getParent());
        ProcessBuilder pb;
        if (launcher != null && Files.isExecutable(Path.of(launcher))) {
            List<String> cmd = new java.util.ArrayList<>(List.of("setsid", launcher, "daemon"));
            cmd.addAll(daemonArgs);
            cmd.addAll(List.of("--socket", socket.toString()));
            pb = new ProcessBuilder(cmd);
        } else {
            String java = ProcessHandle.current().info().command().orElse("java");
            List<String> cmd = new java.util.ArrayList<>(List.of("setsid", java, "--enable-native-access=ALL-UNNAMED",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "daemon"));
            cmd.addAll(daemonArgs);
            cmd.addAll(List.of("--socket", socket.toString()));
            pb = new ProcessBuilder(cmd);
        }
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (System.nanoTime() < deadline) {
            try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
                err.println("procwatch: started the daemon (pid " + p.pid() + ", log " + log + ")");
                return;
            } catch (DaemonUnavailableException e) {
                if (!p.isAlive()) {
                    throw new IOException("the daemon exited at start-up with status " + p.exitValue()
                            + "; see " + log);
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while starting the daemon");
                }
            }
        }
        throw new IOException("the daemon did not answer within 15 s; see " + log);
    }
}
