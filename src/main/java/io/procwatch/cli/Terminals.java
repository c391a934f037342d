package io.procwatch.cli;

/** Controlling-terminal numbers (stat's tty_nr) to names as ps shows them: pts/3, tty1, ttyS0, ?. */
final class Terminals {
    private Terminals() {
    }

    static String name(int ttyNr) {
        if (ttyNr <= 0) {
            return "?";
        }
        int major = (ttyNr >> 8) & 0xfff;
        int minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
        if (major >= 136 && major <= 143) {
            return "pts/" + (minor + (major - 136) * 256);
        }
        if (major == 4) {
            return minor < 64 ? "tty" + minor : "ttyS" + (minor - 64);
        }
        if (major == 5 && minor == 1) {
            return "console";
        }
        if (major == 5 && minor == 0) {
            return "tty";
        }
        return major + "," + minor;
    }

    /** The tty_nr of a name such as "pts/3" or "tty1" (for ps -t), or -1. */
    static int number(String name) {
        String n = name.startsWith("/dev/") ? name.substring(5) : name;
        try {
            if (n.startsWith("pts/")) {
                int i = Integer.parseInt(n.substring(4));
                int major = 136 + i / 256;
                int minor = i % 256;
                return (major << 8) | minor;
            }
            if (n.startsWith("ttyS")) {
                return (4 << 8) | (64 + Integer.parseInt(n.substring(4)));
            }
            if (n.startsWith("tty") && n.length() > 3) {
                return (4 << 8) | Integer.parseInt(n.substring(3));
            }
            if (n.equals("console")) {
                return (5 << 8) | 1;
            }
        } catch (NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
