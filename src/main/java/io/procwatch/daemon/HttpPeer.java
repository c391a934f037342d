package io.procwatch.daemon;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Who is asking over HTTP. A TCP peer on this machine is identified as the Unix socket's peers
 * are by SO_PEERCRED: by the owner of its socket, which the kernel lists in /proc/net/tcp (and
 * tcp6) under the socket's address and port. Peers from other machines are nobody.
 */
final class HttpPeer {
    private HttpPeer() {
    }

    /** The viewer for a loopback peer, from the owner of its TCP socket; null for anyone else. */
    static Viewer viewerOf(InetSocketAddress peer, ProcMount mount) {
        if (peer == null || !peer.getAddress().isLoopbackAddress()) {
            return null;
        }
        int uid = socketOwner(peer);
        if (uid < 0) {
            return null;
        }
        return new Viewer(uid, primaryGid(uid), mount);
    }

    /** The uid owning the local TCP socket with this address and port (as the client sees it). */
    static int socketOwner(InetSocketAddress peer) {
        byte[] a = peer.getAddress().getAddress();
        String want = hexAddress(a) + ":" + String.format("%04X", peer.getPort());
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 7 && f[1].equalsIgnoreCase(want)) {
                        return Integer.parseInt(f[7]);
                    }
                    // an IPv4 peer on a dual-stack socket appears as ::ffff:a.b.c.d in tcp6
                    if (f.length > 7 && a.length == 4 && f[1].equalsIgnoreCase("0000000000000000FFFF0000" + want)) {
                        return Integer.parseInt(f[7]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // try the next table
            }
        }
        return -1;
    }

    /** /proc/net/tcp's address format: each 32-bit word in host (little-endian) byte order. */
    private static String hexAddress(byte[] a) {
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < a.length; w += 4) {
            for (int i = 3; i >= 0; i--) {
                sb.append(String.format("%02X", a[w + i] & 0xff));
            }
        }
        return sb.toString();
    }

    private static int primaryGid(int uid) {
        try {
            for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                String[] f = line.split(":");
                if (f.length > 3 && f[2].equals(Integer.toString(uid))) {
                    return Integer.parseInt(f[3]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown user: no group
        }
        return -1;
    }
}
