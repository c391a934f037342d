package io.procwatch.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /api/v1/processes?o=...}: the HTTP API reads ps's own field descriptors, so its rows
 * are what {@code ps -o ... --json} prints for the same processes (the test's own children, whose
 * pid, parent, name and command line it knows), private fields follow the one visibility rule
 * (another user gets no exe of root's process), and bad field lists are a 400 with a message.
 */
class HttpFieldsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int NOBODY = 65534;
    private static final String FIELDS = "pid,ppid,user,uid,stat,comm,args,nlwp,tty,ni";

    private static String[] get(List<String> prefix, int port, String pathAndQuery) throws Exception {
        return io.procwatch.testing.Curl.get(prefix, port, pathAndQuery);
    }

    private static Map<Integer, JsonNode> byPid(String json) throws Exception {
        Map<Integer, JsonNode> m = new HashMap<>();
        for (JsonNode r : JSON.readTree(json)) {
            m.put(r.get("pid").asInt(), r);
        }
        return m;
    }

    @Test
    void fieldRowsAreWhatPsJsonPrints() throws Exception {
        Path sockDir = Files.createTempDirectory("pw-httpo");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<Process> kids = new ArrayList<>();
        try (DaemonProcess daemon = DaemonProcess.start(sockDir.resolve("procwatch.sock"), "--http", "127.0.0.1:" + port)) {
            for (int i = 0; i < 3; i++) {
                kids.add(new ProcessBuilder("sleep", "8893" + i).start());
            }
            // until the daemon has seen each child's exec (the fork event can come first)
            String[] r;
            Map<Integer, JsonNode> http;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (true) {
                r = get(List.of(), port, "/api/v1/processes?o=" + FIELDS);
                assertThat(r[0]).as(r[1]).isEqualTo("200");
                http = byPid(r[1]);
                boolean all = true;
                for (int i = 0; i < kids.size(); i++) {
                    JsonNode h = http.get((int) kids.get(i).pid());
                    all &= h != null && h.get("args").asText().equals("sleep 8893" + i);
                }
                if (all || System.nanoTime() > deadline) {
                    break;
                }
                Thread.sleep(50);
            }
            Cli.Result ps = Cli.run(daemon.socket(), "ps", "-e", "-o", FIELDS, "--json");
            assertThat(ps.exit()).as(ps.err()).isZero();
            Map<Integer, JsonNode> psRows = byPid(ps.out());
            long me = ProcessHandle.current().pid();
            for (int i = 0; i < kids.size(); i++) {
                int pid = (int) kids.get(i).pid();
                JsonNode h = http.get(pid);
                assertThat(h).as("child %d in the HTTP rows", pid).isNotNull();
                // what the test knows of its own children
                assertThat(h.get("ppid").asLong()).isEqualTo(me);
                assertThat(h.get("comm").asText()).isEqualTo("sleep");
                assertThat(h.get("args").asText()).isEqualTo("sleep 8893" + i);
                assertThat(h.get("user").asText()).isEqualTo("root");
                assertThat(h.get("stat").asText()).startsWith("S");
                // and the same object, key for key, as ps --json prints with the same names
                assertThat(h).isEqualTo(psRows.get(pid));
                List<String> keys = new ArrayList<>();
                h.fieldNames().forEachRemaining(keys::add);
                assertThat(keys).containsExactly("pid", "ppid", "user", "uid", "stat", "comm", "args", "nlwp", "tty", "nice");
            }

            // a private field: root sees its child's exe, another user does not
            int pid = (int) kids.get(0).pid();
            String[] rootExe = get(List.of(), port, "/api/v1/processes?o=pid,exe&pid=" + pid);
            assertThat(rootExe[0]).isEqualTo("200");
            assertThat(byPid(rootExe[1]).get(pid).get("exe").asText()).endsWith("/sleep");
            List<String> nobody = List.of("setpriv", "--reuid", String.valueOf(NOBODY), "--regid", String.valueOf(NOBODY),
                    "--clear-groups");
            String[] theirs = get(nobody, port, "/api/v1/processes?o=pid,exe&pid=" + pid);
            assertThat(theirs[0]).as(theirs[1]).isEqualTo("200");
            JsonNode row = byPid(theirs[1]).get(pid);
            assertThat(row).as("nobody may see that root's process exists (no hidepid here)").isNotNull();
            assertThat(row.get("exe").isNull()).as("root's exe for nobody: %s", row).isTrue();

            // bad lists
            String[] unknown = get(List.of(), port, "/api/v1/processes?o=pid,nosuchfield");
            assertThat(unknown[0]).isEqualTo("400");
            assertThat(unknown[1]).contains("unknown field 'nosuchfield'");
            String[] many = get(List.of(), port, "/api/v1/processes?o=" + "pid,".repeat(70) + "pid");
            assertThat(many[0]).isEqualTo("400");
            assertThat(many[1]).contains("at most 64 fields");
            String[] past = get(List.of(), port, "/api/v1/processes?o=pid&at=@1");
            assertThat(past[0]).isEqualTo("400");
        } finally {
            for (Process k : kids) {
                k.destroyForcibly().waitFor();
            }
        }
    }
}
