package io.procwatch.event;

/** Signal numbers to names (x86-64 / generic Linux numbering). */
public final class Signals {
    private static final String[] NAMES = {
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"
    };

    private Signals() {
    }

    public static String name(int signal) {
        if (signal > 0 && signal < NAMES.length) {
            return NAMES[signal];
        }
        return signal >= 34 && signal <= 64 ? "SIGRTMIN+" + (signal - 34) : "signal " + signal;
    }

    /** A signal by number ("15") or name ("TERM", "sigterm", "SIGKILL"), or -1 if unknown. */
    public static int number(String text) {
        String t = text.trim().toUpperCase(java.util.Locale.ROOT);
        if (t.matches("\\d{1,2}")) {
            int n = Integer.parseInt(t);
            return n >= 0 && n <= 64 ? n : -1;
        }
        String name = t.startsWith("SIG") ? t : "SIG" + t;
        for (int i = 1; i < NAMES.length; i++) {
            if (NAMES[i].equals(name)) {
                return i;
            }
        }
        return -1;
    }
}
