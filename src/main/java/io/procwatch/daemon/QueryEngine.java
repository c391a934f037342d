package io.procwatch.daemon;

import io.procwatch.cgroup.CgroupMatch;
import io.procwatch.cgroup.CgroupPaths;
import io.procwatch.procfs.ProcItems;
import io.procwatch.protocol.Selector;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.ProcessTable;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the processes a selector names, starting from the narrowest index (pid list, subtree,
 * children, name, uid, state) so a selective query costs O(matches), then checks every criterion
 * and the viewer's right to see each process.
 */
final class QueryEngine {
    private final ProcessTable table;
    private final java.nio.file.Path procRoot;
    /** Whether cgroup membership is the rows' own (a past table rebuilt from the journal) rather than /proc's now. */
    private final boolean rowsCgroups;

    QueryEngine(ProcessTable table, java.nio.file.Path procRoot) {
        this(table, procRoot, false);
    }

    /** @param rowsCgroups true for a table at a past instant: /proc says where processes are now, not then */
    QueryEngine(ProcessTable table, java.nio.file.Path procRoot, boolean rowsCgroups) {
        this.table = table;
        this.procRoot = procRoot;
        this.rowsCgroups = rowsCgroups;
    }

    List<ProcessInfo> select(Selector s, Viewer v) {
        Collection<ProcessInfo> candidates = candidates(s);
        List<ProcessInfo> out = new ArrayList<>();
        for (ProcessInfo p : candidates) {
            // a namespace is what /proc shows only to a ptrace-capable reader: selecting by one must
            // not tell a viewer more than ps's namespace columns would
            if (matches(s, p) && v.canSee(p) && (s.namespaces().isEmpty() || v.canTestNamespaces(p))) {
                out.add(p);
            }
        }
        out.sort(Comparator.comparingInt(ProcessInfo::pid));
        return out;
    }

    private Collection<ProcessInfo> candidates(Selector s) {
        if (!s.pids().isEmpty()) {
            Map<Integer, ProcessInfo> m = new LinkedHashMap<>();
            for (int pid : s.pids()) {
                ProcessInfo p = table.get(pid);
                if (p != null) {
                    m.put(pid, p);
                }
            }
            return m.values();
        }
        if (s.threadsOf() != null) {
            ProcessInfo p = table.get(s.threadsOf());
            return p == null ? List.of() : List.of(p);
        }
        if (s.subtreeOf() != null) {
            return table.subtree(s.subtreeOf());
        }
        if (s.childrenOf() != null) {
            return table.childrenOf(s.childrenOf());
        }
        if (s.name() != null) {
            return table.named(s.name());
        }
        if (!s.uids().isEmpty()) {
            Set<ProcessInfo> u = new HashSet<>();
            for (int uid : s.uids()) {
                u.addAll(table.ofUser(uid));
            }
            return u;
        }
        if (s.states() != null) {
            Set<ProcessInfo> st = new HashSet<>();
            for (char c : s.states().toCharArray()) {
                st.addAll(table.inState(c));
            }
            return st;
        }
        return table.all();
    }

    boolean matches(Selector s, ProcessInfo p) {
        if (!s.pids().isEmpty() && !s.pids().contains(p.pid())) {
            return false;
        }
        if (s.childrenOf() != null && p.ppid() != s.childrenOf()) {
            return false;
        }
        if (s.subtreeOf() != null && !isInSubtree(p, s.subtreeOf())) {
            return false;
        }
        if (s.threadsOf() != null && p.pid() != s.threadsOf()) {
            return false;
        }
        if (!s.uids().isEmpty() && !s.uids().contains(p.euid())) {
            return false;
        }
        if (s.states() != null && s.states().indexOf(p.stateClass()) < 0 && s.states().indexOf(p.state()) < 0) {
            return false;
        }
        if (s.name() != null && !p.comm().equals(s.name())) {
            return false;
        }
        if (s.match() != null && !p.comm().contains(s.match()) && !p.args().contains(s.match())) {
            return false;
        }
        if (!s.namespaces().isEmpty() && (rowsCgroups || !inNamespaces(p.pid(), s.namespaces()))) {
            return false; // a past table has no namespaces (not journaled: refused before this)
        }
        // cgroup membership: a live answer reads it now (only when asked for), which is right even
        // before the sampler's next pass has seen a move; a past table has only what the rows said
        return s.member().isAny() || CgroupMatch.matches(rowsCgroups
                ? (p.cgroup() == null ? null : CgroupPaths.lines(p.cgroup())) : cgroupLines(p.pid()), s.member());
    }

    /**
     * Whether the process is in one of the asked namespaces of each type asked for, read now from
     * /proc/PID/ns (no event reports setns or unshare; one readlink per type asked).
     */
    private boolean inNamespaces(int pid, List<String> asked) {
        java.util.Map<String, Long> now = new java.util.HashMap<>();
        java.util.Set<String> types = new java.util.LinkedHashSet<>();
        for (String n : asked) {
            types.add(io.procwatch.protocol.Namespaces.type(n));
        }
        for (String type : types) {
            long inode = nsInode(pid, type);
            if (inode <= 0) {
                return false; // gone or unreadable: no member of anything asked for
            }
            now.put(type, inode);
        }
        for (String type : types) {
            boolean any = false;
            for (String n : asked) {
                any |= io.procwatch.protocol.Namespaces.type(n).equals(type)
                        && io.procwatch.protocol.Namespaces.inode(n) == now.get(type);
            }
            if (!any) {
                return false;
            }
        }
        return true;
    }

    private long nsInode(int pid, String type) {
        try {
            String link = java.nio.file.Files.readSymbolicLink(procRoot.resolve(pid + "/ns/" + type)).toString();
            int open = link.indexOf('[');
            return open < 0 || !link.endsWith("]") ? -1 : Long.parseLong(link.substring(open + 1, link.length() - 1));
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    private List<String> cgroupLines(int pid) {
        List<String> kv = ProcItems.read(procRoot, pid, List.of("cgroup"), true);
        return kv.size() == 2 ? CgroupPaths.lines(kv.get(1)) : null;
    }

    boolean matches(Selector s, ExitedProcess e) {
        if (!s.namespaces().isEmpty()) {
            return false; // the history does not record namespaces: an exit is no member of one
        }
        // the cgroup it exited in, as its row held it (kept current by the sampler); an entry
        // without one (older, or never known) is no member of anything asked for
        if (!s.member().isAny() && !CgroupMatch.matches(e.cgroup() == null ? null : CgroupPaths.lines(e.cgroup()), s.member())) {
            return false;
        }
        if (!s.pids().isEmpty() && !s.pids().contains(e.pid())) {
            return false;
        }
        if (s.childrenOf() != null && e.ppid() != s.childrenOf()) {
            return false;
        }
        if (!s.uids().isEmpty() && !s.uids().contains(e.uid())) {
            return false;
        }
        if (s.name() != null && !e.comm().equals(s.name())) {
            return false;
        }
        if (s.subtreeOf() != null && e.pid() != s.subtreeOf() && e.ppid() != s.subtreeOf()) {
            ProcessInfo parent = table.get(e.ppid());
            if (parent == null || !isInSubtree(parent, s.subtreeOf())) {
                return false;
            }
        }
        return s.match() == null || e.comm().contains(s.match()) || e.args().contains(s.match());
    }

    /** Walks up the parent chain (bounded: a cycle from stale data must not hang the daemon). */
    boolean isInSubtree(ProcessInfo p, int root) {
        ProcessInfo cur = p;
        for (int depth = 0; cur != null && depth < 4096; depth++) {
            if (cur.pid() == root) {
                return true;
            }
            if (cur.ppid() <= 0 || cur.ppid() == cur.pid()) {
                return false;
            }
            cur = table.get(cur.ppid());
        }
        return false;
    }
}
