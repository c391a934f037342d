package io.procwatch.protocol;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/** Builds one message's attributes; {@link #build} adds the header. */
public final class MessageBuilder implements AttrSink {
    private byte[] b = new byte[256];
    private int n;
    private final int[] nestStack = new int[8];
    private int depth;

    @Override
    public MessageBuilder u32(int type, int v) {
        header(type, 4);
        putInt(v);
        return this;
    }

    @Override
    public MessageBuilder u64(int type, long v) {
        header(type, 8);
        putInt((int) v);
        putInt((int) (v >>> 32));
        return this;
    }

    @Override
    public MessageBuilder u8(int type, int v) {
        header(type, 1);
        ensure(1);
        b[n++] = (byte) v;
        pad();
        return this;
    }

    @Override
    public MessageBuilder flag(int type) {
        header(type, 0);
        return this;
    }

    @Override
    public MessageBuilder string(int type, String s) {
        return bytes(type, s.getBytes(StandardCharsets.UTF_8));
    }

    public MessageBuilder bytes(int type, byte[] v) {
        if (v.length > 0xffff - 4) {
            v = Arrays.copyOf(v, 0xffff - 4); // an attribute's length is 16 bits
        }
        header(type, v.length);
        ensure(v.length);
        System.arraycopy(v, 0, b, n, v.length);
        n += v.length;
        pad();
        return this;
    }

    /** NUL-separated, like /proc/PID/cmdline. */
    @Override
    public MessageBuilder strings(int type, List<String> v) {
        StringBuilder sb = new StringBuilder();
        for (String s : v) {
            sb.append(s).append('\0');
        }
        return bytes(type, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    public MessageBuilder beginNested(int type) {
        nestStack[depth++] = n;
        header(type, 0);
        return this;
    }

    public MessageBuilder endNested() {
        int start = nestStack[--depth];
        int len = n - start;
        b[start] = (byte) len;
        b[start + 1] = (byte) (len >>> 8);
        return this;
    }

    public Message build(int type, int flags, int seq) {
        return new Message(type, flags, seq, Arrays.copyOf(b, n));
    }

    private void header(int type, int payload) {
        ensure(4);
        int len = 4 + payload;
        b[n] = (byte) len;
        b[n + 1] = (byte) (len >>> 8);
        b[n + 2] = (byte) type;
        b[n + 3] = (byte) (type >>> 8);
        n += 4;
    }

    private void putInt(int v) {
        ensure(4);
        b[n] = (byte) v;
        b[n + 1] = (byte) (v >>> 8);
        b[n + 2] = (byte) (v >>> 16);
        b[n + 3] = (byte) (v >>> 24);
        n += 4;
    }

    private void pad() {
        int target = Wire.align(n);
        ensure(target - n);
        while (n < target) {
            b[n++] = 0;
        }
    }

    private void ensure(int more) {
        if (n + more > b.length) {
            b = Arrays.copyOf(b, Math.max(b.length * 2, n + more));
        }
    }
}
