package io.procwatch.taskstats;

import io.procwatch.netlink.GenericNetlink;
import io.procwatch.netlink.Netlink;
import io.procwatch.netlink.NetlinkSocket;
import io.procwatch.sys.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Receives the taskstats record the kernel sends when a task exits, for every CPU (registered with
 * TASKSTATS_CMD_ATTR_REGISTER_CPUMASK). Each exiting thread yields a per-thread record; the last
 * thread of a multi-threaded process also yields an aggregate one.
 *
 * <p>Like the proc connector, delivery is best-effort: {@link #overruns()} counts receive-buffer
 * overflows, after which some exit records are missing.
 */
public final class TaskstatsExitListener implements AutoCloseable {
    private final GenericNetlink genl;
    private final int family;
    private final String cpumask;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment rx = arena.allocate(16384, 8);
    private long overruns;

    private TaskstatsExitListener(GenericNetlink genl, int family, String cpumask) {
        this.genl = genl;
        this.family = family;
        this.cpumask = cpumask;
    }

    public static TaskstatsExitListener open(int receiveBufferBytes, int pollTimeoutMillis) throws SyscallException {
        NetlinkSocket s = NetlinkSocket.open(NetlinkSocket.NETLINK_GENERIC, 0);
        try {
            s.setReceiveBuffer(receiveBufferBytes);
            s.setReceiveTimeout(pollTimeoutMillis);
            GenericNetlink genl = new GenericNetlink(s);
            int family = TaskstatsClient.resolve(genl);
            String mask = possibleCpus();
            byte[] maskZ = Arrays.copyOf(mask.getBytes(StandardCharsets.US_ASCII), mask.length() + 1);
            try {
                genl.request(family, TaskstatsClient.CMD_GET, TaskstatsClient.VERSION,
                        TaskstatsClient.CMD_ATTR_REGISTER_CPUMASK, maskZ, true);
            } catch (SyscallException e) {
                throw new SyscallException("taskstats register for exits on CPUs " + mask, e.errno(),
                        e.errno() == io.procwatch.sys.Errno.EPERM ? "needs root or CAP_NET_ADMIN" : null);
            }
            return new TaskstatsExitListener(genl, family, mask);
        } catch (SyscallException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** The CPUs the kernel may run tasks on, e.g. "0-1" (registration must not name others). */
    static String possibleCpus() {
        try {
            return Files.readString(Path.of("/sys/devices/system/cpu/possible")).trim();
        } catch (IOException e) {
            return "0-" + (Runtime.getRuntime().availableProcessors() - 1);
        }
    }

    public String cpumask() {
        return cpumask;
    }

    public long overruns() {
        return overruns;
    }

    /** Ends a wait in {@link #poll} now (it returns 0). Callable from any thread, also after close. */
    public void wakeUp() {
        genl.socket().wakeUp();
    }

    /**
     * Waits up to the poll timeout (0: until a record comes or {@link #wakeUp()}) for one datagram
     * and hands each record in it to {@code sink}. Returns the number of records, 0 on timeout or
     * wake-up, -1 on an overrun.
     */
    public int poll(Consumer<Taskstats> sink) throws SyscallException {
        int n = genl.socket().receive(rx);
        if (n == NetlinkSocket.OVERRUN) {
            overruns++;
            return -1;
        }
        int count = 0;
        int off = 0;
        while (n - off >= Netlink.NLMSG_HDRLEN) {
            int len = rx.get(JAVA_INT_UNALIGNED, off);
            if (len < GenericNetlink.ATTRS || len > n - off) {
                break;
            }
            int type = rx.get(JAVA_SHORT_UNALIGNED, off + 4) & 0xffff;
            if (type == family) {
                int[] c = {0};
                TaskstatsParser.parse(rx.asSlice(off, len), GenericNetlink.ATTRS, t -> {
                    c[0]++;
                    sink.accept(t);
                });
                count += c[0];
            }
            off += Netlink.align(len);
        }
        return count;
    }

    @Override
    public void close() {
        String mask = cpumask;
        try {
            byte[] maskZ = Arrays.copyOf(mask.getBytes(StandardCharsets.US_ASCII), mask.length() + 1);
            genl.request(family, TaskstatsClient.CMD_GET, TaskstatsClient.VERSION,
                    TaskstatsClient.CMD_ATTR_DEREGISTER_CPUMASK, maskZ, true);
        } catch (SyscallException ignored) {
            // closing the socket deregisters it too
        }
        genl.close();
        arena.close();
    }
}
