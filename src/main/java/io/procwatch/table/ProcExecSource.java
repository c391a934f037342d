package io.procwatch.table;

import io.procwatch.event.ProcEvent;
import io.procwatch.procfs.PidStat;
import io.procwatch.procfs.ProcFs;

import java.util.List;
import java.util.Optional;

/**
 * The fallback exec source: reads the new program from /proc right after the exec event. stat is
 * read before and after cmdline and exe: if it still shows the same, living life afterwards, what
 * was read in between is that process's; if its name changed in between, a second exec came (the
 * JDK's spawn helper execs the real program at once) and neither argv nor exe is claimed. A read
 * can still belong to a later exec of the same name that came before the first stat read: that
 * race is why the BPF capture exists, and why this source says so in stats.
 */
final class ProcExecSource implements ExecSource {
    private final ProcReader reader;
    private final ProcessTable.Counters counters;
    private final String why;

    ProcExecSource(ProcReader reader, ProcessTable.Counters counters) {
        this(reader, counters, "proc (no BPF exec capture)");
    }

    ProcExecSource(ProcReader reader, ProcessTable.Counters counters, String why) {
        this.reader = reader;
        this.counters = counters;
        this.why = why;
    }

    @Override
    public Program program(ProcEvent.Exec x, ProcessInfo row) {
        counters.execsFromProc.increment();
        int pid = x.tgid();
        ProcFs proc = reader.procFs();
        PidStat before = reader.stat(pid);
        Optional<List<String>> argv = proc.cmdlineAsExeced(pid);
        Optional<String> exe = proc.exe(pid);
        PidStat after = reader.stat(pid);
        if (after == null || !ProcReader.sameStart(row.startTicks, after.starttime())) {
            // Gone (or the pid is someone else's now): the new program is unknown. Say so rather
            // than claim the parent's; the exit's taskstats record brings the real name.
            counters.execsTooLate.increment();
            return Program.unknown();
        }
        boolean execedAgain = before != null && !before.comm().equals(after.comm());
        boolean zombie = after.state() == 'Z' || after.state() == 'X';
        if (zombie || execedAgain || argv.isEmpty() || argv.get().isEmpty()) {
            counters.execsTooLate.increment();
            return new Program(after.comm(), null, List.of(), false, after.starttime(), null);
        }
        return new Program(after.comm(), exe.orElse(null), argv.get(), true, after.starttime(), null);
    }

    @Override
    public String describe() {
        return why;
    }
}
