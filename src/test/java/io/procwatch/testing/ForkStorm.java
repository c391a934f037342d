package io.procwatch.testing;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Forks and reaps processes as fast as this machine can, from {@code workers} perl processes (perl
 * is part of every Debian system; a Java program cannot fork without exec). Each child exits at
 * once with {@code _exit(0)}, so every child is one fork and one exit event.
 */
public final class ForkStorm {
    public record Result(List<Integer> workerPids, int forksPerWorker, long elapsedNanos) {
        public long forks() {
            return (long) workerPids.size() * forksPerWorker;
        }

        public double forksPerSecond() {
            return forks() / (elapsedNanos / 1e9);
        }
    }

    private ForkStorm() {
    }

    /**
     * Starts the workers, tells {@code onWorker} each pid, then lets them all fork at once (they
     * wait for a line on stdin), so an observer knows the parents before the first fork.
     */
    public static Result run(int workers, int forksPerWorker, IntConsumer onWorker)
            throws IOException, InterruptedException {
        String script = "use POSIX (); my $go = <STDIN>; for (1.." + forksPerWorker + ") { my $p = fork(); "
                + "die \"fork: $!\" unless defined $p; if ($p == 0) { POSIX::_exit(0); } waitpid($p, 0); }";
        List<Process> ps = new ArrayList<>();
        List<Integer> pids = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            Process p = new ProcessBuilder("perl", "-e", script).redirectErrorStream(true).start();
            ps.add(p);
            pids.add((int) p.pid());
            onWorker.accept((int) p.pid());
        }
        long t0 = System.nanoTime();
        for (Process p : ps) {
            p.getOutputStream().write('\n');
            p.getOutputStream().close();
        }
        for (Process p : ps) {
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                throw new IOException("fork storm worker failed: " + out);
            }
        }
        return new Result(pids, forksPerWorker, System.nanoTime() - t0);
    }
}
