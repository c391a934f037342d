package io.procwatch.daemon;

import io.procwatch.client.ProcwatchClient;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hostile local users against a real daemon: stalled connections (half a header, then nothing)
 * from unprivileged uids, kept up by reconnecting whenever the daemon closes one. Root, and other
 * users, must still be served; the stalled ones must be closed after the read deadline; refusals
 * must say why, and the CLI must print that instead of "Broken pipe".
 */
class ClientLimitsTest {
    static final int NOBODY = 65534;
    static final int DAEMON_USER = 1; // "daemon" in every Debian: a second unprivileged user

    static List<String> as(int uid) {
        return List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups");
    }

    /** A {@link io.procwatch.testing.StalledClients} JVM as uid; started and ready. */
    record Hostile(Process process, BufferedReader out) implements AutoCloseable {
        static Hostile start(int uid, String mode, String target, int count, int seconds) throws IOException {
            return startMain(uid, "io.procwatch.testing.StalledClients", mode, target, String.valueOf(count),
                    String.valueOf(seconds));
        }

        /** Any hostile main class of testing/ that prints "ready" and then one summary line. */
        static Hostile startMain(int uid, String main, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(as(uid));
            cmd.addAll(List.of(Spawn.javaBinary(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx96m", "-cp",
                    Spawn.projectClasspath(), main));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            if (!"ready".equals(line)) {
                p.destroyForcibly();
                throw new IOException(main + " did not start: " + line);
            }
            return new Hostile(p, r);
        }

        /** Waits for the end and returns its counts. */
        Map<String, String> result() throws IOException, InterruptedException {
            String line = out.readLine();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(line).as("summary line").isNotNull();
            Map<String, String> m = new HashMap<>();
            for (String kv : line.split(" ")) {
                int eq = kv.indexOf('=');
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
            return m;
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    @Test
    void oneUsersStalledConnectionsLockOutNeitherRootNorOthers() throws Exception {
        try (DaemonProcess daemon = DaemonProcess.start();
             Hostile h = Hostile.start(NOBODY, "unix-half", daemon.socket().toString(), 256, 16)) {
            long t0 = System.nanoTime();
            Map<String, Long> during;
            try (ProcwatchClient root = daemon.client()) {
                during = root.stats();
            }
            // 256 attempts, a quarter (64) of --max-clients 256 admitted for one uid
            assertThat(during.get("connections_rejected_per_uid")).isGreaterThanOrEqualTo(150);
            assertThat(during.get("clients")).isBetween(1L, 64L + 1);

            Cli.Result rootPs = Cli.run(daemon.socket(), "ps", "-p", "1");
            assertThat(rootPs.exit()).as("root's ps: %s", rootPs.err()).isZero();
            assertThat(rootPs.out()).contains("1 ");
            Cli.Result otherPs = Cli.runAs(daemon.socket(), as(DAEMON_USER), "ps", "-p", "1");
            assertThat(otherPs.exit()).as("another user's ps: %s", otherPs.err()).isZero();
            Cli.Result ownPs = Cli.runAs(daemon.socket(), as(NOBODY), "ps", "-p", "1");
            assertThat(ownPs.exit()).isEqualTo(1);
            assertThat(ownPs.err()).contains("too many connections from uid 65534 (limit 64 per user")
                    .doesNotContain("Broken pipe");
            System.out.printf("client limits: during the attack %d clients held, %d refused per uid; root's ps %s,"
                    + " uid 1's ps %s, uid 65534's ps: %s%n", during.get("clients"),
                    during.get("connections_rejected_per_uid"), rootPs.exit(), otherPs.exit(), ownPs.err().trim());
            assertThat((System.nanoTime() - t0) / 1e9).as("checks made while the attack ran").isLessThan(15);

            Map<String, String> r = h.result();
            System.out.println("client limits: hostile uid 65534: " + r);
            long closed = Long.parseLong(r.get("closed"));
            assertThat(closed).as("stalled connections closed by the daemon").isGreaterThanOrEqualTo(64);
            // read deadline 5 s, watchdog every 250 ms; a loaded 2-core VM gets some slack
            assertThat(Long.parseLong(r.get("min_kept_ms"))).isGreaterThanOrEqualTo(4_500);
            assertThat(Long.parseLong(r.get("max_kept_ms"))).isLessThan(9_000);
            assertThat(r.get("refusal")).contains("too_many_connections_from_uid_65534");
            try (ProcwatchClient root = daemon.client()) {
                Map<String, Long> after = root.stats();
                System.out.printf("client limits: stats after: read timeouts %d, rejected %d (per uid %d)%n",
                        after.get("connections_read_timeouts"), after.get("connections_rejected"),
                        after.get("connections_rejected_per_uid"));
                assertThat(after.get("connections_read_timeouts")).isGreaterThanOrEqualTo(closed);
                assertThat(after.get("internal_errors")).isZero();
            }
            Thread.sleep(500);
            assertThat(daemon.openSockets()).as("sockets once the attack is over").isLessThan(12);
        }
    }

    @Test
    void rootKeepsItsReserveWhenManyUsersFillTheRest() throws Exception {
        // 16 clients, 2 kept for root; two users of 8 each would fill all 16 without the reserve
        try (DaemonProcess daemon = DaemonProcess.start("--max-clients", "16", "--max-clients-per-uid", "8",
                "--read-timeout", "30");
             Hostile a = Hostile.start(NOBODY, "unix-half", daemon.socket().toString(), 8, 12);
             Hostile b = Hostile.start(DAEMON_USER, "unix-half", daemon.socket().toString(), 8, 12)) {
            Cli.Result third = Cli.runAs(daemon.socket(), as(2), "ps", "-p", "1");
            assertThat(third.exit()).isEqualTo(1);
            assertThat(third.err()).contains("too many clients (limit 16, of which 2 are kept for root)");
            Cli.Result rootPs = Cli.run(daemon.socket(), "ps", "-p", "1");
            assertThat(rootPs.exit()).as("root's ps: %s", rootPs.err()).isZero();
            try (ProcwatchClient root = daemon.client(); ProcwatchClient root2 = daemon.client()) {
                root.hello();
                assertThat(root2.stats().get("clients")).isEqualTo(16);
            }
            System.out.println("client limits: reserve: uid 2 told: " + third.err().trim());
            Map<String, String> ra = a.result();
            Map<String, String> rb = b.result();
            assertThat(Long.parseLong(ra.get("refused")) + Long.parseLong(rb.get("refused"))).isPositive();
        }
    }

    @Test
    void idleConnectionsAreClosedAndCounted() throws Exception {
        try (DaemonProcess daemon = DaemonProcess.start("--idle-timeout", "2")) {
            ProcwatchClient idle = daemon.client();
            idle.hello();
            Thread.sleep(3_500);
            try (ProcwatchClient probe = daemon.client()) {
                assertThat(probe.stats().get("connections_idle_closed")).isEqualTo(1);
            }
            org.assertj.core.api.Assertions.assertThatThrownBy(idle::hello).isInstanceOf(IOException.class);
            idle.close();
        }
    }

    @Test
    void aClientThatDoesNotReadItsAnswersIsClosedAtTheWriteDeadline() throws Exception {
        try (DaemonProcess daemon = DaemonProcess.start("--write-timeout", "2")) {
            try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
                    java.net.UnixDomainSocketAddress.of(daemon.socket()))) {
                // 500 whole snapshots asked for at once (20 KiB of requests), none read: far more
                // than the socket buffers hold, so the daemon's write blocks
                io.procwatch.protocol.MessageBuilder b = new io.procwatch.protocol.MessageBuilder()
                        .u64(io.procwatch.protocol.Wire.A_GROUPS, io.procwatch.protocol.Groups.BASE
                                | io.procwatch.protocol.Groups.CMDLINE);
                io.procwatch.protocol.Selector.all().encode(b);
                byte[] one = b.build(io.procwatch.protocol.Wire.SNAPSHOT, 0, 1).toBytes();
                java.nio.ByteBuffer all = java.nio.ByteBuffer.allocate(one.length * 500);
                for (int i = 0; i < 500; i++) {
                    all.put(one);
                }
                all.flip();
                while (all.hasRemaining()) {
                    ch.write(all);
                }
                long t0 = System.nanoTime();
                long closed = 0;
                try (ProcwatchClient probe = daemon.client()) {
                    while (System.nanoTime() - t0 < 15_000_000_000L
                            && (closed = probe.stats().get("connections_write_timeouts")) == 0) {
                        Thread.sleep(200);
                    }
                }
                System.out.printf("client limits: a client that does not read closed after %d ms (write timeout 2 s)%n",
                        (System.nanoTime() - t0) / 1_000_000L);
                assertThat(closed).isEqualTo(1);
                // what was sent before the close is still readable, then the stream ends
                java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(1 << 16);
                long read = 0;
                int n;
                try {
                    while ((n = ch.read(sink)) >= 0) {
                        read += n;
                        sink.clear();
                    }
                } catch (IOException reset) {
                    // closed with our unread requests in its queue: a reset, also an end
                }
                assertThat(read).isPositive();
            }
        }
    }
}
