package io.procwatch.daemon;

import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who a client is, against a real daemon: over HTTP the uid comes from this connection's own
 * /proc/net/tcp line (both ends, ESTABLISHED), so a TIME_WAIT socket root left on a port does not
 * lend root's view to the next user of that port; over both transports a uid stays a number (an
 * account named "12345" gets its own uid's view, not uid 12345's).
 */
class PeerIdentityTest {
    private static final int NOBODY_UID = 65534;
    private static final long SELF = ProcessHandle.current().pid();
    private static DaemonProcess daemon;
    private static int httpPort;

    @BeforeAll
    static void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            httpPort = s.getLocalPort();
        }
        daemon = DaemonProcess.start("--http", "127.0.0.1:" + httpPort);
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
    }

    private static List<String> as(int uid) {
        return List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    /** A PortClient running as uid: one request per line written to it. */
    private record UserClient(Process process, PrintWriter in, BufferedReader out) implements AutoCloseable {
        static UserClient start(int uid) throws IOException {
            List<String> cmd = new ArrayList<>(as(uid));
            cmd.addAll(List.of(Spawn.javaBinary(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                    Spawn.projectClasspath(), "io.procwatch.testing.PortClient"));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            return new UserClient(p, new PrintWriter(p.getOutputStream(), true, StandardCharsets.UTF_8),
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
        }

        String get(int localPort, String path) throws IOException {
            in.println(localPort + " " + httpPort + " " + path);
            String line = out.readLine();
            if (line == null) {
                throw new IOException("the client process ended");
            }
            return line;
        }

        @Override
        public void close() throws InterruptedException {
            in.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    /** Root: from localPort to the daemon's HTTP port, one keep-alive request answered, then we close first. */
    private static String rootRequestThenCloseFirst(int localPort, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", localPort));
            s.connect(new InetSocketAddress("127.0.0.1", httpPort), 5000);
            s.setSoTimeout(10_000);
            OutputStream o = s.getOutputStream();
            o.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + httpPort + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            o.flush();
            return readOneResponse(s.getInputStream());
        } // closed by us while the server keeps the connection: our end goes to TIME_WAIT
    }

    private static String readOneResponse(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            head.append((char) c);
        }
        int len = 0;
        for (String h : head.toString().split("\r\n")) {
            if (h.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                len = Integer.parseInt(h.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(len), StandardCharsets.UTF_8);
    }

    /** Root: from localPort to another root listener; we close first, so our end waits in TIME_WAIT. */
    private static void rootConnectElsewhereThenCloseFirst(ServerSocket elsewhere, int localPort) throws IOException {
        Socket accepted;
        try (Socket s = new Socket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", localPort));
            s.connect(elsewhere.getLocalSocketAddress(), 5000);
            accepted = elsewhere.accept();
        }
        try (accepted) {
            accepted.setSoTimeout(5000);
            accepted.getInputStream().read(); // sees our FIN
        }
    }

    /** Whether /proc/net/tcp{,6} lists a TIME_WAIT socket on 127.0.0.1:port. */
    private static boolean timeWaitOn(int port) throws IOException {
        String local = "0100007F:" + String.format(Locale.ROOT, "%04X", port);
        for (String t : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(t))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && f[1].endsWith(local) && f[3].equals("06")) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void portInTimeWaitAfterRootNeverLendsRootsView() throws Exception {
        Process mine = new ProcessBuilder(List.of("setpriv", "--reuid=" + NOBODY_UID, "--regid=" + NOBODY_UID,
                "--clear-groups", "/bin/sleep", "120")).start();
        String path = "/api/v1/processes?pid=" + SELF + "," + mine.pid();
        String selfExe = "\"pid\":" + SELF + ",";
        try (UserClient nobody = UserClient.start(NOBODY_UID); ServerSocket elsewhere = new ServerSocket()) {
            elsewhere.bind(new InetSocketAddress("127.0.0.1", 0));
            Thread.sleep(300); // the sleeper's fork/exec reach the table

            // control: root on the same kind of connection sees its own exe, so a leak would show
            String rootAnswer = rootRequestThenCloseFirst(freePort(), path);
            assertThat(rootAnswer).startsWith("HTTP/1.1 200").contains(selfExe);
            assertThat(rootAnswer.substring(rootAnswer.indexOf(selfExe))).contains("\"exe\":");

            int attempts = 0;
            int withTimeWait = 0;
            int answeredAsNobody = 0;
            List<String> leaks = new ArrayList<>();
            for (int i = 0; i < 25; i++) {
                for (boolean sameServer : new boolean[] {true, false}) {
                    int port = freePort();
                    if (sameServer) {
                        rootRequestThenCloseFirst(port, path);
                    } else {
                        rootConnectElsewhereThenCloseFirst(elsewhere, port);
                    }
                    if (timeWaitOn(port)) {
                        withTimeWait++;
                    }
                    String r = nobody.get(port, path);
                    if (r.startsWith("FAIL")) {
                        continue; // the kernel refused the reuse of this port: no attempt
                    }
                    attempts++;
                    assertThat(r).as("answer %d", i).matches("STATUS (200|403) .*");
                    if (r.startsWith("STATUS 200")) {
                        String body = r.substring(11);
                        int at = body.indexOf(selfExe);
                        int end = at < 0 ? -1 : body.indexOf('}', at);
                        if (at >= 0 && body.substring(at, end).contains("\"exe\"")) {
                            leaks.add((sameServer ? "same server: " : "elsewhere: ") + r);
                        }
                        // identified as nobody, not refused: its own sleeper's exe is shown
                        if (body.contains("\"pid\":" + mine.pid() + ",") && body.contains("/usr/bin/sleep")) {
                            answeredAsNobody++;
                        }
                    }
                }
            }
            assertThat(leaks).as("nobody given root's view").isEmpty();
            assertThat(attempts).as("attempts from a port root just used").isGreaterThanOrEqualTo(20);
            assertThat(withTimeWait).as("attempts where root's socket was in TIME_WAIT").isGreaterThanOrEqualTo(20);
            assertThat(answeredAsNobody).as("answers identifying nobody as nobody").isGreaterThanOrEqualTo(20);
        } finally {
            mine.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void anAccountNamedWithDigitsIsItsOwnUid() throws Exception {
        int uid = 54321;
        String name = "12345"; // a name that reads as another uid
        Process add = new ProcessBuilder("useradd", "--badname", "-M", "-N", "-g", "65534", "-u", Integer.toString(uid),
                "-s", "/usr/sbin/nologin", "-d", "/nonexistent", name).redirectErrorStream(true).start();
        String addOut = new String(add.getInputStream().readAllBytes());
        assertThat(add.waitFor()).as("useradd: %s", addOut).isZero();
        Process mine = null;
        try {
            mine = new ProcessBuilder(List.of("setpriv", "--reuid=" + uid, "--regid=65534", "--clear-groups",
                    "/bin/sleep", "120")).start();
            Thread.sleep(300);
            // Unix socket (SO_PEERCRED): its own process with exe, root's without
            Cli.Result r = Cli.runAs(daemon.socket(), List.of("setpriv", "--reuid=" + uid, "--regid=65534",
                    "--clear-groups"), "ps", "-o", "pid=,user=,exe=", "-p", SELF + "," + mine.pid());
            assertThat(r.exit()).as(r.err()).isZero();
            List<String> lines = r.out().lines().map(String::trim).toList();
            long minePid = mine.pid();
            assertThat(lines).anySatisfy(l -> assertThat(l).startsWith(minePid + " ").contains(name)
                    .endsWith("/usr/bin/sleep"));
            assertThat(lines).anySatisfy(l -> assertThat(l).startsWith(SELF + " ").endsWith(" -"));

            // HTTP (/proc/net/tcp's uid column): the same
            try (UserClient c = UserClient.start(uid)) {
                String a = c.get(freePort(), "/api/v1/processes?pid=" + SELF + "," + mine.pid());
                assertThat(a).startsWith("STATUS 200");
                assertThat(a).contains("\"uid\":" + uid).contains("/usr/bin/sleep");
                String selfRow = a.substring(a.indexOf("\"pid\":" + SELF + ","));
                assertThat(selfRow.substring(0, selfRow.indexOf('}'))).doesNotContain("\"exe\"");
            }
        } finally {
            if (mine != null) {
                mine.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            new ProcessBuilder("userdel", name).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void matchingNeedsBothEndsEstablishedAndOneLine() {
        InetSocketAddress client = new InetSocketAddress("127.0.0.1", 40000);
        InetSocketAddress server = new InetSocketAddress("127.0.0.1", 9587);
        String c = "0100007F:9C40";
        String s = "0100007F:2573";
        String other = "0100007F:1F90";
        String hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
        // TIME_WAIT with uid 0 first, then the real one: the real one counts
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: " + c + " " + other + " 06 00000000:00000000 03:00000F4B 00000000     0        0 0",
                "1: " + c + " " + s + " 01 00000000:00000000 00:00000000 00000000 65534        0 123",
                "2: " + s + " " + c + " 01 00000000:00000000 00:00000000 00000000     0        0 124"),
                client, server)).isEqualTo(65534);
        // only the TIME_WAIT line on this port, or only a line to another server: nobody
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: " + c + " " + s + " 06 00000000:00000000 03:00000F4B 00000000     0        0 0"), client, server))
                .isEqualTo(-1);
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: " + c + " " + other + " 01 00000000:00000000 00:00000000 00000000     0        0 9"), client, server))
                .isEqualTo(-1);
        // an IPv4 client on a dual-stack socket (tcp6's ::ffff: form) is found
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: 0000000000000000FFFF0000" + c + " 0000000000000000FFFF0000" + s
                        + " 01 00000000:00000000 00:00000000 00000000  1000        0 9"), client, server)).isEqualTo(1000);
        // two lines claiming the connection: refused, not guessed
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: " + c + " " + s + " 01 00000000:00000000 00:00000000 00000000  1000        0 9",
                "1: " + c + " " + s + " 01 00000000:00000000 00:00000000 00000000     0        0 8"), client, server))
                .isEqualTo(-1);
        // a uid that is not one: refused
        assertThat(PeerIdentity.tcpPeerUid(List.of(hdr,
                "0: " + c + " " + s + " 01 00000000:00000000 00:00000000 00000000 4294967295 0 9"), client, server))
                .isEqualTo(-1);
    }
}
