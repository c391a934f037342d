package io.procwatch.connector;

import io.procwatch.event.EventType;
import io.procwatch.event.Loss;
import io.procwatch.event.ProcEvent;
import io.procwatch.testing.EventRecorder;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Subscription failures, overload and filtering, against the real kernel. */
class ProcConnectorErrorsTest {

    private static String probe(String... prefix) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(prefix));
        cmd.addAll(List.of(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                "-cp", Spawn.projectClasspath(), SubscribeProbe.class.getName()));
        return Spawn.output(cmd.toArray(String[]::new)).trim();
    }

    @Test
    void rootSubscribes() throws Exception {
        assertThat(probe()).contains("SUBSCRIBED").contains("taskstats: OK");
    }

    @Test
    void unprivilegedUserCanListenButNotRegisterForTaskstats() throws Exception {
        // Linux 6.6 let any user listen to process events, but not every kernel since does (this
        // machine's 6.18 refuses the bind with EPERM): either way the probe says in words what
        // an unprivileged user lacks, and taskstats always needs CAP_NET_ADMIN.
        String out = probe("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all");
        assertThat(out).doesNotContain("Exception");
        if (out.contains("SUBSCRIBED")) {
            assertThat(out).contains("taskstats: ERROR:").contains("needs root or CAP_NET_ADMIN");
        } else {
            assertThat(out).contains("ERROR: cannot open the proc connector").contains("EPERM")
                    .contains("needs root or CAP_NET_ADMIN");
        }
    }

    @Test
    void outsideTheInitialPidNamespaceIsDetected() throws Exception {
        String out = probe("unshare", "--pid", "--fork", "--mount-proc");
        assertThat(out).contains("ERROR:").contains("did not acknowledge LISTEN")
                .contains("not the initial namespaces");
    }

    @Test
    void tinyBufferAndForkStormReportLossAndKeepWorking() throws Exception {
        try (ProcConnector c = ProcConnector.open(ProcConnector.Options.defaults().withReceiveBuffer(1))) {
            assertThat(c.receiveBufferBytes()).isLessThan(16 * 1024);
            // Nobody reads while 1,500 processes fork and exit: the kernel must drop events (the
            // buffer holds a few dozen). perl forks without bash's job bookkeeping, which made a
            // 3,000-job bash loop take up to 30 s on this VM.
            Spawn.run("perl", "-MPOSIX", "-e", "for (1..1500) { my $p = fork; POSIX::_exit(0) if $p == 0; } "
                    + "1 while wait > 0");
            List<Loss> losses = new ArrayList<>();
            List<ProcEvent> events = new ArrayList<>();
            while (c.poll(e -> {
                switch (e) {
                    case Loss l -> losses.add(l);
                    case ProcEvent p -> events.add(p);
                }
            }) > 0) {
                // drain what the small buffer kept
            }
            assertThat(losses).isNotEmpty();
            assertThat(losses).anyMatch(l -> l.reason() == Loss.Reason.OVERRUN);
            assertThat(c.stats().losses()).isEqualTo(losses.size());
            // Once drained, the same subscription keeps delivering (we read while the process runs),
            // and the per-CPU sequence tells how many events went missing.
            Process p = Spawn.start("/bin/sh", "-c", "sleep 0.3; exit 5");
            int pid = (int) p.pid();
            ProcEvent.Exit[] exit = new ProcEvent.Exit[1];
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (exit[0] == null && System.nanoTime() < deadline) {
                c.poll(e -> {
                    if (e instanceof ProcEvent.Exit x && x.pid() == pid) {
                        exit[0] = x;
                    } else if (e instanceof Loss l) {
                        losses.add(l);
                    }
                });
            }
            assertThat(exit[0]).isNotNull();
            assertThat(exit[0].status().exitCode()).isEqualTo(5);
            assertThat(losses).anyMatch(l -> l.reason() == Loss.Reason.SEQUENCE_GAP && l.lostEvents() > 0);
        }
    }

    @Test
    void readerThreadSurvivesLossAndSinkFailures() throws Exception {
        try (EventRecorder r = EventRecorder.start(ProcConnector.Options.defaults().withReceiveBuffer(1))) {
            Spawn.run("/bin/bash", "-c", "for i in $(seq 2000); do ( : ) & done; wait");
            // With a 2 KiB buffer on a busy machine (other processes fork too) any one event may be
            // lost again: the reader must go on reading, so some later exit arrives.
            ProcEvent.Exit exit = null;
            for (int attempt = 0; attempt < 10 && exit == null; attempt++) {
                Process p = Spawn.run("/bin/sh", "-c", "sleep 0.2; exit 4");
                int pid = (int) p.pid();
                try {
                    exit = (ProcEvent.Exit) r.await(e -> e instanceof ProcEvent.Exit x && x.pid() == pid && x.tgid() == pid,
                            java.time.Duration.ofSeconds(2));
                } catch (AssertionError lostAgain) {
                    assertThat(r.losses()).as("a missing event is a reported loss").isNotEmpty();
                }
            }
            assertThat(exit).as("an exit event after the flood").isNotNull();
            assertThat(exit.status().exitCode()).isEqualTo(4);
            assertThat(r.reader().isRunning()).isTrue();
            assertThat(r.failures()).isEmpty();
        }
    }

    @Test
    void kernelFilterDeliversOnlyRequestedEvents() throws Exception {
        ProcConnector.Options onlyFailures = ProcConnector.Options.defaults()
                .withEvents(EnumSet.of(EventType.NONZERO_EXIT));
        try (EventRecorder r = EventRecorder.start(onlyFailures)) {
            assertThat(r.reader().connector().kernelFilterActive()).isTrue(); // kernel 6.6+
            Process ok = Spawn.run("/bin/sh", "-c", "exit 0");
            Process bad = Spawn.run("/bin/sh", "-c", "exit 9");
            ProcEvent.Exit exit = r.awaitExit((int) bad.pid());
            assertThat(exit.status().exitCode()).isEqualTo(9);
            assertThat(r.forProcess((int) ok.pid())).isEmpty();
            assertThat(r.forProcess((int) bad.pid())).allMatch(e -> e instanceof ProcEvent.Exit);
            // With a kernel filter the per-CPU sequence skips filtered events by design: no false loss.
            assertThat(r.losses()).isEmpty();
        }
    }
}
