package io.procwatch.daemon;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The kernel's answer for one socket by its ends, against real loopback connections. */
class SockDiagTest {
    @Test
    void ownerOfAnotherUsersEstablishedSocketTimeWaitIsNobodysAndUnknownIsAnError() throws Exception {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            int port = server.getLocalPort();
            // uid 65534 connects and waits for a line (perl is in every Debian)
            Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "perl",
                    "-MIO::Socket::INET", "-e", "my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:" + port
                    + "') or die $!; print STDOUT \"up\\n\"; STDOUT->flush; <$s>;").start();
            try (Socket s = server.accept()) {
                InetSocketAddress peer = (InetSocketAddress) s.getRemoteSocketAddress();
                InetSocketAddress us = (InetSocketAddress) s.getLocalSocketAddress();
                SockDiag.Answer a = SockDiag.owner(peer, us);
                assertThat(a).isEqualTo(new SockDiag.Answer.Owner(65534));
                // our own end, asked the other way round, is root's
                assertThat(SockDiag.owner(us, peer)).isEqualTo(new SockDiag.Answer.Owner(0));
                // agrees with /proc/net/tcp
                assertThat(PeerIdentity.tcpPeerUid(Files.readAllLines(Path.of("/proc/net/tcp")), peer, us))
                        .isEqualTo(65534);
                s.getOutputStream().write('\n');
                s.getOutputStream().flush();
                assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
            }
            // the client closed first: its end is in TIME_WAIT (uid 0 in /proc): nobody's
            try (Socket c = new Socket()) {
                c.setReuseAddress(true);
                c.bind(new InetSocketAddress("127.0.0.1", 0));
                c.connect(new InetSocketAddress("127.0.0.1", port));
                InetSocketAddress clientEnd = (InetSocketAddress) c.getLocalSocketAddress();
                try (Socket s = server.accept()) {
                    c.close();
                    InputStream in = s.getInputStream();
                    assertThat(in.read()).isEqualTo(-1);
                    SockDiag.Answer tw = SockDiag.owner(clientEnd, new InetSocketAddress("127.0.0.1", port));
                    assertThat(tw).isEqualTo(new SockDiag.Answer.Nobody());
                }
            }
            // no such socket at all: an error, so the caller asks /proc/net/tcp
            assertThatThrownBy(() -> SockDiag.owner(new InetSocketAddress("127.0.0.1", 1),
                    new InetSocketAddress("127.0.0.1", port))).isInstanceOf(io.procwatch.sys.SyscallException.class);
        }
    }
}
