package io.procwatch.cli;

/** An instant as the commands read it (ps --at, history --since), for the daemon's HTTP API. */
public final class Instants {
    private Instants() {
    }

    /** @throws IllegalArgumentException with the commands' message when {@code s} is not a time */
    public static long parse(String what, String s, long nowMs) {
        try {
            return HistoryCommand.when(what, s, nowMs);
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }
}
