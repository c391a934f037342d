package io.procwatch.cli;

import io.procwatch.client.ProcwatchClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Everything a command learns from the process it runs in, other than its arguments and output
 * streams: the environment that changes output, whether the console is a terminal, the
 * controlling terminal, the user, and how to reach the daemon. A JVM client takes them from its
 * own process ({@link #ofThisProcess()}); a command run inside the daemon for a thin client gets the
 * client's (see daemon/RunSession), so one piece of command code serves both and prints the same.
 *
 * @param env          only the variables in {@link #ENV_NAMES} matter; others are ignored
 * @param consoleTerminal stdin and stdout are both terminals (what {@code System.console().isTerminal()} says)
 * @param ttyNr        the controlling terminal's device number (/proc/self/stat field 7), 0 if none
 * @param uid          the user the command runs for, -1 if unknown
 * @param daemon       opens a connection to the daemon for a socket path
 * @param autoStart    whether a missing daemon may be started (never from inside the daemon)
 * @param utf8         whether process text prints as UTF-8 (see {@link Printable}), from env
 * @param zone         the time zone, from env's TZ
 */
public record Invocation(Map<String, String> env, boolean consoleTerminal, int ttyNr, int uid, Connector daemon,
                         boolean autoStart, boolean utf8, ZoneId zone) {
    /** The environment variables that change what a command prints (the thin client sends these). */
    public static final Set<String> ENV_NAMES = Set.of("LC_ALL", "LC_CTYPE", "LANG", "TZ", "COLUMNS", "LINES",
            "TERM", "PS_FORMAT", "PS_PERSONALITY", "NO_COLOR");

    /** Opens a client for a socket path. */
    @FunctionalInterface
    public interface Connector {
        ProcwatchClient connect(Path socket) throws IOException;
    }

    private static final ScopedValue<Invocation> CURRENT = ScopedValue.newInstance();
    /** Computed once: a JVM client's process does not change its environment or terminal. */
    private static volatile Invocation process;

    public Invocation {
        env = Map.copyOf(env);
    }

    /** The locale and zone worked out once here: rows call them for every field. */
    public static Invocation of(Map<String, String> env, boolean consoleTerminal, int ttyNr, int uid,
                                Connector daemon, boolean autoStart) {
        Map<String, String> e = filter(env);
        return new Invocation(e, consoleTerminal, ttyNr, uid, daemon, autoStart, Printable.utf8Locale(e), zoneOf(e));
    }

    /** The invocation the running command serves: the bound one, else this process's. */
    public static Invocation current() {
        return CURRENT.isBound() ? CURRENT.get() : ofThisProcess();
    }

    /** Runs {@code body} with this invocation as {@link #current()} (on this thread only). */
    public <T> T call(Callable<T> body) throws Exception {
        return ScopedValue.where(CURRENT, this).call(body::call);
    }

    static Invocation ofThisProcess() {
        Invocation p = process;
        if (p == null) {
            java.io.Console c = System.console();
            // the JVM's own zone, which it took from TZ at start: the JVM path prints as it always did
            Map<String, String> env = filter(System.getenv());
            p = new Invocation(env, c != null && c.isTerminal(), ownTty(), DaemonLink.currentUid(),
                    ProcwatchClient::connect, true, Printable.utf8Locale(env), ZoneId.systemDefault());
            process = p;
        }
        return p;
    }

    /** The variables of {@code env} that are in {@link #ENV_NAMES}. */
    public static Map<String, String> filter(Map<String, String> env) {
        Map<String, String> out = new java.util.HashMap<>();
        for (String k : ENV_NAMES) {
            String v = env.get(k);
            if (v != null) {
                out.put(k, v);
            }
        }
        return out;
    }

    public String getenv(String name) {
        return env.get(name);
    }

    /**
     * The time zone as the JVM takes it from TZ (for a client's TZ in the daemon): the zone TZ
     * names (a leading ':' dropped),
     * the system's zone when TZ is unset, GMT (as the JVM falls back) when it names no zone.
     */
    private static ZoneId zoneOf(Map<String, String> env) {
        String tz = env.get("TZ");
        if (tz == null || tz.isEmpty()) {
            return SYSTEM_ZONE;
        }
        if (tz.startsWith(":")) {
            tz = tz.substring(1);
        }
        tz = tz.replaceFirst("^/.*/zoneinfo/", ""); // a path into the zone database, as glibc takes it
        try {
            return ZoneId.of(tz);
        } catch (DateTimeException e) {
            return ZoneId.of("GMT");
        }
    }

    /** The zone of this JVM's process (for the daemon: the daemon's own; a client's TZ comes in env). */
    private static final ZoneId SYSTEM_ZONE = systemZone();

    private static ZoneId systemZone() {
        // A JVM started with TZ set has that zone as its default: undo it for clients without TZ.
        String tz = System.getenv("TZ");
        if (tz == null || tz.isEmpty()) {
            return ZoneId.systemDefault();
        }
        try {
            return ZoneId.of(Files.readSymbolicLink(Path.of("/etc/localtime")).toString()
                    .replaceFirst(".*/zoneinfo/", ""));
        } catch (IOException | RuntimeException e) {
            return ZoneId.systemDefault();
        }
    }

    /** The controlling terminal of this process: /proc/self/stat field 7 (tty_nr). */
    private static int ownTty() {
        try {
            String s = Files.readString(Path.of("/proc/self/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(f[4]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
