package io.procwatch.bench;

import io.procwatch.connector.ProcEventDecoder;
import io.procwatch.event.ConnectorEvent;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Nanoseconds to decode one proc connector datagram (captured from the kernel) into an event. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 10, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class DecodeBenchmark {
    @Param({"fork", "exec", "exit", "comm"})
    public String kind;

    private MemorySegment datagram;
    private int length;
    private ProcEventDecoder decoder;
    private Consumer<ConnectorEvent> sink;

    @Setup
    public void setup(Blackhole bh) throws IOException {
        byte[] bytes;
        try (InputStream in = DecodeBenchmark.class.getResourceAsStream("/golden/" + kind + ".bin")) {
            bytes = in.readAllBytes();
        }
        datagram = Arena.ofAuto().allocate(bytes.length, 8);
        datagram.copyFrom(MemorySegment.ofArray(bytes));
        length = bytes.length;
        // Sequence tracking on, as in production; the same seq every time reads as a restart, not a gap.
        decoder = new ProcEventDecoder(true, -1);
        sink = bh::consume;
    }

    @Benchmark
    public int decode() {
        return decoder.decode(datagram, length, sink, null);
    }
}
