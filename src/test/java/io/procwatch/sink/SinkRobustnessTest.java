package io.procwatch.sink;

import io.procwatch.event.WaitStatus;
import io.procwatch.table.ExitedProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The sink's state file and its peers taken as hostile: a symlink planted where the root daemon
 * writes, a state file that is garbage, huge or not a file, and a "broker" that accepts
 * connections and never answers.
 */
class SinkRobustnessTest {
    private static final HostIdentity HOST = new HostIdentity("robust", "robust", "boot");

    private static ExitedProcess exit(int i) {
        long start = 1_700_000_000_000L + i;
        return new ExitedProcess(i, 10_000 + i, 1, 0, 0, "w", "/bin/w", List.of("w"), start, start + 5,
                new WaitStatus(0), false, true, true, null, i * 1000L);
    }

    @Test
    void stateWriteNeverFollowsAPlantedSymlink() throws Exception {
        Path dir = Files.createTempDirectory("pw-acked");
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "precious\n");
        Path file = dir.resolve("kafka-acked");
        Files.createSymbolicLink(dir.resolve("kafka-acked.tmp"), victim);
        AckedState s = new AckedState(file);
        s.write(42);
        assertThat(Files.readString(victim)).isEqualTo("precious\n");
        assertThat(s.read()).isEqualTo(42);

        // the state file itself a symlink: not read (its target could be anything), replaced on write
        Files.delete(file);
        Files.createSymbolicLink(file, victim);
        assertThatThrownBy(s::read).isInstanceOf(AckedState.Corrupt.class).hasMessageNotContaining("precious");
        s.write(7);
        assertThat(Files.isSymbolicLink(file)).isFalse();
        assertThat(s.read()).isEqualTo(7);
        assertThat(Files.readString(victim)).isEqualTo("precious\n");
    }

    @Test
    void damagedStateIsReadBoundedAndMeansStartingOver() throws Exception {
        Path dir = Files.createTempDirectory("pw-acked");
        Path file = dir.resolve("kafka-acked");
        AckedState s = new AckedState(file);
        Files.writeString(file, "9".repeat(10 << 20)); // 10 MB of digits: read only as far as a sequence could go
        assertThatThrownBy(s::read).isInstanceOf(AckedState.Corrupt.class).hasMessageContaining("over 64 bytes");
        Files.writeString(file, "secret-looking garbage\n");
        assertThatThrownBy(s::read).isInstanceOf(AckedState.Corrupt.class).hasMessageNotContaining("garbage");
        Files.writeString(file, "-5\n");
        assertThatThrownBy(s::read).isInstanceOf(AckedState.Corrupt.class);
        Files.delete(file);
        Files.createDirectory(file);
        assertThatThrownBy(s::read).isInstanceOf(AckedState.Corrupt.class);
        Files.delete(file);

        // a sink over a damaged file: it starts from the journal's oldest entry (re-sends, loses nothing)
        ListJournal j = new ListJournal(100);
        for (int i = 0; i < 50; i++) {
            j.append(0, exit(i));
        }
        Files.writeString(file, "\0\0\0\0");
        KafkaSink sink = new KafkaSink(new KafkaSink.Config("127.0.0.1:9", "t", new Properties()), j, HOST, s);
        assertThat(sink.snapshot().ackedSeq()).isEqualTo(99);
        assertThat(sink.snapshot().journalResets()).isEqualTo(1);
        assertThat(s.read()).as("the file is repaired at once").isEqualTo(99);
        sink.close();
    }

    @Test
    void aBrokerThatNeverAnswersCostsErrorsNotAHangOrAnAcknowledgement() throws Exception {
        List<Socket> held = new CopyOnWriteArrayList<>();
        try (ServerSocket black = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        held.add(black.accept()); // accepted, read from by no one, never answered
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            String bs = "127.0.0.1:" + black.getLocalPort();
            Path dir = Files.createTempDirectory("pw-black");
            AckedState state = new AckedState(dir.resolve("kafka-acked"));
            ListJournal j = new ListJournal(0);
            for (int i = 0; i < 100; i++) {
                j.append(0, exit(i));
            }
            Properties p = new Properties();
            p.put("max.block.ms", "2000"); // the daemon's default is 10 s; the same path, sooner
            KafkaSink sink = new KafkaSink(new KafkaSink.Config(bs, "t", p, 50), j, HOST, state);
            sink.start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (sink.snapshot().sendErrors() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            KafkaSink.Stats st = sink.snapshot();
            assertThat(st.sendErrors()).as("send errors counted").isGreaterThanOrEqualTo(2);
            assertThat(st.producerRestarts()).isGreaterThanOrEqualTo(1);
            assertThat(st.ackedSeq()).as("nothing acknowledged").isEqualTo(-1);
            assertThat(st.lag()).isEqualTo(100);
            assertThat(sink.lastError()).contains("Timeout");
            long t0 = System.nanoTime();
            sink.close();
            double secs = (System.nanoTime() - t0) / 1e9;
            assertThat(secs).as("close with the broker silent (bounded: max.block.ms + the 3 s close + 1 s; it took > 15 s before)").isLessThan(15);
            assertThat(state.read()).isEqualTo(-1);

            // the fleet commands' reader: an IOException within its timeout, not a hang
            long t1 = System.nanoTime();
            assertThatThrownBy(() -> FleetConsumer.window(bs, new Properties(), "t", 0, Duration.ofSeconds(3), 10,
                    () -> { })).isInstanceOf(IOException.class).hasMessageContaining("no answer from Kafka");
            assertThat((System.nanoTime() - t1) / 1e9).isLessThan(30);
            System.out.printf("silent broker: %d send errors, %d producer restarts, close %.1f s%n", st.sendErrors(),
                    st.producerRestarts(), secs);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }
}
