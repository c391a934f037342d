package io.procwatch.sink;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The last journal sequence the broker acknowledged, kept in a file so a restarted daemon resends
 * from there. Written to a temporary file, synced, then renamed over the old one: a crash leaves
 * the old value or the new, never a torn one. A stale value only costs duplicates.
 */
public final class AckedState {
    public static final long NONE = -1;
    private final Path file;

    public AckedState(Path file) {
        this.file = file;
    }

    /** Whether a value was ever written (a sink ran with this file before). */
    public boolean exists() {
        return Files.exists(file);
    }

    public long read() throws IOException {
        if (!Files.exists(file)) {
            return NONE;
        }
        String s = Files.readString(file, StandardCharsets.US_ASCII).strip();
        try {
            long v = Long.parseLong(s);
            if (v < NONE) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IOException(file + ": not a sequence number: " + (s.length() > 40 ? s.substring(0, 40) : s));
        }
    }

    public void write(long seq) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap((seq + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
