package io.procwatch.protocol;

import java.io.IOException;

/** A message that breaks the protocol: the peer gets an ERROR with this code and text. */
public final class ProtocolException extends IOException {
    private final int code;

    public ProtocolException(int code, String message) {
        super(message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
