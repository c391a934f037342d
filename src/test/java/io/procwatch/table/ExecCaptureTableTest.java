package io.procwatch.table;

import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With the BPF exec capture on, every exec of a process that lives well under a millisecond, and
 * every step of a fast exec chain, carries its own argv: compared N of N with the argv the
 * workload passed (its ground truth), in exec events and in the history.
 */
class ExecCaptureTableTest {

    @Test
    void everyExecOfShortLivesAndChainsCarriesItsOwnArgv() throws Exception {
        try (LiveTable live = LiveTable.start(LiveTable.Config.defaults(), e -> { })) {
            assertThat(live.execCaptureProblem()).as("exec capture runs (CI is root with BTF)").isNull();
            // per life (pid and start): on a busy machine a pid is reused within the run
            Map<String, List<List<String>>> execs = new ConcurrentHashMap<>();
            Map<String, List<Boolean>> known = new ConcurrentHashMap<>();
            Map<Integer, List<String>> lives = new ConcurrentHashMap<>();
            live.table().addListener(ev -> {
                if (ev instanceof TableEvent.Execed x) {
                    String life = x.process().pid() + "@" + x.process().startNs();
                    lives.computeIfAbsent(x.process().pid(), k -> new java.util.concurrent.CopyOnWriteArrayList<>());
                    if (!lives.get(x.process().pid()).contains(life)) {
                        lives.get(x.process().pid()).add(life);
                    }
                    execs.computeIfAbsent(life, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(x.process().argv());
                    known.computeIfAbsent(life, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(x.process().argvKnown());
                }
            });
            long uncapturedBefore = live.table().counters().execsUncaptured.sum();
            // 400 children exec /bin/true at once and exit; 100 run a 3-step chain sh -> env -> true
            String script = String.join("\n",
                    "use POSIX ();",
                    "$| = 1; my @kids;",
                    "for my $i (1..400) { my $p = fork(); if ($p == 0) { exec('/bin/true', \"pw-cap-$i\", 'x y'); POSIX::_exit(127); }",
                    "  push @kids, \"$p t $i\"; waitpid($p, 0); }",
                    "for my $i (1..100) { my $p = fork(); if ($p == 0) { exec('/bin/sh', '-c', \"exec /usr/bin/env PWCHAIN=$i /bin/true chain-$i\"); POSIX::_exit(127); }",
                    "  push @kids, \"$p c $i\"; waitpid($p, 0); }",
                    "print join(\"\\n\", @kids), \"\\n\";");
            Process perl = Spawn.start("perl", "-e", script);
            List<String> lines = new String(perl.getInputStream().readAllBytes()).lines().toList();
            assertThat(perl.waitFor()).isZero();
            assertThat(lines).hasSize(500);
            Thread.sleep(500); // the event thread catches up

            int right = 0;
            for (String line : lines) {
                String[] f = line.split(" ");
                int pid = Integer.parseInt(f[0]);
                String i = f[2];
                List<List<String>> want = f[1].equals("t")
                        ? List.of(List.of("/bin/true", "pw-cap-" + i, "x y"))
                        : List.of(List.of("/bin/sh", "-c", "exec /usr/bin/env PWCHAIN=" + i + " /bin/true chain-" + i),
                                List.of("/usr/bin/env", "PWCHAIN=" + i, "/bin/true", "chain-" + i),
                                List.of("/bin/true", "chain-" + i));
                // the life of this pid whose first exec is the workload's: its execs, in order
                List<List<String>> got = List.of();
                String life = null;
                for (String l : lives.getOrDefault(pid, List.of())) {
                    if (!execs.get(l).isEmpty() && execs.get(l).getFirst().equals(want.getFirst())) {
                        got = execs.get(l);
                        life = l;
                    }
                }
                if (life != null && got.equals(want) && !known.get(life).contains(false)) {
                    right++;
                } else {
                    System.out.println("exec capture mismatch for " + line + ": lives " + lives.get(pid) + " "
                            + (life == null ? "none with its first exec" : got + " known " + known.get(life)));
                }
            }
            System.out.printf("TRUTH exec-capture: %d of %d processes with every exec's own argv (400 single, 100 chains"
                    + " of 3); execs without a BPF record during the run: %d%n", right, lines.size(),
                    live.table().counters().execsUncaptured.sum() - uncapturedBefore);
            assertThat(right).isEqualTo(lines.size());
            assertThat(live.execCaptureLost()).isZero();
        }
    }
}
