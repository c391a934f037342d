package io.procwatch.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * A real Apache Kafka broker (KRaft, broker and controller in one node) as its own process on
 * loopback, from the kafka_2.13 jars on the test classpath, in a temporary directory. Restartable
 * on the same ports and log directory, so a test can SIGKILL it mid-storm and bring it back.
 */
public final class KafkaBroker implements AutoCloseable {
    private final Path dir;
    private final Path config;
    private final int port;
    private final int saslPort;
    private final int saslSslPort;
    private final Path log;
    private Process process;

    private KafkaBroker(Path dir, Path config, int port, int saslPort, int saslSslPort) {
        this.dir = dir;
        this.config = config;
        this.port = port;
        this.saslPort = saslPort;
        this.saslSslPort = saslSslPort;
        this.log = dir.resolve("broker.log");
    }

    public static KafkaBroker start() throws IOException, InterruptedException {
        return start(null, null, null);
    }

    /**
     * With, besides the PLAINTEXT listener (which the broker also uses to talk to itself), a
     * SASL_PLAINTEXT listener taking the PLAIN mechanism for {@code users} (name to password) and,
     * given a PKCS12 key store, a SASL_SSL listener with that key.
     */
    public static KafkaBroker start(java.util.Map<String, String> users, Path keyStore, String keyStorePassword)
            throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("pw-kafka");
        int port = freePort();
        int controller = freePort();
        int sasl = users == null ? -1 : freePort();
        int saslSsl = users == null || keyStore == null ? -1 : freePort();
        String listeners = "PLAINTEXT://127.0.0.1:" + port;
        String map = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT";
        List<String> security = new java.util.ArrayList<>();
        if (users != null) {
            StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
            users.forEach((u, pw) -> jaas.append(" user_").append(u).append("=\"").append(pw).append('"'));
            jaas.append(';');
            listeners += ",SASL_PLAINTEXT://127.0.0.1:" + sasl;
            map += ",SASL_PLAINTEXT:SASL_PLAINTEXT";
            security.add("sasl.enabled.mechanisms=PLAIN");
            security.add("listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas);
            if (keyStore != null) {
                listeners += ",SASL_SSL://127.0.0.1:" + saslSsl;
                map += ",SASL_SSL:SASL_SSL";
                security.add("listener.name.sasl_ssl.plain.sasl.jaas.config=" + jaas);
                security.add("listener.name.sasl_ssl.ssl.keystore.location=" + keyStore);
                security.add("listener.name.sasl_ssl.ssl.keystore.password=" + keyStorePassword);
                security.add("listener.name.sasl_ssl.ssl.key.password=" + keyStorePassword);
                security.add("listener.name.sasl_ssl.ssl.keystore.type=PKCS12");
            }
            security.add("inter.broker.listener.name=PLAINTEXT");
        }
        Path config = dir.resolve("server.properties");
        Files.writeString(config, String.join("\n",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controller,
                "listeners=" + listeners + ",CONTROLLER://127.0.0.1:" + controller,
                "advertised.listeners=" + listeners,
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=" + map,
                String.join("\n", security),
                "log.dirs=" + dir.resolve("data"),
                "num.partitions=4",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                ""));
        Process fmt = new ProcessBuilder(java("kafka.tools.StorageTool", "format",
                "--cluster-id=" + shortUuid(), "-c", config.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("format.log").toFile()).start();
        if (fmt.waitFor() != 0) {
            throw new IOException("kafka storage format failed: " + Files.readString(dir.resolve("format.log")));
        }
        KafkaBroker b = new KafkaBroker(dir, config, port, sasl, saslSsl);
        b.restart();
        return b;
    }

    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** The SASL_PLAINTEXT listener (PLAIN), if started with users. */
    public String saslBootstrap() {
        return "127.0.0.1:" + saslPort;
    }

    /** The SASL_SSL listener, if started with users and a key store. */
    public String saslSslBootstrap() {
        return "127.0.0.1:" + saslSslPort;
    }

    /** Starts the broker (again) and waits until its client port accepts connections. */
    public void restart() throws IOException, InterruptedException {
        process = new ProcessBuilder(java("kafka.Kafka", config.toString()))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("broker exited " + process.exitValue() + ": " + Files.readString(log));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new IOException("broker did not listen within 60 s: " + Files.readString(log));
    }

    /** SIGKILL: no clean shutdown, as a crashed broker. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException, IOException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                kill();
            }
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static List<String> java(String main, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(Spawn.javaBinary(), "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static String shortUuid() {
        UUID u = UUID.randomUUID();
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(16);
        bb.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bb.array());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
