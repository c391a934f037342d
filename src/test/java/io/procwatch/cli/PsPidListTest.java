package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ps -p with more pids than one selector holds (4096): the client pages the list over several
 * SNAPSHOTs and prints one table, in pid order, as procps does.
 */
class PsPidListTest {
    private static DaemonProcess daemon;
    private static final List<Process> SLEEPERS = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
        for (int i = 0; i < 20; i++) {
            SLEEPERS.add(new ProcessBuilder("sleep", "300").start());
        }
        Thread.sleep(300);
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : SLEEPERS) {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        daemon.close();
    }

    @Test
    void fiveThousandPidsListedLikeProcps() throws Exception {
        long pidMax = Long.parseLong(Files.readString(Path.of("/proc/sys/kernel/pid_max")).trim());
        Set<Long> stable = new TreeSet<>();
        stable.add(1L);
        stable.add(ProcessHandle.current().pid());
        for (Process p : SLEEPERS) {
            stable.add(p.pid());
        }
        List<Long> list = new ArrayList<>(stable);
        // the rest: pids above pid_max (no process can have them), spread over every page
        for (long p = pidMax + 1; list.size() < 5000; p += 7) {
            list.add(p);
        }
        java.util.Collections.shuffle(list, new java.util.Random(1));
        String arg = String.join(",", list.stream().map(String::valueOf).toList());

        Cli.Result ours = Cli.run(daemon.socket(), "ps", "-p", arg, "-o", "pid,comm");
        assertThat(ours.exit()).as(ours.err()).isZero();
        Process procps = new ProcessBuilder("ps", "-p", arg, "-o", "pid,comm").start();
        String theirs = new String(procps.getInputStream().readAllBytes());
        assertThat(procps.waitFor()).isZero();

        List<String> o = ours.out().lines().toList();
        List<String> t = theirs.lines().toList();
        assertThat(o.getFirst()).as("one header, procps's").isEqualTo(t.getFirst());
        assertThat(o.stream().filter(l -> l.contains("PID")).count()).isEqualTo(1);
        // rows in pid order, only listed pids, and the stable processes exactly as procps shows them
        List<Long> pids = o.subList(1, o.size()).stream().map(l -> Long.parseLong(l.trim().split("\\s+")[0])).toList();
        assertThat(pids).isSorted().doesNotHaveDuplicates();
        assertThat(Set.copyOf(list)).containsAll(pids);
        assertThat(pids).containsAll(stable);
        List<String> oursStable = o.stream().filter(l -> stable.contains(firstNumber(l))).toList();
        List<String> theirsStable = t.stream().filter(l -> stable.contains(firstNumber(l))).toList();
        assertThat(oursStable).hasSize(stable.size()).isEqualTo(theirsStable);
    }

    private static long firstNumber(String line) {
        try {
            return Long.parseLong(line.trim().split("\\s+")[0]);
        } catch (NumberFormatException header) {
            return -1;
        }
    }
}
