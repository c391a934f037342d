package io.procwatch.sink;

import io.procwatch.json.Json;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One record for the topic: a key and a JSON value named after the OpenTelemetry semantic
 * conventions (process.*, host.*), procwatch's own facts under procwatch.* (docs/fleet.md lists
 * every field).
 *
 * <p>The key is host id / pid / start (the life's start on CLOCK_MONOTONIC in ns, the table's own
 * key for a life, which every journal entry carries): one process life fleet-wide (a pid
 * repeats, a pid with its start to the nanosecond does not). Kafka keeps one key's records in one partition in
 * order, so a process's exec, id changes and exit stay ordered; a consumer folds a re-sent record
 * by key plus procwatch.seq (the sink re-sends from the last acknowledged seq after an outage).
 */
public record FleetRecord(String key, String json) {
    /** The most argv bytes a record carries (the rest is cut and procwatch.command_args_truncated set). */
    static final int MAX_ARGV_CHARS = 16 * 1024;

    public static String key(HostIdentity host, int pid, long startNs) {
        return host.hostId() + "/" + pid + "/" + startNs;
    }

    /** The record for one journal entry, or null for an entry kind the topic does not carry. */
    public static FleetRecord of(HostIdentity host, JournalSource.Entry e) {
        return switch (e.content()) {
            case ExitedProcess p -> exit(host, e.seq(), p);
            case JournalSource.Gap g -> loss(host, e.seq(), e.epochMs(), "gap", g.count(), e.seq(), e.seq());
            case JournalSource.Exec x -> exec(host, e.seq(), e.epochMs(), x.pid(), x.startNs(), x.comm(), x.exe(), x.argv());
            case JournalSource.IdChange i -> ids(host, e.seq(), e.epochMs(), i.pid(), i.startNs(), i.ruid(), i.euid(),
                    i.rgid(), i.egid());
            case JournalSource.Rename r -> rename(host, e.seq(), e.epochMs(), r.pid(), r.startNs(), r.comm());
            case JournalSource.CgroupChange c -> cgroup(host, e.seq(), e.epochMs(), c.pid(), c.startNs(),
                    unified(c.from()), unified(c.to()));
            case null, default -> null;
        };
    }

    /** An exit as the history keeps it, with the kernel's accounting totals when they arrived. */
    public static FleetRecord exit(HostIdentity host, long seq, ExitedProcess p) {
        Map<String, Object> m = common(host, seq, p.exitObserved() ? "exit" : "exit_unobserved", p.endEpochMs());
        m.put("process.pid", p.pid());
        m.put("process.parent_pid", p.ppid());
        process(m, p.comm(), p.exe(), p.argvKnown() ? p.argv() : null);
        m.put("process.creation.time", Instant.ofEpochMilli(p.startEpochMs()).toString());
        m.put("process.user.id", p.uid());
        m.put("process.group.id", p.gid());
        m.put("process.exit.time", Instant.ofEpochMilli(p.endEpochMs()).toString());
        if (p.status() != null) {
            // The shell's $? (128 + signal for a signal death): one integer a dashboard can group by;
            // the signal itself is procwatch.signal.
            m.put("process.exit.code", p.status().shellStatus());
            m.put("procwatch.signal", p.status().signal());
            m.put("procwatch.core", p.coreDumped());
        }
        if (p.cgroup() != null) {
            m.put("process.linux.cgroup", unified(p.cgroup())); // the cgroup it exited in
        }
        m.put("procwatch.lifetime_ms", p.lifetimeMs());
        m.put("procwatch.start_ns", p.startNs());
        Taskstats t = p.taskstats();
        if (t != null) {
            m.put("procwatch.cpu.user_us", t.userMicros());
            m.put("procwatch.cpu.system_us", t.systemMicros());
            m.put("procwatch.memory.hiwater_rss_kib", t.hiwaterRssKiB());
            m.put("procwatch.io.read_bytes", t.readBytes());
            m.put("procwatch.io.write_bytes", t.writeBytes());
            m.put("procwatch.context_switches.voluntary", t.voluntarySwitches());
            m.put("procwatch.context_switches.involuntary", t.involuntarySwitches());
        }
        return new FleetRecord(key(host, p.pid(), p.startNs()), Json.value(m));
    }

    /*
     * The journal's change entries carry the life's monotonic start, not its wall-clock start, so
     * these records have procwatch.start_ns (and the key) to tie them to the exit record, which has
     * process.creation.time; a wall time converted here would be wrong for an entry of an earlier
     * boot sent after a reboot.
     */

    /** A process ran a new program (argv null when it was not learnt). */
    public static FleetRecord exec(HostIdentity host, long seq, long epochMs, int pid, long startNs, String comm,
                                   String exe, List<String> argv) {
        Map<String, Object> m = common(host, seq, "exec", epochMs);
        m.put("process.pid", pid);
        process(m, comm, exe, argv);
        m.put("procwatch.start_ns", startNs);
        return new FleetRecord(key(host, pid, startNs), Json.value(m));
    }

    /** The process's user or group ids changed (setuid, setgid, a set-id exec). */
    public static FleetRecord ids(HostIdentity host, long seq, long epochMs, int pid, long startNs, int ruid, int euid,
                                  int rgid, int egid) {
        Map<String, Object> m = common(host, seq, "id_change", epochMs);
        m.put("process.pid", pid);
        m.put("process.user.id", euid);
        m.put("process.real_user.id", ruid);
        m.put("process.group.id", egid);
        m.put("process.real_group.id", rgid);
        m.put("procwatch.start_ns", startNs);
        return new FleetRecord(key(host, pid, startNs), Json.value(m));
    }

    /** The process renamed itself (prctl PR_SET_NAME, or a write to /proc/PID/comm). */
    public static FleetRecord rename(HostIdentity host, long seq, long epochMs, int pid, long startNs, String comm) {
        Map<String, Object> m = common(host, seq, "rename", epochMs);
        m.put("process.pid", pid);
        m.put("process.executable.name", comm);
        m.put("procwatch.start_ns", startNs);
        return new FleetRecord(key(host, pid, startNs), Json.value(m));
    }

    /** The process moved to another cgroup (the cgroup v2 path, as /proc/PID/cgroup gives it). */
    public static FleetRecord cgroup(HostIdentity host, long seq, long epochMs, int pid, long startNs, String cgroup) {
        return cgroup(host, seq, epochMs, pid, startNs, null, cgroup);
    }

    /**
     * The process was found in another cgroup: {@code process.linux.cgroup} is where it is now,
     * {@code procwatch.cgroup.previous} where it was (absent when not known). No kernel event
     * reports a move; the daemon's sampler notices it at its next pass, so the time is when it
     * was noticed.
     */
    public static FleetRecord cgroup(HostIdentity host, long seq, long epochMs, int pid, long startNs, String previous,
                                     String cgroup) {
        Map<String, Object> m = common(host, seq, "cgroup_change", epochMs);
        m.put("process.pid", pid);
        m.put("process.linux.cgroup", cgroup);
        if (previous != null) {
            m.put("procwatch.cgroup.previous", previous);
        }
        m.put("procwatch.start_ns", startNs);
        return new FleetRecord(key(host, pid, startNs), Json.value(m));
    }

    /**
     * The path a consumer groups by, from the /proc/PID/cgroup lines the journal keeps
     * (comma-joined): the unified hierarchy's ("0::/a/b" gives "/a/b"), else the first line whole
     * (a legacy-only machine); null for null.
     */
    static String unified(String lines) {
        if (lines == null) {
            return null;
        }
        for (String line : lines.split(",")) {
            if (line.startsWith("0::")) {
                return line.substring(3);
            }
        }
        int c = lines.indexOf(',');
        return c < 0 ? lines : lines.substring(0, c);
    }

    /**
     * Events that never reached the topic, said out loud: {@code kind} is "retention" (the journal
     * dropped them before the broker acknowledged them; count = sequences skipped) or "gap" (the
     * journal itself recorded a loss, from the kernel or a disk that could not keep up; count -1
     * when unknown). Keyed by host so a host's losses stay in order among themselves.
     */
    public static FleetRecord loss(HostIdentity host, long seq, long epochMs, String kind, long count,
                                   long fromSeq, long toSeq) {
        if (!kind.equals("retention") && !kind.equals("gap")) {
            throw new IllegalArgumentException("loss kind: " + kind);
        }
        Map<String, Object> m = common(host, seq, "loss", epochMs);
        m.put("procwatch.loss.kind", kind);
        m.put("procwatch.loss.count", count);
        m.put("procwatch.loss.from_seq", fromSeq);
        m.put("procwatch.loss.to_seq", toSeq);
        return new FleetRecord(host.hostId() + "/loss", Json.value(m));
    }

    private static void process(Map<String, Object> m, String comm, String exe, List<String> argv) {
        m.put("process.executable.name", comm);
        if (exe != null && !exe.isEmpty()) {
            m.put("process.executable.path", exe);
        }
        if (argv != null) {
            int chars = 0;
            int keep = 0;
            for (String a : argv) {
                if (chars + a.length() > MAX_ARGV_CHARS) {
                    break;
                }
                chars += a.length();
                keep++;
            }
            m.put("process.command_args", keep == argv.size() ? argv : argv.subList(0, keep));
            if (keep < argv.size()) {
                m.put("procwatch.command_args_truncated", true);
            }
        }
    }

    private static Map<String, Object> common(HostIdentity host, long seq, String type, long epochMs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("procwatch.event", type);
        m.put("procwatch.seq", seq);
        m.put("procwatch.time", Instant.ofEpochMilli(epochMs).toString());
        m.put("host.id", host.hostId());
        m.put("host.name", host.hostName());
        m.put("procwatch.boot_id", host.bootId());
        return m;
    }
}
