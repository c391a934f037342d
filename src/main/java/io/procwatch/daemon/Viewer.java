package io.procwatch.daemon;

import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;

/**
 * A client as the kernel identified it (SO_PEERCRED), and what /proc would let it see.
 *
 * <p>procwatch never shows more than /proc would: root sees everything; another user sees every
 * process's base, credential, stat and command-line fields, but exe, cwd, io and the I/O part of
 * accounting only where the kernel's ptrace read check would let it read /proc/PID/exe: the
 * process's real and effective uid and gid are the viewer's, and the process is dumpable (its
 * /proc files are the viewer's, not root's; a {@code PR_SET_DUMPABLE 0} or set-id program is
 * refused, as the kernel refuses it). With /proc mounted hidepid=1 or 2, other users' processes
 * are not shown at all, unless the client is in the mount's {@code gid=} group.
 *
 * <p>An exited process cannot be asked any more: its private fields go to root and to the user
 * whose uid and gid it ran with (whether it was dumpable at the end is not known; see
 * docs/security.md).
 */
public record Viewer(int uid, int gid, ProcMount mount) {
    /**
     * {@code --public-exec-argv}: exec-time command lines (exec events, the history) to every user
     * who may see the process. Off by default: they are root's and the owner's, as a live process's
     * command line is everyone's only while /proc shows it (and shows it scrubbed if it was).
     */
    public static volatile boolean shareExecArgv;

    /** The argv of an exec event: root, the process's user, or everyone with --public-exec-argv. */
    public boolean canSeeExecArgv(ProcessInfo p) {
        return isRoot() || shareExecArgv || p.ruid() == uid || p.euid() == uid;
    }

    /** The argv kept in the history for an exited process: the same rule. */
    public boolean canSeeExecArgv(ExitedProcess e) {
        return isRoot() || shareExecArgv || e.uid() == uid;
    }

    public boolean isRoot() {
        return uid == 0;
    }

    /** Whether the process appears at all. */
    public boolean canSee(ProcessInfo p) {
        return isRoot() || !mount.hidesOthers() || ownsOrExempt(p.ruid(), p.euid());
    }

    public boolean canSee(ExitedProcess e) {
        return isRoot() || !mount.hidesOthers() || ownsOrExempt(e.uid(), e.uid());
    }

    /** exe, cwd, io, environ: what /proc guards with a ptrace read check. */
    public boolean canSeePrivate(ProcessInfo p) {
        if (isRoot()) {
            return true;
        }
        return p.ruid() == uid && p.euid() == uid && p.rgid() == gid && p.egid() == gid
                && mount.dumpOwner(p.pid()) == uid; // asked last: one stat, only for the viewer's own
    }

    /**
     * Whether a selection by namespace ({@code S_NAMESPACE}, {@code --ns}, {@code ?ns=}) may test
     * this process: /proc/PID/ns is ptrace-guarded, so a viewer learns a process's namespaces (by
     * its being selected or not) only where ps's namespace columns would show them. The one rule
     * for snapshots, event streams and HTTP.
     */
    public boolean canTestNamespaces(ProcessInfo p) {
        return canSeePrivate(p);
    }

    public boolean canSeePrivate(ExitedProcess e) {
        return isRoot() || (e.uid() == uid && e.gid() == gid);
    }

    private boolean ownsOrExempt(int ruid, int euid) {
        return (ruid == uid && euid == uid) || (mount.exemptGid() >= 0 && mount.exemptGid() == gid);
    }
}
