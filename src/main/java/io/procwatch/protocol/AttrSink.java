package io.procwatch.protocol;

import java.util.List;

/**
 * Where an encoder puts attributes: a {@link MessageBuilder} lays them out for the wire; a
 * row built in memory ({@code client.ProcRow}) takes them as values, for the daemon's own commands
 * (RUN), which read its table without encoding and decoding every row. One encoder decides, for
 * both, which attributes a viewer gets.
 */
public interface AttrSink {
    AttrSink u8(int type, int v);

    AttrSink u32(int type, int v);

    AttrSink u64(int type, long v);

    AttrSink flag(int type);

    AttrSink string(int type, String s);

    /** A list of strings (on the wire NUL-separated, like /proc/PID/cmdline). */
    AttrSink strings(int type, List<String> v);
}
