package io.procwatch.daemon;

import io.procwatch.procfs.SystemInfo;
import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;
import io.procwatch.table.TableEvent;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The JSON shapes of the HTTP API: a process, an exit, a tree node, an event; private fields only for who may see them. */
final class ApiJson {
    private ApiJson() {
    }

    static Map<String, Object> process(ProcessInfo p, Viewer v) {
        SystemInfo sys = SystemInfo.get();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", p.pid());
        m.put("ppid", p.ppid());
        m.put("uid", p.euid());
        m.put("gid", p.egid());
        m.put("state", String.valueOf(p.state()));
        m.put("comm", p.comm());
        m.put("argv", p.argv());
        m.put("argv_known", p.argvKnown());
        if (v.canSeePrivate(p)) {
            m.put("exe", p.exe());
        }
        m.put("start_ms", SystemInfo.monotonicToEpochMillis(p.startNs())); // the same instant every path gives
        m.put("threads", p.numThreads());
        m.put("nice", p.nice());
        m.put("cpu_seconds", (double) (p.utime() + p.stime()) / sys.clockTicks());
        m.put("rss_kib", p.rss() * sys.pageSize() / 1024);
        m.put("vsz_kib", p.vsize() / 1024);
        return m;
    }

    static Map<String, Object> exited(ExitedProcess e, Viewer v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "exit");
        m.put("pid", e.pid());
        m.put("ppid", e.ppid());
        m.put("uid", e.uid());
        m.put("comm", e.comm());
        m.put("argv", v.canSeeExecArgv(e) ? e.argv() : null); // exec-time argv: root's and the owner's
        if (v.canSeePrivate(e)) {
            m.put("exe", e.exe());
        }
        m.put("start_ms", e.startEpochMs());
        m.put("end_ms", e.endEpochMs());
        m.put("lifetime_ms", e.lifetimeMs());
        m.put("exit_observed", e.exitObserved());
        if (e.status() != null) {
            m.put("exit_code", e.status().signaled() ? null : e.status().exitCode());
            m.put("signal", e.status().signaled() ? e.status().signal() : null);
        }
        m.put("core_dumped", e.coreDumped());
        if (e.taskstats() != null) {
            m.put("cpu_user_us", e.taskstats().userMicros());
            m.put("cpu_system_us", e.taskstats().systemMicros());
            m.put("max_rss_kib", e.taskstats().hiwaterRssKiB());
        }
        return m;
    }

    static Map<String, Object> node(ProcessInfo p, Map<Integer, List<ProcessInfo>> children, int depth) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", p.pid());
        m.put("comm", p.comm());
        m.put("argv", p.argv());
        List<Object> kids = new ArrayList<>();
        if (depth < 1000) {
            List<ProcessInfo> c = new ArrayList<>(children.getOrDefault(p.pid(), List.of()));
            c.sort(java.util.Comparator.comparingInt(ProcessInfo::pid));
            for (ProcessInfo k : c) {
                kids.add(node(k, children, depth + 1));
            }
        }
        m.put("children", kids);
        return m;
    }

    /** An event as the SSE stream sends it, or null when the viewer may not see it (or it is a thread's exit). */
    static Map<String, Object> event(TableEvent ev, Viewer v) {
        Map<String, Object> m;
        switch (ev) {
            case TableEvent.Exited e -> {
                if (!v.canSee(e.exited())) {
                    return null;
                }
                m = exited(e.exited(), v);
                m.put("event", "exit");
                return m;
            }
            case TableEvent.Forked f -> {
                if (!v.canSee(f.process())) {
                    return null;
                }
                m = process(f.process(), v);
                m.put("event", f.thread() ? "thread" : "fork");
            }
            case TableEvent.Execed x -> {
                if (!v.canSee(x.process())) {
                    return null;
                }
                m = process(x.process(), v);
                if (!v.canSeeExecArgv(x.process())) {
                    m.put("argv", null);
                    m.put("argv_known", false);
                }
                m.put("event", "exec");
            }
            case TableEvent.Changed c -> {
                if (!v.canSee(c.process())) {
                    return null;
                }
                m = process(c.process(), v);
                m.put("event", c.kind().name().toLowerCase(java.util.Locale.ROOT));
            }
            case TableEvent.ThreadExited t -> {
                return null; // threads' exits are noise for a process stream
            }
            default -> {
                return null;
            }
        }
        m.put("time_ms", ev.timestampNs() > 0 ? SystemInfo.monotonicToEpochMillis(ev.timestampNs())
                : System.currentTimeMillis());
        return m;
    }
}
