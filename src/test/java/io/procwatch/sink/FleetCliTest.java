package io.procwatch.sink;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.json.Json;
import io.procwatch.json.JsonReader;
import io.procwatch.testing.Cli;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fleet commands' and the daemon's Kafka options against bad input: usage errors exit 2
 * with a message, an unreachable broker exits 1 within the timeout, and the records' reader
 * takes what the sink writes (hostile text included) and refuses what is not JSON, nesting bombs
 * included, without a crash.
 */
class FleetCliTest {

    @Test
    void recordsReadBackAsWrittenAndGarbageIsRefused() throws Exception {
        String hostile = "a\"b\\c\nline\u0001\u001f grüße \uD83D\uDE00 </script>";
        String json = Json.value(Map.of("process.command_args", List.of(hostile, ""), "n", -42L, "x", 1.5, "b", true));
        Map<String, Object> m = JsonReader.object(json);
        assertThat(m.get("process.command_args")).isEqualTo(List.of(hostile, ""));
        assertThat(m.get("n")).isEqualTo(-42L);
        assertThat(m.get("x")).isEqualTo(1.5);
        assertThat(m.get("b")).isEqualTo(true);
        // the same text as a real parser reads it
        assertThat(new ObjectMapper().readTree(json).get("process.command_args").get(0).asText()).isEqualTo(hostile);
        for (String bad : new String[] {"", "{", "{\"a\"}", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\\u12\"", "\"\\q\"",
                "\"raw\ncontrol\"", "nul", "-", "1.2.3e", "[" .repeat(100_000), "{\"a\":".repeat(100_000)}) {
            assertThatThrownBy(() -> JsonReader.parse(bad)).as(bad.length() > 20 ? bad.substring(0, 20) : bad)
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> JsonReader.object("[1]")).isInstanceOf(IllegalArgumentException.class);
        assertThat(JsonReader.parse("123456789012345678901234567890")).isInstanceOf(Double.class);
    }

    @Test
    void badOptionsAreUsageErrorsAndAnUnreachableBrokerIsAnError() throws Exception {
        Path none = Path.of("/nonexistent-procwatch-socket");
        Cli.Result r = Cli.run(none, "fleet", "history");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--kafka HOST:PORT");
        for (String bad : new String[] {"nohost", "h:0", "h:65536", "h:x", ":9092", "a b:1", "h:1,,h:2"}) {
            r = Cli.run(none, "fleet", "history", "--kafka", bad);
            assertThat(r.exit()).as(bad).isEqualTo(2);
            assertThat(r.err()).as(bad).contains("--kafka");
        }
        r = Cli.run(none, "fleet", "nonsense", "--kafka", "127.0.0.1:1");
        assertThat(r.exit()).isEqualTo(2);
        r = Cli.run(none, "fleet", "history", "--kafka", "127.0.0.1:1", "--topic", "a/b");
        assertThat(r.exit()).isEqualTo(2);
        r = Cli.run(none, "fleet", "history", "--kafka", "127.0.0.1:1", "--since", "yesterday-ish");
        assertThat(r.exit()).isEqualTo(2);

        // nothing listens on port 1: a clear error once the timeout has passed, not a hang
        for (String sub : new String[] {"history", "hosts", "events"}) {
            long t0 = System.nanoTime();
            r = Cli.run(none, "fleet", sub, "--kafka", "127.0.0.1:1", "--timeout", "3");
            assertThat(r.exit()).as(sub + ": " + r.err()).isEqualTo(1);
            assertThat(r.err()).contains("127.0.0.1:1");
            assertThat((System.nanoTime() - t0) / 1_000_000_000).as(sub + " seconds").isLessThan(60);
        }

        Path dir = Files.createTempDirectory("pw-fleet-cli");
        Path sock = dir.resolve("d.sock");
        r = Cli.run(sock, "daemon", "--socket", sock.toString(), "--kafka-topic", "t");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--kafka-topic goes with --kafka");
        r = Cli.run(sock, "daemon", "--socket", sock.toString(), "--kafka", "h:99999");
        assertThat(r.exit()).isEqualTo(2);
        r = Cli.run(sock, "daemon", "--socket", sock.toString(), "--kafka", "127.0.0.1:1", "--kafka-properties",
                dir.resolve("missing.properties").toString());
        assertThat(r.exit()).isEqualTo(2);
        r = Cli.run(sock, "daemon", "--socket", sock.toString(), "--kafka", "127.0.0.1:1", "--host-id", "bad/id",
                "--history-db", dir.resolve("h.db").toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("host id");
        // the sink reads the history database until the journal lands: without one, said at start
        r = Cli.run(sock, "daemon", "--socket", sock.toString(), "--kafka", "127.0.0.1:1");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("kafka needs history-db");
        assertThat(sock).doesNotExist();
    }
}
