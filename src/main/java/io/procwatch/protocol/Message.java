package io.procwatch.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One protocol message: header fields plus the attribute bytes that follow the header.
 * {@link #read} enforces the framing rules; {@link #attrs()} walks the attributes.
 */
public record Message(int type, int flags, int seq, byte[] body) {

    public Attrs attrs() {
        return new Attrs(body, 0, body.length);
    }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /**
     * Reads one message. Returns null at a clean end of stream (before a header).
     *
     * @param maxLength the largest message this side accepts
     * @throws ProtocolException for a length that is too small, too large or unaligned
     * @throws EOFException      when the stream ends inside a message
     */
    public static Message read(InputStream in, int maxLength) throws IOException {
        byte[] header = new byte[Wire.HEADER];
        int n = in.readNBytes(header, 0, Wire.HEADER);
        if (n == 0) {
            return null;
        }
        if (n < Wire.HEADER) {
            throw new EOFException("stream ended inside a message header (" + n + " of 16 bytes)");
        }
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        long length = Integer.toUnsignedLong(h.getInt(0));
        int type = h.getShort(4) & 0xffff;
        int flags = h.getShort(6) & 0xffff;
        int seq = h.getInt(8);
        if (length < Wire.HEADER) {
            throw new ProtocolException(Wire.E_MALFORMED, "message length " + length + " is shorter than its header");
        }
        if (length > maxLength) {
            throw new ProtocolException(Wire.E_TOO_LARGE, "message length " + length + " exceeds the limit of "
                    + maxLength + " bytes");
        }
        if ((length & 3) != 0) {
            throw new ProtocolException(Wire.E_MALFORMED, "message length " + length + " is not a multiple of 4");
        }
        // The length is checked against maxLength above, so allocating it up front is bounded.
        byte[] body = new byte[(int) length - Wire.HEADER];
        int got = in.readNBytes(body, 0, body.length);
        if (got < body.length) {
            throw new EOFException("stream ended inside a message (" + got + " of " + body.length + " body bytes)");
        }
        return new Message(type, flags, seq, body);
    }

    public void write(OutputStream out) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(Wire.HEADER).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(Wire.HEADER + body.length).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
        out.write(h.array());
        out.write(body);
    }

    /** The whole message as bytes (header and body). */
    public byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(Wire.HEADER + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(Wire.HEADER + body.length).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
        b.put(body);
        return b.array();
    }
}
