package io.procwatch.store;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The history database's files with a real daemon: created 0600 (the -wal and -shm too) in a
 * directory made 0700; directories others may write or own refused; a corrupt database moved
 * aside and a new one started, never an exit (a crash loop under systemd).
 */
class DatabaseFilesTest {
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("pw-dbfiles");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterEach
    void tearDown() throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String mode(Path p) throws IOException {
        return String.format("%04o", (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
    }

    /** Some exits, and waits until the daemon's writer has them in the database. */
    private static void exitsWritten(DaemonProcess d, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            new ProcessBuilder("/bin/true").start().waitFor();
        }
        try (ProcwatchClient c = d.client()) {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (c.stats().get("history_db_written") < n && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(c.stats().get("history_db_written")).isGreaterThanOrEqualTo(n);
        }
    }

    @Test
    void databaseAndItsWalFilesAre0600InADirectoryMade0700() throws Exception {
        Path db = dir.resolve("made/by/daemon/history.db");
        try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
            exitsWritten(d, 5);
            System.out.printf("db files: %s %s, -wal %s, -shm %s, made dirs %s %s %s%n", db, mode(db),
                    mode(Path.of(db + "-wal")), mode(Path.of(db + "-shm")), mode(dir.resolve("made")),
                    mode(dir.resolve("made/by")), mode(db.getParent()));
            assertThat(mode(db)).isEqualTo("0600");
            assertThat(mode(Path.of(db + "-wal"))).isEqualTo("0600");
            assertThat(mode(Path.of(db + "-shm"))).isEqualTo("0600");
            assertThat(mode(db.getParent())).isEqualTo("0700");
            assertThat(mode(dir.resolve("made"))).isEqualTo("0700");
        }
    }

    @Test
    void anExistingDatabaseReadableByOthersIsNarrowed() throws Exception {
        Path db = dir.resolve("history.db");
        try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
            exitsWritten(d, 1);
        }
        Files.setPosixFilePermissions(db, PosixFilePermissions.fromString("rw-r--r--"));
        try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
            assertThat(mode(db)).isEqualTo("0600");
            assertThat(d.log()).contains("was mode 0644").contains("it is 0600 now");
        }
    }

    @Test
    void directoriesOthersCanWriteOrOwnAreRefused() throws Exception {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx")); // like /tmp, less the sticky bit
        assertThatThrownBy(() -> DaemonProcess.start("--history-db", shared.resolve("h.db").toString()))
                .hasMessageContaining("is writable by other users").hasMessageContaining("daemon exited with 1");
        Path nobodys = Files.createDirectory(dir.resolve("nobodys"));
        Files.setAttribute(nobodys, "unix:uid", 65534);
        assertThatThrownBy(() -> DaemonProcess.start("--history-db", nobodys.resolve("h.db").toString()))
                .hasMessageContaining("belongs to uid 65534");
        Path link = dir.resolve("link.db");
        Files.createSymbolicLink(link, dir.resolve("elsewhere.db"));
        assertThatThrownBy(() -> DaemonProcess.start("--history-db", link.toString()))
                .hasMessageContaining("not a regular file");
        assertThat(dir.resolve("elsewhere.db")).doesNotExist();
    }

    @Test
    void aCorruptDatabaseIsMovedAsideAndANewOneStarted() throws Exception {
        for (String damage : List.of("end", "header")) {
            Path db = dir.resolve("history-" + damage + ".db");
            try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
                exitsWritten(d, 30);
            }
            long size = Files.size(db);
            assertThat(size).isGreaterThan(8192);
            try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
                byte[] junk = new byte[damage.equals("end") ? 8192 : 100];
                new Random(42).nextBytes(junk);
                f.seek(damage.equals("end") ? size - junk.length : 0);
                f.write(junk);
            }
            try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
                assertThat(d.isAlive()).isTrue();
                List<Path> aside;
                try (var s = Files.list(dir)) {
                    aside = s.filter(p -> p.getFileName().toString().startsWith(db.getFileName() + ".corrupt-")
                            && !p.toString().endsWith("-wal") && !p.toString().endsWith("-shm")).toList();
                }
                assertThat(aside).hasSize(1);
                assertThat(Files.size(aside.getFirst())).as("the damaged file, kept").isEqualTo(size);
                assertThat(mode(aside.getFirst())).isEqualTo("0600");
                String log = d.log();
                System.out.printf("db files: damage at the %s: %s%n", damage,
                        log.lines().filter(l -> l.contains("corrupt")).findFirst().orElse("(no log line)"));
                assertThat(log).contains("is corrupt").contains("moved it to " + aside.getFirst());
                exitsWritten(d, 3);
                try (ProcwatchClient c = d.client()) {
                    Map<String, Long> s = c.stats();
                    assertThat(s.get("history_db_recovered")).isEqualTo(1);
                    assertThat(s.get("history_db_failures")).isZero();
                }
            }
            // and the new database is a good one: the next start keeps it
            try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString());
                 ProcwatchClient c = d.client()) {
                assertThat(c.stats().get("history_db_recovered")).isZero();
                assertThat(d.log()).doesNotContain("is corrupt");
            }
        }
    }
}
