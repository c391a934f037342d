package io.procwatch.client;

import java.io.IOException;

/** The daemon answered a request with ERROR. */
public final class DaemonErrorException extends IOException {
    private final int code;

    public DaemonErrorException(int code, String text) {
        super(text);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
