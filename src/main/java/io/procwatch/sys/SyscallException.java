package io.procwatch.sys;

import java.io.IOException;

/**
 * A failed system call: the call's name, its errno and a sentence an operator can act on.
 *
 * <p>This is the only place where errno becomes an exception (see {@link Libc#check}), so every
 * native failure in procwatch reads the same way: {@code socket(AF_NETLINK): EPERM (Operation not
 * permitted)}.
 */
public final class SyscallException extends IOException {
    private final String call;
    private final int errno;

    public SyscallException(String call, int errno, String hint) {
        super(call + ": " + Errno.name(errno) + " (" + Errno.describe(errno) + ")"
                + (hint == null || hint.isEmpty() ? "" : " - " + hint));
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
