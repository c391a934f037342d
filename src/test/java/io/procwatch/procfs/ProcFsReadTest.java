package io.procwatch.procfs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ProcFs reads a pid's files with open/pread/close into a per-thread buffer (one read for most
 * files, more for long ones): every length around the buffer's size, files that are missing,
 * empty or not files, and the kernel's own cmdline of a process with a long argv.
 */
class ProcFsReadTest {
    @TempDir
    Path root;

    private static String args(List<String> argv) {
        return String.join("\0", argv) + "\0";
    }

    @Test
    void commandLinesOfEveryLengthAroundTheBufferAreReadWhole() throws Exception {
        ProcFs proc = new ProcFs(root);
        Files.createDirectories(root.resolve("7"));
        for (int len : new int[] {0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 16384, 16385, 70_000, 300_001}) {
            List<String> argv = new ArrayList<>();
            StringBuilder one = new StringBuilder();
            for (int i = 0; one.length() < len; i++) {
                one.append((char) ('a' + i % 26));
            }
            // argv of total length len (one NUL per argument): split into pieces of up to 1000
            String all = one.toString();
            int at = 0;
            while (at < all.length()) {
                int end = Math.min(all.length(), at + 999);
                argv.add(all.substring(at, end));
                at = end;
            }
            String text = argv.isEmpty() ? "" : args(argv);
            Files.writeString(root.resolve("7/cmdline"), text);
            assertThat(proc.cmdline(7)).as("length %d", text.length()).contains(argv);
        }
    }

    @Test
    void missingEmptyAndNonFilesAreEmptyOrNothing() throws Exception {
        ProcFs proc = new ProcFs(root);
        assertThat(proc.stat(12345)).isEmpty();
        assertThat(proc.cmdline(12345)).isEmpty();
        Files.createDirectories(root.resolve("8/cmdline")); // a directory: read fails (EISDIR)
        assertThat(proc.cmdline(8)).isEmpty();
        Files.createDirectories(root.resolve("9"));
        Files.writeString(root.resolve("9/cmdline"), ""); // a kernel thread or a zombie
        assertThat(proc.cmdline(9)).contains(List.of());
        Files.writeString(root.resolve("9/stat"), ""); // not a stat line
        assertThat(proc.stat(9)).isEmpty();
    }

    @Test
    void statusIdsWithTabsAndSpacesAndLargeIds() throws Exception {
        ProcFs proc = new ProcFs(root);
        Files.createDirectories(root.resolve("5"));
        Files.writeString(root.resolve("5/status"), "Name:\tx\nTgid:\t5\nPid:\t5\nTracerPid:\t0\n"
                + "Uid:\t1000\t1001 \t1002\t4294967294\nGid:  7 8\t9\t10\nVmRSS:\t  1234 kB\n");
        PidStatus s = proc.status(5).orElseThrow();
        assertThat(new int[] {s.ruid(), s.euid(), s.rgid(), s.egid()}).containsExactly(1000, 1001, 7, 8);
        assertThat(s.vmRssKiB()).isEqualTo(1234);
        assertThat(s.tgid()).isEqualTo(5);
    }

    @Test
    void theKernelsCommandLineOfALongArgvAndItsStat() throws Exception {
        // GNU sleep adds its arguments up: 3,000 zeros make a command line of 6,009 bytes
        List<String> cmd = new ArrayList<>(List.of("sleep", "30"));
        for (int i = 0; i < 3000; i++) {
            cmd.add("0");
        }
        Process p = new ProcessBuilder(cmd).start();
        try {
            int pid = (int) p.pid();
            ProcFs proc = ProcFs.system();
            long deadline = System.nanoTime() + 5_000_000_000L;
            List<String> seen = List.of();
            while (System.nanoTime() < deadline && !seen.equals(cmd)) {
                seen = proc.cmdline(pid).orElse(List.of()); // before its exec: the JDK's spawn helper's
                Thread.sleep(5);
            }
            assertThat(seen).isEqualTo(cmd);
            assertThat(args(cmd).length()).isGreaterThan(4096);
            PidStat st = proc.stat(pid).orElseThrow();
            assertThat(st.pid()).isEqualTo(pid);
            assertThat(st.comm()).isEqualTo("sleep");
            String status = Files.readString(Path.of("/proc/" + pid + "/status"), StandardCharsets.UTF_8);
            assertThat(status).contains("Uid:\t" + proc.status(pid).orElseThrow().ruid() + "\t");
        } finally {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
