package io.procwatch.connector;

import java.io.IOException;

/** The proc connector could not be subscribed to; the message says why and what to do. */
public final class ConnectorException extends IOException {
    public ConnectorException(String message) {
        super(message);
    }

    public ConnectorException(String message, Throwable cause) {
        super(message, cause);
    }
}
