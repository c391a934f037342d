package io.procwatch.sink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The last journal sequence the broker acknowledged, kept in a file so a restarted daemon resends
 * from there. Written to a temporary file, synced, then renamed over the old one: a crash leaves
 * the old value or the new, never a torn one. A stale value only costs duplicates.
 *
 * <p>The daemon runs as root and the file may sit in a directory others can write to (a
 * {@code --kafka-state} under /tmp): the temporary file is created anew, exclusively, so a symlink
 * planted under its name makes the write fail instead of truncating what it points to; reading
 * takes at most a few bytes, so a file swapped for a huge one or /dev/zero costs nothing.
 */
public final class AckedState {
    public static final long NONE = -1;
    /** A sequence and a newline fit in 21 bytes; anything longer is not one. */
    private static final int MAX_BYTES = 64;
    private final Path file;

    /** The file holds something that is not a sequence number (damaged, or not ours). */
    public static final class Corrupt extends IOException {
        Corrupt(String m) {
            super(m);
        }
    }

    public AckedState(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /** Whether a value was ever written (a sink ran with this file before). */
    public boolean exists() {
        return Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    }

    public long read() throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return NONE;
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new Corrupt(file + ": not a regular file (a symlink or worse): not read");
        }
        byte[] b;
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            b = in.readNBytes(MAX_BYTES + 1);
        }
        String s = new String(b, StandardCharsets.US_ASCII).strip();
        try {
            if (b.length > MAX_BYTES) {
                throw new NumberFormatException();
            }
            long v = Long.parseLong(s);
            if (v < NONE) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            // what it holds is not shown: a file swapped for another could be anything, a secret too
            throw new Corrupt(file + ": not a sequence number (" + (b.length > MAX_BYTES ? "over " + MAX_BYTES
                    : b.length) + " bytes)");
        }
    }

    public void write(long seq) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        // a leftover (a crash between create and rename) or a planted symlink: removed, never followed
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            ch.write(java.nio.ByteBuffer.wrap((seq + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
