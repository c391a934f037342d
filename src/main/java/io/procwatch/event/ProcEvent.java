package io.procwatch.event;

/**
 * One proc connector event, decoded. Field names follow {@code struct proc_event} in
 * {@code linux/cn_proc.h}: {@code pid} is the thread id, {@code tgid} the process id.
 *
 * <p>{@code timestampNs} is the kernel's CLOCK_MONOTONIC time of the event (nanoseconds since
 * boot, suspend excluded); {@code cpu} the CPU that emitted it.
 */
public sealed interface ProcEvent extends ConnectorEvent {
    long timestampNs();

    int cpu();

    /** The thread the event is about (for fork: the new child). */
    int pid();

    /** The process the event is about (for fork: the new child's process). */
    int tgid();

    /**
     * fork/clone. A new thread has childPid != childTgid, and its process is childTgid. The parent
     * fields are the kernel's task->real_parent: for a new thread that is the parent of the whole
     * process, not the thread that called clone.
     */
    record Fork(long timestampNs, int cpu, int parentPid, int parentTgid, int childPid, int childTgid)
            implements ProcEvent {
        @Override
        public int pid() {
            return childPid;
        }

        @Override
        public int tgid() {
            return childTgid;
        }

        public boolean isThread() {
            return childPid != childTgid;
        }
    }

    record Exec(long timestampNs, int cpu, int pid, int tgid) implements ProcEvent {
    }

    /** setuid family: the real and effective uid after the change. */
    record UidChange(long timestampNs, int cpu, int pid, int tgid, int ruid, int euid) implements ProcEvent {
    }

    /** setgid family: the real and effective gid after the change. */
    record GidChange(long timestampNs, int cpu, int pid, int tgid, int rgid, int egid) implements ProcEvent {
    }

    /** setsid(): the process became a session leader. */
    record SidChange(long timestampNs, int cpu, int pid, int tgid) implements ProcEvent {
    }

    /** PTRACE_ATTACH (tracer ids set) or PTRACE_DETACH (tracer ids zero). */
    record Ptrace(long timestampNs, int cpu, int pid, int tgid, int tracerPid, int tracerTgid)
            implements ProcEvent {
        public boolean attached() {
            return tracerTgid != 0;
        }
    }

    /** prctl(PR_SET_NAME) renamed the thread. */
    record CommChange(long timestampNs, int cpu, int pid, int tgid, String comm) implements ProcEvent {
    }

    /** A signal with a core-dump action is about to end the process. */
    record Coredump(long timestampNs, int cpu, int pid, int tgid, int parentPid, int parentTgid)
            implements ProcEvent {
    }

    /**
     * A thread exited; when pid == tgid the process's leader exited. {@code exitSignal} is the
     * signal sent to the parent (SIGCHLD normally, -1 for threads).
     *
     * <p>The parent fields are 0 when the parent had already reaped the child by the time the
     * kernel sent the event (the event is sent after exit_notify, and the kernel fills the parent
     * only while the pid is still attached). Under a fork storm this happens for a few exits in
     * ten thousand; use the parent known from the fork instead.
     */
    record Exit(long timestampNs, int cpu, int pid, int tgid, WaitStatus status, int exitSignal,
                int parentPid, int parentTgid) implements ProcEvent {
        public boolean isThread() {
            return pid != tgid;
        }
    }
}
