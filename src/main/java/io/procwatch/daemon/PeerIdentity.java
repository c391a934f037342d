package io.procwatch.daemon;

import io.procwatch.sys.Libc;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Who a client is, as numbers only: a uid is never turned into a name and back (an account may be
 * named {@code 0} or {@code 12345}), and a guess is never taken for an answer.
 *
 * <ul>
 * <li>Unix socket: the kernel's SO_PEERCRED, recorded at connect().</li>
 * <li>TCP over loopback (HTTP): the owner of the client's socket of <em>this</em> connection,
 * from /proc/net/tcp and tcp6: the one line whose local end is our remote end, whose remote end is
 * our local end, and whose state is ESTABLISHED. A socket in TIME_WAIT (shown with uid 0) or any
 * other line that shares only the client's port never counts; no unique line is no identity.</li>
 * </ul>
 */
final class PeerIdentity {
    /** (uid_t) -1 is "no uid" to the kernel; the largest real uid is one less. */
    static final long UID_MAX = 4294967294L;
    private static final String ESTABLISHED = "01";
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));

    private PeerIdentity() {
    }

    /** {uid, gid} of a Unix socket client (SO_PEERCRED). */
    static int[] unixPeer(SocketChannel ch) throws IOException {
        var principal = ch.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
        // The JDK reads SO_PEERCRED's numbers and hands back principals named by getpwuid/getgrgid
        // (or by the digits when there is no name); the numbers themselves are what their
        // hashCode() returns. Names are not mapped back to ids (an account may be named "0"): the
        // number is checked to be the one the name was made from, and a mismatch (another JDK)
        // refuses the client rather than guessing.
        int uid = principal.user().hashCode();
        int gid = principal.group().hashCode();
        if (!Libc.nameOfUid(uid).equals(principal.user().getName())
                || !Libc.nameOfGid(gid).equals(principal.group().getName())) {
            throw new IOException("cannot tell the client's numeric uid and gid from " + principal);
        }
        return new int[] {uid, gid};
    }

    /**
     * The uid owning the client end of the TCP connection remote → local (as this side sees it),
     * or -1 when /proc does not list exactly one ESTABLISHED socket with both ends matching.
     */
    static int tcpPeerUid(InetSocketAddress remote, InetSocketAddress local) {
        TcpMatch m = TcpMatch.of(remote, local);
        if (m == null) {
            return -1;
        }
        // First ask the kernel for this one socket (cheap whatever the number of sockets); only
        // when that cannot answer, read the tables, which say the same thing slowly.
        try {
            SockDiag.Answer a = SockDiag.owner(remote, local);
            if (a instanceof SockDiag.Answer.Owner(long uid)) {
                return uid >= 0 && uid <= UID_MAX ? (int) uid : -1;
            }
            return -1; // the socket is not ESTABLISHED (a TIME_WAIT): nobody's
        } catch (io.procwatch.sys.SyscallException | RuntimeException e) {
            // no sock_diag, or no such socket: the tables decide
        }
        // Read line by line: under load the tables hold thousands of lines (TIME_WAIT sockets
        // above all), and a request must not hold them all in memory at once.
        for (Path table : TABLES) {
            try (java.io.BufferedReader r = Files.newBufferedReader(table, java.nio.charset.StandardCharsets.US_ASCII)) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    m.line(line);
                }
            } catch (IOException e) {
                // no IPv6 (or no IPv4) on this machine: the other table still counts
            }
        }
        return m.uid();
    }

    /** As above over the lines of /proc/net/tcp and tcp6 (for tests of the matching itself). */
    static int tcpPeerUid(List<String> lines, InetSocketAddress remote, InetSocketAddress local) {
        TcpMatch m = TcpMatch.of(remote, local);
        if (m == null) {
            return -1;
        }
        for (String line : lines) {
            m.line(line);
        }
        return m.uid();
    }

    /** The matching of one connection's ends against /proc/net/tcp lines, fed one line at a time. */
    private static final class TcpMatch {
        private final Set<String> peerEnd;
        private final Set<String> ourEnd;
        private long uid = -1;
        private int matches;
        private boolean broken;

        private TcpMatch(Set<String> peerEnd, Set<String> ourEnd) {
            this.peerEnd = peerEnd;
            this.ourEnd = ourEnd;
        }

        static TcpMatch of(InetSocketAddress remote, InetSocketAddress local) {
            if (remote == null || local == null || remote.getAddress() == null || local.getAddress() == null) {
                return null;
            }
            return new TcpMatch(forms(remote), forms(local));
        }

        void line(String line) {
            if (!line.contains(" " + ESTABLISHED + " ")) {
                return; // cheap: most lines under load are other states (the split below is not)
            }
            String[] f = line.trim().split("\\s+");
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
            if (f.length < 8 || !f[3].equals(ESTABLISHED)) {
                return;
            }
            if (peerEnd.contains(f[1].toUpperCase(Locale.ROOT)) && ourEnd.contains(f[2].toUpperCase(Locale.ROOT))) {
                matches++;
                try {
                    uid = Long.parseLong(f[7]);
                } catch (NumberFormatException e) {
                    broken = true;
                }
            }
        }

        int uid() {
            if (broken || matches != 1 || uid < 0 || uid > UID_MAX) {
                return -1;
            }
            return (int) uid;
        }
    }

    /** How /proc/net/tcp{,6} writes an address:port: IPv4 as itself, and as ::ffff:a.b.c.d in tcp6. */
    private static Set<String> forms(InetSocketAddress a) {
        byte[] b = a.getAddress().getAddress();
        String port = String.format(Locale.ROOT, "%04X", a.getPort());
        if (a.getAddress() instanceof Inet4Address) {
            return Set.of(hex(b) + ":" + port, "0000000000000000FFFF0000" + hex(b) + ":" + port);
        }
        return Set.of(hex(b) + ":" + port);
    }

    /** /proc/net/tcp's address format: each 32-bit word in host (little-endian) byte order. */
    static String hex(byte[] a) {
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < a.length; w += 4) {
            for (int i = 3; i >= 0; i--) {
                sb.append(String.format(Locale.ROOT, "%02X", a[w + i] & 0xff));
            }
        }
        return sb.toString();
    }
}
