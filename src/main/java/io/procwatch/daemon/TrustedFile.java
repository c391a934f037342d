package io.procwatch.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Reads a file the daemon takes settings from (its --config file; the Kafka client properties:
 * where to connect, which trust store to believe, which login module to run) with the daemon's privileges, usually
 * root. Whoever can change such a file controls the daemon's connections, so, as sshd does with
 * its keys, it is refused unless only root or the daemon's own user can change it: the file and
 * every directory above it (as given and after symlinks) owned by one of them and not writable by
 * group or others (a directory with the sticky bit, such as /tmp, lets no one replace another's
 * file, so its write bits are allowed). Only a regular file, at most {@code maxBytes}: a FIFO
 * would hang the daemon's start and /dev/zero would never end.
 */
public final class TrustedFile {
    private static final int GROUP_OR_OTHER_WRITE = 0022;
    private static final int STICKY = 01000;

    private TrustedFile() {
    }

    /** The file's bytes, or an IOException that says what is wrong with it. */
    public static byte[] read(Path file, long maxBytes) throws IOException {
        int me = (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        Path given = file.toAbsolutePath().normalize();
        Path real = file.toRealPath();
        if (!Files.isRegularFile(real)) {
            throw new IOException(file + " is not a regular file");
        }
        check(real, me, file, false);
        for (Path p : new Path[] {given.getParent(), real.getParent()}) {
            for (Path d = p; d != null; d = d.getParent()) {
                check(d, me, file, true);
            }
        }
        long size = Files.size(real);
        if (size > maxBytes) {
            throw new IOException(file + " is " + size + " bytes, more than " + maxBytes);
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(real)) {
            bytes = in.readNBytes((int) maxBytes + 1);
        }
        if (bytes.length > maxBytes) {
            throw new IOException(file + " grew past " + maxBytes + " bytes while read");
        }
        return bytes;
    }

    private static void check(Path p, int me, Path file, boolean dir) throws IOException {
        // a symlink among the directories as given is judged by where it leads (real path), and the
        // link itself sits in a directory judged here
        int uid = (int) Files.getAttribute(p, "unix:uid");
        int mode = (int) Files.getAttribute(p, "unix:mode");
        String what = dir ? "its directory " + p : String.valueOf(p);
        if (uid != 0 && uid != me) {
            throw new IOException("refusing " + file + ": " + what + " is owned by uid " + uid
                    + ", not root or this daemon's user");
        }
        if ((mode & GROUP_OR_OTHER_WRITE) != 0 && !(dir && (mode & STICKY) != 0)) {
            throw new IOException("refusing " + file + ": " + what + " is writable by "
                    + ((mode & 0002) != 0 ? "every user" : "its group") + " (chmod go-w)");
        }
    }

    /** Whether users other than the owner and group may read it (it may hold passwords). */
    static boolean othersMayRead(Path file) throws IOException {
        return ((int) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0004) != 0
                || ((int) Files.getAttribute(file.toRealPath(), "unix:mode") & 0004) != 0;
    }
}
