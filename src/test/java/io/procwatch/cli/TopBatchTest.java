package io.procwatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** top's batch mode and JSON against a real daemon, real processes, and bad options. */
class TopBatchTest {
    private static DaemonProcess daemon;
    private static Process burner;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        burner = new ProcessBuilder("perl", "-e", "$0 = 'pwbatchburn'; 1 while 1").start();
    }

    @AfterAll
    static void stop() throws Exception {
        burner.destroyForcibly().waitFor();
        daemon.close();
    }

    @Test
    void batchShowsIntervalCpuEventRatesAndRecentExits() throws Exception {
        Process top = Cli.start(daemon.socket(), "top", "-b", "-n", "3", "-d", "0.7");
        var reader = top.inputReader();
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = reader.readLine()) != null) {
            out.append(line).append('\n');
            if (line.startsWith("Exited:")) {
                break; // the first frame is out: top is subscribed
            }
        }
        // exits with code 7 while top runs: a process no sampling top would ever list
        Process shortLived = new ProcessBuilder("perl", "-e", "$0 = 'pwshort'; exit 7").start();
        assertThat(shortLived.waitFor()).isEqualTo(7);
        while ((line = reader.readLine()) != null) {
            out.append(line).append('\n');
        }
        assertThat(top.waitFor()).as(new String(top.getErrorStream().readAllBytes())).isZero();
        Cli.Result r = new Cli.Result(0, out.toString(), "");
        String[] frames = r.out().split("\n\n(?=top - )");
        assertThat(frames).hasSize(3);
        for (String f : frames) {
            List<String> lines = f.lines().toList();
            assertThat(lines.get(0)).startsWith("top - ").contains(" up ").contains("load average:");
            assertThat(lines.get(1)).startsWith("Tasks:").contains("total").contains("zombie");
            assertThat(lines.get(2)).startsWith("%Cpu(s):");
            assertThat(lines.get(3)).startsWith("MiB Mem :");
            assertThat(lines.get(4)).startsWith("MiB Swap:");
            assertThat(lines.get(5)).startsWith("Events:");
            assertThat(lines.get(6)).startsWith("Exited:");
            assertThat(lines.get(8)).isEqualTo("  PID USER      PR  NI    VIRT    RES S  %CPU  %MEM     TIME+ COMMAND");
            // rows sorted by interval %CPU, highest first; the busy loop is near the top, using
            // (on a loaded machine, most of) one CPU
            List<String> rows = lines.subList(9, lines.size());
            List<Double> cpu = rows.stream().map(l -> Double.parseDouble(l.trim().split("\\s+")[7])).toList();
            assertThat(cpu).isSortedAccordingTo(java.util.Comparator.reverseOrder());
            String burn = rows.stream().filter(l -> l.endsWith(" pwbatchburn")).findFirst().orElseThrow();
            // near the top: on a machine where several builds run, a few of their JVMs may outrank it
            assertThat(rows.indexOf(burn)).isLessThan(10);
            assertThat(Double.parseDouble(burn.trim().split("\\s+")[7])).isBetween(20.0, 105.0);
            // no single-threaded process can use more than one CPU over an interval
            assertThat(cpu.getFirst()).isLessThan(210.0);
        }
        assertThat(r.out()).containsPattern("Exited: .*pwshort\\(\\d+ms,7\\)");
        assertThat(r.out()).containsPattern("Events: +\\d+\\.\\d forks/s, +\\d+\\.\\d execs/s, +(?!0\\.0 )\\d+\\.\\d exits/s");
    }

    /**
     * Batch mode prints an unchanged process's line again from the line kept last time (with
     * delta snapshots its row is the same object): a process that stops running keeps its row,
     * and its %CPU must still fall to 0.0; one reniced from outside must show its new NI.
     */
    @Test
    void keptLinesFollowCpuThatStopsAndNiceThatChanges() throws Exception {
        // runs for 1.2 s when told (SIGUSR1), sleeps otherwise
        Process spurt = new ProcessBuilder("perl", "-MTime::HiRes=time", "-e", "$0 = 'pwspurt'; "
                + "$SIG{USR1} = sub { my $t = time + 1.2; 1 while time < $t }; sleep 600 while 1").start();
        Process calm = new ProcessBuilder("perl", "-e", "$0 = 'pwcalm'; sleep 600").start();
        try {
            Process top = Cli.start(daemon.socket(), "top", "-b", "-n", "9", "-d", "0.5", "-p",
                    spurt.pid() + "," + calm.pid());
            var reader = top.inputReader();
            List<String> spurtCpu = new java.util.ArrayList<>();
            List<String> calmNice = new java.util.ArrayList<>();
            String line;
            while ((line = reader.readLine()) != null) {
                String[] f = line.trim().split("\\s+");
                if (line.endsWith(" pwspurt")) {
                    spurtCpu.add(f[7]);
                    if (spurtCpu.size() == 2) {
                        assertThat(new ProcessBuilder("kill", "-USR1", String.valueOf(spurt.pid())).start().waitFor())
                                .isZero();
                    }
                } else if (line.endsWith(" pwcalm")) {
                    calmNice.add(f[3]);
                    if (calmNice.size() == 3) {
                        assertThat(new ProcessBuilder("renice", "-n", "5", "-p", String.valueOf(calm.pid()))
                                .start().waitFor()).isZero();
                    }
                }
            }
            assertThat(top.waitFor()).isZero();
            assertThat(spurtCpu).hasSize(9);
            assertThat(calmNice).hasSize(9);
            // it ran for 1.2 s after the second frame, then slept: busy then, 0.0 in the last frames
            assertThat(spurtCpu.subList(0, 2)).containsOnly("0.0");
            assertThat(spurtCpu.subList(2, 6)).anyMatch(c -> Double.parseDouble(c) > 10);
            assertThat(spurtCpu.subList(6, 9)).containsOnly("0.0");
            assertThat(calmNice.subList(0, 3)).containsOnly("0");
            assertThat(calmNice.subList(5, 9)).containsOnly("5");
        } finally {
            spurt.destroyForcibly().waitFor();
            calm.destroyForcibly().waitFor();
        }
    }

    @Test
    void jsonOneFrameForOnePid() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "top", "--json", "-p", Long.toString(burner.pid()), "-o", "-PID");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode n = new ObjectMapper().readTree(r.out());
        assertThat(n.get("tasks").get("total").asInt()).isEqualTo(1);
        assertThat(n.get("cpu_percent").has("us")).isTrue();
        JsonNode p = n.get("processes").get(0);
        assertThat(p.get("pid").asLong()).isEqualTo(burner.pid());
        assertThat(p.get("comm").asText()).isEqualTo("pwbatchburn");
        assertThat(p.get("cpu_percent_now").asDouble()).isGreaterThan(30.0);
        assertThat(p.get("rss_kib").asLong()).isPositive();
    }

    @Test
    void threadsAndCommandLinesAndUserFilter() throws Exception {
        Cli.Result r = Cli.run(daemon.socket(), "top", "-b", "-n", "1", "-H", "-c", "-u", "root", "-p", "1");
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> rows = r.out().lines().skip(9).toList();
        assertThat(rows).isNotEmpty().allMatch(l -> l.contains(" root "));
        long threadsOfInit = java.nio.file.Files.list(java.nio.file.Path.of("/proc/1/task")).count();
        assertThat(rows).hasSize((int) threadsOfInit);
    }

    @Test
    void badOptionsAndNoTerminal() throws Exception {
        for (String[] args : List.of(new String[] {"top", "-n", "0"}, new String[] {"top", "-o", "BOGUS"},
                new String[] {"top", "-u", "no-such-user-pw"}, new String[] {"top", "-d", "0.01"},
                new String[] {"top", "-x"}, new String[] {"top", "-p", "abc"})) {
            Cli.Result r = Cli.run(daemon.socket(), args);
            assertThat(r.exit()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(r.err()).startsWith("procwatch top: ");
        }
        Cli.Result r = Cli.run(daemon.socket(), "top", "-n", "1");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("not a terminal").contains("-b");
    }
}
