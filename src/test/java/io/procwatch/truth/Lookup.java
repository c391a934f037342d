package io.procwatch.truth;

import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** What procwatch says about the workload's processes, through the client API. */
final class Lookup {
    private Lookup() {
    }

    /** Live rows by pid (a fresh answer), for pids in chunks the selector takes. */
    static Map<Integer, ProcRow> live(ProcwatchClient c, List<Integer> pids, long groups) throws IOException {
        Map<Integer, ProcRow> out = new HashMap<>();
        for (int i = 0; i < pids.size(); i += Selector.MAX_PIDS) {
            List<Integer> chunk = pids.subList(i, Math.min(pids.size(), i + Selector.MAX_PIDS));
            for (ProcRow r : c.snapshot(Selector.all().withPids(chunk), groups, Wire.F_FRESH).rows()) {
                out.put(r.pid, r);
            }
        }
        return out;
    }

    /** Every history entry of {@code pid}, oldest first. */
    static List<ProcRow> history(ProcwatchClient c, int pid) throws IOException {
        return c.history(Selector.all().withPids(List.of(pid)), 0, Long.MAX_VALUE, 1000, false).rows();
    }

    /** The whole history, oldest first. */
    static List<ProcRow> history(ProcwatchClient c) throws IOException {
        return c.history(Selector.all(), 0, Long.MAX_VALUE, 1_000_000, false).rows();
    }

    /**
     * History entries of {@code pid} that {@code mine} accepts (e.g. its parent is the workload),
     * waiting up to {@code timeoutMs} until there are at least {@code want}: the exit reaches the
     * history when the daemon has read the event.
     */
    static List<ProcRow> awaitHistory(ProcwatchClient c, int pid, Predicate<ProcRow> mine, int want, long timeoutMs)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        List<ProcRow> got;
        do {
            got = new ArrayList<>(history(c, pid).stream().filter(mine).toList());
            if (got.size() >= want) {
                return got;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return got;
    }

    /**
     * Waits until the daemon has applied every kernel event sent before this call: the events
     * come in order, so once the exit of a process started now is in the history, so is
     * everything the workload did before. (The table follows the kernel as soon as the event is
     * read; this takes the event's delivery out of a first-look comparison.)
     */
    static void sync(ProcwatchClient c) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/bin/true").start();
        p.waitFor();
        int pid = (int) p.pid();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (history(c, pid).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the daemon did not apply the exit of " + pid + " within 10 s");
            }
            Thread.sleep(5);
        }
    }

    /** History entries whose parent was {@code ppid}. */
    static List<ProcRow> children(ProcwatchClient c, int ppid) throws IOException {
        return history(c).stream().filter(r -> r.ppid == ppid).toList();
    }

    /** As {@link #children}, waiting up to {@code timeoutMs} until there are at least {@code want}. */
    static List<ProcRow> awaitChildren(ProcwatchClient c, int ppid, int want, long timeoutMs)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        List<ProcRow> got;
        do {
            got = children(c, ppid);
            if (got.size() >= want) {
                return got;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        return got;
    }

    static Map<String, Long> stats(ProcwatchClient c) throws IOException {
        return c.stats();
    }

    static long groupsAll() {
        return Groups.BASE | Groups.CMDLINE;
    }
}
