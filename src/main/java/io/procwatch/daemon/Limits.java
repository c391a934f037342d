package io.procwatch.daemon;

/**
 * What one client, or one user, may hold of the daemon: the defence against a local user who opens
 * many connections and stalls them (docs/security.md, "Limits").
 *
 * @param maxClients       Unix socket connections at once, all users together
 * @param perUid           connections at once for one uid other than root
 * @param rootReserve      of {@code maxClients}, the connections only root may take, so that a crowd
 *                         of other users never refuses root's {@code ps}
 * @param readTimeoutMs    a request begun (or a connection that has sent nothing yet) must arrive
 *                         whole within this; else the connection is closed
 * @param idleTimeoutMs    a connection with nothing in progress is closed after this long
 * @param writeTimeoutMs   an answer the client does not read for this long closes the connection
 * @param httpStreams      HTTP event streams (SSE) at once, all users together; a sixth (at least
 *                         one) is kept for root
 * @param httpStreamsPerUid HTTP event streams at once for one uid other than root
 * @param metricsGroupCap  /metrics: at most this many containers and this many units get series of
 *                         their own; the rest are summed into one {@code other} series, so a host
 *                         with thousands of short-lived containers cannot blow up the scrape
 */
public record Limits(int maxClients, int perUid, int rootReserve, long readTimeoutMs, long idleTimeoutMs,
                     long writeTimeoutMs, int httpStreams, int httpStreamsPerUid, int metricsGroupCap) {
    public static final int DEFAULT_METRICS_GROUP_CAP = 50;
    public static final long DEFAULT_READ_TIMEOUT_MS = 5_000;
    public static final long DEFAULT_IDLE_TIMEOUT_MS = 600_000;
    public static final long DEFAULT_WRITE_TIMEOUT_MS = 120_000;

    /** The defaults for a connection limit: a quarter per user, an eighth kept for root. */
    public static Limits forClients(int maxClients) {
        return new Limits(maxClients, Math.max(1, maxClients / 4), Math.max(1, maxClients / 8),
                DEFAULT_READ_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS,
                HttpApi.MAX_STREAMS, HttpApi.MAX_STREAMS_PER_UID, DEFAULT_METRICS_GROUP_CAP);
    }

    public Limits withPerUid(int n) {
        return new Limits(maxClients, n, rootReserve, readTimeoutMs, idleTimeoutMs, writeTimeoutMs, httpStreams,
                httpStreamsPerUid, metricsGroupCap);
    }

    public Limits withTimeouts(long readMs, long idleMs) {
        return new Limits(maxClients, perUid, rootReserve, readMs, idleMs, writeTimeoutMs, httpStreams,
                httpStreamsPerUid, metricsGroupCap);
    }

    public Limits withWriteTimeout(long ms) {
        return new Limits(maxClients, perUid, rootReserve, readTimeoutMs, idleTimeoutMs, ms, httpStreams,
                httpStreamsPerUid, metricsGroupCap);
    }

    public Limits withHttpStreams(int all, int perUid) {
        return new Limits(maxClients, this.perUid, rootReserve, readTimeoutMs, idleTimeoutMs, writeTimeoutMs, all,
                perUid, metricsGroupCap);
    }

    public Limits withMetricsGroupCap(int cap) {
        return new Limits(maxClients, perUid, rootReserve, readTimeoutMs, idleTimeoutMs, writeTimeoutMs, httpStreams,
                httpStreamsPerUid, cap);
    }
}
