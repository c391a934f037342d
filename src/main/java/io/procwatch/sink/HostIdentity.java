package io.procwatch.sink;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Who a record comes from. host.id defaults to /etc/machine-id, boot id to the kernel's random
 * boot_id: together with pid and start time they name one process life fleet-wide (a pid and a
 * monotonic start time repeat across boots and hosts).
 */
public record HostIdentity(String hostId, String hostName, String bootId) {
    public HostIdentity {
        hostId = checked("host id", hostId);
        hostName = checked("host name", hostName);
        bootId = checked("boot id", bootId);
    }

    /** Ids go into record keys and a consumer's filters: printable, no separator, bounded. */
    private static String checked(String what, String v) {
        if (v == null || v.isEmpty() || v.length() > 255) {
            throw new IllegalArgumentException(what + " must be 1-255 characters");
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '/') {
                throw new IllegalArgumentException(what + " has a character outside printable ASCII or '/': " + v);
            }
        }
        return v;
    }

    public static HostIdentity ofThisHost(String hostIdOrNull, String hostNameOrNull) throws IOException {
        String id = hostIdOrNull != null ? hostIdOrNull : firstLine(Path.of("/etc/machine-id"));
        String name = hostNameOrNull != null ? hostNameOrNull : firstLine(Path.of("/proc/sys/kernel/hostname"));
        String boot = firstLine(Path.of("/proc/sys/kernel/random/boot_id"));
        return new HostIdentity(id, name, boot);
    }

    private static String firstLine(Path p) throws IOException {
        String s = Files.readString(p).strip();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
