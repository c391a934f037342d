package io.procwatch.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.store.HistoryStore;
import io.procwatch.table.ExitedProcess;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Records for the topic, built from what a real daemon recorded of real processes and read back
 * by a real JSON parser, against what the workload knows of its own children (pid, parent, argv,
 * the status waitpid gave).
 */
class FleetRecordTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Truth(long pid, int status, List<String> argv) {
    }

    @Test
    void exitRecordsCarryTheWorkloadsTruthUnderOtelNames() throws Exception {
        Path dir = Files.createTempDirectory("pw-fleet-rec");
        Path db = dir.resolve("history.db");
        HostIdentity host = new HostIdentity("host-a", "alpha", "boot-1");
        List<List<String>> commands = List.of(
                List.of("sh", "-c", "sleep 0.3; exit 7"),
                // argv with a quote, a backslash, a newline, a control byte and non-ASCII: hostile text
                List.of("sh", "-c", "sleep 0.3; exit 0", "x", "a\"b\\c", "line\nbreak\u0001", "grüße"),
                List.of("sh", "-c", "ulimit -c 0; sleep 0.3; kill -TERM $$"));
        List<Truth> truth = new ArrayList<>();
        try (DaemonProcess d = DaemonProcess.start("--history-db", db.toString())) {
            for (List<String> c : commands) {
                Process p = new ProcessBuilder(c).start();
                truth.add(new Truth(p.pid(), p.waitFor(), c));
            }
            Map<Long, ExitedProcess> seen = new LinkedHashMap<>();
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (seen.size() < truth.size() && System.nanoTime() < deadline) {
                Thread.sleep(200);
                try (HistoryStore h = HistoryStore.open(db)) {
                    for (Truth t : truth) {
                        for (ExitedProcess e : h.query(new HistoryStore.Query(0, Long.MAX_VALUE, null, null,
                                (int) t.pid(), false, 10))) {
                            if (e.ppid() == ProcessHandle.current().pid()) {
                                seen.put(t.pid(), e);
                            }
                        }
                    }
                }
            }
            assertThat(seen).as("exits in the daemon's history").hasSize(truth.size());
            for (Truth t : truth) {
                ExitedProcess e = seen.get(t.pid());
                FleetRecord r = FleetRecord.exit(host, e.seq(), e);
                JsonNode n = JSON.readTree(r.json());
                assertThat(n.get("procwatch.event").asText()).isEqualTo("exit");
                assertThat(n.get("process.pid").asLong()).isEqualTo(t.pid());
                assertThat(n.get("process.parent_pid").asLong()).isEqualTo(ProcessHandle.current().pid());
                assertThat(n.get("process.exit.code").asInt()).as("shell status").isEqualTo(t.status());
                assertThat(n.get("procwatch.signal").asInt()).isEqualTo(t.status() > 128 ? t.status() - 128 : 0);
                assertThat(n.get("procwatch.core").asBoolean()).isFalse();
                assertThat(n.get("process.executable.name").asText()).isEqualTo(e.comm());
                if (e.argvKnown()) {
                    List<String> argv = new ArrayList<>();
                    n.get("process.command_args").forEach(a -> argv.add(a.asText()));
                    assertThat(argv).isEqualTo(t.argv());
                }
                assertThat(n.get("process.user.id").asInt()).isEqualTo(e.uid());
                assertThat(java.time.Instant.parse(n.get("process.creation.time").asText()).toEpochMilli())
                        .isEqualTo(e.startEpochMs());
                assertThat(java.time.Instant.parse(n.get("process.exit.time").asText()).toEpochMilli())
                        .isEqualTo(e.endEpochMs());
                assertThat(n.get("procwatch.seq").asLong()).isEqualTo(e.seq());
                assertThat(n.get("host.id").asText()).isEqualTo("host-a");
                assertThat(n.get("host.name").asText()).isEqualTo("alpha");
                assertThat(n.get("procwatch.boot_id").asText()).isEqualTo("boot-1");
                assertThat(r.key()).isEqualTo("host-a/" + t.pid() + "/" + e.startNs());
                assertThat(n.get("procwatch.start_ns").asLong()).isEqualTo(e.startNs());
            }
            // the hostile argv: the daemon must have learnt it (0.3 s is ample) and it round-trips exactly
            assertThat(seen.get(truth.get(1).pid()).argvKnown()).isTrue();
        }
    }

    /**
     * The journal's other entries (exec, id change, cgroup change) under their OTel names, keyed
     * like the exit of the same life so Kafka keeps a life's records in order; argv beyond 16 KiB
     * is cut and says so; a gap entry becomes a loss record; an entry kind the topic does not
     * carry becomes none.
     */
    @Test
    void execIdAndCgroupRecordsShareTheLifesKey() throws Exception {
        HostIdentity host = new HostIdentity("host-a", "alpha", "boot-1");
        long start = 1_764_760_000_123L;
        long startNs = 98_765_432_101_234L;
        FleetRecord exec = FleetRecord.exec(host, 7, start + 5, 4242, startNs, "cc1", "/usr/bin/cc1",
                List.of("cc1", "-quiet", "x \"y\".c"));
        JsonNode e = JSON.readTree(exec.json());
        assertThat(exec.key()).isEqualTo("host-a/4242/" + startNs);
        assertThat(e.get("procwatch.event").asText()).isEqualTo("exec");
        assertThat(e.get("process.pid").asInt()).isEqualTo(4242);
        assertThat(e.get("process.executable.name").asText()).isEqualTo("cc1");
        assertThat(e.get("process.executable.path").asText()).isEqualTo("/usr/bin/cc1");
        assertThat(e.get("process.command_args").get(2).asText()).isEqualTo("x \"y\".c");
        assertThat(e.get("procwatch.start_ns").asLong()).isEqualTo(startNs);
        assertThat(java.time.Instant.parse(e.get("procwatch.time").asText()).toEpochMilli()).isEqualTo(start + 5);
        assertThat(e.has("procwatch.command_args_truncated")).isFalse();

        FleetRecord ids = FleetRecord.ids(host, 8, start + 9, 4242, startNs, 1000, 0, 1001, 0);
        JsonNode i = JSON.readTree(ids.json());
        assertThat(ids.key()).isEqualTo(exec.key());
        assertThat(i.get("procwatch.event").asText()).isEqualTo("id_change");
        assertThat(i.get("process.user.id").asInt()).isZero();
        assertThat(i.get("process.real_user.id").asInt()).isEqualTo(1000);
        assertThat(i.get("process.real_group.id").asInt()).isEqualTo(1001);

        FleetRecord rn = FleetRecord.rename(host, 9, start + 10, 4242, startNs, "worker");
        assertThat(rn.key()).isEqualTo(exec.key());
        assertThat(JSON.readTree(rn.json()).get("process.executable.name").asText()).isEqualTo("worker");

        FleetRecord cg = FleetRecord.cgroup(host, 9, start + 12, 4242, startNs, "/system.slice/x.service");
        JsonNode c = JSON.readTree(cg.json());
        assertThat(cg.key()).isEqualTo(exec.key());
        assertThat(c.get("procwatch.event").asText()).isEqualTo("cgroup_change");
        assertThat(c.get("process.linux.cgroup").asText()).isEqualTo("/system.slice/x.service");

        List<String> huge = new ArrayList<>();
        for (int k = 0; k < 100; k++) {
            huge.add("a".repeat(1000));
        }
        JsonNode h = JSON.readTree(FleetRecord.exec(host, 10, start, 1, startNs, "x", null, huge).json());
        assertThat(h.get("process.command_args")).hasSize(16);
        assertThat(h.get("procwatch.command_args_truncated").asBoolean()).isTrue();
        assertThat(h.has("process.executable.path")).isFalse();

        FleetRecord gap = FleetRecord.of(host, new JournalSource.Entry(11, start, new JournalSource.Gap(3)));
        JsonNode g = JSON.readTree(gap.json());
        assertThat(g.get("procwatch.loss.kind").asText()).isEqualTo("gap");
        assertThat(g.get("procwatch.loss.count").asLong()).isEqualTo(3);
        assertThat(FleetRecord.of(host, new JournalSource.Entry(12, start, "something else"))).isNull();
    }

    @Test
    void lossRecordsSayWhatWasDropped() throws Exception {
        HostIdentity host = new HostIdentity("h", "n", "b");
        JsonNode n = JSON.readTree(FleetRecord.loss(host, 41, 1_700_000_000_000L, "retention", 12, 29, 40).json());
        assertThat(n.get("procwatch.event").asText()).isEqualTo("loss");
        assertThat(n.get("procwatch.loss.kind").asText()).isEqualTo("retention");
        assertThat(n.get("procwatch.loss.count").asLong()).isEqualTo(12);
        assertThat(n.get("procwatch.loss.from_seq").asLong()).isEqualTo(29);
        assertThat(n.get("procwatch.loss.to_seq").asLong()).isEqualTo(40);
        assertThatThrownBy(() -> FleetRecord.loss(host, 1, 0, "whatever", 1, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void hostIdentityRejectsWhatWouldBreakKeysOrConsumers() throws Exception {
        for (String bad : new String[] {"", "a/b", "a b", "tab\t", "new\nline", "é", "x".repeat(256)}) {
            assertThatThrownBy(() -> new HostIdentity(bad, "n", "b")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new HostIdentity("h", bad, "b")).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> new HostIdentity(null, "n", "b")).isInstanceOf(IllegalArgumentException.class);
        HostIdentity here = HostIdentity.ofThisHost(null, null);
        assertThat(here.hostId()).isEqualTo(Files.readString(Path.of("/etc/machine-id")).strip());
        assertThat(here.bootId()).isEqualTo(Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip());
    }
}
