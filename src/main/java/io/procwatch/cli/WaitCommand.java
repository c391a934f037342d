package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.DaemonErrorException;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.WaitStatus;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code procwatch wait PID...}: waits for any processes (not only children) and reports their end. */
final class WaitCommand {
    static final String HELP = """
            Usage: procwatch wait PID... [options]
            Wait until each process exits and print how it ended. Works for any process, not only
            children of this shell. Exits with the last process's status (code, or 128 + signal).

              --timeout SECS   give up after SECS, 0 to 4294967 (exit status 124; 0 = never)
            A pid that is no process (none such, or a thread id) exits 127, as the shell's wait does:
            1 to 126 may be the process's own status.
              --json           one JSON object per exited process
            Examples:
              procwatch wait 1234 && echo done
              procwatch wait $(pgrep make) --timeout 600
            """;

    /** The longest --timeout: the protocol's u32 of milliseconds. */
    static final long MAX_TIMEOUT_S = 0xffffffffL / 1000;

    private WaitCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket", "timeout"), Set.of("json", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (o.positional.isEmpty()) {
                throw new UsageException("which process? give at least one PID");
            }
            List<Integer> pids = new ArrayList<>();
            for (String p : o.positional) {
                pids.add(Opts.pid("PID", p));
            }
            // the protocol carries the timeout as u32 milliseconds; 0 is none
            long timeoutMs = o.longValue("timeout", 0, 0, MAX_TIMEOUT_S) * 1000L;
            boolean json = o.has("json");
            int[] last = {0};
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                c.waitFor(pids, timeoutMs, (ProcRow r) -> {
                    if (json) {
                        out.println(Json.value(EventFormat.json(r)));
                    } else {
                        out.println(r.pid + " (" + Printable.text(r.comm) + ") " + describe(r) + " after "
                                + Times.duration(r.endMs - r.startMs));
                    }
                    out.flush();
                    last[0] = r.status < 0 ? 255 : new WaitStatus(r.status).shellStatus();
                });
            } catch (DaemonErrorException e) {
                err.println("procwatch wait: " + e.getMessage());
                return e.code() == io.procwatch.protocol.Wire.E_TIMEOUT ? 124 : 127;
            }
            return last[0];
        } catch (UsageException e) {
            err.println("procwatch wait: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch wait: " + e.getMessage());
            return 1;
        }
    }

    private static String describe(ProcRow r) {
        if (r.exitUnobserved || r.status < 0) {
            return "ended (exit not observed)";
        }
        WaitStatus s = new WaitStatus(r.status);
        return s.exited() ? "exited with status " + s.exitCode()
                : "was killed by " + s + (s.coreDumped() ? "" : "");
    }
}
