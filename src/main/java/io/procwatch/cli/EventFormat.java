package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import io.procwatch.event.EventType;
import io.procwatch.event.WaitStatus;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** How events and exits print: forkstat-like lines, and their JSON form. */
final class EventFormat {
    private EventFormat() {
    }

    static String kind(ProcRow r) {
        if (r.eventKind == 0) {
            return "resync";
        }
        for (EventType t : EventType.values()) {
            if (t.bit == r.eventKind) {
                String k = t.name().toLowerCase(Locale.ROOT);
                if (r.thread) {
                    return t == EventType.FORK ? "clone" : t == EventType.EXIT ? "thread-exit" : k;
                }
                return k;
            }
        }
        return "event-" + Integer.toHexString(r.eventKind);
    }

    static String status(ProcRow r) {
        if (r.exitUnobserved) {
            return "unobserved";
        }
        return r.status < 0 ? "-" : new WaitStatus(r.status).toString();
    }

    static String detail(ProcRow r) {
        String k = kind(r);
        return switch (k) {
            case "fork" -> "parent " + r.ppid;
            case "clone" -> "thread " + r.tid;
            case "thread-exit" -> "thread " + r.tid;
            case "exit" -> status(r) + " after " + Times.duration(r.endMs - r.startMs);
            case "uid" -> "uid " + r.ruid + " euid " + r.euid;
            case "gid" -> "gid " + r.rgid + " egid " + r.egid;
            case "ptrace" -> r.tracer > 0 ? "traced by " + r.tracer : "detached";
            case "comm" -> "renamed " + Printable.text(r.comm);
            default -> "";
        };
    }

    static String line(ProcRow r) {
        long t = r.eventTimeMs > 0 ? r.eventTimeMs : r.endMs;
        String user = r.euid < 0 ? "-" : Names.user(r.euid);
        return String.format(Locale.ROOT, "%s %-11s %7d %7d %-8s %-26s %s", Times.CLOCK_MS.format(Times.at(t)), kind(r),
                r.pid, r.ppid, user.length() > 8 ? user.substring(0, 7) + "+" : user, detail(r), Printable.args(r.args()));
    }

    static final String HEADER = String.format(Locale.ROOT, "%-12s %-11s %7s %7s %-8s %-26s %s",
            "TIME", "EVENT", "PID", "PPID", "USER", "DETAIL", "COMMAND");

    static Map<String, Object> json(ProcRow r) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (r.isEvent) {
            m.put("event", kind(r));
            m.put("time_ms", r.eventTimeMs);
        }
        m.put("pid", r.pid);
        if (r.tid > 0) {
            m.put("tid", r.tid);
        }
        m.put("ppid", r.ppid);
        m.put("uid", r.euid < 0 ? null : r.euid);
        m.put("user", r.euid < 0 ? null : Names.user(r.euid));
        m.put("comm", r.comm);
        m.put("args", r.argv == null ? null : r.argv);
        m.put("argv_known", !r.argvUnknown);
        if (r.startMs > 0) {
            m.put("start_ms", r.startMs);
        }
        if (r.endMs > 0) {
            m.put("end_ms", r.endMs);
            m.put("lifetime_ms", r.endMs - r.startMs);
            if (r.items.get("cgroup") != null) {
                m.put("cgroup", r.items.get("cgroup")); // where it exited: /proc/PID/cgroup lines, comma-joined
            }
        }
        if (r.status >= 0 || r.exitUnobserved) {
            WaitStatus s = r.status >= 0 ? new WaitStatus(r.status) : null;
            m.put("exit_observed", !r.exitUnobserved);
            m.put("exit_code", s == null || !s.exited() ? null : s.exitCode());
            m.put("signal", s == null || s.exited() ? null : s.signal());
            m.put("core_dumped", r.coreDumped);
        }
        if (r.tsUtimeUs >= 0) {
            m.put("cpu_user_us", r.tsUtimeUs);
            m.put("cpu_system_us", r.tsStimeUs);
            m.put("max_rss_kib", r.tsMaxRssKiB);
            if (r.tsReadBytes >= 0) { // storage I/O: only where /proc/PID/io would have been readable
                m.put("read_bytes", r.tsReadBytes);
                m.put("write_bytes", r.tsWriteBytes);
            }
            m.put("voluntary_switches", r.tsNvcsw);
            m.put("involuntary_switches", r.tsNivcsw);
        }
        if (r.seq >= 0) {
            m.put("seq", r.seq);
        }
        return m;
    }
}
