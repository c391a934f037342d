package io.procwatch.truth;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One run of a truth workload (src/test/resources/truth/truth.c, compiled once per test JVM with
 * {@code cc -O2 -Wall -Werror -pthread}). The workload writes its ground truth to a file of its
 * own; its stdin is a pipe this object holds, and every process it leaves alive exits when that
 * pipe closes ({@link #close}), so nothing outlives a test even if an assertion fails.
 */
final class Workload implements AutoCloseable {
    private static Path dir;

    private final Process process;
    private final Path out;
    private final BufferedReader stdout;
    private final OutputStream stdin;

    private Workload(Process process, Path out) {
        this.process = process;
        this.out = out;
        this.stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.stdin = process.getOutputStream();
    }

    /** The directory with the compiled binary ({@code truth}) and its named links. */
    static synchronized Path dir() throws IOException, InterruptedException {
        if (dir == null) {
            Path d = Files.createTempDirectory("pw-truth");
            Path src = d.resolve("truth.c");
            try (InputStream in = Workload.class.getResourceAsStream("/truth/truth.c")) {
                if (in == null) {
                    throw new IOException("truth/truth.c is not on the test class path");
                }
                Files.copy(in, src);
            }
            Process cc = new ProcessBuilder("cc", "-O2", "-Wall", "-Werror", "-pthread", "-o",
                    d.resolve("truth").toString(), src.toString()).redirectErrorStream(true).start();
            String msg = new String(cc.getInputStream().readAllBytes());
            if (cc.waitFor() != 0) {
                throw new IOException("cc failed: " + msg);
            }
            // the name a process gets at exec is its file's name: one link per name a case needs
            for (String name : List.of("life1", "life2", "life3", "pwkeep", "pwlive", "pwblip", "pwchain", "pwtiny")) {
                Files.createSymbolicLink(d.resolve(name), d.resolve("truth"));
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    new ProcessBuilder("rm", "-rf", d.toString()).start().waitFor();
                } catch (IOException | InterruptedException ignored) {
                    // a temp dir left behind is harmless
                }
            }));
            dir = d;
        }
        return dir;
    }

    static Path binary(String name) throws IOException, InterruptedException {
        return dir().resolve(name);
    }

    /** Starts {@code truth ROLE OUT args...}; OUT is a fresh file for its records. */
    static Workload start(String role, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("pw-truth-" + role, ".txt");
        List<String> cmd = new ArrayList<>(List.of(binary("truth").toString(), role, out.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new Workload(p, out);
    }

    long pid() {
        return process.pid();
    }

    /** Waits for the workload to print {@code line} (it prints "ready" when the test may look). */
    void await(String line) throws IOException {
        String l;
        while ((l = stdout.readLine()) != null) {
            if (l.equals(line)) {
                return;
            }
        }
        throw new IOException("workload exited before printing '" + line + "' (exit " + exitOrRunning() + ")");
    }

    /** Sends one line on stdin (the storm's go). */
    void tell(String line) throws IOException {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /** Closes stdin (every process it left alive exits) and waits for the workload. */
    int finish() throws IOException, InterruptedException {
        try {
            stdin.close();
        } catch (IOException ignored) {
            // already gone
        }
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("workload did not finish");
        }
        return process.exitValue();
    }

    private String exitOrRunning() {
        return process.isAlive() ? "running" : Integer.toString(process.exitValue());
    }

    /** Every record the workload wrote so far. */
    List<Truth> truth() throws IOException {
        List<Truth> out = new ArrayList<>();
        for (String line : Files.readAllLines(this.out)) {
            if (!line.isEmpty()) {
                out.add(Truth.parse(line));
            }
        }
        return out;
    }

    List<Truth> truth(String kind) throws IOException {
        return truth().stream().filter(t -> t.kind().equals(kind)).toList();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (process.isAlive()) {
            finish();
        }
        Files.deleteIfExists(out);
    }
}
