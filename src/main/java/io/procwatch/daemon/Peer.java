package io.procwatch.daemon;

import io.procwatch.sys.Libc;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** Who is on the other end of a Unix socket: SO_PEERCRED, names mapped back to ids. */
final class Peer {
    private Peer() {
    }

    /** {uid, gid} of the connected client, as the kernel recorded it at connect(). */
    static int[] credentials(SocketChannel ch) throws IOException {
        var principal = ch.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
        int uid = Libc.uidOf(principal.user().getName());
        int gid = Libc.gidOf(principal.group().getName());
        if (uid < 0 || gid < 0) {
            throw new IOException("cannot resolve client credentials " + principal);
        }
        return new int[] {uid, gid};
    }
}
