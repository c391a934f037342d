package io.procwatch.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The mount options of the proc filesystem the daemon reads, which decide what other users may
 * see: hidepid=0/off (everything), 1/noaccess and 2/invisible (only their own processes),
 * 4/ptraceable, and gid= (a group exempt from hiding).
 */
public record ProcMount(String hidepid, int exemptGid, Path root) {

    public static ProcMount defaults() {
        return new ProcMount("off", -1, Path.of("/proc"));
    }

    /**
     * Who the kernel says owns {@code pid}'s /proc files right now, or -1 when it cannot be read
     * (gone). The kernel makes them root's while the process is not dumpable
     * ({@code PR_SET_DUMPABLE 0}, a set-id exec), which is what its ptrace read check also refuses.
     */
    public int dumpOwner(int pid) {
        try {
            return (Integer) Files.getAttribute(root.resolve(pid + "/stat"), "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** True when users other than root see only their own processes. */
    public boolean hidesOthers() {
        return switch (hidepid) {
            case "1", "noaccess", "2", "invisible", "4", "ptraceable" -> true;
            default -> false;
        };
    }

    /** Reads the options of the proc mount at {@code mountPoint} from /proc/self/mountinfo. */
    public static ProcMount of(Path mountPoint) {
        try {
            String target = mountPoint.toRealPath().toString();
            ProcMount found = new ProcMount("off", -1, mountPoint);
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // id parent major:minor root mountpoint options ... - fstype source superoptions
                String[] f = line.split(" ");
                int dash = line.indexOf(" - ");
                if (f.length < 5 || dash < 0 || !f[4].equals(target)) {
                    continue;
                }
                String[] after = line.substring(dash + 3).split(" ");
                if (after.length < 3 || !after[0].equals("proc")) {
                    continue;
                }
                String hide = "off";
                int gid = -1;
                for (String opt : after[2].split(",")) {
                    if (opt.startsWith("hidepid=")) {
                        hide = opt.substring(8);
                    } else if (opt.startsWith("gid=")) {
                        gid = Integer.parseInt(opt.substring(4));
                    }
                }
                found = new ProcMount(hide, gid, mountPoint); // the last mount on a path is the visible one
            }
            return found;
        } catch (IOException | RuntimeException e) {
            return new ProcMount("off", -1, mountPoint);
        }
    }
}
