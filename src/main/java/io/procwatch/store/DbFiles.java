package io.procwatch.store;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The history database's files on disk: a root daemon writes them, and they hold every user's
 * command lines, so they are 0600 in a directory no other user can write (one who could would
 * swap the database, or plant its -wal or -shm file as a link to somewhere else, before we open
 * it). And moving a corrupt database aside, with its journal files, so that a new one can start.
 */
final class DbFiles {
    /** The files SQLite keeps next to the database. */
    static final List<String> SIDE_FILES = List.of("-wal", "-shm", "-journal");

    /**
     * SQLite's page cache per connection, in KiB (PRAGMA cache_size=-N). The default is 2,000 KiB
     * for each of the daemon's four connections (history and journal, a writer and a reader each),
     * and the memory a full cache held stays in a malloc arena. The caches buy little here: the
     * two writers change the one file in turn, and a connection that sees the file changed by
     * another drops its whole cache before its next transaction (WAL), so a cache holds about one
     * transaction's pages; a reader's likewise, the writers commit every second or more often.
     * The pages come back from the kernel's page cache. Measured in docs/benchmarks.md
     * ("Footprint", session 8).
     */
    static final int WRITER_CACHE_KIB = 512;
    static final int READER_CACHE_KIB = 256;

    private DbFiles() {
    }

    /**
     * Makes the directory (0700) if there is none, refuses one that another user owns or may
     * write, and creates the database file 0600 if it does not exist (O_EXCL with that mode, so it
     * is never readable by others, not even for a moment). Existing files that are too open are
     * narrowed to 0600 (and that is said on stderr); a link or a file of another user is refused.
     * SQLite creates -wal and -shm with the database file's mode. Returns whether the file was
     * created now (an empty file that was there before is worth saying so).
     */
    static boolean prepare(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------")); // whatever the umask
        }
        int me = myUid();
        int dirOwner = (int) Files.getAttribute(dir, "unix:uid");
        int dirMode = (int) Files.getAttribute(dir, "unix:mode") & 07777;
        if (dirOwner != me && dirOwner != 0) {
            throw new IOException("refusing the history database " + file + ": its directory " + dir
                    + " belongs to uid " + dirOwner + ", who could replace the database; use a directory of root's"
                    + " (e.g. /var/lib/procwatch)");
        }
        if ((dirMode & 0022) != 0) {
            throw new IOException("refusing the history database " + file + ": its directory " + dir + " (mode "
                    + String.format("%04o", dirMode) + ") is writable by other users, who could replace the database"
                    + " or its -wal/-shm files; use a directory only root can write (e.g. /var/lib/procwatch, 0700)");
        }
        boolean created = true;
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException exists) {
            created = false; // checked below, like the side files
        }
        check(file, me);
        for (String side : SIDE_FILES) {
            Path p = Path.of(file + side);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                check(p, me);
            }
        }
        return created;
    }

    private static void check(Path p, int me) throws IOException {
        if (Files.isSymbolicLink(p) || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("refusing the history database file " + p + ": it is not a regular file (a link?)");
        }
        int owner = (int) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (owner != me) {
            throw new IOException("refusing the history database file " + p + ": it belongs to uid " + owner);
        }
        int mode = (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
        if ((mode & 0077) != 0) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
            System.err.println("procwatch daemon: " + p + " was mode " + String.format("%04o", mode)
                    + " (other users could read every command line in it); it is 0600 now");
        }
    }

    /**
     * Renames the database (and its side files) to {@code NAME.corrupt-<UTC time>} next to it and
     * returns that path: kept for inspection, out of the way of a new database.
     */
    static Path moveAside(Path file) throws IOException {
        String stamp = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"));
        Path aside = Path.of(file + ".corrupt-" + stamp);
        for (int n = 2; Files.exists(aside, LinkOption.NOFOLLOW_LINKS); n++) {
            aside = Path.of(file + ".corrupt-" + stamp + "-" + n);
        }
        Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
        for (String side : SIDE_FILES) {
            Path p = Path.of(file + side);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(p, Path.of(aside + side), StandardCopyOption.ATOMIC_MOVE);
            }
        }
        return aside;
    }

    /** The uid this process runs as (the owner of /proc/self). */
    private static int myUid() throws IOException {
        return (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }
}
