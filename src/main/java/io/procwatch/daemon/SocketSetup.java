package io.procwatch.daemon;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Creates the daemon's socket safely: the directory is created without following symlinks and must
 * be a real directory owned by us; an existing socket file is replaced only if no daemon answers on
 * it; a second daemon refuses to start.
 */
final class SocketSetup {
    private SocketSetup() {
    }

    static ServerSocketChannel bind(Path socket) throws IOException {
        Path dir = socket.toAbsolutePath().getParent();
        if (Files.isSymbolicLink(dir)) {
            throw new IOException("refusing to use " + dir + ": it is a symbolic link");
        }
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("refusing to use " + dir + ": not a directory");
        }
        int owner = (int) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int me = (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (owner != me && owner != 0) {
            throw new IOException("refusing to use " + dir + ": owned by uid " + owner + ", not by us or root");
        }
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (Files.isSymbolicLink(socket) || Files.isRegularFile(socket, LinkOption.NOFOLLOW_LINKS)
                    || Files.isDirectory(socket, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("refusing to replace " + socket + ": it is not a socket");
            }
            if (answers(socket)) {
                throw new IOException("another procwatch daemon is already running on " + socket
                        + " (procwatch stats shows its pid)");
            }
            Files.delete(socket); // stale: left by a daemon that died
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket), 512);
        // Anyone may connect: what each client sees is decided per connection from SO_PEERCRED.
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
        return server;
    }

    private static boolean answers(Path socket) {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return ch.isConnected();
        } catch (IOException e) {
            return false;
        }
    }
}
