package io.procwatch.taskstats;

import io.procwatch.netlink.GenericNetlink;
import io.procwatch.netlink.NetlinkSocket;
import io.procwatch.sys.Errno;
import io.procwatch.sys.SyscallException;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Asks the kernel for a task's accounting record (TASKSTATS_CMD_GET). Needs CAP_NET_ADMIN.
 * One client per thread.
 */
public final class TaskstatsClient implements AutoCloseable {
    static final String FAMILY = "TASKSTATS";
    static final int CMD_GET = 1;
    static final int VERSION = 1;
    static final int CMD_ATTR_PID = 1;
    static final int CMD_ATTR_TGID = 2;
    static final int CMD_ATTR_REGISTER_CPUMASK = 3;
    static final int CMD_ATTR_DEREGISTER_CPUMASK = 4;

    private final GenericNetlink genl;
    private final int family;

    private TaskstatsClient(GenericNetlink genl, int family) {
        this.genl = genl;
        this.family = family;
    }

    public static TaskstatsClient open() throws SyscallException {
        NetlinkSocket s = NetlinkSocket.open(NetlinkSocket.NETLINK_GENERIC, 0);
        try {
            s.setReceiveTimeout(500);
            GenericNetlink genl = new GenericNetlink(s);
            return new TaskstatsClient(genl, resolve(genl));
        } catch (SyscallException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    static int resolve(GenericNetlink genl) throws SyscallException {
        try {
            return genl.resolveFamily(FAMILY);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                throw new SyscallException("resolve generic netlink family TASKSTATS", e.errno(),
                        "this kernel was built without CONFIG_TASKSTATS");
            }
            throw e;
        }
    }

    /** The stats of one thread, or empty if it does not exist (any more). */
    public Optional<Taskstats> ofThread(int tid) throws SyscallException {
        return query(CMD_ATTR_PID, tid);
    }

    /** The summed stats of a whole process (thread group), or empty if it does not exist. */
    public Optional<Taskstats> ofProcess(int tgid) throws SyscallException {
        return query(CMD_ATTR_TGID, tgid);
    }

    private Optional<Taskstats> query(int attr, int id) throws SyscallException {
        MemorySegment reply;
        try {
            reply = genl.request(family, CMD_GET, VERSION, attr, u32(id));
        } catch (SyscallException e) {
            if (e.errno() == Errno.ESRCH) {
                return Optional.empty();
            }
            if (e.errno() == Errno.EPERM) {
                throw new SyscallException("taskstats query", e.errno(), "needs root or CAP_NET_ADMIN");
            }
            throw e;
        }
        List<Taskstats> out = new ArrayList<>(1);
        TaskstatsParser.parse(reply, GenericNetlink.ATTRS, out::add);
        return out.stream().findFirst();
    }

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
    }

    @Override
    public void close() {
        genl.close();
    }
}
