package io.procwatch.daemon;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Attrs;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Message;
import io.procwatch.protocol.MessageBuilder;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Delta snapshots (F_DELTA, what top asks for every refresh) against the real daemon: the merged
 * listing must equal a full snapshot while processes start, exit, rename and are reniced, and
 * must carry only what changed.
 */
class DeltaSnapshotTest {
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stop() throws Exception {
        assertThat(daemon.isAlive()).isTrue();
        assertThat(daemon.stop()).isZero();
        daemon.close();
    }

    /**
     * A shell that starts a sleeping child for each line it reads, and prints its pid. A child
     * renames itself (prctl PR_SET_NAME, a COMM event) on SIGUSR1: only a process may rename
     * itself through /proc/PID/comm.
     */
    private static final class Holder implements AutoCloseable {
        final Process shell;
        final Writer in;
        final BufferedReader out;

        Holder() throws IOException {
            shell = Spawn.start("bash", "-c", "while read -r cmd; do perl -e '$SIG{USR1} = sub { $0 = \"renamed-kid\" }; sleep 600 while 1' & echo $!; done");
            in = new java.io.OutputStreamWriter(shell.getOutputStream(), StandardCharsets.US_ASCII);
            out = new BufferedReader(new InputStreamReader(shell.getInputStream(), StandardCharsets.US_ASCII));
        }

        int spawn() throws IOException {
            in.write("spawn\n");
            in.flush();
            return Integer.parseInt(out.readLine().trim());
        }

        @Override
        public void close() {
            shell.descendants().forEach(ProcessHandle::destroyForcibly);
            shell.destroyForcibly();
        }
    }

    @ParameterizedTest(name = "groups {0}")
    @ValueSource(longs = {Groups.BASE | Groups.CRED | Groups.STAT, Groups.BASE | Groups.CRED | Groups.STAT | Groups.CMDLINE})
    void mergedListingEqualsAFullSnapshotAsProcessesStartExitRenameAndRenice(long groups) throws Exception {
        try (Holder h = new Holder(); ProcwatchClient deltas = daemon.client(); ProcwatchClient full = daemon.client()) {
            Selector sel = Selector.all().withSubtreeOf((int) h.shell.pid());
            List<Integer> kids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                kids.add(h.spawn());
            }
            awaitFull(full, sel, groups, rows -> rows.size() == 21);
            Thread.sleep(300); // till all have started and sleep: a re-sample then finds nothing new

            // the first delta request has nothing to diff against: everything comes
            ProcwatchClient.Listing first = deltas.snapshotDelta(sel, groups, Wire.F_FRESH);
            assertThat(first.rows()).hasSize(21);
            assertThat(deltas.lastDelta().merged()).isFalse();
            assertThat(deltas.lastDelta().rowsSent()).isEqualTo(21);
            List<ProcRow> settled = assertSameAsFull(deltas, full, sel, groups);

            // nothing happened: re-sampled, nothing is sent, and the listing is the same
            ProcwatchClient.Listing quiet = deltas.snapshotDelta(sel, groups, Wire.F_FRESH);
            assertThat(deltas.lastDelta().merged()).isTrue();
            assertThat(deltas.lastDelta().rowsSent()).isZero();
            assertThat(deltas.lastDelta().gone()).isZero();
            assertThat(quiet.done().count()).isEqualTo(21);
            assertThat(quiet.rows()).as("the very same rows").containsExactlyElementsOf(settled);

            // three exit, four start, one renames itself (a COMM event), one is reniced (seen by the sampler)
            for (int pid : kids.subList(0, 3)) {
                ProcessHandle.of(pid).orElseThrow().destroy();
            }
            List<Integer> born = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                born.add(h.spawn());
            }
            int renamed = kids.get(5);
            assertThat(Spawn.run("kill", "-USR1", String.valueOf(renamed)).exitValue()).isZero();
            int reniced = kids.get(6);
            assertThat(Spawn.run("renice", "-n", "7", "-p", String.valueOf(reniced)).exitValue()).isZero();
            awaitFull(full, sel, groups, rows -> rows.size() == 22
                    && rows.stream().anyMatch(r -> r.pid == renamed && "renamed-kid".equals(r.comm)));

            ProcwatchClient.Listing after = deltas.snapshotDelta(sel, groups, Wire.F_FRESH);
            ProcwatchClient.DeltaCounts counts = deltas.lastDelta();
            assertThat(counts.merged()).isTrue();
            assertThat(counts.gone()).as("the three that exited").isEqualTo(3);
            assertThat(counts.rowsSent()).as("4 new, the renamed, the reniced, perhaps the shell: not all 22")
                    .isBetween(6, 9);
            assertThat(after.rows()).extracting(r -> r.pid).doesNotContainAnyElementsOf(kids.subList(0, 3))
                    .containsAll(born).isSorted();
            assertThat(after.rows()).filteredOn(r -> r.pid == reniced).singleElement()
                    .satisfies(r -> assertThat(r.nice).isEqualTo(7));
            assertSameAsFull(deltas, full, sel, groups);
            assertThat(counts.repairs()).isZero();
        }
    }

    /**
     * A delta listing of the whole table, re-sampled each time, while a shell forks 400 short
     * processes: every merge must add up to the daemon's count (else the client repairs it with a
     * full snapshot, counted), and once the churn is over the listing must equal a full one.
     */
    @Test
    void wholeTableDeltasAddUpWhileProcessesComeAndGo() throws Exception {
        long groups = Groups.BASE | Groups.CRED | Groups.STAT;
        try (ProcwatchClient deltas = daemon.client(); ProcwatchClient full = daemon.client()) {
            deltas.snapshotDelta(Selector.all(), groups, Wire.F_FRESH);
            Process churn = Spawn.start("bash", "-c", "for i in $(seq 400); do /bin/true; sleep 0.005 & done; wait");
            int merged = 0;
            while (churn.isAlive()) {
                ProcwatchClient.Listing l = deltas.snapshotDelta(Selector.all(), groups, Wire.F_FRESH);
                assertThat(l.rows()).extracting(r -> r.pid).isSorted().doesNotHaveDuplicates();
                assertThat(l.rows()).hasSize(l.done().count());
                merged += deltas.lastDelta().merged() ? 1 : 0;
                Thread.sleep(20);
            }
            assertThat(churn.waitFor()).isZero();
            assertThat(merged).as("deltas merged during the churn").isPositive();
            assertThat(deltas.lastDelta().repairs()).as("merges that did not add up").isZero();
            assertSameAsFull(deltas, full, Selector.all(), groups);
        }
    }

    /** What a delta request gets when it cannot be a delta, at the protocol level. */
    @Test
    void aDeltaIsOnlyAgainstTheSameRequestOnTheSameConnection() throws Exception {
        long groups = Groups.BASE | Groups.STAT;
        Selector self = Selector.all().withPids(List.of((int) ProcessHandle.current().pid(), 1));
        try (ProcwatchClient c = daemon.client(); ProcwatchClient other = daemon.client()) {
            assertThat(raw(c, self, groups, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            assertThat(raw(c, self, groups, Wire.F_DELTA)).isEqualTo(new Raw(0, 0, true, 2));
            // another connection has its own base
            assertThat(raw(other, self, groups, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            // other groups, another selector: a full answer, which becomes the base
            assertThat(raw(c, self, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            assertThat(raw(c, self, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(0, 0, true, 2));
            Selector one = Selector.all().withPids(List.of(1));
            assertThat(raw(c, one, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(1, 0, false, 1));
            // back to the first selector: whole again (the base is the last answer only)
            assertThat(raw(c, self, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            // a snapshot without F_DELTA makes the daemon forget: the next delta request is whole
            assertThat(raw(c, self, Groups.BASE, 0)).isEqualTo(new Raw(2, 0, false, 2));
            assertThat(raw(c, self, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            // threads are never diffed, and reset the base
            Raw threads = raw(c, Selector.all().withPids(List.of((int) ProcessHandle.current().pid())), Groups.BASE,
                    Wire.F_DELTA | Wire.F_THREADS);
            assertThat(threads.delta()).isFalse();
            assertThat(threads.rows()).isEqualTo(threads.count()).isGreaterThan(1);
            assertThat(raw(c, self, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
            // a pid that leaves the selected set shows up in GONE
            try (Holder h = new Holder()) {
                int kid = h.spawn();
                Selector pair = Selector.all().withPids(List.of(1, kid));
                awaitFull(other, pair, Groups.BASE, rows -> rows.size() == 2);
                assertThat(raw(c, pair, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(2, 0, false, 2));
                ProcessHandle.of(kid).orElseThrow().destroyForcibly();
                awaitFull(other, pair, Groups.BASE, rows -> rows.stream().noneMatch(r -> r.pid == kid));
                assertThat(raw(c, pair, Groups.BASE, Wire.F_DELTA)).isEqualTo(new Raw(0, 1, true, 1));
            }
        }
    }

    /** A listing as it came over the wire: PROCESS messages, pids in GONE, DONE's R_DELTA and R_COUNT. */
    record Raw(int rows, int gone, boolean delta, int count) {
    }

    private static Raw raw(ProcwatchClient c, Selector sel, long groups, int flags) throws IOException {
        MessageBuilder b = new MessageBuilder().u64(Wire.A_GROUPS, groups);
        sel.encode(b);
        c.send(b.build(Wire.SNAPSHOT, flags, 42));
        int rows = 0;
        int gone = 0;
        while (true) {
            Message m = c.receive();
            assertThat(m.type()).isNotEqualTo(Wire.ERROR);
            Attrs a = m.attrs();
            if (m.type() == Wire.PROCESS) {
                rows++;
            } else if (m.type() == Wire.GONE) {
                while (a.next()) {
                    assertThat(a.type()).isEqualTo(Wire.P_PID);
                    gone++;
                }
            } else if (m.type() == Wire.DONE) {
                boolean delta = false;
                int count = -1;
                while (a.next()) {
                    if (a.type() == Wire.R_DELTA) {
                        delta = true;
                    } else if (a.type() == Wire.R_COUNT) {
                        count = a.u32();
                    }
                }
                return new Raw(rows, gone, delta, count);
            }
        }
    }

    private static List<ProcRow> awaitFull(ProcwatchClient c, Selector sel, long groups, Predicate<List<ProcRow>> ok)
            throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            List<ProcRow> rows = c.snapshot(sel, groups, 0).rows();
            if (ok.test(rows)) {
                return rows;
            }
            assertThat(System.nanoTime()).as("the daemon to show the change: " + render(rows)).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    /**
     * The delta listing equals a full snapshot of the same table. Full snapshots are taken before
     * and after the delta one, and compared only when those two agree (nothing changed meanwhile,
     * e.g. the daemon's own sampling); three tries. Returns the delta listing.
     */
    private static List<ProcRow> assertSameAsFull(ProcwatchClient deltas, ProcwatchClient full, Selector sel,
                                                  long groups) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            String before = render(full.snapshot(sel, groups, 0).rows());
            List<ProcRow> merged = deltas.snapshotDelta(sel, groups, 0).rows();
            String after = render(full.snapshot(sel, groups, 0).rows());
            if (before.equals(after)) {
                assertThat(render(merged)).isEqualTo(after);
                return merged;
            }
        }
        throw new AssertionError("the table kept changing; no stable moment to compare in three tries");
    }

    /** Every field the daemon sends, one line per row. */
    private static String render(List<ProcRow> rows) {
        StringBuilder sb = new StringBuilder();
        for (ProcRow r : rows) {
            for (Field f : ProcRow.class.getFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.getName().equals("cpuTenthsNow")) {
                    continue;
                }
                try {
                    sb.append(f.getName()).append('=').append(f.get(r)).append(' ');
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
