package io.procwatch.client;

import io.procwatch.protocol.Message;

import java.io.IOException;

/**
 * Inside the daemon, a command run for a thin client (RUN) asks its SNAPSHOTs of the live table
 * through this instead of the connection: the request is the same message, parsed and checked as
 * the wire's, and the answer's rows are made straight from the table, with no encoding into bytes
 * and decoding back. With F_DELTA, a row that did not change since this run's previous answer is
 * the same object, as a merged delta answer's rows are.
 */
public interface InProcessSnapshots {
    ProcwatchClient.Listing snapshot(Message request) throws IOException;
}
