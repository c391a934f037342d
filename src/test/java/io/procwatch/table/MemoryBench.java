package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.procfs.ProcFs;

import java.util.ArrayList;
import java.util.List;

/**
 * Bytes of heap per live process and per history entry: fills a table with 10,000 processes (copies
 * of this machine's real ones, with their real command lines) and a history with 100,000 exits,
 * measuring the heap after full GCs. Usage: bin/bench io.procwatch.table.MemoryBench (via CLASS).
 */
public final class MemoryBench {
    private MemoryBench() {
    }

    static long usedAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        ProcReader reader = new ProcReader(ProcFs.system());
        List<ProcessInfo> real = new ArrayList<>();
        for (int pid : ProcFs.system().pids()) {
            ProcessInfo p = reader.load(pid);
            if (p != null) {
                real.add(p);
            }
        }
        ProcessTable table = new ProcessTable(100_000);
        long base = usedAfterGc();
        table.writeLock.lock();
        try {
            for (int i = 0; i < n; i++) {
                ProcessInfo.Builder p = real.get(i % real.size()).toBuilder();
                p.pid = 1_000_000 + i;
                // a fork shares its parent's strings; an exec gets its own: model the exec'd case
                p.argv = List.copyOf(p.argv.stream().map(s -> new String(s.toCharArray())).toList());
                p.execArgv = p.argv;
                p.comm = new String(p.comm.toCharArray());
                p.exe = new String(p.exe.toCharArray());
                table.put(null, p.build());
            }
        } finally {
            table.writeLock.unlock();
        }
        long withLive = usedAfterGc();
        // The daemon keeps each row's last encoding of top's groups (BASE, CRED, STAT): encode every
        // row once the way the daemon does (its Encoder is package-private there: reached by name).
        long withEncodings = withLive;
        try {
            Class<?> encoderClass = Class.forName("io.procwatch.daemon.Encoder");
            var ctor = encoderClass.getDeclaredConstructor(ProcFs.class);
            ctor.setAccessible(true);
            Object encoder = ctor.newInstance(ProcFs.system());
            Class<?> mountClass = Class.forName("io.procwatch.daemon.ProcMount");
            var of = mountClass.getDeclaredMethod("of", java.nio.file.Path.class);
            of.setAccessible(true);
            Class<?> viewerClass = Class.forName("io.procwatch.daemon.Viewer");
            var vctor = viewerClass.getDeclaredConstructor(int.class, int.class, mountClass);
            vctor.setAccessible(true);
            Object root = vctor.newInstance(0, 0, of.invoke(null, java.nio.file.Path.of("/proc")));
            var process = encoderClass.getDeclaredMethod("process", ProcessInfo.class, long.class, viewerClass, int.class);
            process.setAccessible(true);
            long groups = io.procwatch.protocol.Groups.BASE | io.procwatch.protocol.Groups.CRED
                    | io.procwatch.protocol.Groups.STAT;
            for (ProcessInfo p : table.all()) {
                process.invoke(encoder, p, groups, root, 0);
            }
            withEncodings = usedAfterGc();
        } catch (ReflectiveOperationException e) {
            System.out.println("encoding cache not measured: " + e);
        }
        History h = table.history();
        for (int i = 0; i < 100_000; i++) {
            ProcessInfo p = real.get(i % real.size());
            h.add(new ExitedProcess(h.nextSeq(), 2_000_000 + i, p.ppid, p.euid, p.egid, new String(p.comm.toCharArray()),
                    p.exe, p.argv, 0, 1, new WaitStatus(0), false, true, true, null, i));
        }
        long withHistory = usedAfterGc();
        double avgArgv = real.stream().mapToInt(p -> String.join(" ", p.argv).length()).average().orElse(0);
        System.out.printf("live: %d processes, %.0f bytes each (average command line %.0f chars)%n", n,
                (withLive - base) / (double) n, avgArgv);
        System.out.printf("live, with each row's cached encoding of BASE+CRED+STAT: %.0f bytes each (+%.0f)%n",
                (withEncodings - base) / (double) n, (withEncodings - withLive) / (double) n);
        System.out.printf("history: 100000 entries, %.0f bytes each (command lines shared with the live rows)%n",
                (withHistory - withEncodings) / 100_000.0);
        System.out.println("table size " + table.size() + ", history " + h.size());
    }
}
