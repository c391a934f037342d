package io.procwatch.event;

/**
 * A process's end as wait(2) reports it, decoded from the kernel's raw exit_code word:
 * bits 8-15 hold the exit code of a normal exit, bits 0-6 the terminating signal, bit 7 "core dumped".
 */
public record WaitStatus(int raw) {
    public boolean exited() {
        return (raw & 0x7f) == 0;
    }

    public boolean signaled() {
        return !exited();
    }

    /** The exit code of a normal exit, or -1 if a signal ended the process. */
    public int exitCode() {
        return exited() ? (raw >> 8) & 0xff : -1;
    }

    /** The signal that ended the process, or 0 for a normal exit. */
    public int signal() {
        return raw & 0x7f;
    }

    public boolean coreDumped() {
        return (raw & 0x80) != 0;
    }

    /** Non-zero exit code or death by signal: what {@code history --failed} selects. */
    public boolean failed() {
        return raw != 0;
    }

    /** The shell's convention ($?): the exit code, or 128 + signal. */
    public int shellStatus() {
        return exited() ? exitCode() : 128 + signal();
    }

    @Override
    public String toString() {
        if (exited()) {
            return "exit " + exitCode();
        }
        return Signals.name(signal()) + (coreDumped() ? " (core dumped)" : "");
    }
}
