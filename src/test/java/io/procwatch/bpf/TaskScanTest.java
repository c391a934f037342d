package io.procwatch.bpf;

import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.ProcFs;
import io.procwatch.sys.ProcessControl;
import io.procwatch.sys.SyscallException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The assembled task iterator, loaded into the running kernel: its records carry what
 * /proc/PID/stat says, and a process's fingerprint moves exactly when something stat shows can
 * have changed — including changes made by others while it sleeps.
 */
class TaskScanTest {
    private static TaskScan scan;
    private static final ProcFs PROC = ProcFs.system();

    @BeforeAll
    static void load() throws IOException {
        scan = TaskScan.open(); // CI runs as root on a kernel with BTF: a failure here is a real failure
    }

    @AfterAll
    static void close() {
        scan.close();
    }

    /** The raw record of one task, as longs at each 4-byte slot up to 72 and 8-byte slots after. */
    private static Map<String, Long> record(int tid) throws SyscallException {
        Map<String, Long> out = new HashMap<>();
        scan.records((b, at) -> {
            if (b.get(ValueLayout.JAVA_INT_UNALIGNED, at) == tid) {
                out.put("tgid", (long) b.get(ValueLayout.JAVA_INT_UNALIGNED, at + 4));
                out.put("static_prio", (long) b.get(ValueLayout.JAVA_INT_UNALIGNED, at + 24));
                out.put("ppid", (long) b.get(ValueLayout.JAVA_INT_UNALIGNED, at + 40));
                out.put("pgrp", (long) b.get(ValueLayout.JAVA_INT_UNALIGNED, at + 44));
                out.put("session", (long) b.get(ValueLayout.JAVA_INT_UNALIGNED, at + 48));
                long rss = 0;
                for (int i = 0; i < 4; i++) {
                    rss += i == 2 ? 0 : b.get(ValueLayout.JAVA_LONG_UNALIGNED, at + 72 + 8L * i); // MM_SWAPENTS is not resident
                }
                out.put("rss", rss);
                out.put("total_vm", b.get(ValueLayout.JAVA_LONG_UNALIGNED, at + 104));
            }
        });
        return out;
    }

    private static long fingerprint(int pid) throws SyscallException {
        long[] sum = {0};
        scan.scan((tid, tgid, fp) -> {
            if (tgid == pid) {
                sum[0] += fp;
            }
        });
        return sum[0];
    }

    private static Process sleeper() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sleep", "60").start();
        Thread.sleep(300); // past exec: from here on it only sleeps
        return p;
    }

    @Test
    void recordsAgreeWithProcStat() throws Exception {
        Process p = sleeper();
        try {
            int pid = (int) p.pid();
            PidStat st = PROC.stat(pid).orElseThrow();
            Map<String, Long> r = record(pid);
            assertThat(r.get("tgid")).isEqualTo(pid);
            assertThat(r.get("ppid")).isEqualTo(st.ppid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(r.get("pgrp")).isEqualTo(st.pgrp());
            assertThat(r.get("session")).isEqualTo(st.session());
            assertThat(r.get("static_prio") - 120).isEqualTo(st.nice());
            assertThat(r.get("rss")).isEqualTo(st.rss());
            assertThat(r.get("total_vm") * 4096).isEqualTo(st.vsize());
            // every process in /proc is in the scan, with its threads
            int[] count = {0};
            int tasks = scan.scan((tid, tgid, fp) -> count[0]++);
            assertThat(tasks).isEqualTo(count[0]);
            long processes = Files.list(Path.of("/proc")).filter(f -> f.getFileName().toString().matches("\\d+")).count();
            assertThat(tasks).isGreaterThanOrEqualTo((int) (processes * 9 / 10));
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /** The rescan after a loss tells lives apart by these start times: they must be stat's, tick for tick. */
    @Test
    void livesCarryStatsStartTimeAndZombieState() throws Exception {
        assertThat(scan.hasStartTimes()).isTrue();
        Process p = sleeper();
        // a zombie: the child exits and its parent does not reap it while it sleeps
        Process sh = new ProcessBuilder("python3", "-c",
                "import os, time\np = os.fork()\nif p == 0:\n    os._exit(0)\nprint(p, flush=True)\ntime.sleep(60)").start();
        int zombie = Integer.parseInt(new java.io.BufferedReader(new java.io.InputStreamReader(sh.getInputStream())).readLine().trim());
        try {
            Thread.sleep(300);
            int pid = (int) p.pid();
            long tickNs = 1_000_000_000L / io.procwatch.procfs.SystemInfo.get().clockTicks();
            Map<Integer, long[]> lives = new HashMap<>();
            scan.lives((tid, tgid, startNs, exitState, cgroupId, fp) -> {
                if (tid == tgid) {
                    lives.put(tgid, new long[] {startNs, exitState});
                }
            });
            assertThat(lives.get(pid)[0] / tickNs).isEqualTo(PROC.stat(pid).orElseThrow().starttime());
            assertThat(lives.get(pid)[1]).isZero();
            assertThat(PROC.stat(zombie).orElseThrow().state()).isEqualTo('Z');
            assertThat(lives.get(zombie)[0] / tickNs).isEqualTo(PROC.stat(zombie).orElseThrow().starttime());
            assertThat(lives.get(zombie)[1]).isNotZero(); // EXIT_ZOMBIE
            // every process /proc lists at both ends of the scan is in it, with stat's start tick
            java.util.Set<Integer> before = new java.util.HashSet<>(PROC.pids());
            int matched = 0;
            lives.clear();
            scan.lives((tid, tgid, startNs, exitState, cgroupId, fp) -> {
                if (tid == tgid) {
                    lives.put(tgid, new long[] {startNs, exitState});
                }
            });
            for (int q : PROC.pids()) {
                PidStat st = PROC.stat(q).orElse(null);
                if (before.contains(q) && st != null && lives.containsKey(q)
                        && lives.get(q)[0] / tickNs == st.starttime()) {
                    matched++;
                }
            }
            assertThat(matched).isGreaterThanOrEqualTo(before.size() * 9 / 10);
        } finally {
            p.destroyForcibly().waitFor();
            sh.destroyForcibly().waitFor();
        }
    }

    @Test
    void aSleepersFingerprintStandsStillUntilSomeoneReniceIt() throws Exception {
        Process p = sleeper();
        try {
            int pid = (int) p.pid();
            long first = fingerprint(pid);
            assertThat(first).isNotZero();
            assertThat(fingerprint(pid)).isEqualTo(first);
            ProcessControl.renice(pid, 5); // the sleeper does not run for this
            long after = fingerprint(pid);
            assertThat(after).isNotEqualTo(first);
            assertThat(PROC.stat(pid).orElseThrow().nice()).isEqualTo(5);
            assertThat(fingerprint(pid)).isEqualTo(after);
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    @Test
    void reparentingMovesTheOrphansFingerprint() throws Exception {
        // sh starts a sleeper and waits on its stdin; closing that stdin ends sh and the sleeper is
        // re-parented by the kernel without running.
        Process sh = new ProcessBuilder("sh", "-c", "sleep 60 & echo $!; read x").start();
        int orphan = Integer.parseInt(new java.io.BufferedReader(new java.io.InputStreamReader(sh.getInputStream())).readLine().trim());
        try {
            Thread.sleep(300);
            long before = fingerprint(orphan);
            assertThat(record(orphan).get("ppid")).isEqualTo(sh.pid());
            sh.getOutputStream().close();
            assertThat(sh.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(fingerprint(orphan)).isNotEqualTo(before);
            assertThat(record(orphan).get("ppid")).isEqualTo(PROC.stat(orphan).orElseThrow().ppid())
                    .isNotEqualTo(sh.pid());
        } finally {
            ProcessControl.kill(orphan, 9);
        }
    }

    @Test
    void runningMovesTheFingerprint() throws Exception {
        Process p = new ProcessBuilder("perl", "-e", "$| = 1; while (<STDIN>) { my $x = 0; $x++ for 1..100000; print \"ok\\n\" }").start();
        try {
            int pid = (int) p.pid();
            p.getOutputStream().write("go\n".getBytes());
            p.getOutputStream().flush();
            assertThat(new String(p.getInputStream().readNBytes(3))).isEqualTo("ok\n");
            long before = fingerprint(pid);
            assertThat(fingerprint(pid)).isEqualTo(before);
            p.getOutputStream().write("go\n".getBytes());
            p.getOutputStream().flush();
            assertThat(new String(p.getInputStream().readNBytes(3))).isEqualTo("ok\n");
            assertThat(fingerprint(pid)).isNotEqualTo(before);
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    private static long cgroupId(int pid) throws SyscallException {
        long[] id = {-1};
        scan.scan((tid, tgid, fp, cgroup) -> {
            if (tid == pid) {
                id[0] = cgroup;
            }
        });
        return id[0];
    }

    private static long inode(Path dir) throws IOException {
        return ((Number) Files.getAttribute(dir, "unix:ino")).longValue();
    }

    /**
     * The record's cgroup id is the inode of the task's cgroup directory in the unified hierarchy
     * (what /proc/PID/cgroup's "0::" line names), and it follows a move made by writing the pid to
     * another cgroup's cgroup.procs, which the moved process does nothing for and the proc
     * connector does not report; the fingerprint, which covers what stat shows, stays put.
     */
    @Test
    void theCgroupIdFollowsAMoveTheProcessDoesNothingFor() throws Exception {
        Path root = io.procwatch.testing.Cgroups.unifiedRoot();
        Path a = root.resolve("pwscan" + ProcessHandle.current().pid() + "a");
        Path b = root.resolve("pwscan" + ProcessHandle.current().pid() + "b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        Process p = sleeper();
        try {
            int pid = (int) p.pid();
            String line = Files.readAllLines(Path.of("/proc/" + pid + "/cgroup")).stream()
                    .filter(l -> l.startsWith("0::")).findFirst().orElseThrow();
            assertThat(cgroupId(pid)).isEqualTo(inode(root.resolve(line.substring(4).isEmpty() ? "." : line.substring(4))));
            Files.writeString(a.resolve("cgroup.procs"), Integer.toString(pid));
            long fp = fingerprint(pid);
            assertThat(cgroupId(pid)).isEqualTo(inode(a)).isNotZero();
            Files.writeString(b.resolve("cgroup.procs"), Integer.toString(pid));
            assertThat(cgroupId(pid)).isEqualTo(inode(b)).isNotEqualTo(inode(a));
            assertThat(fingerprint(pid)).isEqualTo(fp);
        } finally {
            p.destroyForcibly().waitFor();
            Files.deleteIfExists(a);
            Files.deleteIfExists(b);
        }
    }

    @Test
    void malformedTypeInformationIsAClearError() throws IOException {
        assertThatThrownBy(() -> Btf.parse(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                21, 22, 23, 24})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not BTF");
        byte[] real = Files.readAllBytes(Btf.VMLINUX);
        byte[] cut = Arrays.copyOf(real, real.length / 2);
        assertThatThrownBy(() -> Btf.parse(cut)).isInstanceOf(RuntimeException.class);
        Btf btf = Btf.parse(real);
        assertThat(btf.member("task_struct", "no_such_field")).isNull();
        assertThat(btf.member("no_such_struct", "pid")).isNull();
        assertThat(btf.member("task_struct", "se.sum_exec_runtime").size()).isEqualTo(8);
        assertThat(btf.funcId("bpf_iter_task")).isPositive();
    }
}
