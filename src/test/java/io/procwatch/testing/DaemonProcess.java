package io.procwatch.testing;

import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real procwatch daemon in its own JVM, on a private socket, for end-to-end tests. */
public final class DaemonProcess implements AutoCloseable {
    private final Process process;
    private final Path socket;
    private final Path dir;
    private final Path log;

    private DaemonProcess(Process process, Path socket, Path dir, Path log) {
        this.process = process;
        this.socket = socket;
        this.dir = dir;
        this.log = log;
    }

    public static DaemonProcess start(String... extraArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("pw-daemon");
        // Unprivileged test clients must reach the socket (the socket itself is 0666).
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = dir.resolve("procwatch.sock");
        return start(socket, extraArgs);
    }

    public static DaemonProcess start(Path socket, String... extraArgs) throws IOException, InterruptedException {
        return start(socket, java.util.Map.of(), extraArgs);
    }

    /** With extra environment variables (e.g. NOTIFY_SOCKET, as systemd sets it). */
    public static DaemonProcess start(Path socket, java.util.Map<String, String> env, String... extraArgs)
            throws IOException, InterruptedException {
        Path dir = socket.getParent();
        Path log = Files.createTempFile("pw-daemon", ".log");
        List<String> cmd = new ArrayList<>(List.of(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(productionHeap());
        cmd.addAll(List.of("-cp", Spawn.projectClasspath(), "io.procwatch.cli.Main", "daemon",
                "--socket", socket.toString()));
        cmd.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IOException("daemon exited with " + p.exitValue() + ": " + Files.readString(log));
            }
            try (ProcwatchClient c = ProcwatchClient.connect(socket)) {
                c.hello();
                return new DaemonProcess(p, socket, dir, log);
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new IOException("daemon did not answer within 30 s: " + Files.readString(log));
    }

    /**
     * The daemon's heap options as bin/procwatch gives them (its {@code daemon_heap=(...)} line), so
     * that every test daemon runs within the budget a real one has.
     */
    public static List<String> productionHeap() throws IOException {
        for (String line : Files.readAllLines(Path.of("bin/procwatch"))) {
            String l = line.strip();
            if (l.startsWith("daemon_heap=(") && l.endsWith(")")) {
                return List.of(l.substring("daemon_heap=(".length(), l.length() - 1).split(" "));
            }
        }
        throw new IOException("bin/procwatch has no daemon_heap=(...) line");
    }

    /** VmRSS of the daemon, in KiB. */
    public long rssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    public Path socket() {
        return socket;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    public ProcwatchClient client() throws IOException {
        return ProcwatchClient.connect(socket);
    }

    /**
     * Open sockets of the daemon process (for leak checks; the sampler's kept-open
     * /proc/PID/stat descriptors are by design and not counted).
     */
    public int openSockets() throws IOException {
        int n = 0;
        try (var s = Files.list(Path.of("/proc/" + process.pid() + "/fd"))) {
            for (Path fd : s.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith("socket:")) {
                        n++;
                    }
                } catch (IOException gone) {
                    // closed while we looked
                }
            }
        }
        return n;
    }

    /** SIGKILL and wait: the daemon gets no chance to finish anything. */
    public void kill() throws InterruptedException {
        process.destroyForcibly(); // SIGKILL on Linux
        process.waitFor();
    }

    /** SIGTERM and wait: returns the exit code. */
    public int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException, IOException {
        if (process.isAlive()) {
            stop();
        }
        Files.deleteIfExists(socket);
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort
        }
        Files.deleteIfExists(dir);
        Files.deleteIfExists(log);
    }
}
