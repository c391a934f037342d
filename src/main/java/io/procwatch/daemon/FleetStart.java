package io.procwatch.daemon;

import io.procwatch.sink.AckedState;
import io.procwatch.sink.FleetSink;
import io.procwatch.sink.HostIdentity;
import io.procwatch.sink.KafkaSink;
import io.procwatch.store.HistoryJournal;
import io.procwatch.sink.JournalSource;
import io.procwatch.store.HistoryStore;
import io.procwatch.store.Journal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Starts the Kafka sink. The only daemon class that names KafkaSink, and called only when the
 * daemon was configured with a broker: the JVM loads a class when it first runs code that uses
 * it, so without the option neither this class nor any Kafka class is loaded.
 */
final class FleetStart {
    private FleetStart() {
    }

    /**
     * The sink reads the event journal when the daemon keeps one (execs, id changes, renames,
     * exits, gaps), else the history database's exits. The two number their entries differently,
     * so each has its own acknowledged-point file.
     */
    static FleetSink start(Daemon.Fleet f, Path historyDb, HistoryStore store, Journal journal) throws IOException {
        if (store == null || historyDb == null) {
            // until the event journal lands, the history database is what the sink reads and resends from
            throw new IOException("kafka needs history-db: the sink sends the recorded exits and resends from them"
                    + " after an outage");
        }
        HostIdentity host;
        try {
            host = HostIdentity.ofThisHost(f.hostId(), f.hostName());
        } catch (IllegalArgumentException e) {
            throw new IOException("kafka: " + e.getMessage());
        }
        Properties client = new Properties();
        if (f.properties() != null) {
            // read as root: refused if anyone but root (or the daemon's user) could have written it
            byte[] bytes = TrustedFile.read(f.properties(), 1 << 20);
            if (TrustedFile.othersMayRead(f.properties())) {
                // it may hold SASL passwords or key store passwords
                System.err.println("procwatch daemon: warning: " + f.properties() + " is readable by every user");
            }
            try (InputStream in = new java.io.ByteArrayInputStream(bytes)) {
                client.load(in);
            } catch (IllegalArgumentException e) {
                // Properties says only what is malformed, never the line itself, which may hold a password
                throw new IOException(f.properties() + ": " + e.getMessage());
            }
        }
        Path state = f.state() != null ? f.state() : historyDb.resolveSibling(historyDb.getFileName()
                + (journal != null ? ".kafka-journal-acked" : ".kafka-acked"));
        JournalSource source = journal != null ? journal : new HistoryJournal(store);
        String topic = f.topic() != null ? f.topic() : KafkaSink.DEFAULT_TOPIC;
        KafkaSink sink;
        try {
            sink = new KafkaSink(new KafkaSink.Config(f.bootstrap(), topic, client), source, host,
                    new AckedState(state));
        } catch (RuntimeException e) {
            throw new IOException("kafka: " + e.getMessage(), e);
        }
        sink.start();
        System.err.println("procwatch daemon: sending to kafka " + f.bootstrap() + " topic " + topic + " as host "
                + host.hostId() + " from " + (journal != null ? "the journal" : "the history database") + ", seq " + (sink.snapshot().ackedSeq() + 1) + " (state in " + state + ")");
        return sink;
    }
}
