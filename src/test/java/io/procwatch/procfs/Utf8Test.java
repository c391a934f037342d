package io.procwatch.procfs;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/** Every byte that is not part of valid UTF-8 becomes exactly one U+FFFD; valid text is kept. */
class Utf8Test {
    private static String decode(String hex) {
        return Utf8.decode(HexFormat.of().parseHex(hex));
    }

    @Test
    void validTextIsKept() {
        assertThat(decode("616263")).isEqualTo("abc");
        assertThat(decode("c3a9")).isEqualTo("é");
        assertThat(decode("e4b8ad")).isEqualTo("中");
        assertThat(decode("f09f9880")).isEqualTo("\uD83D\uDE00");
        assertThat(decode("efbfbd")).isEqualTo("\uFFFD");
        assertThat(decode("")).isEmpty();
    }

    @Test
    void eachBadByteIsOneReplacement() {
        assertThat(decode("41ff42")).isEqualTo("A\uFFFDB");
        assertThat(decode("c3")).isEqualTo("\uFFFD");                        // truncated at the end
        assertThat(decode("e282")).isEqualTo("\uFFFD\uFFFD");               // truncated 3-byte sequence
        assertThat(decode("c341")).isEqualTo("\uFFFDA");                    // lead without continuation
        assertThat(decode("80bf")).isEqualTo("\uFFFD\uFFFD");               // stray continuations
        assertThat(decode("c0af")).isEqualTo("\uFFFD\uFFFD");               // overlong '/'
        assertThat(decode("e080af")).isEqualTo("\uFFFD\uFFFD\uFFFD");       // overlong, 3 bytes
        assertThat(decode("eda080")).isEqualTo("\uFFFD\uFFFD\uFFFD");       // a UTF-16 surrogate
        assertThat(decode("f4908080")).isEqualTo("\uFFFD".repeat(4));       // beyond U+10FFFF
        assertThat(decode("f5")).isEqualTo("\uFFFD");
    }

    @Test
    void decodesASliceOnly() {
        byte[] b = HexFormat.of().parseHex("ff41c3a9ff");
        assertThat(Utf8.decode(b, 1, 3)).isEqualTo("Aé");
    }
}
