package io.procwatch.daemon;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Who is asking over HTTP. A TCP peer on this machine is identified as the Unix socket's peers
 * are by SO_PEERCRED: by the owner of its socket, the one ESTABLISHED socket in /proc/net/tcp (or
 * tcp6) whose two ends are this connection's two ends (see {@link PeerIdentity}). Peers from other
 * machines, and peers whose socket cannot be told apart, are nobody: they are refused.
 */
final class HttpPeer {
    private HttpPeer() {
    }

    /** The viewer for a loopback peer of the connection remote → local; null for anyone else. */
    static Viewer viewerOf(InetSocketAddress remote, InetSocketAddress local, ProcMount mount) {
        if (remote == null || local == null || !remote.getAddress().isLoopbackAddress()) {
            return null;
        }
        int uid = PeerIdentity.tcpPeerUid(remote, local);
        if (uid == -1) {
            return null;
        }
        return new Viewer(uid, primaryGid(uid), mount);
    }

    /** The uid's group in /etc/passwd, compared as numbers; -1 if the uid has no entry. */
    private static int primaryGid(int uid) {
        long want = Integer.toUnsignedLong(uid);
        try {
            for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                String[] f = line.split(":");
                if (f.length > 3) {
                    try {
                        if (Long.parseLong(f[2]) == want) {
                            return (int) Long.parseLong(f[3]);
                        }
                    } catch (NumberFormatException broken) {
                        // a comment or a broken line
                    }
                }
            }
        } catch (IOException e) {
            // unknown user: no group
        }
        return -1;
    }
}
