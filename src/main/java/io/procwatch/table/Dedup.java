package io.procwatch.table;

import io.procwatch.event.WaitStatus;
import io.procwatch.taskstats.Taskstats;

import java.util.List;

/**
 * Equal values of the exits kept in memory made one object. An exit's strings are its own
 * copies (read from /proc, the exec event, its taskstats record or a database row), yet most of
 * them repeat from exit to exit: the same programs run again and again, from the same few
 * cgroups (whose line, kept in every exit, is the longest string of all), with the same wait
 * statuses. Measured at 10,000 exits of one program: the ring's strings and statuses were ~2.5 MiB
 * of live heap, about as much as the exits themselves (docs/benchmarks.md, "Footprint", session 8).
 *
 * <p>A small table indexed by hash, each slot holding the last value that landed there: a value
 * equal to its slot's is replaced by it, any other takes the slot. Bounded (a few hundred KiB at
 * most, whatever the history holds), no eviction to run, and a miss costs only the copy the
 * exit had anyway. Not thread-safe: {@link History} calls it under its lock.
 */
final class Dedup {
    private final Object[] strings = new Object[2048];
    private final Object[] lists = new Object[512];
    private final Object[] statuses = new Object[64];

    private static int slot(Object[] slots, Object v) {
        return (v.hashCode() * 0x9E3779B9) >>> (32 - Integer.numberOfTrailingZeros(slots.length));
    }

    private static <T> T canonical(Object[] slots, T v) {
        if (v == null) {
            return null;
        }
        int i = slot(slots, v);
        Object c = slots[i];
        if (c == v) {
            return v;
        }
        if (v.equals(c)) {
            @SuppressWarnings("unchecked")
            T same = (T) c;
            return same;
        }
        slots[i] = v;
        return v;
    }

    String string(String s) {
        return s == null || s.isEmpty() ? s : canonical(strings, s);
    }

    WaitStatus status(WaitStatus w) {
        return canonical(statuses, w);
    }

    /** An argv: one list object for equal lists, its elements shared as strings. */
    List<String> argv(List<String> argv) {
        if (argv == null || argv.isEmpty()) {
            return argv == null ? null : List.of();
        }
        int i = slot(lists, argv);
        Object c = lists[i];
        if (c == argv) {
            return argv;
        }
        if (argv.equals(c)) {
            @SuppressWarnings("unchecked")
            List<String> same = (List<String>) c;
            return same;
        }
        String[] parts = new String[argv.size()];
        for (int k = 0; k < parts.length; k++) {
            String a = argv.get(k);
            if (a == null) {
                return argv; // not a list List.of takes; kept as it is
            }
            parts[k] = string(a);
        }
        List<String> shared = List.of(parts);
        lists[i] = shared;
        return shared;
    }

    Taskstats taskstats(Taskstats t) {
        if (t == null) {
            return null;
        }
        String comm = string(t.comm());
        WaitStatus st = status(t.status());
        if (comm == t.comm() && st == t.status()) {
            return t;
        }
        return new Taskstats(t.version(), t.aggregate(), t.pid(), t.ppid(), t.uid(), t.gid(), comm, st, t.flags(),
                t.nice(), t.beginTimeSecs(), t.elapsedMicros(), t.userMicros(), t.systemMicros(), t.minorFaults(),
                t.majorFaults(), t.hiwaterRssKiB(), t.hiwaterVmKiB(), t.readChars(), t.writeChars(),
                t.readSyscalls(), t.writeSyscalls(), t.readBytes(), t.writeBytes(), t.cancelledWriteBytes(),
                t.voluntarySwitches(), t.involuntarySwitches(), t.tgid());
    }

    /** The exit with its values shared; the same object when there was nothing to share. */
    ExitedProcess exit(ExitedProcess e) {
        String comm = string(e.comm());
        String exe = string(e.exe());
        String cgroup = string(e.cgroup());
        List<String> argv = argv(e.argv());
        WaitStatus st = status(e.status());
        Taskstats t = taskstats(e.taskstats());
        if (comm == e.comm() && exe == e.exe() && cgroup == e.cgroup() && argv == e.argv() && st == e.status()
                && t == e.taskstats()) {
            return e;
        }
        return new ExitedProcess(e.seq(), e.pid(), e.ppid(), e.uid(), e.gid(), comm, exe, argv, e.startEpochMs(),
                e.endEpochMs(), st, e.coreDumped(), e.exitObserved(), e.argvKnown(), t, e.startNs(), cgroup);
    }
}
