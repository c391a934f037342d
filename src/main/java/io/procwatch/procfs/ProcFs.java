package io.procwatch.procfs;

import io.procwatch.sys.Errno;
import io.procwatch.sys.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reads single files under /proc for one pid. Every method returns empty (not an exception) when
 * the process is gone or the file cannot be read: a vanished pid is normal for a process monitor,
 * and callers record "unknown" rather than fail.
 */
public final class ProcFs {
    private final Path root;

    /** The root as a path prefix for open(2): "/proc/". */
    private final String prefix;

    public ProcFs(Path root) {
        this.root = root;
        this.prefix = root + "/";
    }

    public static ProcFs system() {
        return new ProcFs(Path.of("/proc"));
    }

    public Path root() {
        return root;
    }

    /** The numeric entries of /proc: every process's pid, in directory order. */
    public List<Integer> pids() throws IOException {
        return numericEntries(root);
    }

    /** The thread ids of a process (/proc/PID/task), empty if it is gone. */
    public List<Integer> tids(int pid) {
        try {
            return numericEntries(root.resolve(pid + "/task"));
        } catch (IOException e) {
            return List.of();
        }
    }

    private static List<Integer> numericEntries(Path dir) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!n.isEmpty() && n.charAt(0) >= '0' && n.charAt(0) <= '9') {
                    try {
                        out.add(Integer.parseInt(n));
                    } catch (NumberFormatException ignored) {
                        // not a pid directory
                    }
                }
            }
        }
        return out;
    }

    public Optional<PidStat> stat(int pid) {
        return file(pid + "/stat").map(b -> PidStat.parse(b, b.length));
    }

    public Optional<PidStat> threadStat(int pid, int tid) {
        return file(pid + "/task/" + tid + "/stat").map(b -> PidStat.parse(b, b.length));
    }

    public Optional<PidStatus> status(int pid) {
        return file(pid + "/status")
                .map(b -> PidStatus.parse(new String(b, StandardCharsets.UTF_8)));
    }

    /**
     * The argument vector (/proc/PID/cmdline split at NUL). Empty list for kernel threads and
     * zombies; empty Optional when the process is gone.
     */
    /**
     * Whether {@code id} is a process (a thread group leader) rather than another thread: /proc
     * answers for /proc/TID of any thread although it lists only processes.
     */
    public boolean isProcess(int id) {
        return status(id).map(s -> s.tgid() == id).orElse(false);
    }

    public Optional<List<String>> cmdline(int pid) {
        return file(pid + "/cmdline").map(ProcFs::splitNul);
    }

    /**
     * The argument vector as the kernel wrote it at exec, which always ends in NUL. A read that
     * does not (the process was tearing down its memory) is incomplete and reported as empty.
     * Do not use for processes that may have retitled themselves (setproctitle drops the NUL).
     */
    public Optional<List<String>> cmdlineAsExeced(int pid) {
        return file(pid + "/cmdline")
                .filter(b -> b.length > 0 && b[b.length - 1] == 0)
                .map(ProcFs::splitNul);
    }

    static List<String> splitNul(byte[] b) {
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < b.length; i++) {
            if (b[i] == 0) {
                args.add(Utf8.decode(b, start, i - start));
                start = i + 1;
            }
        }
        if (start < b.length) {
            args.add(Utf8.decode(b, start, b.length - start));
        }
        return args;
    }

    /** The comm (/proc/PID/comm) without its newline. */
    public Optional<String> comm(int pid) {
        return file(pid + "/comm").map(b -> {
            int n = b.length;
            while (n > 0 && b[n - 1] == '\n') {
                n--;
            }
            return Utf8.decode(b, 0, n);
        });
    }

    /** The executable path (readlink /proc/PID/exe); empty for kernel threads or when unreadable. */
    public Optional<String> exe(int pid) {
        return link(root.resolve(pid + "/exe"));
    }

    public Optional<String> cwd(int pid) {
        return link(root.resolve(pid + "/cwd"));
    }

    /** Longest /proc/PID/cgroup procwatch keeps in a row (a path deeper than this is not remembered). */
    public static final int CGROUP_MAX = 16 * 1024;

    /**
     * Every line of /proc/PID/cgroup joined by commas (procps's {@code cgroup} item), or empty when
     * it cannot be read or is longer than {@link #CGROUP_MAX}.
     */
    public Optional<String> cgroupLines(int pid) {
        return file(pid + "/cgroup").filter(b -> b.length > 0 && b.length <= CGROUP_MAX)
                .map(b -> String.join(",", Utf8.decode(b).strip().split("\n")));
    }

    /** The first line's path of /proc/PID/cgroup (cgroup v2: "0::/path"). */
    public Optional<String> cgroup(int pid) {
        return file(pid + "/cgroup").map(b -> {
            String s = Utf8.decode(b);
            for (String line : s.split("\n")) {
                if (line.startsWith("0::")) {
                    return line.substring(3);
                }
            }
            int nl = s.indexOf('\n');
            return nl < 0 ? s : s.substring(0, nl);
        });
    }

    /** read_bytes/write_bytes and friends from /proc/PID/io, as {rchar, wchar, read_bytes, write_bytes}. */
    public Optional<long[]> io(int pid) {
        return file(pid + "/io").map(b -> {
            long[] v = new long[4];
            for (String line : new String(b, StandardCharsets.UTF_8).split("\n")) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                long n = Long.parseLong(line.substring(colon + 1).trim());
                switch (line.substring(0, colon)) {
                    case "rchar" -> v[0] = n;
                    case "wchar" -> v[1] = n;
                    case "read_bytes" -> v[2] = n;
                    case "write_bytes" -> v[3] = n;
                    default -> {
                    }
                }
            }
            return v;
        });
    }

    /** The kernel function a sleeping process waits in (/proc/PID/wchan), "" when running or unknown. */
    public Optional<String> wchan(int pid) {
        return file(pid + "/wchan").map(b -> {
            String s = new String(b, StandardCharsets.UTF_8).trim();
            return s.equals("0") ? "" : s;
        });
    }

    /** Files read in one pread are up to this long; longer ones (a long command line) take more reads. */
    private static final int READ_CHUNK = 4096;

    /**
     * Per thread: a native path and read buffer. Reading a process's files is what a rescan after a
     * loss does for every new process (five files each), on the path to the first answer; through
     * open/pread/close into these it costs about half the CPU of Files.readAllBytes (a channel,
     * a size query, buffers and exceptions per file).
     */
    private static final class Scratch {
        private MemorySegment path = Arena.ofAuto().allocate(256);
        private final MemorySegment buf = Arena.ofAuto().allocate(READ_CHUNK);

        MemorySegment path(String p) {
            long need = (long) p.length() * 3 + 1; // UTF-8 at most 3 bytes per char, and the NUL
            if (need > path.byteSize()) {
                path = Arena.ofAuto().allocate(need);
            }
            path.setString(0, p);
            return path;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * The bytes of {@code rel} under the root (a pid's file), empty when it cannot be opened or
     * read (gone, exiting, not permitted, a directory). A read shorter than asked is the end: so
     * procfs returns a file (seq_file and cmdline alike); a full one reads on.
     */
    private Optional<byte[]> file(String rel) {
        int fd = Libc.openReadOnlyOrErrno(SCRATCH.get().path(prefix + rel));
        if (fd < 0) {
            return Optional.empty();
        }
        try {
            return readAll(fd);
        } finally {
            Libc.closeQuietly(fd);
        }
    }

    /** Opens a pid's stat file read-only: the descriptor, or a negative errno (gone: ENOENT or ESRCH). */
    public int openStat(int pid) {
        return Libc.openReadOnlyOrErrno(SCRATCH.get().path(prefix + pid + "/stat"));
    }

    /** Everything an open /proc file says, read from offset 0; empty when the read fails (ESRCH: gone). */
    public Optional<byte[]> readAll(int fd) {
        Scratch s = SCRATCH.get();
        byte[] out = null;
        int len = 0;
        while (true) {
            long n = Libc.preadOrErrno(fd, s.buf, READ_CHUNK, len);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                return Optional.empty();
            }
            if (out == null && n < READ_CHUNK) {
                return Optional.of(s.buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
            }
            if (n == 0) {
                break;
            }
            if (out == null) {
                out = new byte[READ_CHUNK * 4];
            } else if (len + n > out.length) {
                if (out.length > Integer.MAX_VALUE / 2 - READ_CHUNK) {
                    return Optional.empty(); // not a /proc file of any process
                }
                out = Arrays.copyOf(out, out.length * 2);
            }
            MemorySegment.copy(s.buf, ValueLayout.JAVA_BYTE, 0, out, len, (int) n);
            len += (int) n;
            if (n < READ_CHUNK) {
                break;
            }
        }
        return Optional.of(Arrays.copyOf(out, len));
    }

    private static Optional<String> link(Path p) {
        try {
            return Optional.of(Files.readSymbolicLink(p).toString());
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return Optional.empty();
        }
    }
}
