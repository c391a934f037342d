package io.procwatch.event;

/**
 * What the kernel event source delivers: a process event, or a report that events were lost.
 *
 * <p>Loss is part of the same sealed type on purpose: a {@code switch} over a ConnectorEvent does
 * not compile until it says what to do when events went missing.
 */
public sealed interface ConnectorEvent permits ProcEvent, Loss {
}
