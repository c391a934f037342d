package io.procwatch.cli;

import io.procwatch.procfs.Utf8;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Makes process text safe to print the way procps ps does: a name or command line may hold any
 * byte, and a raw newline or escape sequence would break a script's parsing or repaint the
 * operator's terminal. Text output only; JSON carries the exact strings.
 *
 * <p>In a UTF-8 locale, printable characters pass and every control character, unprintable
 * character and byte that is not UTF-8 becomes '?'. In any other locale (C, POSIX, or a UTF-8
 * locale that is not installed, where setlocale falls back to C), control characters become '.'
 * and each non-ASCII byte '?'. In a command line a newline reads as a space in both.
 */
final class Printable {

    private Printable() {
    }

    static String text(String s) {
        return clean(s, false, Invocation.current().utf8());
    }

    static String args(String s) {
        return clean(s, true, Invocation.current().utf8());
    }

    static String clean(String s, boolean args, boolean utf8) {
        if (s == null || isPlainAscii(s)) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == '\n' && args) {
                sb.append(' ');
            } else if (cp < 0x20 || cp == 0x7f) {
                sb.append(utf8 ? '?' : '.');
            } else if (cp < 0x80) {
                sb.append((char) cp);
            } else if (!utf8) {
                // one mark per byte the character took in /proc
                sb.append("?".repeat(cp == Utf8.BAD_BYTE ? 1 : utf8Length(cp)));
            } else {
                sb.appendCodePoint(printable(cp) ? cp : '?');
            }
        }
        return sb.toString();
    }

    private static boolean isPlainAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    private static boolean printable(int cp) {
        if (cp <= 0x9f || cp == Utf8.BAD_BYTE || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe) {
            return false; // C1 controls, bytes that were not UTF-8, noncharacters
        }
        return switch (Character.getType(cp)) {
            case Character.UNASSIGNED, Character.SURROGATE, Character.LINE_SEPARATOR,
                 Character.PARAGRAPH_SEPARATOR, Character.CONTROL -> false;
            default -> true;
        };
    }

    private static int utf8Length(int cp) {
        return cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }

    /**
     * The terminal cells of text (as {@link #clean} leaves it) the way procps counts them: an East
     * Asian wide character takes two, a combining mark or format character none, any other one.
     * Outside a UTF-8 locale clean text is ASCII, so this is its length there.
     */
    static int cells(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); ) {
            char ch = s.charAt(i);
            if (ch < 0x300) { // ASCII and Latin: one cell, and no lookup
                n++;
                i++;
                continue;
            }
            int cp = s.codePointAt(i);
            n += cellsOf(cp);
            i += Character.charCount(cp);
        }
        return n;
    }

    /** The longest front of {@code s} within {@code max} cells (a wide character that does not fit ends it, as in procps). */
    static String fit(String s, int max) {
        int used = 0;
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int w = cp < 0x300 ? 1 : cellsOf(cp);
            if (used + w > max) {
                break;
            }
            used += w;
            i += Character.charCount(cp);
        }
        return s.substring(0, i);
    }

    private static int cellsOf(int cp) {
        int t = Character.getType(cp);
        if (t == Character.NON_SPACING_MARK || t == Character.ENCLOSING_MARK || t == Character.FORMAT) {
            return 0;
        }
        boolean wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f)
                || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f)
                || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f)
                || (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
        return wide ? 2 : 1;
    }

    /** What setlocale(LC_CTYPE, "") would pick: LC_ALL, else LC_CTYPE, else LANG. */
    static boolean utf8Locale(java.util.Map<String, String> env) {
        String name = null;
        for (String var : new String[] {"LC_ALL", "LC_CTYPE", "LANG"}) {
            String v = env.get(var);
            if (v != null && !v.isEmpty()) {
                name = v;
                break;
            }
        }
        if (name == null) {
            return false;
        }
        String lower = name.toLowerCase(Locale.ROOT);
        if (!lower.contains("utf-8") && !lower.contains("utf8")) {
            return false;
        }
        if (lower.startsWith("c.")) {
            return true; // built into glibc
        }
        // glibc normalises "en_US.UTF-8" to the directory "en_US.utf8"
        String normalised = name.replaceFirst("(?i)\\.utf-?8", ".utf8");
        return Files.isDirectory(Path.of("/usr/lib/locale", normalised))
                || Files.isDirectory(Path.of("/usr/lib/locale", name))
                || Files.exists(Path.of("/usr/lib/locale/locale-archive"));
    }
}
