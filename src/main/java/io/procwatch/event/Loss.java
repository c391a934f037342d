package io.procwatch.event;

/**
 * Events the kernel produced but procwatch did not receive. Whoever keeps state from events must
 * treat its state as unreliable from here on and resynchronise (for the table: rescan /proc).
 *
 * @param reason     how the loss was noticed
 * @param lostEvents how many events are known missing, or -1 when the kernel does not say (overrun)
 * @param cpu        the CPU whose sequence jumped, or -1
 */
public record Loss(Reason reason, long lostEvents, int cpu) implements ConnectorEvent {
    public enum Reason {
        /** recv returned ENOBUFS: the socket's receive buffer was full and the kernel dropped messages. */
        OVERRUN,
        /** the per-CPU sequence number jumped; lostEvents says by how much. */
        SEQUENCE_GAP,
        /** a message was not a well-formed proc connector event and was skipped. */
        MALFORMED
    }
}
