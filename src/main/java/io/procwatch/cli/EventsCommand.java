package io.procwatch.cli;

import io.procwatch.json.Json;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.event.EventType;
import io.procwatch.protocol.Selector;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code procwatch events}: the live event stream, like forkstat. */
final class EventsCommand {
    static final String HELP = """
            Usage: procwatch events [options]
            Stream process events as the kernel reports them, enriched by the daemon (like forkstat):
            time, event, pid, parent, user, detail (exit status and lifetime...), command.

              --type LIST     fork,exec,exit,uid,gid,sid,ptrace,comm,coredump (default: all);
                              'failed' = exits with a non-zero code or a signal
              --pid LIST      only these processes        --tree PID   a process and its descendants
              --user USER     only this user's            --name COMM  only this command name
              --match TEXT    command name or line contains TEXT
              --cgroup PATH   only processes in this cgroup or below   --container ID   --unit NAME
              --ns TYPE:INODE only processes in this namespace (net:4026531840, netns:..., as
                              readlink /proc/PID/ns/net prints it); only processes whose namespaces
                              you may read (yours, or all as root)
              --count N       stop after N events         --no-threads  leave out thread clone/exit
              --json          one JSON object per line
            Examples:
              procwatch events --type exec,exit
              procwatch events --tree 1234 --json
              procwatch events --type failed
            """;

    private EventsCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        try {
            Opts o = Opts.parse(args, Set.of("socket", "type", "pid", "tree", "user", "name", "match", "count",
                    "cgroup", "container", "unit", "ns"),
                    Set.of("json", "no-threads", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (!o.positional.isEmpty()) {
                throw new UsageException("unexpected argument " + o.positional.getFirst());
            }
            int mask = 0;
            if (o.get("type") == null) {
                mask = EventType.mask(EventType.all());
            } else {
                for (String t : o.get("type").split(",")) {
                    mask |= switch (t.trim().toLowerCase(Locale.ROOT)) {
                        case "fork", "clone" -> EventType.FORK.bit;
                        case "exec" -> EventType.EXEC.bit;
                        case "exit" -> EventType.EXIT.bit;
                        case "failed" -> EventType.NONZERO_EXIT.bit;
                        case "uid" -> EventType.UID.bit;
                        case "gid" -> EventType.GID.bit;
                        case "sid" -> EventType.SID.bit;
                        case "ptrace" -> EventType.PTRACE.bit;
                        case "comm" -> EventType.COMM.bit;
                        case "coredump", "core" -> EventType.COREDUMP.bit;
                        default -> throw new UsageException("unknown event type '" + t
                                + "' (fork, exec, exit, failed, uid, gid, sid, ptrace, comm, coredump)");
                    };
                }
            }
            Selector sel = Selector.all();
            if (o.get("pid") != null) {
                List<Integer> pids = new ArrayList<>();
                for (String p : o.get("pid").split(",")) {
                    pids.add(Opts.pid("--pid", p));
                }
                sel = sel.withPids(pids);
            }
            if (o.get("tree") != null) {
                sel = sel.withSubtreeOf(Opts.pid("--tree", o.get("tree")));
            }
            sel = o.narrow(sel);
            CgroupFilter member = new CgroupFilter();
            for (String kind : List.of("cgroup", "container", "unit", "ns")) {
                if (o.get(kind) != null) {
                    member.add(kind, o.get(kind));
                }
            }
            // decided by the daemon as each event comes (an exit: by the process's earlier events)
            sel = sel.withMember(member.membership()).withNamespaces(member.namespaces());
            int limit = o.intValue("count", 0, 0, Integer.MAX_VALUE);
            boolean json = o.has("json");
            boolean threads = !o.has("no-threads");
            try (ProcwatchClient c = DaemonLink.connect(ProcwatchClient.socketPath(o.get("socket")), true, err)) {
                if (!json) {
                    out.println(EventFormat.HEADER);
                    out.flush();
                }
                int[] seen = {0};
                c.subscribe(sel, mask, 0, item -> {
                    switch (item) {
                        case ProcwatchClient.Event e -> {
                            ProcRow r = e.row();
                            if (!threads && r.thread) {
                                return true;
                            }
                            out.println(json ? Json.value(EventFormat.json(r)) : EventFormat.line(r));
                            seen[0]++;
                        }
                        case ProcwatchClient.Lost l -> {
                            if (json) {
                                out.println("{\"event\":\"loss\",\"lost\":" + l.events() + ",\"detail\":"
                                        + Json.value(l.why()) + "}");
                            } else {
                                err.println("procwatch events: " + l.why());
                            }
                        }
                    }
                    out.flush();
                    return limit == 0 || seen[0] < limit;
                });
            }
            return 0;
        } catch (UsageException e) {
            err.println("procwatch events: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch events: " + e.getMessage());
            return 1;
        }
    }
}
