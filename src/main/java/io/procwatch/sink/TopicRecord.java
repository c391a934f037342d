package io.procwatch.sink;

/** A record as read from the topic, with no Kafka type: what the fleet commands work on. */
public record TopicRecord(int partition, long offset, long timestampMs, String key, String value) {
}
