package io.procwatch.sink;

import io.procwatch.json.Json;
import io.procwatch.table.ExitedProcess;
import io.procwatch.taskstats.Taskstats;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One record for the topic: a key and a JSON value named after the OpenTelemetry semantic
 * conventions (process.*, host.*), procwatch's own facts under procwatch.*.
 *
 * <p>The key is host id / boot id / pid / start ms: Kafka keeps one key's records in one partition
 * in order, so a process's records stay ordered, and a consumer folds a re-sent record by key plus
 * procwatch.seq (the sink re-sends from the last acknowledged seq after an outage).
 */
public record FleetRecord(String key, String json) {

    public static String key(HostIdentity host, int pid, long startEpochMs) {
        return host.hostId() + "/" + host.bootId() + "/" + pid + "/" + startEpochMs;
    }

    /** An exit as the history keeps it. */
    public static FleetRecord exit(HostIdentity host, long seq, ExitedProcess p) {
        Map<String, Object> m = common(host, seq, p.exitObserved() ? "exit" : "exit_unobserved", p.endEpochMs());
        m.put("process.pid", p.pid());
        m.put("process.parent_pid", p.ppid());
        m.put("process.executable.name", p.comm());
        if (p.exe() != null && !p.exe().isEmpty()) {
            m.put("process.executable.path", p.exe());
        }
        if (p.argvKnown()) {
            m.put("process.command_args", p.argv());
        }
        m.put("process.user.id", p.uid());
        m.put("process.group.id", p.gid());
        m.put("process.creation.time", Instant.ofEpochMilli(p.startEpochMs()).toString());
        m.put("process.exit.time", Instant.ofEpochMilli(p.endEpochMs()).toString());
        if (p.status() != null) {
            // The shell's $? (128 + signal for a signal death): one integer a dashboard can group by;
            // the signal itself is procwatch.signal.
            m.put("process.exit.code", p.status().shellStatus());
            m.put("procwatch.signal", p.status().signal());
            m.put("procwatch.core", p.coreDumped());
        }
        m.put("procwatch.lifetime_ms", p.lifetimeMs());
        Taskstats t = p.taskstats();
        if (t != null) {
            m.put("procwatch.cpu.user_us", t.userMicros());
            m.put("procwatch.cpu.system_us", t.systemMicros());
            m.put("procwatch.memory.hiwater_rss_kib", t.hiwaterRssKiB());
            m.put("procwatch.io.read_bytes", t.readBytes());
            m.put("procwatch.io.write_bytes", t.writeBytes());
        }
        return new FleetRecord(key(host, p.pid(), p.startEpochMs()), Json.value(m));
    }

    /**
     * Events that never reached the topic, said out loud: {@code kind} is "retention" (the journal
     * dropped them before the broker acknowledged them; count = sequences skipped) or "gap" (the
     * journal itself recorded a loss from the kernel; count -1 when the kernel did not say).
     * Keyed by host and boot so a host's losses stay in order among themselves.
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
        return new FleetRecord(host.hostId() + "/" + host.bootId() + "/loss", Json.value(m));
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
