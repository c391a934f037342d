package io.procwatch.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The mount options of the proc filesystem the daemon reads, which decide what other users may
 * see: hidepid=0/off (everything), 1/noaccess and 2/invisible (only their own processes),
 * 4/ptraceable, and gid= (a group exempt from hiding).
 */
public record ProcMount(String hidepid, int exemptGid) {

    public static ProcMount defaults() {
        return new ProcMount("off", -1);
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
            ProcMount found = defaults();
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
                found = new ProcMount(hide, gid); // the last mount on a path is the visible one
            }
            return found;
        } catch (IOException | RuntimeException e) {
            return defaults();
        }
    }
}
