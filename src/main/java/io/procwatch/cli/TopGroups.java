package io.procwatch.cli;

import io.procwatch.cgroup.CgroupGroups;
import io.procwatch.cgroup.CgroupPaths;
import io.procwatch.cgroup.GroupFiles;
import io.procwatch.client.ProcRow;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * top's group view (key g, {@code --group}): the rows of the view folded into cgroups, systemd
 * units or containers, like systemd-cgtop, with the members' summed interval %CPU, RES, VIRT,
 * CPU time and thread counts, and the group's own cgroup v2 accounting: CPU used (cpu.stat
 * usage_usec, also as a rate since the previous refresh), memory.current, and the avg10 of its
 * PSI files. Those files are read for the groups in the view only, once per refresh; a value
 * that cannot be read shows as "-".
 */
final class TopGroups {
    /** Columns of the group view, in order; the sort keys that name one of them sort by it. */
    static final List<String> COLUMNS = List.of("PROCS", "TASKS", "%CPU", "RES", "CG%CPU", "CGTIME+", "CGMEM",
            "PSICPU", "PSIMEM", "PSIIO", "GROUP");
    private static final int[] WIDTHS = {5, 5, 5, 7, 6, 10, 7, 6, 6, 6};

    /** One group of a refresh. */
    record Group(String name, String cgroup, List<ProcRow> members, long tasks, long cpuTenths, long resKiB,
                 long virtKiB, long ticks, GroupFiles.Stats v2, double cgCpuPercent) {
        int procs() {
            return members.size();
        }
    }

    private final CgroupGroups.By by;
    /** cgroup path -> {usage_usec, nanoTime when read}: the previous refresh's, for CG%CPU. */
    private Map<String, long[]> lastUsage = new HashMap<>();
    /** cgroup path -> what the last refresh read, and the CG%CPU it worked out: for a re-sort between refreshes. */
    private Map<String, GroupFiles.Stats> lastStats = new HashMap<>();
    private Map<String, Double> lastRate = new HashMap<>();

    TopGroups(CgroupGroups.By by) {
        this.by = by;
    }

    CgroupGroups.By by() {
        return by;
    }

    /** Folds the (already filtered) rows and sorts the groups by the view's column. */
    List<Group> fold(List<TopView.Row> rows, String sortColumn, boolean ascending) {
        return fold(rows, sortColumn, ascending, true);
    }

    /** As {@link #fold}, after a key (sort, filter) between refreshes: no file is read, the refresh's values are reused. */
    List<Group> refold(List<TopView.Row> rows, String sortColumn, boolean ascending) {
        return fold(rows, sortColumn, ascending, false);
    }

    private List<Group> fold(List<TopView.Row> rows, String sortColumn, boolean ascending, boolean read) {
        Map<CgroupGroups.Group, List<ProcRow>> byGroup = new LinkedHashMap<>();
        for (TopView.Row r : rows) {
            String all = r.row().items.get("cgroup");
            List<String> lines = all == null ? null : CgroupPaths.lines(all);
            byGroup.computeIfAbsent(CgroupGroups.of(lines, by), k -> new ArrayList<>()).add(r.row());
        }
        Map<String, long[]> usage = new HashMap<>();
        Map<String, GroupFiles.Stats> stats = new HashMap<>();
        Map<String, Double> rates = new HashMap<>();
        List<Group> out = new ArrayList<>(byGroup.size());
        for (var e : byGroup.entrySet()) {
            long tasks = 0;
            long cpu = 0;
            long res = 0;
            long virt = 0;
            long ticks = 0;
            for (ProcRow r : e.getValue()) {
                tasks += Math.max(r.nlwp, 1);
                cpu += Math.max(r.cpuTenthsNow, 0);
                res += Math.max(r.rssKiB, 0);
                virt += r.vsize < 0 ? 0 : r.vsize / 1024;
                ticks += r.utime < 0 ? 0 : r.utime + r.stime;
            }
            String path = e.getKey().unifiedPath();
            if (!read) {
                GroupFiles.Stats v2 = path == null ? GroupFiles.Stats.NONE : lastStats.getOrDefault(path, GroupFiles.Stats.NONE);
                out.add(new Group(e.getKey().name(), path, List.copyOf(e.getValue()), tasks, cpu, res, virt, ticks, v2,
                        path == null ? Double.NaN : lastRate.getOrDefault(path, Double.NaN)));
                continue;
            }
            GroupFiles.Stats v2 = path == null ? GroupFiles.Stats.NONE : GroupFiles.read(path);
            double rate = Double.NaN;
            if (path != null && v2.cpuUsageUsec() >= 0) {
                long now = System.nanoTime();
                usage.put(path, new long[] {v2.cpuUsageUsec(), now});
                long[] before = lastUsage.get(path);
                if (before != null && now > before[1] && v2.cpuUsageUsec() >= before[0]) {
                    rate = (v2.cpuUsageUsec() - before[0]) * 1000.0 / (now - before[1]) * 100;
                }
            }
            out.add(new Group(e.getKey().name(), path, List.copyOf(e.getValue()), tasks, cpu, res, virt, ticks, v2, rate));
            if (path != null) {
                stats.put(path, v2);
                rates.put(path, rate);
            }
        }
        out.sort(comparator(sortColumn, ascending));
        if (!read) {
            return out;
        }
        lastUsage = usage;
        lastStats = stats;
        lastRate = rates;
        return out;
    }

    /** The group value a sort column means: top's own columns map to their sums, PID to the process count. */
    private static Comparator<Group> comparator(String column, boolean ascending) {
        Comparator<Group> c = switch (column.toUpperCase(Locale.ROOT)) {
            case "%CPU" -> Comparator.comparingLong(Group::cpuTenths);
            case "%MEM", "RES" -> Comparator.comparingLong(Group::resKiB);
            case "VIRT" -> Comparator.comparingLong(Group::virtKiB);
            case "TIME+" -> Comparator.comparingLong(Group::ticks);
            case "PID", "PROCS" -> Comparator.comparingInt(Group::procs);
            case "TASKS" -> Comparator.comparingLong(Group::tasks);
            case "CG%CPU" -> Comparator.comparingDouble(g -> known(g.cgCpuPercent()));
            case "CGTIME+" -> Comparator.comparingLong(g -> g.v2().cpuUsageUsec());
            case "CGMEM" -> Comparator.comparingLong(g -> g.v2().memoryCurrentBytes());
            case "PSICPU" -> Comparator.comparingDouble(g -> known(g.v2().cpuSome10()));
            case "PSIMEM" -> Comparator.comparingDouble(g -> known(g.v2().memorySome10()));
            case "PSIIO" -> Comparator.comparingDouble(g -> known(g.v2().ioSome10()));
            default -> Comparator.comparing(Group::name).reversed(); // text columns: the name, A first
        };
        // highest first, as top; names break ties so the order is stable between refreshes
        return (ascending ? c : c.reversed()).thenComparing(Group::name);
    }

    private static double known(double v) {
        return Double.isNaN(v) ? -1 : v;
    }

    static boolean isGroupColumn(String name) {
        return COLUMNS.contains(name.toUpperCase(Locale.ROOT));
    }

    static String header() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < WIDTHS.length; i++) {
            sb.append(pad(COLUMNS.get(i), WIDTHS[i])).append(' ');
        }
        return sb.append(COLUMNS.getLast()).toString();
    }

    static String line(Group g, int hz) {
        String[] v = {
            Integer.toString(g.procs()),
            Long.toString(g.tasks()),
            Fields.tenths(g.cpuTenths()),
            Fields.topKiB(g.resKiB(), WIDTHS[3]),
            Double.isNaN(g.cgCpuPercent()) ? "-" : String.format(Locale.ROOT, "%.1f", g.cgCpuPercent()),
            g.v2().cpuUsageUsec() < 0 ? "-" : time(g.v2().cpuUsageUsec()),
            g.v2().memoryCurrentBytes() < 0 ? "-" : Fields.topKiB(g.v2().memoryCurrentBytes() / 1024, WIDTHS[6]),
            pct(g.v2().cpuSome10()),
            pct(g.v2().memorySome10()),
            pct(g.v2().ioSome10()),
        };
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < v.length; i++) {
            sb.append(pad(v[i], WIDTHS[i])).append(' ');
        }
        return sb.append(Printable.text(g.name())).toString();
    }

    /** TIME+'s format (minutes:seconds.hundredths) for microseconds. */
    private static String time(long usec) {
        long hundredths = usec / 10_000;
        long secs = hundredths / 100;
        return String.format(Locale.ROOT, "%d:%02d.%02d", secs / 60, secs % 60, hundredths % 100);
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String pad(String s, int w) {
        return s.length() >= w ? s : " ".repeat(w - s.length()) + s;
    }

    /** A group as JSON: unknown values are null. */
    static Map<String, Object> json(Group g) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("group", g.name());
        m.put("cgroup", g.cgroup());
        m.put("processes", g.procs());
        m.put("pids", g.members().stream().map(ProcRow::id).toList());
        m.put("tasks", g.tasks());
        m.put("cpu_percent_now", g.cpuTenths() / 10.0);
        m.put("rss_kib", g.resKiB());
        m.put("vsz_kib", g.virtKiB());
        m.put("cpu_ticks", g.ticks());
        GroupFiles.Stats s = g.v2();
        Map<String, Object> v2 = new LinkedHashMap<>();
        v2.put("cpu_usage_usec", s.cpuUsageUsec() < 0 ? null : s.cpuUsageUsec());
        v2.put("cpu_percent", Double.isNaN(g.cgCpuPercent()) ? null : Math.round(g.cgCpuPercent() * 10) / 10.0);
        v2.put("memory_current_bytes", s.memoryCurrentBytes() < 0 ? null : s.memoryCurrentBytes());
        v2.put("cpu_pressure", psi(s.cpuSome10(), s.cpuFull10()));
        v2.put("memory_pressure", psi(s.memorySome10(), s.memoryFull10()));
        v2.put("io_pressure", psi(s.ioSome10(), s.ioFull10()));
        m.put("cgroup_v2", v2);
        return m;
    }

    private static Map<String, Object> psi(double some, double full) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("some_avg10", Double.isNaN(some) ? null : some);
        m.put("full_avg10", Double.isNaN(full) ? null : full);
        return m;
    }
}
