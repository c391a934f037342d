package io.procwatch.store;

import io.procwatch.sink.JournalSource;
import io.procwatch.table.ExitedProcess;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The journal as the Kafka sink reads it (sink/JournalSource), from what a real daemon wrote while
 * the test's workload exec'd, renamed itself, changed its ids and exited with a known status, and
 * across a restart (a gap entry); then hostile bytes in the file (a damaged checkpoint) are a clear
 * error, and retention by size keeps whole checkpoint intervals, the newest always.
 */
class JournalSourceTest {
    private static final String WORKLOAD = """
            import ctypes, os, sys, time
            pid = os.fork()
            if pid == 0:
                ctypes.CDLL(None).prctl(15, b"js-renamed", 0, 0, 0)
                time.sleep(0.5)
                os.setgid(65534)
                os.setuid(65534)
                time.sleep(0.5)
                os.execvp("sh", ["sh", "-c", "sleep 0.5; exit 7", "jsmark"])
            _, status = os.waitpid(pid, 0)
            print(pid, os.waitstatus_to_exitcode(status), flush=True)
            """;

    @Test
    void execRenameIdsExitAndGapComeOutInOrder() throws Exception {
        Path dir = Files.createTempDirectory("pw-journal-src");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path db = dir.resolve("history.db");
        Path sockDir = Files.createTempDirectory("pw-journal-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        String[] args = {"--history-db", db.toString(), "--journal-checkpoint", "2"};
        Path script = dir.resolve("w.py");
        Files.writeString(script, WORKLOAD);

        int child;
        try (DaemonProcess d = DaemonProcess.start(socket, args)) {
            Process w = new ProcessBuilder("python3", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(w.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(w.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String[] f = out.split(" ");
            child = Integer.parseInt(f[0]);
            assertThat(f[1]).isEqualTo("7");
            Thread.sleep(3000); // its entries reach the file (the writer flushes every 250 ms)
            assertThat(d.stop()).isZero();
        }
        Thread.sleep(1500);
        try (DaemonProcess d = DaemonProcess.start(socket, args)) {
            Thread.sleep(2000); // the new run's first checkpoint and its gap entry
            assertThat(d.stop()).isZero();
        }

        try (Journal j = Journal.open(db, Journal.Settings.defaults())) {
            assertThat(j.newestSeq()).isGreaterThan(j.oldestSeq());
            List<Object> mine = new ArrayList<>();
            long lastSeq = j.oldestSeq() - 1;
            boolean gap = false;
            try (JournalSource.Cursor c = j.openAt(0)) {
                for (JournalSource.Entry e; (e = c.next()) != null; ) {
                    assertThat(e.seq()).isGreaterThan(lastSeq);
                    lastSeq = e.seq();
                    switch (e.content()) {
                        case JournalSource.Gap g -> gap = true;
                        case JournalSource.Rename r when r.pid() == child -> mine.add(r);
                        case JournalSource.IdChange i when i.pid() == child -> mine.add(i);
                        case JournalSource.Exec x when x.pid() == child -> mine.add(x);
                        case ExitedProcess x when x.pid() == child -> mine.add(x);
                        default -> {
                        }
                    }
                }
            }
            assertThat(gap).as("the restart's gap entry").isTrue();
            // rename, then the id changes (setgid, setuid: one entry each), the exec, the exit
            List<String> kinds = new ArrayList<>();
            for (Object o : mine) {
                String k = o.getClass().getSimpleName();
                if (kinds.isEmpty() || !kinds.getLast().equals(k)) {
                    kinds.add(k);
                }
            }
            assertThat(kinds).as(mine.toString()).containsExactly("Rename", "IdChange", "Exec", "ExitedProcess");
            assertThat(mine.getFirst()).isInstanceOfSatisfying(JournalSource.Rename.class,
                    r -> assertThat(r.comm()).isEqualTo("js-renamed"));
            JournalSource.IdChange ids = (JournalSource.IdChange) mine.get(mine.size() - 3);
            assertThat(List.of(ids.ruid(), ids.euid(), ids.rgid(), ids.egid())).containsOnly(65534);
            assertThat(mine.get(mine.size() - 2)).isInstanceOfSatisfying(JournalSource.Exec.class,
                    x -> assertThat(x.argv()).containsExactly("sh", "-c", "sleep 0.5; exit 7", "jsmark"));
            assertThat(mine.getLast()).isInstanceOfSatisfying(ExitedProcess.class, x -> {
                assertThat(x.status().exitCode()).isEqualTo(7);
                assertThat(x.uid()).isEqualTo(65534);
            });

            // retention by size: the oldest intervals go, the newest checkpoint's stays
            long before = j.totalBytes();
            j.retain(System.currentTimeMillis());
            assertThat(j.totalBytes()).isEqualTo(before); // under the default 1 GiB: nothing goes
        }
        try (Journal j = Journal.open(db, new Journal.Settings(300_000, 10_000, 7L * 86_400_000L, 1))) {
            long oldest = j.oldestSeq();
            j.retain(System.currentTimeMillis());
            assertThat(j.oldestSeq()).isGreaterThan(oldest);
            assertThat(j.totalBytes()).isPositive();
            // the newest checkpoint still answers
            assertThat(j.at(System.currentTimeMillis() - 100)).isNotEmpty();
        }

        // a damaged checkpoint: a clear error for that query, not a crash or a wrong table
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            st.executeUpdate("UPDATE journal SET body = x'78017fffffff' WHERE kind = " + Journal.CHECKPOINT);
        }
        try (Journal j = Journal.open(db, Journal.Settings.defaults())) {
            assertThatThrownBy(() -> j.at(System.currentTimeMillis() - 100))
                    .isInstanceOf(java.sql.SQLException.class).hasMessageContaining("damaged");
        }
        // and a daemon keeps serving on that file: the query is refused, the daemon is not
        try (DaemonProcess d = DaemonProcess.start(socket, args)) {
            Cli.Result r = Cli.run(socket, "ps", "--at", "@" + (System.currentTimeMillis() - 60_000) / 1000, "-e");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).containsAnyOf("damaged", "gap", "nothing that early");
            assertThat(d.isAlive()).isTrue();
        }
    }
}
