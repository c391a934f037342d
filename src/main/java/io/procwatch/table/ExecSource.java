package io.procwatch.table;

import io.procwatch.event.ProcEvent;

import java.util.List;

/**
 * Where the event applier learns what an exec started: the program's argv, name, executable and
 * credentials. The BPF capture gives them as the kernel saw them at the exec itself; without it,
 * /proc is read just after (which a process that ends or execs again at once can race).
 */
public interface ExecSource {
    /**
     * What {@code exec} started, for the life {@code row} (the pid's row when the event is applied).
     * Never returns null; an unknown argv is {@code argvKnown == false}, never another exec's argv.
     */
    Program program(ProcEvent.Exec exec, ProcessInfo row);

    /** Why this source is in use, for stats: "bpf" or the reason BPF capture is not running. */
    String describe();

    /**
     * @param comm       the new name, or null when unknown
     * @param exe        the executable's path, or null when unknown
     * @param argv       the argv (empty when unknown)
     * @param startTicks the process's start tick as /proc/PID/stat shows it, or 0 when unknown
     * @param creds      ruid, euid, rgid, egid after the exec (a set-id program changes them), or null
     */
    record Program(String comm, String exe, List<String> argv, boolean argvKnown, long startTicks, int[] creds) {
        public Program {
            argv = List.copyOf(argv);
        }

        /** Gone before anything could be learnt: name, argv and program all unknown (the name blank, not the parent's). */
        static Program unknown() {
            return new Program("", null, List.of(), false, 0, null);
        }
    }
}
