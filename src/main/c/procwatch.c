/*
 * procwatch thin client: runs a read-only command (ps, tree, history, stats, wait, events, top,
 * batch or interactive) inside the procwatch daemon and prints what it prints, so a command costs a connect and a few
 * reads instead of a JVM start. The daemon learns who we are from SO_PEERCRED; we send argv, the
 * environment variables that change output, the terminal facts, and copy the STDOUT/STDERR
 * frames it sends back to fd 1 and 2 until EXIT (docs/protocol.md, "RUN").
 *
 * Anything else, no daemon, or a daemon that refuses the RUN (too old, busy, a command it does not
 * run) goes to the JVM launcher (bin/procwatch with PROCWATCH_NO_NATIVE=1), which does it as before.
 * Ctrl-C (or SIGTERM, SIGHUP) sends CANCEL, waits briefly for the daemon's EXIT so the run is over
 * on both sides, then dies of the signal as ps would; a second one dies at once. A closed stdout
 * pipe kills us with SIGPIPE; the daemon sees the socket close and ends the run.
 *
 * A daemon older than this client answers RUN with "unknown request": we say so once per daemon
 * start (a stamp under ~/.cache/procwatch) and hand the command to the JVM.
 *
 * Interactive top (stdin and stdout terminals) runs in the daemon too: we make the terminal raw
 * (no echo, no line editing; signals stay), send the keys as STDIN frames and the window size at
 * start and on SIGWINCH as WINSIZE, and give the terminal back as it was on every way out: the
 * EXIT, the daemon going, Ctrl-C and the other stop signals, Ctrl-Z (and back after SIGCONT). A HELLO
 * sent in front of the RUN says whether the daemon takes STDIN and WINSIZE; one that does not gets
 * the command handed to the JVM, as before.
 *
 * C11 and libc only; built by Maven into target/procwatch-native.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* The numbers of docs/protocol.md (Wire.java). */
enum {
    HEADER = 16,
    MAX_REQUEST = 64 * 1024,
    HELLO = 1,
    RUN = 7,
    CANCEL = 8,
    STDIN_FRAME = 9,
    WINSIZE_FRAME = 10,
    MAX_KEYS = 4096,
    HELLO_REPLY = 16,
    A_VERSION = 1,
    R_CAPABILITIES = 7,
    A_INPUT = 22,
    ERROR = 21,
    STDOUT_FRAME = 26,
    STDERR_FRAME = 27,
    EXIT_FRAME = 28,
    A_ARG = 12,
    A_ENV = 13,
    A_TERMINAL = 14,
    A_WINSIZE = 15,
    A_CTTY = 16,
    R_ERROR_CODE = 4,
    R_ERROR_TEXT = 5,
    E_UNKNOWN_REQUEST = 2,
    R_DATA = 17,
    R_EXIT_STATUS = 18,
};

static const char *const ENV_NAMES[] = {"LC_ALL", "LC_CTYPE", "LANG", "TZ", "COLUMNS", "LINES",
                                        "TERM", "PS_FORMAT", "PS_PERSONALITY", "NO_COLOR"};

static char **saved_argv;

/* The terminal as it was before interactive top made it raw; raw_on while it is ours to give back. */
static struct termios saved_tio;
static int raw_on;
/* Output of the daemon's top has come, and it has not left its full screen (alternate buffer). */
static int screen_on;

static int write_full(int fd, const void *buf, size_t len);

/* Gives the terminal back: the normal screen with the cursor shown, then the saved modes. */
static void restore_terminal(void) {
    if (screen_on) {
        static const char leave[] = "\033[?25h\033[?1049l";
        write_full(1, leave, sizeof leave - 1);
        screen_on = 0;
    }
    if (raw_on) {
        tcsetattr(0, TCSADRAIN, &saved_tio);
        raw_on = 0;
    }
}

/* What the JVM's top asks stty for: -icanon -echo min 1 time 0 (Ctrl-C, Ctrl-Z stay signals). */
static int make_raw(void) {
    struct termios t = saved_tio;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSADRAIN, &t) != 0) {
        return 0;
    }
    raw_on = 1;
    return 1;
}

/* Hands the whole command to the JVM launcher. Never returns. */
static void jvm(void) {
    char path[PATH_MAX];
    restore_terminal(); /* the JVM's top saves the terminal's modes itself: they must be the user's */
    const char *launcher = getenv("PROCWATCH_JVM");
    if (launcher == NULL || launcher[0] == '\0') {
        /* target/procwatch-native -> bin/procwatch of the same checkout */
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
        if (n <= 0) {
            fprintf(stderr, "procwatch: cannot find the launcher (set PROCWATCH_JVM)\n");
            exit(70);
        }
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (slash != NULL) {
            *slash = '\0';
            slash = strrchr(path, '/');
        }
        if (slash == NULL) {
            fprintf(stderr, "procwatch: cannot find the launcher (set PROCWATCH_JVM)\n");
            exit(70);
        }
        strcpy(slash, "/bin/procwatch");
        launcher = path;
    }
    setenv("PROCWATCH_NO_NATIVE", "1", 1);
    signal(SIGPIPE, SIG_DFL); /* interactive top ignores it; the JVM must not inherit that */
    execv(launcher, saved_argv);
    fprintf(stderr, "procwatch: cannot run %s: %s\n", launcher, strerror(errno));
    exit(70);
}

/* Whether the daemon runs this command (RunSession.refusal says the same on its side): 0 no, 1 yes,
 * 2 as interactive top (both stdin and stdout terminals; otherwise the JVM says what top needs). */
static int runs_in_daemon(int argc, char **argv) {
    static const char *const cmds[] = {"ps", "tree", "history", "diff", "stats", "wait", "events", "top"};
    if (argc < 2) {
        return 0;
    }
    int known = 0;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        known |= strcmp(argv[1], cmds[i]) == 0;
    }
    if (!known) {
        return 0;
    }
    int batch = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--local") == 0) {
            return 0;
        }
        batch |= strcmp(argv[i], "-b") == 0 || strcmp(argv[i], "--batch") == 0;
    }
    if (strcmp(argv[1], "top") != 0 || batch) {
        return 1;
    }
    return isatty(0) && isatty(1) ? 2 : 0;
}

/* The socket: --socket PATH or --socket=PATH, else $PROCWATCH_SOCKET, else the system one. */
static const char *socket_path(int argc, char **argv) {
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            return argv[i + 1];
        }
        if (strncmp(argv[i], "--socket=", 9) == 0) {
            return argv[i] + 9;
        }
    }
    const char *env = getenv("PROCWATCH_SOCKET");
    return env != NULL && env[0] != '\0' ? env : "/run/procwatch/procwatch.sock";
}

static unsigned char req[MAX_REQUEST];
static size_t req_len = HEADER;

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Appends an attribute; returns 0 when the request would exceed MAX_REQUEST or 16-bit lengths. */
static int attr(uint16_t type, const void *data, size_t len) {
    size_t padded = (4 + len + 3) & ~(size_t)3;
    if (len > 0xffff - 4 || req_len + padded > sizeof req) {
        return 0;
    }
    unsigned char *p = req + req_len;
    p[0] = (unsigned char)(4 + len);
    p[1] = (unsigned char)((4 + len) >> 8);
    p[2] = (unsigned char)type;
    p[3] = (unsigned char)(type >> 8);
    memcpy(p + 4, data, len);
    memset(p + 4 + len, 0, padded - 4 - len);
    req_len += padded;
    return 1;
}

static int attr32(uint16_t type, uint32_t v) {
    unsigned char b[4];
    put32(b, v);
    return attr(type, b, 4);
}

/* /proc/self/stat field 7, tty_nr: what bare ps selects by. */
static uint32_t controlling_tty(void) {
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    if (p == NULL) {
        return 0;
    }
    int tty = 0;
    char state;
    int ppid, pgrp, sid;
    if (sscanf(p + 2, "%c %d %d %d %d", &state, &ppid, &pgrp, &sid, &tty) != 5) {
        return 0;
    }
    return (uint32_t)tty;
}

/* The signal that asked us to stop (SIGINT, SIGTERM, SIGHUP; SIGQUIT for interactive top), or 0. */
static volatile sig_atomic_t stop_signal;
/* Interactive top: the window changed (SIGWINCH); Ctrl-Z (SIGTSTP). */
static volatile sig_atomic_t winch, tstp;

static void on_stop(int sig) {
    stop_signal = sig;
}

static void on_winch(int sig) {
    (void)sig;
    winch = 1;
}

static void on_tstp(int sig) {
    (void)sig;
    tstp = 1;
}

/* The mask to wait with: the stop signals are blocked except inside ppoll, so one that comes
 * between a check and a read is not lost (the read would block until the daemon next wrote). */
static sigset_t wait_mask;
/* How long a read waits for the daemon: for ever, but 2 s once we have sent CANCEL. */
static const struct timespec *read_timeout;

/* Catches the stop signals that are not ignored (a background job keeps SIGINT ignored); with a
 * raw terminal also SIGQUIT (it must not die with the terminal raw), SIGWINCH and SIGTSTP. */
static void catch_stop_signals(int interactive) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP};
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < (interactive ? 6u : 3u); i++) {
        struct sigaction old, sa = {.sa_handler = sigs[i] == SIGWINCH ? on_winch : sigs[i] == SIGTSTP ? on_tstp : on_stop};
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
            sigaction(sigs[i], &sa, NULL);
            sigaddset(&block, sigs[i]);
        }
    }
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
}

/* Dies of the stop signal, the default way (the shell sees "killed by SIGINT", as with ps). */
static void die_of_stop_signal(void) {
    int sig = stop_signal;
    restore_terminal();
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig);
}

/* 1 when len bytes were read; 0 at end of file or an error; -1 when a stop signal came first. */
static int read_full(int fd, void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (stop_signal) {
            return -1;
        }
        int ready = ppoll(&pfd, 1, read_timeout, &wait_mask);
        if (ready < 0 && errno == EINTR) {
            continue; /* a stop signal is seen above; SIGWINCH and SIGTSTP wait for the frame's end */
        }
        if (ready < 0) {
            return 0;
        }
        if (ready == 0) {
            return 0; /* timed out */
        }
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

/* The first attribute of `type` in a message body, or NULL; *len gets its payload length. */
static const unsigned char *find_attr(const unsigned char *body, size_t n, uint16_t type, size_t *len) {
    size_t pos = 0;
    while (n - pos >= 4) {
        size_t l = (size_t)body[pos] | (size_t)body[pos + 1] << 8;
        uint16_t t = (uint16_t)(body[pos + 2] | body[pos + 3] << 8);
        if (l < 4 || l > n - pos) {
            return NULL;
        }
        if (t == type) {
            *len = l - 4;
            return body + pos + 4;
        }
        pos += (l + 3) & ~(size_t)3;
    }
    return NULL;
}

/* Reads and drops n bytes; returns as read_full does. */
static int discard(int fd, size_t n) {
    static unsigned char scratch[4096];
    while (n > 0) {
        size_t k = n < sizeof scratch ? n : sizeof scratch;
        int r = read_full(fd, scratch, k);
        if (r != 1) {
            return r;
        }
        n -= k;
    }
    return 1;
}

/* Asks the daemon to end the run, then waits up to 2 s for its EXIT, and dies of the signal. */
static void cancel_run(int s) {
    unsigned char h[HEADER] = {0};
    put32(h, HEADER);
    h[4] = CANCEL;
    put32(h + 8, 1);
    int sig = stop_signal;
    stop_signal = 0; /* a second signal during the wait ends it */
    if (write_full(s, h, HEADER)) {
        static const struct timespec two_seconds = {.tv_sec = 2};
        read_timeout = &two_seconds;
        for (;;) { /* frames after CANCEL are dropped; EXIT or a close ends the wait */
            unsigned char r[HEADER];
            if (read_full(s, r, HEADER) != 1 || get32(r) < HEADER) {
                break;
            }
            uint16_t type = (uint16_t)(r[4] | r[5] << 8);
            if (discard(s, get32(r) - HEADER) != 1 || type == EXIT_FRAME) {
                break;
            }
        }
    }
    if (stop_signal == 0) {
        stop_signal = sig;
    }
    die_of_stop_signal();
}

/* Says once per daemon start (its socket's inode and time) that the daemon is older than we are. */
static void tell_old_daemon(const char *path) {
    struct stat st;
    const char *home = getenv("HOME");
    char stamp[PATH_MAX], dir[PATH_MAX], seen[64], now[64] = "";
    if (stat(path, &st) == 0) {
        snprintf(now, sizeof now, "%llu %lld.%09ld\n", (unsigned long long)st.st_ino,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    int have_stamp = home != NULL && home[0] == '/' && now[0] != '\0'
                     && snprintf(dir, sizeof dir, "%s/.cache/procwatch", home) < (int)sizeof dir
                     && snprintf(stamp, sizeof stamp, "%s/old-daemon", dir) < (int)sizeof stamp;
    if (have_stamp) {
        int fd = open(stamp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, seen, sizeof seen - 1);
            close(fd);
            if (n > 0 && (seen[n] = '\0', strcmp(seen, now) == 0)) {
                return; /* said already for this daemon */
            }
        }
    }
    fprintf(stderr, "procwatch: the daemon at %s is older than this client and does not run commands;"
                    " each command starts a JVM until it is restarted (systemctl restart procwatch)\n", path);
    if (have_stamp) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s/.cache", home);
        mkdir(parent, 0700);
        mkdir(dir, 0700);
        int fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            write_full(fd, now, strlen(now));
            close(fd);
        }
    }
}

/* The largest reply we keep: frames are 32 KiB; bigger (unknown) messages are read and dropped. */
static unsigned char body[256 * 1024];

/* Sends one message of a single attribute (len may be 0: an empty one). */
static int send_msg(int s, uint16_t type, uint16_t attr_type, const void *data, size_t len) {
    unsigned char m[HEADER + 4 + MAX_KEYS + 3] = {0};
    size_t padded = (4 + len + 3) & ~(size_t)3;
    if (len > MAX_KEYS) {
        return 0;
    }
    put32(m, (uint32_t)(HEADER + padded));
    m[4] = (unsigned char)type;
    put32(m + 8, 2);
    m[HEADER] = (unsigned char)(4 + len);
    m[HEADER + 1] = (unsigned char)((4 + len) >> 8);
    m[HEADER + 2] = (unsigned char)attr_type;
    if (len > 0) {
        memcpy(m + HEADER + 4, data, len);
    }
    return write_full(s, m, HEADER + padded);
}

/* The window of stdout (columns << 16 | rows), 0 if it has none. */
static uint32_t window_size(void) {
    struct winsize ws;
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 || ioctl(2, TIOCGWINSZ, &ws) == 0) {
        return (uint32_t)ws.ws_col << 16 | ws.ws_row;
    }
    return 0;
}

static int send_winsize(int s) {
    unsigned char b[4];
    put32(b, window_size());
    return send_msg(s, WINSIZE_FRAME, A_WINSIZE, b, 4);
}

/* Ctrl-Z: the terminal back as it was, stopped as any program is; on SIGCONT raw again, and a
 * WINSIZE makes the daemon's top draw its whole screen anew (the window may have changed too). */
static void suspend(int s) {
    restore_terminal();
    signal(SIGTSTP, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGTSTP);
    raise(SIGTSTP); /* pending while blocked */
    sigprocmask(SIG_UNBLOCK, &one, NULL); /* stops here until SIGCONT */
    sigprocmask(SIG_BLOCK, &one, NULL);
    struct sigaction sa = {.sa_handler = on_tstp};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTSTP, &sa, NULL);
    tstp = 0;
    if (tcgetattr(0, &saved_tio) == 0 && make_raw()) { /* the shell may have changed the modes meanwhile */
        static const char enter[] = "\033[?1049h\033[?25l";
        write_full(1, enter, sizeof enter - 1);
        screen_on = 1;
    }
    winch = 1;
    (void)s;
}

/*
 * Interactive top: the daemon's frames to the terminal, keys and window sizes to the daemon, until
 * EXIT. Keys wait until the HELLO_REPLY says the daemon takes them (else the JVM runs top, and the
 * keys typed meanwhile are still in the terminal for it). Never returns.
 */
static void interactive(int s, const char *path) {
    int hello = 0, output = 0, input_open = 1;
    (void)path;
    for (;;) {
        if (stop_signal) {
            cancel_run(s);
        }
        if (tstp && hello) {
            suspend(s);
        }
        if (winch && hello) {
            winch = 0;
            send_winsize(s); /* a failure shows as the socket's end below */
        }
        struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        int ready = ppoll(p, hello && input_open ? 2 : 1, NULL, &wait_mask);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "procwatch: poll: %s\n", strerror(errno));
            restore_terminal();
            exit(70);
        }
        if (hello && input_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            unsigned char keys[MAX_KEYS];
            ssize_t n = read(0, keys, sizeof keys);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (n <= 0) { /* the terminal hung up: an empty STDIN is the end of input, top quits */
                input_open = 0;
                n = 0;
            }
            send_msg(s, STDIN_FRAME, R_DATA, keys, (size_t)n);
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        unsigned char h[HEADER];
        int got = read_full(s, h, HEADER);
        if (got < 0) {
            cancel_run(s);
        }
        uint32_t len = got ? get32(h) : 0;
        if (!got || len < HEADER || len - HEADER > sizeof body) {
            if (!output) {
                jvm();
            }
            restore_terminal();
            fprintf(stderr, "procwatch: the daemon closed the connection before top ended\n");
            exit(70);
        }
        uint16_t type = (uint16_t)(h[4] | h[5] << 8);
        size_t n = len - HEADER;
        int r = read_full(s, body, n);
        if (r < 0) {
            cancel_run(s);
        }
        if (!r) {
            restore_terminal();
            fprintf(stderr, "procwatch: the daemon closed the connection\n");
            exit(70);
        }
        size_t dl = 0;
        const unsigned char *d;
        switch (type) {
        case HELLO_REPLY:
            d = find_attr(body, n, R_CAPABILITIES, &dl);
            if (d == NULL || dl != 8 || !(d[1] & (1 << (STDIN_FRAME - 8))) || !(d[1] & (1 << (WINSIZE_FRAME - 8)))) {
                jvm(); /* a daemon without interactive runs: the JVM's top, as before */
            }
            hello = 1;
            break;
        case STDOUT_FRAME:
        case STDERR_FRAME:
            d = find_attr(body, n, R_DATA, &dl);
            if (d != NULL) {
                output = 1;
                screen_on |= type == STDOUT_FRAME;
                if (!write_full(type == STDOUT_FRAME ? 1 : 2, d, dl)) {
                    restore_terminal();
                    exit(1);
                }
            }
            break;
        case EXIT_FRAME:
            d = find_attr(body, n, R_EXIT_STATUS, &dl);
            r = d != NULL && dl == 4 ? (int)(get32(d) & 0xff) : 70;
            if (r != 130) {
                screen_on = 0; /* top left its screen itself (130: cancelled, its last frames dropped) */
            }
            restore_terminal();
            exit(r);
        case ERROR:
            if (!output) {
                jvm(); /* refused (busy, an old daemon): the JVM does it */
            }
            restore_terminal();
            d = find_attr(body, n, R_ERROR_TEXT, &dl);
            fprintf(stderr, "procwatch: %.*s\n", (int)dl, d != NULL ? (const char *)d : "daemon error");
            exit(70);
        default:
            break;
        }
    }
}

int main(int argc, char **argv) {
    saved_argv = argv;
    int mode = runs_in_daemon(argc, argv);
    if (!mode) {
        jvm();
    }
    const char *path = socket_path(argc, argv);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        jvm();
    }
    strcpy(addr.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        jvm(); /* no daemon: the JVM starts one for root, or says how */
    }

    int ok = 1;
    for (int i = 1; i < argc && ok; i++) {
        ok = attr(A_ARG, argv[i], strlen(argv[i]));
    }
    char kv[4200];
    for (size_t i = 0; i < sizeof ENV_NAMES / sizeof ENV_NAMES[0] && ok; i++) {
        const char *v = getenv(ENV_NAMES[i]);
        if (v != NULL) {
            int n = snprintf(kv, sizeof kv, "%s=%s", ENV_NAMES[i], v);
            ok = n > 0 && (size_t)n < sizeof kv && attr(A_ENV, kv, (size_t)n);
        }
    }
    uint32_t term = (isatty(0) ? 1u : 0u) | (isatty(1) ? 2u : 0u) | (isatty(2) ? 4u : 0u);
    ok = ok && attr32(A_TERMINAL, term) && attr32(A_WINSIZE, window_size()) && attr32(A_CTTY, controlling_tty());
    ok = ok && (mode != 2 || attr(A_INPUT, NULL, 0));
    if (!ok) {
        jvm(); /* more than a request may hold: the JVM has no such limit */
    }
    put32(req, (uint32_t)req_len);
    req[4] = RUN;
    req[5] = 0;
    req[6] = req[7] = 0;        /* flags */
    put32(req + 8, 1);          /* seq */
    put32(req + 12, 0);         /* reserved */
    catch_stop_signals(mode == 2);
    if (mode == 2) {
        /* a key sent just as the daemon goes must not kill us by SIGPIPE with the terminal raw:
         * the failed write is an error we handle, and the read after it sees the end */
        signal(SIGPIPE, SIG_IGN);
        /* HELLO (seq 1) in front: its capabilities say whether the daemon takes STDIN and WINSIZE */
        unsigned char hello[HEADER + 8] = {0};
        put32(hello, sizeof hello);
        hello[4] = HELLO;
        put32(hello + 8, 1);
        hello[HEADER] = 8;
        hello[HEADER + 2] = A_VERSION;
        hello[HEADER + 4] = 1;
        put32(req + 8, 2);
        if (tcgetattr(0, &saved_tio) != 0 || !make_raw()) {
            jvm();
        }
        if (!write_full(s, hello, sizeof hello) || !write_full(s, req, req_len)) {
            jvm();
        }
        interactive(s, path);
    }
    if (!write_full(s, req, req_len)) {
        jvm();
    }

    int output = 0; /* once the command has printed, falling back would print twice */
    for (;;) {
        unsigned char h[HEADER];
        int got = read_full(s, h, HEADER);
        if (got < 0) {
            cancel_run(s);
        }
        if (!got) {
            if (!output) {
                jvm(); /* e.g. an old daemon that closed on an unknown request */
            }
            fprintf(stderr, "procwatch: the daemon closed the connection before the command ended\n");
            return 70;
        }
        uint32_t len = get32(h);
        uint16_t type = (uint16_t)(h[4] | h[5] << 8);
        if (len < HEADER) {
            fprintf(stderr, "procwatch: malformed reply from the daemon\n");
            return 70;
        }
        size_t n = len - HEADER;
        if (n > sizeof body) {
            int r = discard(s, n); /* not ours to read: skip it */
            if (r < 0) {
                cancel_run(s);
            }
            if (!r) {
                fprintf(stderr, "procwatch: the daemon closed the connection\n");
                return 70;
            }
            continue;
        }
        int r = read_full(s, body, n);
        if (r < 0) {
            cancel_run(s);
        }
        if (!r) {
            fprintf(stderr, "procwatch: the daemon closed the connection\n");
            return 70;
        }
        size_t dl = 0;
        const unsigned char *d;
        switch (type) {
        case STDOUT_FRAME:
        case STDERR_FRAME:
            d = find_attr(body, n, R_DATA, &dl);
            if (d != NULL) {
                output = 1;
                /* a closed stdout pipe ends us with SIGPIPE, as it would ps */
                if (!write_full(type == STDOUT_FRAME ? 1 : 2, d, dl)) {
                    return 1;
                }
            }
            if (stop_signal) {
                cancel_run(s);
            }
            break;
        case EXIT_FRAME:
            d = find_attr(body, n, R_EXIT_STATUS, &dl);
            return d != NULL && dl == 4 ? (int)(get32(d) & 0xff) : 70;
        case ERROR:
            d = find_attr(body, n, R_ERROR_CODE, &dl);
            if (!output && d != NULL && dl == 4 && get32(d) == E_UNKNOWN_REQUEST) {
                tell_old_daemon(path);
            }
            if (!output) {
                jvm(); /* refused (old daemon, busy, a command it does not run): the JVM does it */
            }
            d = find_attr(body, n, R_ERROR_TEXT, &dl);
            fprintf(stderr, "procwatch: %.*s\n", (int)dl, d != NULL ? (const char *)d : "daemon error");
            return 70;
        default:
            break; /* unknown messages are skipped, as the protocol says */
        }
    }
}
