package io.procwatch.protocol;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A cursor over attributes. {@link #next()} stops at the end or at a malformed attribute
 * ({@link #malformed()} then says so); getters check the payload size of the current attribute and
 * throw ProtocolException when it does not fit the expected type.
 */
public final class Attrs {
    private final byte[] b;
    private final int end;
    private int pos;
    private int type;
    private int off;
    private int len;
    private boolean malformed;

    public Attrs(byte[] b, int from, int to) {
        this.b = b;
        this.pos = from;
        this.end = to;
    }

    public boolean next() {
        if (end - pos < 4) {
            if (end - pos != 0) {
                malformed = true;
            }
            return false;
        }
        int l = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8;
        if (l < 4 || l > end - pos) {
            malformed = true;
            pos = end;
            return false;
        }
        type = (b[pos + 2] & 0xff) | (b[pos + 3] & 0xff) << 8;
        off = pos + 4;
        len = l - 4;
        pos = Math.min(end, pos + Wire.align(l));
        return true;
    }

    /** True if the walk ended at an attribute whose length did not fit. */
    public boolean malformed() {
        return malformed;
    }

    public int type() {
        return type;
    }

    public int length() {
        return len;
    }

    public int u32() throws ProtocolException {
        need(4);
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    public long u64() throws ProtocolException {
        need(8);
        long lo = Integer.toUnsignedLong((b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16
                | (b[off + 3] & 0xff) << 24);
        long hi = Integer.toUnsignedLong((b[off + 4] & 0xff) | (b[off + 5] & 0xff) << 8 | (b[off + 6] & 0xff) << 16
                | (b[off + 7] & 0xff) << 24);
        return hi << 32 | lo;
    }

    public int u8() throws ProtocolException {
        need(1);
        return b[off] & 0xff;
    }

    public String string() {
        return new String(b, off, len, StandardCharsets.UTF_8);
    }

    public byte[] bytes() {
        byte[] r = new byte[len];
        System.arraycopy(b, off, r, 0, len);
        return r;
    }

    /** NUL-separated strings (an argv). */
    public List<String> strings() {
        List<String> out = new ArrayList<>();
        int start = off;
        for (int i = off; i < off + len; i++) {
            if (b[i] == 0) {
                out.add(new String(b, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < off + len) {
            out.add(new String(b, start, off + len - start, StandardCharsets.UTF_8));
        }
        return out;
    }

    public Attrs nested() {
        return new Attrs(b, off, off + len);
    }

    private void need(int n) throws ProtocolException {
        if (len < n) {
            throw new ProtocolException(Wire.E_MALFORMED, "attribute " + type + " has " + len
                    + " bytes, needs " + n);
        }
    }
}
