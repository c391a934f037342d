package io.procwatch.procfs;

import java.nio.charset.StandardCharsets;

/**
 * Decodes the bytes of /proc text (command lines, names, paths), which the kernel does not
 * check: any byte may appear. Valid UTF-8 becomes its characters; every byte that is not part of
 * a valid sequence becomes one U+FFFD, so a display can show one mark per bad byte as ps does
 * (the JDK decoder folds a broken sequence into a single U+FFFD).
 */
public final class Utf8 {
    public static final char BAD_BYTE = '\uFFFD';

    private Utf8() {
    }

    public static String decode(byte[] b) {
        return decode(b, 0, b.length);
    }

    public static String decode(byte[] b, int off, int len) {
        int end = off + len;
        int i = off;
        while (i < end && b[i] >= 0) {
            i++;
        }
        if (i == end) {
            return new String(b, off, len, StandardCharsets.ISO_8859_1); // all ASCII: the common case
        }
        StringBuilder sb = new StringBuilder(len);
        sb.append(new String(b, off, i - off, StandardCharsets.ISO_8859_1));
        while (i < end) {
            int c = b[i] & 0xff;
            int n = sequenceLength(b, i, end);
            if (n == 1 && c < 0x80) {
                sb.append((char) c);
            } else if (n == 0) {
                sb.append(BAD_BYTE);
                n = 1;
            } else {
                sb.appendCodePoint(codePoint(b, i, n));
            }
            i += n;
        }
        return sb.toString();
    }

    /** Length of the valid UTF-8 sequence at i (1-4), or 0 if the byte there does not start one. */
    private static int sequenceLength(byte[] b, int i, int end) {
        int c = b[i] & 0xff;
        if (c < 0x80) {
            return 1;
        }
        int n;
        int min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            min = 0x10000;
        } else {
            return 0; // continuation byte, overlong lead (c0, c1) or beyond Unicode (f5-ff)
        }
        if (i + n > end) {
            return 0;
        }
        for (int k = 1; k < n; k++) {
            if ((b[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        int cp = codePoint(b, i, n);
        if (cp < min || cp > Character.MAX_CODE_POINT || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0; // overlong, too large, or a UTF-16 surrogate: not UTF-8
        }
        return n;
    }

    private static int codePoint(byte[] b, int i, int n) {
        int cp = (b[i] & 0xff) & (0xff >> (n + 1));
        for (int k = 1; k < n; k++) {
            cp = (cp << 6) | (b[i + k] & 0x3f);
        }
        return cp;
    }
}
