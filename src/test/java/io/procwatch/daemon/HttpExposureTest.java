package io.procwatch.daemon;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who may reach the HTTP listener, against real daemons over real HTTP: a Host header that is not
 * loopback is refused (DNS rebinding); a non-loopback --http address is refused at start unless
 * --http-public, and then only /metrics is served.
 */
class HttpExposureTest {
    private static DaemonProcess daemon;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        port = freePort();
        daemon = DaemonProcess.start("--http", "127.0.0.1:" + port);
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** GET path with this Host header line (null: none, as HTTP/1.0 allows); the status code. */
    private static int status(String address, int port, String path, String host) throws Exception {
        return Integer.parseInt(response(address, port, path, host).substring(9, 12));
    }

    private static String response(String address, int port, String path, String host) throws Exception {
        try (Socket s = new Socket(address, port)) {
            s.setSoTimeout(10_000);
            String req = (host == null ? "GET " + path + " HTTP/1.0\r\n" : "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
                    + "Connection: close\r\n\r\n";
            s.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil.example", "evil.example:PORT", "127.0.0.1.evil.example", "127.0.0.1.evil.example:PORT",
            "localhost.evil.example", "0x7f.0.0.1", "2130706433", "127.1", "[::2]:PORT", "localhost:99999",
            "localhost:PORT:1", "[::1", "", "10.0.0.1:PORT"})
    void hostThatIsNotLoopbackIsRefused(String host) throws Exception {
        String h = host.replace("PORT", Integer.toString(port));
        for (String path : new String[] {"/api/v1/processes?pid=1", "/metrics", "/api/v1/stats"}) {
            String r = response("127.0.0.1", port, path, h);
            assertThat(r).as("Host: %s, %s", h, path).startsWith("HTTP/1.1 421");
            assertThat(r).doesNotContain("\"pid\":1,");
        }
    }

    @Test
    void noHostHeaderIsServed() throws Exception {
        // HTTP/1.0 without Host: no browser sends that, so it is not a rebound page (see HttpApi.loopbackHost)
        assertThat(status("127.0.0.1", port, "/api/v1/processes?pid=1", null)).isEqualTo(200);
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "localhost:PORT", "LocalHost:PORT", "127.0.0.1", "127.0.0.1:PORT",
            "127.1.2.3:PORT", "[::1]", "[::1]:PORT"})
    void loopbackHostsAreServed(String host) throws Exception {
        String r = response("127.0.0.1", port, "/api/v1/processes?pid=1", host.replace("PORT", Integer.toString(port)));
        assertThat(r).startsWith("HTTP/1.1 200").contains("\"pid\":1,");
    }

    @Test
    void queryNumbersAreRangeCheckedNotTruncated() throws Exception {
        String h = "127.0.0.1:" + port;
        // 2^32 + 1 cast to an int was pid 1; 2^32 was uid 0
        assertThat(response("127.0.0.1", port, "/api/v1/processes?pid=4294967297", h)).startsWith("HTTP/1.1 400")
                .contains("pid must be a number from 1 to 2147483647");
        assertThat(response("127.0.0.1", port, "/api/v1/processes?uid=4294967296", h)).startsWith("HTTP/1.1 400")
                .contains("uid must be a number from 0 to 4294967294");
        assertThat(response("127.0.0.1", port, "/api/v1/history?limit=-5", h)).startsWith("HTTP/1.1 400");
        assertThat(response("127.0.0.1", port, "/api/v1/tree?pid=4294967297", h)).startsWith("HTTP/1.1 400");
        assertThat(response("127.0.0.1", port, "/api/v1/processes?uid=0", h)).startsWith("HTTP/1.1 200").contains("\"pid\":1,");
    }

    @Test
    void nonLoopbackBindIsRefusedWithoutHttpPublic() throws Exception {
        Path sock = daemon.socket().resolveSibling("refused.sock");
        for (String addr : new String[] {"0.0.0.0:" + freePort(), "[::]:" + freePort()}) {
            Cli.Result r = Cli.run(null, "daemon", "--socket", sock.toString(), "--http", addr);
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).contains(addr + " is not a loopback address").contains("--http-public");
            assertThat(Files.exists(sock)).as("no daemon left serving").isFalse();
        }
        Cli.Result noHttp = Cli.run(null, "daemon", "--socket", sock.toString(), "--http-public");
        assertThat(noHttp.exit()).isEqualTo(2);
        assertThat(noHttp.err()).contains("--http-public goes with --http");
    }

    @Test
    void publicListenerServesMetricsOnly() throws Exception {
        int publicPort = freePort();
        try (DaemonProcess pub = DaemonProcess.start("--http", "0.0.0.0:" + publicPort, "--http-public")) {
            // any Host: /metrics is the same for everyone
            String m = response("127.0.0.1", publicPort, "/metrics", "metrics.example:" + publicPort);
            assertThat(m).startsWith("HTTP/1.1 200").contains("# TYPE procwatch_processes gauge");
            for (String path : new String[] {"/api/v1/processes", "/api/v1/processes?pid=1", "/api/v1/history",
                    "/api/v1/tree", "/api/v1/stats", "/api/v1/events", "/"}) {
                for (String host : new String[] {"127.0.0.1:" + publicPort, "evil.example"}) {
                    String r = response("127.0.0.1", publicPort, path, host);
                    assertThat(r).as("%s Host %s", path, host).startsWith("HTTP/1.1 404").contains("only /metrics");
                    assertThat(r).doesNotContain("\"pid\"");
                }
            }
            // from an address of this machine that is not loopback, where there is one
            InetAddress other = null;
            for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(nif.getInetAddresses())) {
                    if (a instanceof Inet4Address && !a.isLoopbackAddress() && nif.isUp()) {
                        other = a;
                    }
                }
            }
            if (other != null) {
                assertThat(status(other.getHostAddress(), publicPort, "/metrics", other.getHostAddress())).isEqualTo(200);
                assertThat(status(other.getHostAddress(), publicPort, "/api/v1/processes", other.getHostAddress()))
                        .isEqualTo(404);
            }
        }
    }
}
