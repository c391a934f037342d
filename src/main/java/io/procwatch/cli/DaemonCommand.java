package io.procwatch.cli;

import io.procwatch.daemon.Daemon;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** {@code procwatch daemon}: runs the daemon in the foreground (systemd) or --background. */
final class DaemonCommand {
    static final String HELP = """
            Usage: procwatch daemon [options]
            Keep the live process table from kernel events and serve procwatch clients.
            Needs root (or CAP_NET_ADMIN for taskstats and CAP_SYS_PTRACE to read every /proc entry).

              --socket PATH       Unix socket (default /run/procwatch/procwatch.sock or $PROCWATCH_SOCKET)
              --history N         exited processes kept in memory (default 100000)
              --max-clients N     concurrent clients (default 256)
              --proc-root PATH    the proc filesystem to read (default /proc)
              --background        start detached, wait until it answers, then return
            Examples:
              sudo procwatch daemon --background
              sudo procwatch daemon --socket /tmp/pw.sock --history 10000
            """;

    private DaemonCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Opts o;
        try {
            o = Opts.parse(args, Set.of("socket", "history", "max-clients", "proc-root"), Set.of("background", "help"));
            if (o.has("help")) {
                out.print(HELP);
                return 0;
            }
            if (!o.positional.isEmpty()) {
                throw new UsageException("unexpected argument " + o.positional.getFirst());
            }
        } catch (UsageException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 2;
        }
        try {
            Daemon.Options d = Daemon.Options.defaults();
            Path socket = o.get("socket") != null ? Path.of(o.get("socket")) : d.socket();
            if (o.has("background")) {
                DaemonLink.startDaemon(socket, err);
                return 0;
            }
            Daemon.Options opts = new Daemon.Options(socket, o.intValue("history", d.historyCapacity()),
                    o.intValue("max-clients", d.maxClients()),
                    o.get("proc-root") != null ? Path.of(o.get("proc-root")) : d.procRoot());
            if (opts.historyCapacity() < 1 || opts.maxClients() < 1) {
                throw new UsageException("--history and --max-clients must be at least 1");
            }
            Daemon daemon = Daemon.start(opts);
            err.println("procwatch daemon: pid " + ProcessHandle.current().pid() + ", serving on " + socket
                    + ", tracking " + daemon.live().table().size() + " processes");
            SystemdNotify.ready();
            daemon.awaitShutdown();
            return 0;
        } catch (UsageException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("procwatch daemon: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }
}
