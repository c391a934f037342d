package io.procwatch.cli;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.StableProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every format specifier procwatch takes from /proc items, byte for byte against procps's
 * {@code ps -eo pid,SPEC}: the header, and each row of a process that was alive and unchanged
 * across the comparison and whose value procps printed the same in a run before and a run after
 * procwatch's (counters move; a value that moved between the two procps runs is nobody's answer).
 */
class ProcpsSpecifierTest {
    /** Specifiers read from /proc items (procfs.ProcItems) and the ones derived from them. */
    static final List<String> SPECIFIERS = List.of(
            "pidns", "netns", "mntns", "ipcns", "utsns", "userns", "cgroupns", "timens",
            "suid", "svuid", "fuid", "sgid", "svgid", "fgid", "suser", "fuser", "sgroup", "fgroup", "rgid", "rgroup",
            "supgid", "supgrp", "pending", "sig", "blocked", "sigmask", "ignored", "sigignore", "caught", "sigcatch",
            "oom", "oomadj", "rtprio", "policy", "class", "cls", "sched", "rops", "wops", "rchars", "wchars",
            "rbytes", "wbytes", "size", "trs", "drs", "majflt", "minflt", "lastcpu", "luid", "cgroup");
    private static DaemonProcess daemon;
    /** Processes in namespaces of their own (made with unshare) and in a cgroup of their own, so those columns vary. */
    private static final List<Process> placed = new ArrayList<>();
    private static java.nio.file.Path cgroup;

    @BeforeAll
    static void start() throws Exception {
        // every namespace type new (pid, net, mount, uts, ipc, cgroup, time), and a user namespace
        placed.add(new ProcessBuilder("unshare", "--pid", "--net", "--mount", "--uts", "--ipc", "--cgroup", "--time",
                "--fork", "sleep", "300").start());
        placed.add(new ProcessBuilder("unshare", "--user", "--map-root-user", "--net", "sleep", "300").start());
        placed.add(new ProcessBuilder("sleep", "300").start());
        cgroup = io.procwatch.testing.Cgroups.unifiedRoot().resolve("pwspec" + ProcessHandle.current().pid() + ".slice");
        java.nio.file.Files.createDirectories(cgroup);
        java.nio.file.Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(placed.getLast().pid()));
        // a real-time process (SCHED_FIFO 10) and one that blocks and ignores signals
        placed.add(new ProcessBuilder("chrt", "-f", "10", "sleep", "300").start());
        placed.add(new ProcessBuilder("perl", "-e", "$SIG{INT}='IGNORE'; $SIG{USR1}=sub{}; sleep 300").start());
        Thread.sleep(300);
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
        for (Process p : placed) {
            p.destroyForcibly().waitFor();
        }
        java.nio.file.Files.deleteIfExists(cgroup);
    }

    private static String procps(String spec) throws Exception {
        Process p = new ProcessBuilder("ps", "-eo", "pid," + spec).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }

    /** One comparison of {@code ps -eo pid,SPEC}: procps, procwatch, procps; returns the rows compared. */
    private static int compare(String spec, List<String> problems) throws Exception {
        StableProcesses before = StableProcesses.read();
        String first = procps(spec);
        Cli.Result ours = Cli.run(daemon.socket(), "ps", "-eo", "pid," + spec);
        String second = procps(spec);
        Set<Integer> stable = before.unchangedIn(StableProcesses.read());
        assertThat(ours.exit()).as(spec + ": " + ours.err()).isZero();
        if (!ours.out().lines().findFirst().orElse("").equals(first.lines().findFirst().orElse(""))) {
            problems.add(spec + " header: procps '" + first.lines().findFirst().orElse("") + "' procwatch '"
                    + ours.out().lines().findFirst().orElse("") + "'");
        }
        Map<String, String> a = byPid(first);
        Map<String, String> b = byPid(second);
        Map<String, String> mine = byPid(ours.out());
        int compared = 0;
        for (var e : a.entrySet()) {
            String pid = e.getKey();
            if (!stable.contains(Integer.parseInt(pid)) || !e.getValue().equals(b.get(pid))) {
                continue;
            }
            compared++;
            if (!e.getValue().equals(mine.get(pid))) {
                problems.add(spec + " pid " + pid + ": procps '" + e.getValue() + "' procwatch '" + mine.get(pid) + "'");
            }
        }
        for (Process p : placed) { // the processes made to vary these columns are among those compared
            String pid = Long.toString(p.pid());
            if (spec.endsWith("ns") || spec.equals("cgroup")) {
                assertThat(a).as(spec + " shows pid " + pid).containsKey(pid);
            }
        }
        return compared;
    }

    /** pid (the first field) to the whole line. */
    private static Map<String, String> byPid(String out) {
        Map<String, String> m = new HashMap<>();
        for (String line : out.lines().skip(1).toList()) {
            m.put(line.trim().split("\\s+")[0], line);
        }
        return m;
    }

    @Test
    void everyItemSpecifierPrintsWhatProcpsPrints() throws Exception {
        List<String> problems = new ArrayList<>();
        int totalRows = 0;
        int retried = 0;
        for (String spec : SPECIFIERS) {
            // A value that moves only when its process runs (the last CPU, faults, I/O counts) can
            // move and move back between the two procps runs: a difference that does not show
            // again on a second or third comparison is that; a real one shows every time.
            List<String> found = List.of();
            for (int attempt = 0; attempt < 3; attempt++) {
                List<String> these = new ArrayList<>();
                int compared = compare(spec, these);
                if (attempt == 0) {
                    totalRows += compared;
                }
                assertThat(compared).as(spec + ": rows compared").isPositive();
                found = these;
                if (found.isEmpty()) {
                    retried += attempt > 0 ? 1 : 0;
                    break;
                }
            }
            problems.addAll(found);
        }
        System.out.printf("TRUTH ps specifiers: %d specifiers (%d equal only on a second or third comparison), ",
                SPECIFIERS.size(), retried);
        System.out.printf("%d rows compared with procps, %d mismatches%n", totalRows, problems.size());
        problems.stream().limit(60).forEach(p -> System.out.println("  mismatch: " + p));
        assertThat(problems).isEmpty();
    }
}
