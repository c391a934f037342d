package io.procwatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import io.procwatch.testing.StableProcesses;
import io.procwatch.testing.Thin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native thin client against a real daemon, beside the JVM CLI: the same arguments and
 * environment must print the same bytes and exit with the same status, whether the command runs
 * in its own JVM or inside the daemon. Rows are compared for the processes that did not change
 * while the two ran (StableProcesses), without the daemon and this test's JVM (their CPU time
 * moves); a comparison is retried a few times, since a process may still change a sampled
 * column (state, CPU) between the two runs, but a real difference (a format, a zone, a width,
 * visibility) fails every try.
 */
class ThinClientEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TRIES = 4;
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Thin.built(), "no C compiler at build time: the thin client is not built");
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    /** Every /proc/PID/stat line: a process whose line did not change was quiet (same state, CPU, RSS, name). */
    private static Map<Integer, String> statLines() {
        Map<Integer, String> m = new java.util.HashMap<>();
        try (var d = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : d) {
                try {
                    // stat and io: a thread that writes a few pages now and then moves
                    // write_bytes without using a whole clock tick of CPU (its stat line stays)
                    String io;
                    try {
                        io = Files.readString(p.resolve("io"));
                    } catch (java.io.IOException unreadable) {
                        io = "";
                    }
                    m.put(Integer.parseInt(p.getFileName().toString()), Files.readString(p.resolve("stat")) + io);
                } catch (java.io.IOException | RuntimeException gone) {
                    // exited while we looked
                }
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return m;
    }

    /** The pids unchanged (StableProcesses) and quiet between two reads, without the daemon and us. */
    private static Set<Integer> stableAndQuiet(StableProcesses before, Map<Integer, String> statsBefore) {
        Set<Integer> stable = new HashSet<>(before.unchangedIn(StableProcesses.read()));
        Map<Integer, String> now = statLines();
        // kworkers rename themselves after the work they do, many times a second
        stable.removeIf(pid -> statsBefore.get(pid) == null || !statsBefore.get(pid).equals(now.get(pid))
                || now.get(pid).contains("(kworker/"));
        stable.remove((int) daemon.pid());
        stable.remove((int) ProcessHandle.current().pid());
        // and Maven above us: a young busy JVM's %CPU (CPU over elapsed time) moves with the clock
        // alone, so its stat line stays the same while C and %CPU change between the two runs
        for (var p = ProcessHandle.current().parent(); p.isPresent(); p = p.get().parent()) {
            stable.remove((int) p.get().pid());
        }
        return stable;
    }

    private static long stat(String name) throws Exception {
        try (ProcwatchClient c = daemon.client()) {
            return c.stats().getOrDefault(name, -1L);
        }
    }

    /** One comparison: both ways, the rows of processes unchanged throughout. */
    private interface Compare {
        String filter(String out, Set<Integer> stable) throws Exception;
    }

    /** Text with a pid in column {@code pidColumn} (0-based): the header and the stable rows. */
    private static Compare column(int pidColumn) {
        return (out, stable) -> {
            StringBuilder b = new StringBuilder();
            List<String> lines = out.lines().toList();
            for (int i = 0; i < lines.size(); i++) {
                String[] f = lines.get(i).trim().split("\\s+");
                if (i == 0 && !f[pidColumn].matches("\\d+")) {
                    b.append(lines.get(i)).append('\n');
                } else if (f.length > pidColumn && f[pidColumn].matches("\\d+")
                        && stable.contains(Integer.parseInt(f[pidColumn]))) {
                    b.append(lines.get(i)).append('\n');
                }
            }
            return b.toString();
        };
    }

    /** A JSON array of objects with a "pid": the stable ones, one a line. */
    private static final Compare JSON_ROWS = (out, stable) -> {
        StringBuilder kept = new StringBuilder();
        for (JsonNode r : JSON.readTree(out)) {
            if (stable.contains(r.get("pid").asInt())) {
                kept.append(r).append('\n');
            }
        }
        return kept.toString();
    };

    private static void same(Map<String, String> env, Compare compare, String... args) throws Exception {
        String last = null;
        for (int i = 0; i < TRIES; i++) {
            StableProcesses before = StableProcesses.read();
            Map<Integer, String> stats = statLines();
            long runs = stat("runs_total");
            Cli.Result jvm = Cli.runWith(daemon.socket(), List.of(), env, args);
            Cli.Result thin = Thin.runWith(daemon.socket(), List.of(), env, args);
            Set<Integer> stable = stableAndQuiet(before, stats);
            assertThat(stat("runs_total")).as("the thin client ran %s in the daemon", List.of(args)).isGreaterThan(runs);
            assertThat(thin.exit()).as("exit of %s", List.of(args)).isEqualTo(jvm.exit());
            assertThat(thin.err()).as("stderr of %s", List.of(args)).isEqualTo(jvm.err());
            String a = compare.filter(jvm.out(), stable);
            String b = compare.filter(thin.out(), stable);
            assertThat(a.lines().count()).as("rows compared for %s", List.of(args)).isGreaterThan(1);
            if (a.equals(b)) {
                return;
            }
            last = "JVM:\n" + a + "\nthin:\n" + b;
        }
        throw new AssertionError("procwatch " + List.of(args) + " differs in " + TRIES + " tries\n" + last);
    }

    @Test
    void psPresetsFormatsAndJsonPrintTheSame() throws Exception {
        same(Map.of(), column(1), "ps", "-ef");
        same(Map.of(), column(0), "ps", "-eo", "pid,ppid,user,stat,rss,comm,args");
        same(Map.of(), column(1), "ps", "aux");
        same(Map.of(), column(1), "ps", "-eF");
        same(Map.of(), column(3), "ps", "-el");
        same(Map.of(), column(0), "ps", "-e", "-o", "pid,uid,gid,tty,ni,pri,nlwp,comm", "--sort=-pid");
        same(Map.of(), column(0), "ps", "-eo", "pid,args", "--forest");
        same(Map.of(), column(1), "ps", "axjf");
        same(Map.of(), JSON_ROWS, "ps", "-eo", "pid,ppid,user,comm,args", "--json");
        same(Map.of(), JSON_ROWS, "ps", "aux", "--json");
    }

    @Test
    void formatMatrixPrintsTheSame() throws Exception {
        List<String> formats = List.of("pid,comm", "pid,ppid,pgid,sid,tpgid,comm", "pid,user,ruser,euser,uid,ruid,gid,group",
                "pid,tty,tname,tt,comm", "pid,stat,state,comm", "pid,nlwp,ni,pri,opri,psr,comm", "pid,rss,vsz,sz,%mem,comm",
                "pid,start,lstart,bsdstart,stime,comm", "pid,time,cputime,bsdtime,comm", "pid,f,addr,wchan,comm",
                "pid,exe,cwd", "pid,maj_flt,min_flt,comm", "pid,cgroup", "pid,tracer,comm", "pid,args", "pid,cmd",
                "pid,command", "pid=,comm=", "pid=PROCESS,comm=NAME", "pid:10,comm:30", "pid,comm:4,args:12",
                "pid,pr,virt,res,comm", "uid,pid,user:20,comm", "pid,lwp,nlwp,comm", "pid,rchar,wchar,comm",
                "pid,read_bytes,write_bytes,comm", "pid,spid,tid,comm", "ppid,pid,c,comm", "pid,nlwp,comm:9");
        for (String fmt : formats) {
            String[] names = fmt.split(",");
            int pidColumn = 0;
            while (!names[pidColumn].split("[:=]")[0].equals("pid")) {
                pidColumn++;
            }
            same(Map.of(), column(pidColumn), "ps", "-e", "-o", fmt);
        }
        same(Map.of(), column(0), "ps", "-e", "-o", "pid,comm,rss", "--sort=-rss,+pid");
        same(Map.of(), column(0), "ps", "-e", "-o", "pid,user,comm", "--sort=user,-pid");
        same(Map.of(), column(0), "ps", "-e", "-o", "pid,comm", "--no-headers");
        same(Map.of(), column(0), "ps", "-u", "root", "-o", "pid,user,comm");
        same(Map.of(), column(0), "ps", "-p", "1,2,3", "-o", "pid,comm");
        same(Map.of(), column(0), "ps", "--ppid", "2", "-o", "pid,comm");
        same(Map.of(), column(0), "ps", "-e", "-o", "pid,comm", "-H");
        same(Map.of(), column(0), "ps", "-ejH");
        same(Map.of(), column(1), "ps", "axu", "--sort=-pid");
        same(Map.of(), column(0), "ps", "ax");
        same(Map.of(), column(0), "ps", "x");
        same(Map.of(), column(1), "ps", "-eLf");
        same(Map.of(), column(0), "ps", "-eT", "-o", "pid,spid,comm");
        same(Map.of(), JSON_ROWS, "ps", "-eL", "-o", "pid,lwp,comm", "--json");
    }

    /** A shell word: the command for script(1), which runs its command through a shell. */
    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** Runs a command on a new pseudo-terminal (script(1)) with COLUMNS set: what it printed, \r\n as \n. */
    private static String onTerminal(List<String> command, int columns) throws Exception {
        StringBuilder line = new StringBuilder("stty cols " + columns + "; COLUMNS=" + columns + " exec");
        for (String w : command) {
            line.append(' ').append(quote(w));
        }
        Process p = new ProcessBuilder("script", "-qec", line.toString(), "/dev/null").redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out.replace("\r\n", "\n");
    }

    @Test
    void onATerminalLinesAreCutAndBarePsIsThisTerminals() throws Exception {
        List<String> jvm = new ArrayList<>(List.of(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", Spawn.projectClasspath(), "io.procwatch.cli.Main"));
        List<String> thin = new ArrayList<>(List.of("env", "PROCWATCH_SOCKET=" + daemon.socket(), "PROCWATCH_JVM=/bin/false",
                Thin.BINARY.toString()));
        jvm.addAll(0, List.of("env", "PROCWATCH_SOCKET=" + daemon.socket()));
        String last = null;
        boolean ok = false;
        for (int i = 0; i < TRIES && !ok; i++) {
            StableProcesses before = StableProcesses.read();
            Map<Integer, String> stats = statLines();
            String a = onTerminal(concat(jvm, "ps", "-eo", "pid,user,args"), 50);
            String b = onTerminal(concat(thin, "ps", "-eo", "pid,user,args"), 50);
            Set<Integer> stable = stableAndQuiet(before, stats);
            String fa = column(0).filter(a, stable);
            String fb = column(0).filter(b, stable);
            assertThat(fa.lines().mapToInt(String::length).max().orElse(0)).as("cut to the terminal").isLessThanOrEqualTo(50);
            assertThat(fa.lines().count()).isGreaterThan(10);
            ok = fa.equals(fb);
            last = fa + "\n---\n" + fb;
        }
        assertThat(ok).as("on a terminal:\n%s", last).isTrue();
        // bare ps: this user's processes on this terminal, i.e. the shell-less client itself
        String mine = onTerminal(concat(thin, "ps", "-o", "tty,comm"), 80);
        List<String> rows = mine.lines().skip(1).toList();
        assertThat(rows).isNotEmpty().allMatch(r -> r.startsWith("pts/"));
        assertThat(mine).contains("procwatch-nativ");
        assertThat(onTerminal(concat(jvm, "ps", "-o", "tty,comm"), 80).lines().skip(1).toList())
                .hasSameSizeAs(rows).allMatch(r -> r.startsWith("pts/"));
    }

    private static List<String> concat(List<String> a, String... b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(List.of(b));
        return out;
    }

    @Test
    void timeZoneLocaleAndColumnsAreTheClients() throws Exception {
        for (String tz : List.of("UTC", "America/New_York", "Asia/Kolkata")) {
            same(Map.of("TZ", tz), column(0), "ps", "-eo", "pid,lstart,stime,start,comm");
        }
        for (String lang : List.of("C", "C.UTF-8")) {
            same(Map.of("LC_ALL", lang), column(0), "ps", "-eo", "pid,comm,args");
        }
        same(Map.of("COLUMNS", "40"), column(1), "ps", "-ef"); // not a terminal: never cut, both ways
    }

    @Test
    void treeOfAKnownSubtree() throws Exception {
        Process sh = new ProcessBuilder("sh", "-c", "sleep 600 & sleep 600 & (sleep 600; :) & wait").start();
        try {
            Thread.sleep(400);
            String pid = Long.toString(sh.pid());
            for (List<String> args : List.of(List.of("tree", pid), List.of("tree", "--args", pid),
                    List.of("tree", "--json", pid))) {
                Cli.Result jvm = Cli.run(daemon.socket(), args.toArray(String[]::new));
                Cli.Result thin = Thin.run(daemon.socket(), args.toArray(String[]::new));
                assertThat(thin).as("%s", args).isEqualTo(jvm);
                assertThat(thin.out()).contains("sleep");
            }
        } finally {
            sh.descendants().forEach(ProcessHandle::destroyForcibly);
            sh.destroyForcibly();
        }
    }

    @Test
    void historyAndStats() throws Exception {
        Path dir = Files.createTempDirectory("pwthin");
        String name = "pwthin" + ProcessHandle.current().pid() % 100000;
        Path link = dir.resolve(name);
        Files.createSymbolicLink(link, Path.of("/bin/sh"));
        try {
            for (int code : new int[] {0, 3, 7}) {
                Spawn.run(link.toString(), "-c", "exit " + code);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (Cli.run(daemon.socket(), "history", "--name", name).out().lines().count() < 4
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            for (Map<String, String> env : List.<Map<String, String>>of(Map.of(), Map.of("TZ", "Asia/Tokyo"))) {
                for (List<String> args : List.of(List.of("history", "--name", name),
                        List.of("history", "--name", name, "--json"), List.of("history", "--name", name, "--failed"),
                        List.of("history", "--name", name, "--limit", "2", "--sort", "-status"))) {
                    Cli.Result jvm = Cli.runWith(daemon.socket(), List.of(), env, args.toArray(String[]::new));
                    Cli.Result thin = Thin.runWith(daemon.socket(), List.of(), env, args.toArray(String[]::new));
                    assertThat(thin).as("%s %s", env, args).isEqualTo(jvm);
                }
            }
            assertThat(Thin.run(daemon.socket(), "history", "--name", name).out()).contains("exit 7");
        } finally {
            Files.delete(link);
            Files.delete(dir);
        }
        // stats moves between two runs: the same lines with the numbers masked
        Cli.Result jvm = Cli.run(daemon.socket(), "stats");
        Cli.Result thin = Thin.run(daemon.socket(), "stats");
        assertThat(thin.exit()).isEqualTo(jvm.exit()).isZero();
        assertThat(mask(thin.out())).isEqualTo(mask(jvm.out()));
        assertThat(JSON.readTree(Thin.run(daemon.socket(), "stats", "--json").out()).get("runs_active").asLong())
                .isEqualTo(1); // the stats run itself
    }

    private static String mask(String s) {
        return s.replaceAll("\\d+(\\.\\d+)?", "N").replaceAll("\\((\\w=N ?)+\\)", "(STATES)");
    }

    @Test
    void badOptionsExitTwoWithTheSameMessage() throws Exception {
        for (List<String> args : List.of(List.of("ps", "--frobnicate"), List.of("ps", "-o", "pid,nonsense"),
                List.of("ps", "-p", "0"), List.of("tree", "--bogus"), List.of("history", "--since", "yesterday-ish"),
                List.of("events", "--type", "nope"), List.of("wait"), List.of("wait", "abc"),
                List.of("top", "-b", "-n", "x"), List.of("ps", "--help"), List.of("history", "extra"))) {
            Cli.Result jvm = Cli.run(daemon.socket(), args.toArray(String[]::new));
            Cli.Result thin = Thin.run(daemon.socket(), args.toArray(String[]::new));
            assertThat(thin).as("%s", args).isEqualTo(jvm);
        }
        assertThat(Thin.run(daemon.socket(), "ps", "--frobnicate").exit()).isEqualTo(2);
        Cli.Result none = Thin.run(daemon.socket(), "wait", "999999999");
        assertThat(none.exit()).isEqualTo(127).isEqualTo(Cli.run(daemon.socket(), "wait", "999999999").exit());
    }

    @Test
    void waitExitsWithTheProcessStatus() throws Exception {
        Process seven = new ProcessBuilder("sh", "-c", "sleep 1; exit 7").start();
        Process sevenToo = new ProcessBuilder("sh", "-c", "sleep 1; exit 7").start();
        Process thin = Thin.start(daemon.socket(), "wait", Long.toString(seven.pid()));
        Cli.Result jvm = Cli.run(daemon.socket(), "wait", Long.toString(sevenToo.pid()));
        assertThat(thin.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(thin.exitValue()).isEqualTo(7).isEqualTo(jvm.exit());
        String out = new String(thin.getInputStream().readAllBytes());
        assertThat(out.replace(Long.toString(seven.pid()), "PID").replaceAll("after \\S+", "after T"))
                .isEqualTo(jvm.out().replace(Long.toString(sevenToo.pid()), "PID").replaceAll("after \\S+", "after T"))
                .contains("7");

        Process sleeper = new ProcessBuilder("sleep", "600").start();
        Process waiter = Thin.start(daemon.socket(), "wait", Long.toString(sleeper.pid()));
        Thread.sleep(500);
        Spawn.run("kill", "-TERM", Long.toString(sleeper.pid()));
        assertThat(waiter.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(waiter.exitValue()).isEqualTo(128 + 15);
        assertThat(new String(waiter.getInputStream().readAllBytes())).contains("SIGTERM");
    }

    @Test
    void topBatchRunsInTheDaemon() throws Exception {
        long runs = stat("runs_total");
        Cli.Result top = Thin.run(daemon.socket(), "top", "-b", "-n", "2", "-d", "0.2");
        assertThat(top.exit()).as(top.err()).isZero();
        assertThat(top.out()).contains("PID").contains("%CPU");
        assertThat(stat("runs_total")).isGreaterThan(runs);
    }

    @Test
    void aClosedPipeAndCtrlCEndTheRunAtOnce() throws Exception {
        Process load = new ProcessBuilder("sh", "-c", "while :; do /bin/true; sleep 0.05; done").start();
        try {
            long t0 = System.nanoTime();
            Process p = Thin.builder(daemon.socket(), List.of("sh", "-c", "\"$0\" events --type exec | head -2"),
                    Map.of()).redirectErrorStream(true).start();
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("events | head -2 returns").isTrue();
            assertThat(new String(p.getInputStream().readAllBytes()).lines().count()).isEqualTo(2);
            assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
            awaitNoRuns();

            // SIGINT back to its default first: a test run from a background job inherits it ignored
            // (as sh sets it for `cmd &`), and the client, like the JVM, keeps an ignored SIGINT ignored
            Process events = Thin.builder(daemon.socket(),
                    List.of("perl", "-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die"), Map.of(), "events").start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (stat("runs_active") < 1 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(stat("runs_active")).isEqualTo(1);
            long cancelled = stat("runs_cancelled");
            Spawn.run("kill", "-INT", Long.toString(events.pid()));
            assertThat(events.waitFor(5, TimeUnit.SECONDS)).isTrue();
            // it told the daemon (CANCEL, not only a hang-up), then died of the signal as ps would
            assertThat(events.exitValue()).as("killed by SIGINT").isEqualTo(128 + 2);
            assertThat(stat("runs_cancelled")).isEqualTo(cancelled + 1);
            awaitNoRuns();

            // SIGTERM the same way; and a hang-up of the socket alone (SIGKILL) is not a CANCEL
            Process term = Thin.start(daemon.socket(), "events");
            awaitRuns(1);
            Spawn.run("kill", "-TERM", Long.toString(term.pid()));
            assertThat(term.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(term.exitValue()).isEqualTo(128 + 15);
            assertThat(stat("runs_cancelled")).isEqualTo(cancelled + 2);
            awaitNoRuns();
            Process killed = Thin.start(daemon.socket(), "events");
            awaitRuns(1);
            killed.destroyForcibly().waitFor();
            awaitNoRuns();
            assertThat(stat("runs_cancelled")).isEqualTo(cancelled + 2);
        } finally {
            load.destroyForcibly();
        }
    }

    /**
     * A daemon from before RUN answers it with ERROR(E_UNKNOWN_REQUEST) (Connection.unknown); no
     * such build can be started here, so a socket answers exactly that. The client says so once
     * per daemon start (a new socket), and every time hands the command to the JVM.
     */
    @Test
    void aDaemonOlderThanTheClientIsNamedOnceAndTheJvmServes(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Path sock = dir.resolve("old.sock");
        Path jvm = dir.resolve("jvm");
        Files.writeString(jvm, "#!/bin/sh\necho \"jvm ran $*\"\n");
        jvm.toFile().setExecutable(true);
        Map<String, String> env = Map.of("HOME", dir.toString(), "PROCWATCH_JVM", jvm.toString());
        List<String> said = new ArrayList<>();
        for (int start = 0; start < 2; start++) {
            Files.deleteIfExists(sock);
            try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                server.bind(java.net.UnixDomainSocketAddress.of(sock));
                Thread answer = Thread.ofVirtual().start(() -> {
                    try {
                        for (int i = 0; i < 2; i++) {
                            try (var ch = server.accept()) {
                                java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(16)
                                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                                while (h.hasRemaining() && ch.read(h) >= 0) {
                                    // the header names the request's length
                                }
                                java.nio.ByteBuffer rest = java.nio.ByteBuffer.allocate(h.getInt(0) - 16);
                                while (rest.hasRemaining() && ch.read(rest) >= 0) {
                                    // the RUN's attributes: ignored, as an old daemon would
                                }
                                var out = java.nio.channels.Channels.newOutputStream(ch);
                                new io.procwatch.protocol.MessageBuilder()
                                        .u32(io.procwatch.protocol.Wire.R_ERROR_CODE,
                                                io.procwatch.protocol.Wire.E_UNKNOWN_REQUEST)
                                        .string(io.procwatch.protocol.Wire.R_ERROR_TEXT, "unknown request type 7")
                                        .build(io.procwatch.protocol.Wire.ERROR, 0, h.getInt(8)).write(out);
                                out.flush();
                            }
                        }
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                for (int i = 0; i < 2; i++) {
                    Cli.Result r = Thin.runWith(sock, List.of(), env, "ps", "-e");
                    assertThat(r.exit()).as(r.err()).isZero();
                    assertThat(r.out()).isEqualTo("jvm ran ps -e\n");
                    said.add(r.err());
                }
                answer.join(10_000);
            }
        }
        String note = "procwatch: the daemon at " + sock + " is older than this client";
        assertThat(said.get(0)).startsWith(note);
        assertThat(said.get(1)).as("said once for one daemon").isEmpty();
        assertThat(said.get(2)).as("a new daemon start (new socket)").startsWith(note);
        assertThat(said.get(3)).isEmpty();
    }

    private static void awaitRuns(long n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (stat("runs_active") < n && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(stat("runs_active")).isEqualTo(n);
    }

    private static void awaitNoRuns() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (stat("runs_active") != 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(stat("runs_active")).as("runs still active in the daemon").isZero();
    }

    @Test
    void anotherUserSeesWhatItsOwnRequestsShow() throws Exception {
        List<String> nobody = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
        for (List<String> args : List.of(List.of("ps", "-eo", "pid,user,comm,exe,cwd"),
                List.of("ps", "-eo", "pid,user,comm,rchar", "--json"))) {
            Compare cmp = args.contains("--json") ? JSON_ROWS : column(0);
            String last = null;
            boolean ok = false;
            for (int i = 0; i < TRIES && !ok; i++) {
                StableProcesses before = StableProcesses.read();
                Map<Integer, String> stats = statLines();
                Cli.Result jvm = Cli.runAs(daemon.socket(), nobody, args.toArray(String[]::new));
                Cli.Result thin = Thin.runWith(daemon.socket(), nobody, Map.of(), args.toArray(String[]::new));
                Set<Integer> stable = stableAndQuiet(before, stats);
                assertThat(thin.exit()).isEqualTo(jvm.exit()).isZero();
                String a = cmp.filter(jvm.out(), stable);
                String b = cmp.filter(thin.out(), stable);
                ok = a.equals(b);
                last = a + "\n---\n" + b;
            }
            assertThat(ok).as("as nobody, %s:\n%s", args, last).isTrue();
        }
        // and it is the peer's uid, not the daemon's: the exe of root's process is not shown to nobody
        String self = Long.toString(ProcessHandle.current().pid());
        String hidden = Thin.runWith(daemon.socket(), nobody, Map.of(), "ps", "-o", "exe=", "-p", self).out();
        assertThat(hidden.trim()).isEqualTo("-");
        assertThat(Thin.run(daemon.socket(), "ps", "-o", "exe=", "-p", self).out().trim()).endsWith("java");
    }
}
