package io.procwatch.cli;

/** A bad command line: printed with a hint, exit code 2. */
final class UsageException extends Exception {
    UsageException(String message) {
        super(message);
    }
}
