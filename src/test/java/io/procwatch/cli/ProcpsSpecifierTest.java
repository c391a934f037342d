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
            "rbytes", "wbytes", "size", "trs", "drs", "majflt", "minflt", "lastcpu", "luid", "cgroup",
            "cgname", "uss", "pss", "numa", "label", "context", "zone", "machine", "seat", "lxc",
            "sig_catch", "sig_pend", "tsig", "fsuid", "fsgid", "fsuser", "fsgroup", "svuser", "svgroup", "pagein",
            "cpuid", "intpri", "tgid", "util", "atime", "flag", "wname", "tty8", "longtname", "trss", "tsiz", "dsiz",
            "m_size", "times", "wcbytes", "ag_id", "ag_nice", "stackp", "start_stack", "esp", "eip",
            "cp", "cuc", "cuu", "fname", "lim", "session", "sgi_p", "sgi_rss", "tty4",
            // the left-aligned ones not last: procps cuts fname to 8, prints tty4 and sgi_rss whole;
            // and the command columns not last, cut and padded by terminal cells (a wide name below)
            "fname,tty4,sgi_rss,pid", "comm,args,pid");
    private static DaemonProcess daemon;
    /** Processes in namespaces of their own (made with unshare) and in a cgroup of their own, so those columns vary. */
    private static final List<Process> placed = new ArrayList<>();
    private static java.nio.file.Path cgroup;
    /** The cgroups, machined and logind records the test made (removed after, last made first). */
    private static final List<java.nio.file.Path> made = new ArrayList<>();
    /** For the specifiers whose value comes from a record the test made: pid -> the value procps and procwatch must print. */
    private static final Map<String, Map<String, String>> expected = new HashMap<>();

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
        // a container named as LXC 4 names its cgroups, a machine registered as machined records
        // it, a login session on a seat as logind records it (libsystemd reads those files; so
        // does procwatch); and cgname's named hierarchy is the v1 name=systemd line where it exists
        String tag = "pwspec" + ProcessHandle.current().pid();
        java.nio.file.Path root = io.procwatch.testing.Cgroups.unifiedRoot();
        Process lxc = placeIn(root.resolve("lxc.payload." + tag));
        expected.put("lxc", Map.of(Long.toString(lxc.pid()), tag));
        Process machine = placeIn(mkdirs(root.resolve(tag + "x.slice")).resolve("machine-" + tag + ".scope"));
        java.nio.file.Path machines = mkdirs(java.nio.file.Path.of("/run/systemd/machines"));
        made.add(java.nio.file.Files.createSymbolicLink(machines.resolve("unit:machine-" + tag + ".scope"),
                java.nio.file.Path.of(tag + "-vm")));
        expected.put("machine", Map.of(Long.toString(machine.pid()), tag + "-vm"));
        String session = "pw" + ProcessHandle.current().pid();
        Process seated = placeIn(root.resolve(tag + "x.slice").resolve("session-" + session + ".scope"));
        java.nio.file.Path sessions = mkdirs(java.nio.file.Path.of("/run/systemd/sessions"));
        made.add(java.nio.file.Files.writeString(sessions.resolve(session),
                "# written by procwatch's ProcpsSpecifierTest\nUID=0\nUSER=root\nACTIVE=1\nSEAT=seat0\nTYPE=tty\n"));
        expected.put("seat", Map.of(Long.toString(seated.pid()), "seat0"));
        // a name longer than fname's 8 (comm keeps 15 bytes of it), an RSS limit, a terminal,
        // and children's CPU waited for (cuc): the values the test knows procps must print
        Process renamed = new ProcessBuilder("perl", "-e", "$0 = 'pwspec-long-name-0123'; sleep 300").start();
        placed.add(renamed);
        Process wide = new ProcessBuilder("perl", "-e", "$0 = \"\\xe6\\x97\\xa5\\xe6\\x9c\\xac\\xe8\\xaa\\x9e"
                + "\\xe3\\x83\\x86\\xe3\\x82\\xb9\\xe3\\x83\\x88\"; sleep 300").start();
        // that is 日本語テスト in UTF-8: two cells a character; comm keeps its first 15 bytes, 5 characters
        placed.add(wide);
        Process limited = new ProcessBuilder("prlimit", "--rss=1048576:1048576", "sleep", "300").start();
        placed.add(limited);
        placed.add(new ProcessBuilder("sh", "-c", "perl -e '1 while (times)[0] < 0.05'; exec sleep 300").start());
        Process script = new ProcessBuilder("script", "-qc", "exec sleep 300", "/dev/null")
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        placed.add(script);
        // private memory to show: 32 MiB written, so uss and pss are far from the shared pages'
        placed.add(new ProcessBuilder("perl", "-e", "$x = 'a' x (32 << 20); sleep 300").start());
        Thread.sleep(300);
        long deadline = System.currentTimeMillis() + 10_000;
        while (!comm(renamed.pid()).startsWith("pwspec") || comm(wide.pid()).equals("perl")
                || !script.children().findAny().map(c -> comm(c.pid()).equals("sleep")).orElse(false)) {
            assertThat(System.currentTimeMillis()).as("the renamed perl and script's sleep").isLessThan(deadline);
            Thread.sleep(50);
        }
        // fname's 8 cells: four wide characters, or (outside a UTF-8 locale) a '?' for each of 8 bytes
        expected.put("fname", Map.of(Long.toString(renamed.pid()), "pwspec-l", Long.toString(wide.pid()),
                Printable.utf8Locale(System.getenv()) ? "\u65e5\u672c\u8a9e\u30c6" : "????????"));
        expected.put("lim", Map.of(Long.toString(limited.pid()), "1024"));
        long onTerminal = script.children().findAny().orElseThrow().pid();
        String pts = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + onTerminal + "/fd/0")).toString();
        assertThat(pts).as("script's sleep reads a pseudo-terminal").startsWith("/dev/pts/");
        expected.put("tty4", Map.of(Long.toString(onTerminal), pts.substring("/dev/pts/".length())));
        daemon = DaemonProcess.start();
    }

    /** /proc/PID/comm without its newline, "" for a process gone. */
    private static String comm(long pid) {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/comm")).strip();
        } catch (java.io.IOException e) {
            return "";
        }
    }

    /** A sleeping process in a new cgroup {@code dir} (made here, removed after). */
    private static Process placeIn(java.nio.file.Path dir) throws Exception {
        mkdirs(dir);
        Process p = new ProcessBuilder("sleep", "300").start();
        java.nio.file.Files.writeString(dir.resolve("cgroup.procs"), Long.toString(p.pid()));
        placed.add(p);
        return p;
    }

    /** Makes {@code dir} if it is not there, remembering it for removal only then. */
    private static java.nio.file.Path mkdirs(java.nio.file.Path dir) throws java.io.IOException {
        if (!java.nio.file.Files.isDirectory(dir)) {
            java.nio.file.Files.createDirectory(dir);
            made.add(dir);
        }
        return dir;
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
        for (Process p : placed) {
            p.descendants().forEach(ProcessHandle::destroyForcibly); // script's sleep, unshare's
            p.destroyForcibly().waitFor();
        }
        java.nio.file.Files.deleteIfExists(cgroup);
        for (java.nio.file.Path p : made.reversed()) {
            java.nio.file.Files.deleteIfExists(p);
        }
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
        boolean cpu = CPU_SPECS.contains(spec);
        Map<String, String> ranBefore = cpu ? timesRun() : Map.of();
        String first = procps(spec);
        // memory shares: a JVM client maps libjvm.so while the daemon reads, and every other JVM's
        // pss drops by its share of those pages (1.3% seen); the thin client maps only libc
        boolean shares = spec.equals("pss") || spec.equals("uss") || spec.contains("sgi_rss");
        Cli.Result ours = shares && io.procwatch.testing.Thin.built()
                ? io.procwatch.testing.Thin.run(daemon.socket(), "ps", "-eo", "pid," + spec)
                : Cli.run(daemon.socket(), "ps", "-eo", "pid," + spec);
        String second = procps(spec);
        Set<Integer> stable = before.unchangedIn(StableProcesses.read());
        if (cpu) {
            // the CPU a task is on changes only when it runs: equal before and after says nothing
            // of a kernel thread that woke for microseconds in between (no clock tick in stat),
            // its run count in schedstat does
            Map<String, String> ranAfter = timesRun();
            stable.removeIf(pid -> ranBefore.get(Integer.toString(pid)) == null
                    || !ranBefore.get(Integer.toString(pid)).equals(ranAfter.get(Integer.toString(pid))));
        }
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
            if ((spec.equals("pss") || spec.equals("uss") || spec.contains("sgi_rss")) && observers().contains(pid)) {
                continue; // they allocate while the comparison runs: their memory is not unchanged
            }
            if (spec.startsWith("comm,") && e.getValue().contains("kworker/")) {
                continue; // kernel workers rename themselves with every work item (and back): their names are samples
            }
            compared++;
            if ((spec.equals("pss") || spec.equals("uss")) && pssMovedByObservers(e.getValue(), mine.get(pid))) {
                pssWithin++;
                continue;
            }
            if (!e.getValue().equals(mine.get(pid))) {
                problems.add(spec + " pid " + pid + ": procps '" + e.getValue() + "' procwatch '" + mine.get(pid) + "'");
            }
        }
        for (var want : expected.getOrDefault(spec, Map.of()).entrySet()) { // the records the test made show
            String line = a.get(want.getKey());
            assertThat(line).as(spec + " of pid " + want.getKey() + " by procps").isNotNull();
            assertThat(line.trim().split("\\s+")).as(spec + " by procps").endsWith(want.getValue());
            assertThat(mine.get(want.getKey())).as(spec + " by procwatch").isNotNull();
            assertThat(mine.get(want.getKey()).trim().split("\\s+")).as(spec + " by procwatch").endsWith(want.getValue());
        }
        for (Process p : placed) { // the processes made to vary these columns are among those compared
            String pid = Long.toString(p.pid());
            if (spec.endsWith("ns") || spec.equals("cgroup")) {
                assertThat(a).as(spec + " shows pid " + pid).containsKey(pid);
            }
        }
        return compared;
    }

    /** Specifiers that show the CPU a task last ran on. */
    private static final Set<String> CPU_SPECS = Set.of("psr", "lastcpu", "cpuid", "sgi_p", "numa");

    /** Each process's count of times it ran (the third field of /proc/PID/schedstat), by pid. */
    private static Map<String, String> timesRun() {
        Map<String, String> m = new java.util.HashMap<>();
        try (var d = java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/proc"), "[0-9]*")) {
            for (java.nio.file.Path p : d) {
                try {
                    // every thread's: a process's row shows its main thread's CPU, but other threads run too
                    StringBuilder all = new StringBuilder();
                    try (var t = java.nio.file.Files.newDirectoryStream(p.resolve("task"))) {
                        for (java.nio.file.Path task : t) {
                            String[] f = java.nio.file.Files.readString(task.resolve("schedstat")).trim().split(" ");
                            all.append(task.getFileName()).append(':').append(f[2]).append(' ');
                        }
                    }
                    m.put(p.getFileName().toString(), all.toString());
                } catch (java.io.IOException | RuntimeException gone) {
                    // exited while we looked: not compared
                }
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return m;
    }

    /** pss and uss rows that differed from procps's by what the readers' own mappings move (counted, printed). */
    private static int pssWithin;

    /**
     * PSS divides each shared page among the processes mapping it, so it moves with the reader:
     * procps's ps maps its libraries (libproc2, libsystemd, ...) while procps reads, procwatch's
     * client maps its own while the daemon reads, and each page a process shares with one of them
     * counts 1/n or 1/(n+1) of it. USS moves the same way, less often: a library page only this
     * process maps is private, and stops being so while the reader maps it too (seen: a perl's
     * libm pages while a JVM client ran). Such a row is accepted when it is within 1% or 16 KiB
     * of procps's (each such page moves by at most a page; seen: ~0.45% for a JVM whose libjvm.so the
     * JVM client shares while procwatch reads); the rows so accepted are counted.
     */
    private static boolean pssMovedByObservers(String procps, String ours) {
        if (ours == null || procps.equals(ours)) {
            return false;
        }
        long theirs = Long.parseLong(procps.trim().split("\\s+")[1]);
        long mine = Long.parseLong(ours.trim().split("\\s+")[1]);
        return Math.abs(theirs - mine) <= Math.max(16, theirs / 100);
    }

    /** The daemon, this JVM and its parent (the build tool, which takes in this JVM's output as it comes). */
    private static Set<String> observers() {
        Set<String> o = new java.util.HashSet<>(Set.of(Long.toString(daemon.pid()), Long.toString(ProcessHandle.current().pid())));
        ProcessHandle.current().parent().ifPresent(p -> o.add(Long.toString(p.pid())));
        return o;
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
            // again on a second or third comparison is that; a real one shows every time. On a
            // machine busy with other work a different process can be caught moving on each
            // comparison, so a difference counts when the same process differs on all three.
            List<String> found = List.of();
            java.util.Set<String> always = null;
            for (int attempt = 0; attempt < 3; attempt++) {
                List<String> these = new ArrayList<>();
                int compared = compare(spec, these);
                if (attempt == 0) {
                    totalRows += compared;
                }
                assertThat(compared).as(spec + ": rows compared").isPositive();
                found = these;
                java.util.Set<String> keys = new java.util.HashSet<>();
                these.forEach(t -> keys.add(t.contains(": procps") ? t.substring(0, t.indexOf(": procps")) : t));
                if (always == null) {
                    always = keys;
                } else {
                    always.retainAll(keys);
                }
                if (found.isEmpty() || always.isEmpty()) {
                    retried += attempt > 0 ? 1 : 0;
                    found = List.of();
                    break;
                }
            }
            problems.addAll(found);
        }
        long names = SPECIFIERS.stream().flatMap(s -> java.util.Arrays.stream(s.split(","))).filter(s -> !s.equals("pid"))
                .distinct().count();
        System.out.printf("TRUTH ps specifiers: %d specifiers in %d formats (%d equal only on a second or third comparison), ",
                names, SPECIFIERS.size(), retried);
        System.out.printf("%d rows compared with procps, %d mismatches (%d pss/uss rows within the readers' share)%n",
                totalRows, problems.size(), pssWithin);
        problems.stream().limit(60).forEach(p -> System.out.println("  mismatch: " + p));
        assertThat(problems).isEmpty();
    }
}
