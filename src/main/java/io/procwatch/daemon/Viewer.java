package io.procwatch.daemon;

import io.procwatch.table.ExitedProcess;
import io.procwatch.table.ProcessInfo;

/**
 * A client as the kernel identified it (SO_PEERCRED), and what /proc would let it see.
 *
 * <p>procwatch never shows more than /proc would: root sees everything; another user sees every
 * process's base, credential, stat and command-line fields, but exe, cwd and io only of its own
 * processes (the kernel's ptrace read check); with /proc mounted hidepid=1 or 2, other users'
 * processes are not shown at all, unless the client is in the mount's {@code gid=} group.
 */
public record Viewer(int uid, int gid, ProcMount mount) {

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
        return isRoot() || (p.ruid() == uid && p.euid() == uid);
    }

    public boolean canSeePrivate(ExitedProcess e) {
        return isRoot() || e.uid() == uid;
    }

    private boolean ownsOrExempt(int ruid, int euid) {
        return (ruid == uid && euid == uid) || (mount.exemptGid() >= 0 && mount.exemptGid() == gid);
    }
}
