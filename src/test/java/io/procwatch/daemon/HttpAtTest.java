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
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /api/v1/processes?at=WHEN}: the table at a past instant, the same processes with the
 * same pid, ppid, user, comm and command line as {@code ps --at WHEN --json} prints for that
 * instant, a process of the test's own that lived then (and none it started after), another
 * user's exec-time command line not shown to nobody, and 400/409 with a message for a WHEN that
 * is not a time, one before the journal, in the future, and one while no daemon ran.
 */
class HttpAtTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int NOBODY = 65534;

    private static String[] get(List<String> prefix, int port, String pathAndQuery) throws Exception {
        return io.procwatch.testing.Curl.get(prefix, port, pathAndQuery);
    }

    @Test
    void processesAtAnInstantAreWhatPsAtPrints() throws Exception {
        Path dir = Files.createTempDirectory("pw-httpat");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path sockDir = Files.createTempDirectory("pw-httpat-sock");
        Files.setPosixFilePermissions(sockDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = sockDir.resolve("procwatch.sock");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String[] args = {"--history-db", dir.resolve("history.db").toString(), "--journal-checkpoint", "3",
                "--journal-sample", "1", "--http", "127.0.0.1:" + port};
        DaemonProcess daemon = DaemonProcess.start(socket, args);
        Process then = null;
        Process later = null;
        try {
            then = new ProcessBuilder("sleep", "88901").start();
            Thread.sleep(2000);
            long at = System.currentTimeMillis();
            Thread.sleep(2000);
            then.destroy();
            then.waitFor();
            later = new ProcessBuilder("sleep", "88902").start();
            Thread.sleep(1500);

            String when = String.format(Locale.ROOT, "@%d.%03d", at / 1000, at % 1000);
            String[] r = get(List.of(), port, "/api/v1/processes?at=" + at);
            assertThat(r[0]).as(r[1]).isEqualTo("200");
            Map<Integer, JsonNode> http = new HashMap<>();
            for (JsonNode p : JSON.readTree(r[1])) {
                http.put(p.get("pid").asInt(), p);
            }
            // the test's own processes: the one alive then, exactly; not the one started after
            JsonNode mine = http.get((int) then.pid());
            assertThat(mine).as("sleep 88901 (pid " + then.pid() + ") at the instant").isNotNull();
            assertThat(mine.get("argv").toString()).isEqualTo("[\"sleep\",\"88901\"]");
            assertThat(mine.get("ppid").asLong()).isEqualTo(ProcessHandle.current().pid());
            assertThat(http).doesNotContainKey((int) later.pid());

            // the same instant through ps --at --json (the socket's SNAPSHOT with A_AT_MS): the same rows
            Cli.Result ps = Cli.run(socket, "ps", "--at", when, "-eo", "pid,ppid,uid,comm,args", "--json");
            assertThat(ps.exit()).as(ps.err()).isZero();
            Map<Integer, JsonNode> viaPs = new HashMap<>();
            for (JsonNode p : JSON.readTree(ps.out())) {
                viaPs.put(p.get("pid").asInt(), p);
            }
            assertThat(http.keySet()).isEqualTo(viaPs.keySet());
            List<String> wrong = new ArrayList<>();
            for (Map.Entry<Integer, JsonNode> e : http.entrySet()) {
                JsonNode h = e.getValue();
                JsonNode p = viaPs.get(e.getKey());
                List<String> argv = new ArrayList<>();
                h.get("argv").forEach(a -> argv.add(a.asText()));
                String cmdline = argv.isEmpty() ? "[" + h.get("comm").asText() + "]"
                        + (h.get("state").asText().equals("Z") ? " <defunct>" : "") : String.join(" ", argv);
                if (h.get("ppid").asInt() != p.get("ppid").asInt() || h.get("uid").asInt() != p.get("uid").asInt()
                        || !h.get("comm").asText().equals(p.get("comm").asText())
                        || !cmdline.equals(p.get("args").asText())) {
                    wrong.add(h + " vs ps " + p);
                }
            }
            assertThat(wrong).as("rows that differ between HTTP ?at= and ps --at --json").isEmpty();
            System.out.println("HttpAtTest: " + http.size() + " rows, all equal to ps --at --json's");

            // another user: the same processes, root's exec-time command lines not shown
            String[] other = get(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"), port,
                    "/api/v1/processes?at=" + at + "&pid=" + then.pid());
            assertThat(other[0]).as(other[1]).isEqualTo("200");
            JsonNode seen = JSON.readTree(other[1]);
            assertThat(seen).hasSize(1);
            assertThat(seen.get(0).get("argv").isNull()).isTrue();
            assertThat(seen.get(0).get("comm").asText()).isEqualTo("sleep");

            // WHEN forms: the same instant as @seconds
            String[] sameAt = get(List.of(), port, "/api/v1/processes?pid=" + then.pid() + "&at=" + when);
            assertThat(sameAt[0]).isEqualTo("200");
            assertThat(JSON.readTree(sameAt[1])).hasSize(1);

            String[] bad = get(List.of(), port, "/api/v1/processes?at=yesterday-ish");
            assertThat(bad[0]).isEqualTo("400");
            assertThat(bad[1]).contains("cannot read the time");
            String[] early = get(List.of(), port, "/api/v1/processes?at=@1000000000");
            assertThat(early[0]).isEqualTo("409");
            assertThat(early[1]).contains("nothing that early");
            String[] future = get(List.of(), port, "/api/v1/processes?at=" + (System.currentTimeMillis() + 3_600_000));
            assertThat(future[0]).isEqualTo("409");
            assertThat(future[1]).contains("future");

            assertThat(daemon.stop()).isZero();
            Thread.sleep(2000);
            long down = System.currentTimeMillis() - 1000;
            daemon = DaemonProcess.start(socket, args);
            String[] gap = get(List.of(), port, "/api/v1/processes?at=" + down);
            assertThat(gap[0]).as(gap[1]).isEqualTo("409");
            assertThat(gap[1]).contains("gap").contains("no daemon was running");
        } finally {
            if (then != null) {
                then.destroyForcibly();
            }
            if (later != null) {
                later.destroyForcibly();
            }
            daemon.close();
        }
    }
}
