package io.procwatch.sink;

import java.util.Map;

/**
 * What the daemon holds of a configured sink, with no Kafka type in sight: the daemon's classes
 * name only this, so a daemon without a broker never loads a Kafka class (FleetLoadingTest).
 */
public interface FleetSink extends AutoCloseable {
    /** Counters for {@code procwatch stats} and /metrics, names starting with "kafka_". */
    Map<String, Long> stats();

    @Override
    void close();
}
