package io.procwatch.bench;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Selector;
import io.procwatch.testing.DaemonProcess;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An exec storm against a real daemon, with the BPF exec capture on and off, alternating in the
 * same run: execs generated (the workload's own list: pid and argv), exec events received, argv
 * known and right in the history, and the daemon's CPU per 1,000 execs (utime+stime of its
 * process over the storm).
 *
 * <p>Usage: {@code bin/bench ExecStormBench [seconds per storm] [rounds]} (root).
 */
public final class ExecStormBench {
    private ExecStormBench() {
    }

    record Round(String mode, int generated, long events, int known, int wrong, double cpuMsPer1000, long lost) {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 5;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        List<Round> all = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            for (String mode : new String[] {"on", "off"}) {
                Round x = round(mode, seconds);
                all.add(x);
                System.out.println(x);
            }
        }
        for (String mode : new String[] {"on", "off"}) {
            List<Round> m = all.stream().filter(x -> x.mode.equals(mode)).toList();
            System.out.printf("exec capture %-3s: generated %d, exec events %d (%.2f %%), argv known %d (%.2f %%), wrong %d,"
                            + " daemon CPU %.1f ms per 1000 execs (median of %d), kernel-side losses %d%n", mode,
                    m.stream().mapToInt(Round::generated).sum(), m.stream().mapToLong(Round::events).sum(),
                    100.0 * m.stream().mapToLong(Round::events).sum() / m.stream().mapToInt(Round::generated).sum(),
                    m.stream().mapToInt(Round::known).sum(),
                    100.0 * m.stream().mapToInt(Round::known).sum() / m.stream().mapToInt(Round::generated).sum(),
                    m.stream().mapToInt(Round::wrong).sum(),
                    m.stream().mapToDouble(Round::cpuMsPer1000).sorted().toArray()[m.size() / 2], m.size(),
                    m.stream().mapToLong(Round::lost).sum());
        }
    }

    private static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static Round round(String mode, double seconds) throws Exception {
        try (DaemonProcess d = DaemonProcess.start("--exec-capture", mode, "--history", "200000");
             ProcwatchClient c = d.client()) {
            Thread.sleep(1000);
            Map<String, Long> before = c.stats();
            long cpu0 = cpuTicks(d.pid());
            // two workers: fork, exec /bin/true with a unique argument, wait; for `seconds`
            String script = "use POSIX (); use Time::HiRes qw(time); $| = 1; my $w = shift; my $end = time + " + seconds
                    + "; my $i = 0; while (time < $end) { $i++; my $p = fork(); if ($p == 0) { exec('/bin/true', \"pw-storm-$w-$i\");"
                    + " POSIX::_exit(127); } print \"$p pw-storm-$w-$i\\n\"; waitpid($p, 0); }";
            List<Process> workers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                workers.add(new ProcessBuilder("perl", "-e", script, String.valueOf(w)).start());
            }
            Map<Integer, List<String>> truth = new HashMap<>();
            List<Integer> parents = new ArrayList<>();
            for (Process p : workers) {
                parents.add((int) p.pid());
                for (String line : new String(p.getInputStream().readAllBytes()).lines().toList()) {
                    String[] f = line.split(" ");
                    truth.put(Integer.parseInt(f[0]), List.of("/bin/true", f[1]));
                }
                p.waitFor();
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            long events;
            do {
                Thread.sleep(200);
                events = c.stats().get("events_exec") - before.get("events_exec");
            } while (events < truth.size() && System.nanoTime() < deadline);
            long cpu1 = cpuTicks(d.pid());
            Map<String, Long> after = c.stats();
            int known = 0;
            int wrong = 0;
            for (int parent : parents) {
                for (ProcRow row : c.history(Selector.all().withChildrenOf(parent), 0, Long.MAX_VALUE, 200_000, false).rows()) {
                    List<String> want = truth.get(row.pid);
                    if (want == null || row.argvUnknown || row.argv == null || row.argv.isEmpty()) {
                        continue;
                    }
                    if (row.argv.equals(want)) {
                        known++;
                    } else {
                        wrong++;
                    }
                }
            }
            double cpuMs = (cpu1 - cpu0) * 1000.0 / 100; // USER_HZ
            return new Round(mode, truth.size(), Math.min(events, truth.size()), known, wrong,
                    cpuMs * 1000 / Math.max(1, truth.size()),
                    after.getOrDefault("exec_capture_lost", 0L) + after.getOrDefault("losses", 0L) - before.getOrDefault("losses", 0L));
        }
    }
}
