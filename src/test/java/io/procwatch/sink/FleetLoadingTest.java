package io.procwatch.sink;

import io.procwatch.testing.DaemonProcess;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Kafka client is loaded only by a daemon configured for it: the JVM's own class-load log
 * (-Xlog:class+load) of an unconfigured daemon that served requests, and of client commands on the
 * JVM path, names no org.apache.kafka class; a daemon given --kafka (the control) does.
 */
class FleetLoadingTest {

    private static List<String> kafkaClasses(Path log) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (line.contains("org.apache.kafka.") || line.contains("io.procwatch.sink.KafkaSink")) {
                out.add(line);
            }
        }
        return out;
    }

    private static Map<String, String> logTo(Path log) {
        return Map.of("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + log);
    }

    private static int runClient(Path socket, Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Spawn.javaBinary(), "--enable-native-access=ALL-UNNAMED",
                "-Xlog:class+load=info:file=" + log, "-cp", Spawn.projectClasspath(), "io.procwatch.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PROCWATCH_SOCKET", socket.toString());
        Process p = pb.start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return p.exitValue();
    }

    @Test
    void onlyADaemonConfiguredForKafkaLoadsIt() throws Exception {
        Path dir = Files.createTempDirectory("pw-fleet-load");
        Path daemonLog = dir.resolve("daemon-classes.log");
        Path db = dir.resolve("h.db");
        // DaemonProcess.close empties the socket's directory: the logs live elsewhere
        Path sock = Files.createTempDirectory("pw-fleet-load-sock").resolve("plain.sock");
        int port;
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = ss.getLocalPort();
        }
        try (DaemonProcess d = DaemonProcess.start(sock, logTo(daemonLog), "--history-db", db.toString(),
                "--http", "127.0.0.1:" + port)) {
            Process p = new ProcessBuilder("sh", "-c", "exit 3").start();
            p.waitFor();
            // a scrape: /metrics is where kafka counters would be registered
            var http = java.net.http.HttpClient.newHttpClient();
            var res = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port
                    + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(res.body()).contains("procwatch_processes").doesNotContain("procwatch_kafka");
            for (String[] c : new String[][] {{"ps", "-ef"}, {"history"}, {"stats"}, {"tree"}, {"events", "--help"},
                    {"fleet", "--help"}}) {
                Path log = dir.resolve("client-" + c[0] + ".log");
                int code = runClient(sock, log, c);
                assertThat(code).as(String.join(" ", c)).isZero();
                assertThat(Files.readString(log)).as("the log names the CLI's classes").contains("io.procwatch.cli.Main");
                assertThat(kafkaClasses(log)).as("Kafka classes loaded by " + String.join(" ", c)).isEmpty();
            }
            assertThat(d.stop()).isZero();
        }
        assertThat(Files.readString(daemonLog)).contains("io.procwatch.daemon.Daemon ");
        assertThat(kafkaClasses(daemonLog)).as("Kafka classes in a daemon without --kafka").isEmpty();

        // the control: the same check sees them in a daemon configured for a broker (none listens; it retries)
        Path kafkaLog = dir.resolve("kafka-daemon-classes.log");
        try (DaemonProcess d = DaemonProcess.start(Files.createTempDirectory("pw-fleet-load-sock").resolve("k.sock"), logTo(kafkaLog), "--history-db",
                dir.resolve("k.db").toString(), "--kafka", "127.0.0.1:1", "--host-id", "loading-test")) {
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (System.nanoTime() < deadline && kafkaClasses(kafkaLog).stream()
                    .noneMatch(l -> l.contains("org.apache.kafka.clients.producer.KafkaProducer "))) {
                Thread.sleep(200);
            }
            assertThat(d.stop()).isZero();
        }
        assertThat(kafkaClasses(kafkaLog)).anyMatch(l -> l.contains("org.apache.kafka.clients.producer.KafkaProducer "));
    }
}
