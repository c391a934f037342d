package io.procwatch.event;

import java.util.EnumSet;
import java.util.Set;

/** The proc connector's event kinds, with the kernel's bit values (enum proc_cn_event in cn_proc.h). */
public enum EventType {
    FORK(0x00000001),
    EXEC(0x00000002),
    UID(0x00000004),
    GID(0x00000040),
    SID(0x00000080),
    PTRACE(0x00000100),
    COMM(0x00000200),
    /**
     * A filter-only bit (6.6+): admits EXIT events whose status is non-zero. Ask for it instead of
     * EXIT to see only failures; with EXIT also set, every exit is delivered.
     */
    NONZERO_EXIT(0x20000000),
    COREDUMP(0x40000000),
    EXIT(0x80000000);

    public final int bit;

    EventType(int bit) {
        this.bit = bit;
    }

    public static int mask(Set<EventType> types) {
        int m = 0;
        for (EventType t : types) {
            m |= t.bit;
        }
        return m;
    }

    /** Every real event (NONZERO_EXIT is a filter modifier, not an event of its own). */
    public static Set<EventType> all() {
        return EnumSet.complementOf(EnumSet.of(NONZERO_EXIT));
    }

    public static EventType of(ProcEvent e) {
        return switch (e) {
            case ProcEvent.Fork f -> FORK;
            case ProcEvent.Exec x -> EXEC;
            case ProcEvent.UidChange u -> UID;
            case ProcEvent.GidChange g -> GID;
            case ProcEvent.SidChange s -> SID;
            case ProcEvent.Ptrace p -> PTRACE;
            case ProcEvent.CommChange c -> COMM;
            case ProcEvent.Coredump c -> COREDUMP;
            case ProcEvent.Exit x -> EXIT;
        };
    }
}
