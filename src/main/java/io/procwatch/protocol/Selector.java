package io.procwatch.protocol;

import java.util.ArrayList;
import java.util.List;

/**
 * Which processes a request is about. Criteria of different kinds must all hold; several values of
 * one kind (pids, uids) are alternatives. An empty selector means all processes.
 */
public record Selector(List<Integer> pids, Integer childrenOf, Integer subtreeOf, Integer threadsOf,
                       List<Integer> uids, String states, String name, String match, Membership member,
                       List<String> namespaces) {

    public Selector {
        namespaces = namespaces == null ? List.of() : List.copyOf(namespaces);
    }

    public Selector(List<Integer> pids, Integer childrenOf, Integer subtreeOf, Integer threadsOf,
                    List<Integer> uids, String states, String name, String match, Membership member) {
        this(pids, childrenOf, subtreeOf, threadsOf, uids, states, name, match, member, List.of());
    }

    public Selector(List<Integer> pids, Integer childrenOf, Integer subtreeOf, Integer threadsOf,
                    List<Integer> uids, String states, String name, String match) {
        this(pids, childrenOf, subtreeOf, threadsOf, uids, states, name, match, Membership.ANY);
    }

    /** In these cgroups / containers / units too (S_CGROUP, S_CONTAINER, S_UNIT). */
    public Selector withMember(Membership m) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, uids, states, name, match, m, namespaces);
    }

    /** In these namespaces too (S_NAMESPACE values, {@link Namespaces#normalize normalized}). */
    public Selector withNamespaces(List<String> ns) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, uids, states, name, match, member, ns);
    }
    /** The most S_PID (and S_UID) values one selector may hold; clients page longer lists. */
    public static final int MAX_PIDS = 4096;

    public static Selector all() {
        return new Selector(List.of(), null, null, null, List.of(), null, null, null);
    }

    public Selector withPids(List<Integer> p) {
        return new Selector(List.copyOf(p), childrenOf, subtreeOf, threadsOf, uids, states, name, match, member, namespaces);
    }

    public Selector withChildrenOf(int pid) {
        return new Selector(pids, pid, subtreeOf, threadsOf, uids, states, name, match, member, namespaces);
    }

    public Selector withSubtreeOf(int pid) {
        return new Selector(pids, childrenOf, pid, threadsOf, uids, states, name, match, member, namespaces);
    }

    public Selector withThreadsOf(int pid) {
        return new Selector(pids, childrenOf, subtreeOf, pid, uids, states, name, match, member, namespaces);
    }

    public Selector withUids(List<Integer> u) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, List.copyOf(u), states, name, match, member, namespaces);
    }

    public Selector withStates(String s) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, uids, s, name, match, member, namespaces);
    }

    public Selector withName(String n) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, uids, states, n, match, member, namespaces);
    }

    public Selector withMatch(String m) {
        return new Selector(pids, childrenOf, subtreeOf, threadsOf, uids, states, name, m, member, namespaces);
    }

    public boolean isAll() {
        return pids.isEmpty() && childrenOf == null && subtreeOf == null && threadsOf == null && uids.isEmpty()
                && states == null && name == null && match == null && member.isAny() && namespaces.isEmpty();
    }

    public void encode(MessageBuilder m) {
        m.beginNested(Wire.A_SELECTOR);
        if (isAll()) {
            m.flag(Wire.S_ALL);
        }
        for (int p : pids) {
            m.u32(Wire.S_PID, p);
        }
        if (childrenOf != null) {
            m.u32(Wire.S_CHILDREN_OF, childrenOf);
        }
        if (subtreeOf != null) {
            m.u32(Wire.S_SUBTREE_OF, subtreeOf);
        }
        if (threadsOf != null) {
            m.u32(Wire.S_THREADS_OF, threadsOf);
        }
        for (int u : uids) {
            m.u32(Wire.S_UID, u);
        }
        if (states != null) {
            m.string(Wire.S_STATE, states);
        }
        if (name != null) {
            m.string(Wire.S_NAME, name);
        }
        if (match != null) {
            m.string(Wire.S_MATCH, match);
        }
        member.cgroups().forEach(c -> m.string(Wire.S_CGROUP, c));
        member.containers().forEach(c -> m.string(Wire.S_CONTAINER, c));
        member.units().forEach(u -> m.string(Wire.S_UNIT, u));
        namespaces.forEach(n -> m.string(Wire.S_NAMESPACE, n));
        m.endNested();
    }

    /** Decodes a selector; limits keep a hostile request from costing the daemon much. */
    public static Selector decode(Attrs a) throws ProtocolException {
        List<Integer> pids = new ArrayList<>();
        List<Integer> uids = new ArrayList<>();
        Integer children = null;
        Integer subtree = null;
        Integer threads = null;
        String states = null;
        String name = null;
        String match = null;
        List<String> cgroups = new ArrayList<>();
        List<String> containers = new ArrayList<>();
        List<String> units = new ArrayList<>();
        List<String> namespaces = new ArrayList<>();
        while (a.next()) {
            switch (a.type()) {
                case Wire.S_PID -> pids.add(a.u32());
                case Wire.S_UID -> uids.add(a.u32());
                case Wire.S_CHILDREN_OF -> children = a.u32();
                case Wire.S_SUBTREE_OF -> subtree = a.u32();
                case Wire.S_THREADS_OF -> threads = a.u32();
                case Wire.S_STATE -> states = limited(a.string(), 16, "state");
                case Wire.S_NAME -> name = limited(a.string(), 64, "name");
                case Wire.S_MATCH -> match = limited(a.string(), 256, "match");
                case Wire.S_CGROUP -> cgroups.add(member(a.string(), cgroups, "cgroup"));
                case Wire.S_CONTAINER -> containers.add(member(a.string(), containers, "container"));
                case Wire.S_UNIT -> units.add(member(a.string(), units, "unit"));
                case Wire.S_NAMESPACE -> {
                    if (namespaces.size() >= Namespaces.MAX_VALUES) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, "at most " + Namespaces.MAX_VALUES + " namespace values");
                    }
                    try {
                        namespaces.add(Namespaces.normalize(limited(a.string(), 64, "namespace")));
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Wire.E_BAD_ARGUMENT, e.getMessage());
                    }
                }
                default -> {
                    // S_ALL, or a kind this daemon does not know: skipped
                }
            }
        }
        if (a.malformed()) {
            throw new ProtocolException(Wire.E_MALFORMED, "malformed selector attribute");
        }
        if (pids.size() > MAX_PIDS || uids.size() > MAX_PIDS) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "selector lists at most 4096 pids and uids");
        }
        return new Selector(pids, children, subtree, threads, uids, states, name, match,
                new Membership(cgroups, containers, units), namespaces);
    }

    private static String member(String v, List<String> sofar, String what) throws ProtocolException {
        if (sofar.size() >= Membership.MAX_VALUES) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, "at most " + Membership.MAX_VALUES + " " + what + " values");
        }
        if (v.isEmpty() || (what.equals("cgroup") && !v.startsWith("/"))) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, what + " selector '" + v + "' is empty or not a path from /");
        }
        return limited(v, Membership.MAX_LENGTH, what);
    }

    private static String limited(String s, int max, String what) throws ProtocolException {
        if (s.length() > max) {
            throw new ProtocolException(Wire.E_BAD_ARGUMENT, what + " longer than " + max + " characters");
        }
        return s;
    }
}
