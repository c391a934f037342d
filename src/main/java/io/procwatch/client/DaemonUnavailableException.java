package io.procwatch.client;

import java.io.IOException;
import java.nio.file.Path;

/** No daemon answers on the socket; the message says how to start one. */
public final class DaemonUnavailableException extends IOException {
    public DaemonUnavailableException(Path socket, String why) {
        super("no procwatch daemon at " + socket + " (" + why + "). Start it as root: "
                + "sudo procwatch daemon --background (or: systemctl start procwatch)");
    }
}
