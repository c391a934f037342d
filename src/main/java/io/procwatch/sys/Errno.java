package io.procwatch.sys;

/** The errno values procwatch reacts to, with their symbolic names for messages. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;
    public static final int EPROTONOSUPPORT = 93;
    public static final int ENOBUFS = 105;
    public static final int ECONNREFUSED = 111;

    private Errno() {
    }

    public static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case ESRCH -> "ESRCH";
            case EINTR -> "EINTR";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case EACCES -> "EACCES";
            case EINVAL -> "EINVAL";
            case ENOSYS -> "ENOSYS";
            case EPROTONOSUPPORT -> "EPROTONOSUPPORT";
            case ENOBUFS -> "ENOBUFS";
            case ECONNREFUSED -> "ECONNREFUSED";
            default -> "errno " + errno;
        };
    }

    /** The C library's own text for the error (strerror), e.g. "Operation not permitted". */
    public static String describe(int errno) {
        return Libc.strerror(errno);
    }
}
