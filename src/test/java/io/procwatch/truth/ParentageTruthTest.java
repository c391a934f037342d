package io.procwatch.truth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.procwatch.client.ProcRow;
import io.procwatch.client.ProcwatchClient;
import io.procwatch.protocol.Groups;
import io.procwatch.protocol.Selector;
import io.procwatch.protocol.Wire;
import io.procwatch.testing.Cli;
import io.procwatch.testing.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cases 1 and 2 of the truth suite: orphans go to the kernel's new reaper (init, here whatever PID
 * 1 is, or a PR_SET_CHILD_SUBREAPER ancestor) and process groups follow setpgid. Each orphan wrote
 * down getppid() after it changed and getpgid(0); procwatch must say the same in ps (the parent
 * and group), --ppid (children of the new parent) and tree (the subtree of the new parent), at the
 * first look after the workload is ready.
 */
class ParentageTruthTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws Exception {
        daemon = DaemonProcess.start();
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        daemon.close();
    }

    @Test
    void orphanGoesToInit() throws Exception {
        checkOrphans("orphan_to_init", "init", 100);
    }

    @Test
    void orphanGoesToSubreaper() throws Exception {
        checkOrphans("orphan_to_subreaper", "subreaper", 100);
    }

    /** Case 2, second half: the orphan's group is its job-control shell's, not the workload's. */
    @Test
    void orphanKeepsItsOwnGroup() throws Exception {
        checkOrphans("orphan_pgid", "pgid", 100);
    }

    /** Case 2: a child that the daemon already has calls setpgid(0,0); ps -o pgid follows. */
    @Test
    void setpgidInSleepingChild() throws Exception {
        int n = 40;
        try (Workload w = Workload.start("setpgid", Integer.toString(n))) {
            w.await("ready");
            List<Truth> kids = w.truth("child");
            assertThat(kids).hasSize(n);
            Map<Integer, ProcRow> rows = rows(kids);
            int matched = 0;
            List<String> wrong = new ArrayList<>();
            for (Truth t : kids) {
                ProcRow r = rows.get(t.pid());
                if (r != null && r.pgrp == t.integer("pgid") && r.ppid == t.integer("ppid")) {
                    matched++;
                } else {
                    wrong.add(t.pid() + ": pgid " + (r == null ? "none" : r.pgrp) + " truth " + t.integer("pgid"));
                }
            }
            // the CLI's own column, for the same processes
            String pids = String.join(",", kids.stream().map(t -> Integer.toString(t.pid())).toList());
            Cli.Result ps = Cli.run(daemon.socket(), "ps", "-o", "pid=,pgid=", "-p", pids);
            int cliMatched = 0;
            Map<Integer, Integer> truthPgid = new HashMap<>();
            kids.forEach(t -> truthPgid.put(t.pid(), t.integer("pgid")));
            for (String line : ps.out().strip().split("\n")) {
                String[] f = line.strip().split("\\s+");
                if (f.length == 2 && Integer.valueOf(f[1]).equals(truthPgid.get(Integer.parseInt(f[0])))) {
                    cliMatched++;
                }
            }
            Report.line("setpgid_sleeping_child", matched, n, "ps -o pgid " + cliMatched + " of " + n
                    + (wrong.isEmpty() ? "" : "; wrong e.g. " + wrong.getFirst()));
            assertThat(wrong).isEmpty();
            assertThat(cliMatched).isEqualTo(n);
        }
    }

    private static void checkOrphans(String name, String mode, int n) throws Exception {
        try (Workload w = Workload.start("orphan", Integer.toString(n), mode)) {
            w.await("ready");
            List<Truth> orphans = w.truth("orphan");
            assertThat(orphans).hasSize(n);
            int workload = (int) w.pid();
            if (mode.equals("subreaper")) {
                assertThat(orphans).allMatch(t -> t.integer("ppid") == workload);
            }
            Map<Integer, ProcRow> rows = rows(orphans);
            Set<Integer> newParents = new HashSet<>();
            orphans.forEach(t -> newParents.add(t.integer("ppid")));
            Map<Integer, Set<Integer>> childrenOf = new HashMap<>();
            Map<Integer, Set<Integer>> subtreeOf = new HashMap<>();
            try (ProcwatchClient c = daemon.client()) {
                for (int p : newParents) {
                    childrenOf.put(p, pids(c.snapshot(Selector.all().withChildrenOf(p), Groups.BASE, Wire.F_FRESH).rows()));
                    subtreeOf.put(p, pids(c.snapshot(Selector.all().withSubtreeOf(p), Groups.BASE, Wire.F_FRESH).rows()));
                }
            }
            int matched = 0;
            int wrongParent = 0;
            int wrongGroup = 0;
            String example = "";
            for (Truth t : orphans) {
                ProcRow r = rows.get(t.pid());
                int ppid = t.integer("ppid");
                boolean parentOk = r != null && r.ppid == ppid && childrenOf.get(ppid).contains(t.pid())
                        && subtreeOf.get(ppid).contains(t.pid());
                boolean groupOk = r != null && r.pgrp == t.integer("pgid");
                wrongParent += parentOk ? 0 : 1;
                wrongGroup += groupOk ? 0 : 1;
                if (parentOk && groupOk) {
                    matched++;
                } else if (example.isEmpty()) {
                    example = "pid " + t.pid() + " ppid " + (r == null ? "none" : r.ppid) + " truth " + ppid + ", pgid "
                            + (r == null ? "none" : r.pgrp) + " truth " + t.integer("pgid");
                }
            }
            // the tree command itself, under the subreaper (under init it is every process)
            int treeMatched = -1;
            if (mode.equals("subreaper")) {
                Cli.Result tree = Cli.run(daemon.socket(), "tree", Integer.toString(workload), "--json");
                assertThat(tree.exit()).as(tree.err()).isZero();
                Set<Integer> under = new HashSet<>();
                JsonNode root = JSON.readTree(tree.out());
                for (JsonNode top : root.isArray() ? root : List.of(root)) {
                    for (JsonNode child : top.path("children")) {
                        under.add(child.path("pid").asInt());
                    }
                }
                treeMatched = (int) orphans.stream().filter(t -> under.contains(t.pid())).count();
            }
            Report.line(name, matched, n, "wrong parents " + wrongParent + ", wrong pgids " + wrongGroup
                    + (treeMatched >= 0 ? ", tree " + treeMatched + " of " + n : "")
                    + (example.isEmpty() ? "" : "; e.g. " + example));
            assertThat(wrongParent).isZero();
            assertThat(wrongGroup).isZero();
            assertThat(matched).isEqualTo(n);
            if (treeMatched >= 0) {
                assertThat(treeMatched).isEqualTo(n);
            }
        }
    }

    private static Map<Integer, ProcRow> rows(List<Truth> truth) throws Exception {
        List<Integer> pids = truth.stream().map(Truth::pid).toList();
        Map<Integer, ProcRow> out = new HashMap<>();
        try (ProcwatchClient c = daemon.client()) {
            Lookup.sync(c);
            for (ProcRow r : c.snapshot(Selector.all().withPids(pids), Groups.BASE, Wire.F_FRESH).rows()) {
                out.put(r.pid, r);
            }
        }
        return out;
    }

    private static Set<Integer> pids(List<ProcRow> rows) {
        Set<Integer> s = new HashSet<>();
        rows.forEach(r -> s.add(r.pid));
        return s;
    }
}
