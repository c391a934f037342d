package io.procwatch.cli;

import io.procwatch.sys.Libc;

/**
 * Tells systemd the daemon is ready (Type=notify): sends "READY=1" to $NOTIFY_SOCKET, a Unix
 * datagram socket, which the JDK's socket API cannot address, so it goes through libc.
 */
final class SystemdNotify {
    private SystemdNotify() {
    }

    static void ready() {
        String path = System.getenv("NOTIFY_SOCKET");
        if (path == null || path.isEmpty()) {
            return;
        }
        try {
            Libc.sendUnixDatagram(path, "READY=1\nMAINPID=" + ProcessHandle.current().pid() + "\n");
        } catch (Exception e) {
            System.err.println("procwatch daemon: could not notify systemd: " + e.getMessage());
        }
    }
}
