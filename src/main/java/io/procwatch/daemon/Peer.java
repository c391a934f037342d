package io.procwatch.daemon;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** Who is on the other end of a Unix socket: SO_PEERCRED's numbers (see {@link PeerIdentity}). */
final class Peer {
    private Peer() {
    }

    /** {uid, gid} of the connected client, as the kernel recorded it at connect(). */
    static int[] credentials(SocketChannel ch) throws IOException {
        return PeerIdentity.unixPeer(ch);
    }
}
