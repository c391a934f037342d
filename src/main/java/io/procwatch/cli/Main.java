package io.procwatch.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/** The procwatch command: dispatches to a subcommand. */
public final class Main {
    static final String HELP = """
            Usage: procwatch COMMAND [options]
            A Linux process monitor fed by the kernel's process events instead of /proc scans.

            Commands:
              ps        processes, procps ps syntax (ps -ef, ps aux, ps -o ...)
              top       live view of processes, event rates and recent exits, like top
              tree      process tree, like pstree
              events    live stream of fork/exec/exit/... events, like forkstat
              history   exited processes: exit code or signal, lifetime, CPU, memory
              diff      processes started, exited and changed between two instants (the journal)
              wait      wait until processes exit (any process) and report how
              stats     daemon counters: table size, event rates, losses, clients
              daemon    run the daemon (started on demand when a command runs as root)
              fleet     every host's exits from the Kafka topic daemons send to (history, events, hosts)
              generate  man1, man8 or bash-completion: the man pages and completion script
                        (procwatch install puts them where man and bash look)

            Every command takes --help, --json and --socket PATH.
            Examples:
              sudo procwatch ps -ef
              procwatch events --type exec,exit
              procwatch history --failed --since 1h
              procwatch wait 1234
            """;

    private Main() {
    }

    public static void main(String[] args) {
        int code;
        // One write(2) per 64 KiB, not per line: at 10,000 rows that is most of ps's time.
        // Streaming commands (events, wait) flush after each item themselves.
        PrintStream out = new PrintStream(new java.io.BufferedOutputStream(
                new java.io.FileOutputStream(java.io.FileDescriptor.out), 1 << 16), false,
                java.nio.charset.StandardCharsets.UTF_8);
        try {
            code = run(Arrays.asList(args), out, System.err);
        } catch (RuntimeException e) {
            // A bug, not the user's fault: one clear line (the trace only with PROCWATCH_DEBUG set).
            System.err.println("procwatch: internal error: " + e + " (please report it)");
            if (System.getenv("PROCWATCH_DEBUG") != null) {
                e.printStackTrace();
            }
            code = 70;
        }
        out.flush();
        System.exit(code);
    }

    public static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.isEmpty() || args.getFirst().equals("--help") || args.getFirst().equals("help")) {
            out.print(HELP);
            return args.isEmpty() ? 2 : 0;
        }
        List<String> rest = args.subList(1, args.size());
        return switch (args.getFirst()) {
            case "ps" -> PsCommand.run(rest, out, err);
            case "tree" -> TreeCommand.run(rest, out, err);
            case "top" -> TopCommand.run(rest, out, err);
            case "events" -> EventsCommand.run(rest, out, err);
            case "history" -> HistoryCommand.run(rest, out, err);
            case "diff" -> DiffCommand.run(rest, out, err);
            case "wait" -> WaitCommand.run(rest, out, err);
            case "stats" -> StatsCommand.run(rest, out, err);
            case "daemon" -> DaemonCommand.run(rest, out, err);
            case "fleet" -> FleetCommand.run(rest, out, err);
            case "generate" -> OperatorKit.run(rest, out, err);
            case "--version", "version" -> {
                out.println("procwatch 0.1.0");
                yield 0;
            }
            case "--aot-training" -> AotTraining.run(out);
            default -> {
                err.println("procwatch: unknown command '" + args.getFirst() + "'");
                err.println("Try 'procwatch --help'.");
                yield 2;
            }
        };
    }
}
