package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.KafkaBroker;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS and SASL through {@code --kafka-properties}, against a real broker with a SASL_PLAINTEXT
 * (PLAIN) listener and a SASL_SSL one whose key this test makes with the JDK's keytool. With a
 * wrong password the daemon counts send errors (stats, /metrics) and says why in its log; once the
 * file is fixed and the daemon restarted, every exit of the workload's (its own record of pid and
 * status) is in the topic, exactly once after folding. No password ever shows in the daemon's log,
 * stats or /metrics. And the file, read with root's privileges, is refused when anyone else could
 * have written it.
 */
class KafkaSecurityTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "secure.events";

    private static final String WORKLOAD = """
            import os, sys
            n, out = int(sys.argv[1]), sys.argv[2]
            with open(out, 'w') as f:
                for i in range(n):
                    pid = os.fork()
                    if pid == 0:
                        os._exit(i % 7)
                    _, st = os.waitpid(pid, 0)
                    f.write('%d %d\\n' % (pid, os.waitstatus_to_exitcode(st)))
            """;

    private static String jaas(String user, String password) {
        return "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
                + user + "\" password=\"" + password + "\";\n";
    }

    private static void writeOwnerOnly(Path file, String text) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
    }

    @Test
    void saslAndTlsWrongPasswordCountedThenFixedLosesNothing() throws Exception {
        Path dir = Files.createTempDirectory("pw-kafka-sec");
        String secret = "s3cret-" + UUID.randomUUID();
        String wrong = "wr0ng-" + UUID.randomUUID();
        String storePass = "ks-" + UUID.randomUUID();
        String trustPass = "ts-" + UUID.randomUUID();
        Path keyStore = dir.resolve("broker.p12");
        Path trustStore = dir.resolve("trust.p12");
        makeStores(dir, keyStore, storePass, trustStore, trustPass);
        List<String> secrets = List.of(secret, wrong, storePass, trustPass);
        Files.writeString(dir.resolve("workload.py"), WORKLOAD);

        try (KafkaBroker broker = KafkaBroker.start(Map.of("procwatch", secret), keyStore, storePass)) {
            Path props = dir.resolve("kafka.properties");
            writeOwnerOnly(props, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" + jaas("procwatch", wrong));
            int http = freePort();
            Path db = dir.resolve("a.db");
            String[] args = {"--history-db", db.toString(), "--kafka", broker.saslBootstrap(), "--kafka-topic", TOPIC,
                    "--kafka-properties", props.toString(), "--host-id", "sec-a", "--http", "127.0.0.1:" + http};
            Workload w;
            try (DaemonProcess d = DaemonProcess.start(args)) {
                w = Workload.run(dir, 300, "a");
                JsonNode stats = awaitStats(d, "kafka_send_errors", 1);
                assertThat(stats.path("kafka_lag").asLong()).as("the workload's exits wait, unacknowledged").isPositive();
                // nothing of host sec-a reached the broker (read through its plain listener)
                Cli.Result plain = Cli.run(null, "fleet", "history", "--since", "10m", "--host", "sec-a", "--json",
                        "--kafka", broker.bootstrap(), "--topic", TOPIC, "--timeout", "10");
                if (plain.exit() == 0) {
                    assertThat(JSON.readTree(plain.out())).as("records sent with a wrong password").isEmpty();
                } else {
                    assertThat(plain.err()).contains("no topic");
                }
                String metrics = get(http, "/metrics");
                assertThat(metricValue(metrics, "procwatch_kafka_send_errors_total")).isGreaterThanOrEqualTo(1);
                awaitLog(d, "Authentication failed");
                noSecrets(secrets, d.log(), Cli.run(d.socket(), "stats").out(), stats.toString(), metrics);
                assertThat(d.stop()).isZero();
                noSecrets(secrets, d.log());
            }
            // the same database and acknowledged point, the right password
            writeOwnerOnly(props, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" + jaas("procwatch", secret));
            try (DaemonProcess d = DaemonProcess.start(args)) {
                Cli.Result r = awaitAll(broker.saslBootstrap(), props, "sec-a", w);
                JsonNode stats = awaitStats(d, "kafka_sent", w.truth.size());
                // caught up and idle: the lag falls to 0 although the journal's newest entries are
                // kinds the topic does not carry (it stayed at a few hundred before)
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (stats.path("kafka_lag").asLong() != 0 && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    stats = JSON.readTree(Cli.run(d.socket(), "stats", "--json").out());
                }
                assertThat(stats.path("kafka_lag").asLong()).as(stats.toString()).isZero();
                assertThat(stats.path("kafka_in_flight").asLong()).isZero();
                String metrics = get(http, "/metrics");
                while (metricValue(metrics, "procwatch_kafka_lag") != 0 && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    metrics = get(http, "/metrics");
                }
                assertThat(metricValue(metrics, "procwatch_kafka_lag")).isZero();
                noSecrets(secrets, d.log(), Cli.run(d.socket(), "stats").out(), stats.toString(), metrics, r.out(), r.err());
            }

            // TLS: SASL_SSL, the broker's certificate trusted through the trust store
            Path tls = dir.resolve("tls.properties");
            writeOwnerOnly(tls, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n" + jaas("procwatch", secret)
                    + "ssl.truststore.location=" + trustStore + "\nssl.truststore.type=PKCS12\nssl.truststore.password="
                    + trustPass + "\n");
            try (DaemonProcess d = DaemonProcess.start("--history-db", dir.resolve("b.db").toString(), "--kafka",
                    broker.saslSslBootstrap(), "--kafka-topic", TOPIC, "--kafka-properties", tls.toString(),
                    "--host-id", "sec-b")) {
                Workload wb = Workload.run(dir, 150, "b");
                Cli.Result r = awaitAll(broker.saslSslBootstrap(), tls, "sec-b", wb);
                JsonNode stats = awaitStats(d, "kafka_sent", wb.truth.size());
                assertThat(stats.path("kafka_send_errors").asLong()).isZero();
                noSecrets(secrets, d.log(), stats.toString(), r.out(), r.err());
            }
        }
    }

    @Test
    void propertiesFileOthersCouldChangeIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("pw-kafka-perm");
        Path db = dir.resolve("p.db");
        Path props = dir.resolve("kafka.properties");
        String body = "security.protocol=SASL_PLAINTEXT\n";
        // nothing listens on the discard port: these daemons never reach a broker, nor need one
        java.util.function.Function<Path, String[]> args = p -> new String[] {"--history-db", db.toString(),
                "--kafka", "127.0.0.1:9", "--kafka-properties", p.toString(), "--host-id", "perm"};

        writeOwnerOnly(props, body);
        Files.setPosixFilePermissions(props, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(props)).close())
                .hasMessageContaining("refusing " + props).hasMessageContaining("writable by every user");

        Files.setPosixFilePermissions(props, PosixFilePermissions.fromString("rw--w----"));
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(props)).close())
                .hasMessageContaining("writable by its group");

        Files.setPosixFilePermissions(props, PosixFilePermissions.fromString("rw-------"));
        chown("65534", props);
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(props)).close())
                .hasMessageContaining("owned by uid 65534");
        chown("0", props);

        // a directory anyone may write to (no sticky bit): the file could be replaced
        Path open = Files.createDirectory(dir.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path inOpen = open.resolve("kafka.properties");
        writeOwnerOnly(inOpen, body);
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(inOpen)).close())
                .hasMessageContaining("its directory " + open).hasMessageContaining("writable by every user");
        // ... reached through a symlink from a safe place: judged where it leads
        Path link = dir.resolve("link.properties");
        Files.createSymbolicLink(link, inOpen);
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(link)).close())
                .hasMessageContaining("its directory " + open);

        // a FIFO would hang the start; /dev/zero would never end
        Path fifo = dir.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", "-m", "600", fifo.toString()).start().waitFor()).isZero();
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(fifo)).close()).hasMessageContaining("not a regular file");
        assertThatThrownBy(() -> DaemonProcess.start(args.apply(Path.of("/dev/zero"))).close())
                .hasMessageContaining("not a regular file");

        // readable by all: accepted, with a warning; a malformed login config is reported without its password
        String secret = "s3cret-" + UUID.randomUUID();
        writeOwnerOnly(props, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
                + "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\""
                + secret + "\"\n"); // no closing ';'
        Files.setPosixFilePermissions(props, PosixFilePermissions.fromString("rw-r--r--"));
        try (DaemonProcess d = DaemonProcess.start(args.apply(props))) {
            awaitLog(d, "procwatch daemon: kafka: ");
            assertThat(d.log()).contains("is readable by every user");
            JsonNode stats = awaitStats(d, "kafka_send_errors", 1);
            noSecrets(List.of(secret), d.log(), stats.toString(), Cli.run(d.socket(), "stats").out());
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    /** The workload's children: pid to exit status, as the parent saw them. */
    private record Workload(long parent, Map<Long, Integer> truth) {
        static Workload run(Path dir, int n, String tag) throws Exception {
            String python = Spawn.output("python3", "-c", "import sys; print(sys.executable)").strip();
            Path out = dir.resolve("truth-" + tag);
            Process p = new ProcessBuilder(python, dir.resolve("workload.py").toString(), Integer.toString(n),
                    out.toString()).redirectErrorStream(true).start();
            assertThat(p.waitFor()).as(new String(p.getInputStream().readAllBytes())).isZero();
            Map<Long, Integer> t = new HashMap<>();
            for (String l : Files.readAllLines(out)) {
                String[] f = l.split(" ");
                t.put(Long.parseLong(f[0]), Integer.parseInt(f[1]));
            }
            assertThat(t).hasSize(n);
            return new Workload(p.pid(), t);
        }
    }

    /** Polls fleet history (through the same properties file) until every child is there once with its status. */
    private static Cli.Result awaitAll(String bootstrap, Path props, String host, Workload w) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        String problem = null;
        Cli.Result r = null;
        while (System.nanoTime() < deadline) {
            r = Cli.run(null, "fleet", "history", "--since", "10m", "--host", host, "--json", "--limit", "100000",
                    "--kafka", bootstrap, "--kafka-properties", props.toString(), "--topic", TOPIC);
            if (r.exit() == 0) {
                Map<Long, List<Integer>> got = new HashMap<>();
                for (JsonNode n : JSON.readTree(r.out())) {
                    if (n.path("process.parent_pid").asLong() == w.parent()) {
                        got.computeIfAbsent(n.path("process.pid").asLong(), k -> new ArrayList<>())
                                .add(n.path("process.exit.code").asInt());
                    }
                }
                int missing = 0;
                int wrong = 0;
                for (var e : w.truth().entrySet()) {
                    List<Integer> l = got.get(e.getKey());
                    if (l == null) {
                        missing++;
                    } else if (!l.equals(List.of(e.getValue()))) {
                        wrong++;
                    }
                }
                int extra = (int) got.keySet().stream().filter(p -> !w.truth().containsKey(p)).count();
                if (missing + wrong + extra == 0) {
                    System.out.printf("%s: %d of %d children in fleet history, once each, with their status%n", host,
                            w.truth().size(), w.truth().size());
                    return r;
                }
                problem = missing + " missing, " + wrong + " wrong, " + extra + " extra of " + w.truth().size();
            } else {
                problem = r.err();
            }
            Thread.sleep(2000);
        }
        throw new AssertionError(host + ": " + problem + (r == null ? "" : "; " + r.err()));
    }

    private static JsonNode awaitStats(DaemonProcess d, String key, long atLeast) throws Exception {
        long deadline = System.nanoTime() + 90_000_000_000L;
        JsonNode s = null;
        while (System.nanoTime() < deadline) {
            s = JSON.readTree(Cli.run(d.socket(), "stats", "--json").out());
            if (s.path(key).asLong() >= atLeast) {
                return s;
            }
            Thread.sleep(500);
        }
        throw new AssertionError(key + " never reached " + atLeast + ": " + s + "\n" + d.log());
    }

    private static void awaitLog(DaemonProcess d, String text) throws Exception {
        long deadline = System.nanoTime() + 90_000_000_000L;
        while (!d.log().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the daemon never logged '" + text + "':\n" + d.log());
            }
            Thread.sleep(500);
        }
    }

    private static void chown(String uid, Path p) throws Exception {
        assertThat(new ProcessBuilder("chown", uid, p.toString()).inheritIO().start().waitFor()).isZero();
    }

    private static void noSecrets(List<String> secrets, String... texts) {
        for (String t : texts) {
            for (String s : secrets) {
                assertThat(t).as("a password in what users see").doesNotContain(s);
            }
        }
    }

    private static long metricValue(String metrics, String name) {
        for (String l : metrics.split("\n")) {
            if (l.startsWith(name + " ")) {
                return (long) Double.parseDouble(l.substring(name.length() + 1).strip());
            }
        }
        throw new AssertionError("no " + name + " in /metrics:\n" + metrics);
    }

    private static String get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A key pair for 127.0.0.1 in a PKCS12 key store, and a trust store holding its certificate: keytool's own. */
    private static void makeStores(Path dir, Path keyStore, String storePass, Path trustStore, String trustPass)
            throws Exception {
        String keytool = Path.of(Spawn.javaBinary()).resolveSibling("keytool").toString();
        Path cert = dir.resolve("broker.crt");
        keytool(keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", keyStore.toString(),
                "-storetype", "PKCS12", "-storepass", storePass, "-keypass", storePass);
        keytool(keytool, "-exportcert", "-alias", "broker", "-keystore", keyStore.toString(), "-storepass", storePass,
                "-rfc", "-file", cert.toString());
        keytool(keytool, "-importcert", "-noprompt", "-alias", "broker", "-file", cert.toString(), "-keystore",
                trustStore.toString(), "-storetype", "PKCS12", "-storepass", trustPass);
    }

    private static void keytool(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", cmd) + ": " + out).isZero();
    }
}
