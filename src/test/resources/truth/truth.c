/*
 * Workloads for the truth suite (io.procwatch.truth). One binary, the role in argv[1]. Each
 * workload writes its own ground truth, as the kernel told it (getppid, getpgid, waitpid,
 * clock_gettime, the argv it exec'd), one record a line: "kind<TAB>key=value<TAB>...", argv
 * elements joined by 0x1f. The test compares procwatch's answers with these lines.
 *
 * Processes that must stay alive block in read(0) on the pipe the test holds as their stdin: when
 * the test closes it (or dies) they get EOF and exit, so nothing outlives a test. Every child also
 * asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG) where it has no other way out.
 *
 * Roles print "ready" / "done" lines on stdout when the test may look.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int out_fd = -1;

static void die(const char *what) {
    fprintf(stderr, "truth: %s: %s\n", what, strerror(errno));
    exit(100);
}

static void open_out(const char *path) {
    out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out_fd < 0) {
        die(path);
    }
}

/* One write(2) per record with O_APPEND: lines from many processes never interleave. */
static void record(const char *fmt, ...) {
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int) sizeof buf - 1) {
        n = sizeof buf - 2;
    }
    buf[n++] = '\n';
    if (write(out_fd, buf, n) != n) {
        die("write record");
    }
}

static void say(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void join_argv(char *dst, size_t cap, char *const argv[]) {
    size_t off = 0;
    dst[0] = 0;
    for (int i = 0; argv[i] != NULL; i++) {
        int n = snprintf(dst + off, cap - off, "%s%s", i ? "\x1f" : "", argv[i]);
        if (n < 0 || (size_t) n >= cap - off) {
            break;
        }
        off += n;
    }
}

/* Blocks until the test closes our stdin. */
static void wait_stdin_eof(void) {
    char c;
    ssize_t n;
    while ((n = read(0, &c, 1)) > 0 || (n < 0 && errno == EINTR)) {
    }
}

/* Reads one line from stdin (the test's go signal). */
static void wait_stdin_line(void) {
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
}

static pid_t clone3_tid(pid_t tid) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    pid_t want[1] = {tid};
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t) (uintptr_t) want;
    args.set_tid_size = 1;
    return (pid_t) syscall(SYS_clone3, &args, sizeof args);
}

static int wait_status(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            die("waitpid");
        }
    }
    return st;
}

static void reap_all(void) {
    while (wait(NULL) > 0 || errno == EINTR) {
    }
}

/* ---- orphans: the "shell" exits before its background job ------------------------------- */

/* orphan OUT N init|subreaper|pgid */
static int role_orphan(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[3]);
    const char *mode = argv[4];
    if (strcmp(mode, "subreaper") == 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        die("PR_SET_CHILD_SUBREAPER");
    }
    int note[2];
    if (pipe(note) != 0) {
        die("pipe");
    }
    record("workload\tpid=%d", getpid());
    for (int i = 0; i < n; i++) {
        pid_t shell = fork();
        if (shell < 0) {
            die("fork");
        }
        if (shell == 0) {
            if (strcmp(mode, "pgid") == 0) {
                setpgid(0, 0); /* a job-control shell puts its job in its own group */
            }
            pid_t was = getpid();
            pid_t job = fork();
            if (job < 0) {
                die("fork");
            }
            if (job == 0) {
                for (int t = 0; t < 10000 && getppid() == was; t++) {
                    usleep(500);
                }
                record("orphan\tpid=%d\tppid=%d\tpgid=%d\toldparent=%d", getpid(), getppid(), getpgid(0), was);
                close(note[0]);
                if (write(note[1], "x", 1) != 1) {
                    die("note");
                }
                close(note[1]);
                wait_stdin_eof();
                _exit(0);
            }
            _exit(0);
        }
        record("shell\tpid=%d\tstatus=%d", shell, wait_status(shell));
    }
    close(note[1]);
    char c;
    for (int got = 0; got < n; got++) {
        if (read(note[0], &c, 1) != 1) {
            die("orphans did not report");
        }
    }
    say("ready");
    wait_stdin_eof();
    reap_all();
    return 0;
}

/* setpgid OUT N: children that sleep, then move to their own group. */
static int role_setpgid(int argc, char **argv) {
    if (argc < 4) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[3]);
    int note[2];
    if (pipe(note) != 0) {
        die("pipe");
    }
    record("workload\tpid=%d\tpgid=%d", getpid(), getpgid(0));
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            usleep(300000); /* long enough that the daemon has the old group */
            if (setpgid(0, 0) != 0) {
                die("setpgid");
            }
            record("child\tpid=%d\tppid=%d\tpgid=%d", getpid(), getppid(), getpgid(0));
            if (write(note[1], "x", 1) != 1) {
                die("note");
            }
            wait_stdin_eof();
            _exit(0);
        }
    }
    close(note[1]);
    char ch;
    for (int got = 0; got < n; got++) {
        if (read(note[0], &ch, 1) != 1) {
            die("children did not report");
        }
    }
    say("ready");
    wait_stdin_eof();
    reap_all();
    return 0;
}

/* ---- the group leader exits first ---------------------------------------------------------- */

static void *exit5(void *arg) {
    (void) arg;
    wait_stdin_eof();
    exit(5);
}

static int proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : -1;
}

/* zleader OUT N: main thread pthread_exit, the other thread exit(5) when stdin closes. */
static int role_zleader(int argc, char **argv) {
    if (argc < 4) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[3]);
    pid_t kids[256];
    if (n > 256) {
        n = 256;
    }
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            prctl(PR_SET_NAME, "pw-zlead");
            pthread_t t;
            if (pthread_create(&t, NULL, exit5, NULL) != 0) {
                die("pthread_create");
            }
            pthread_exit(NULL);
        }
        kids[i] = c;
    }
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < 10000 && proc_state(kids[i]) != 'Z'; t++) {
            usleep(500);
        }
    }
    say("ready");
    wait_stdin_eof();
    for (int i = 0; i < n; i++) {
        record("child\tpid=%d\tstatus=%d", kids[i], wait_status(kids[i]));
    }
    return 0;
}

/* ---- signals, with and without a core ------------------------------------------------------ */

/* signals OUT COREDIR: each child sets its core limit, says ready, and is killed or exits. */
static int role_signals(int argc, char **argv) {
    if (argc < 4) {
        return 2;
    }
    open_out(argv[2]);
    /* signal (0: exit with the code), core limit (0 or unlimited), exit code */
    static const int plan[][3] = {
        {SIGSEGV, 0, 0}, {SIGSEGV, 0, 0}, {SIGSEGV, 0, 0},
        {SIGSEGV, 1, 0}, {SIGSEGV, 1, 0}, {SIGSEGV, 1, 0},
        {SIGABRT, 1, 0}, {SIGABRT, 0, 0}, {SIGQUIT, 1, 0},
        {SIGTERM, 1, 0}, {SIGKILL, 1, 0}, {SIGUSR1, 0, 0}, {SIGHUP, 1, 0},
        {0, 0, 0}, {0, 0, 1}, {0, 0, 77}, {0, 0, 255},
    };
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        int ready[2];
        if (pipe(ready) != 0) {
            die("pipe");
        }
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            struct rlimit rl = {0, 0};
            if (plan[i][1]) {
                rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
            }
            if (setrlimit(RLIMIT_CORE, &rl) != 0) {
                die("setrlimit");
            }
            if (chdir(argv[3]) != 0) {
                die("chdir");
            }
            prctl(PR_SET_DUMPABLE, 1);
            close(ready[0]);
            if (write(ready[1], "x", 1) != 1) {
                die("ready");
            }
            if (plan[i][0] == 0) {
                usleep(20000);
                _exit(plan[i][2]);
            }
            for (;;) {
                pause();
            }
        }
        close(ready[1]);
        char ch;
        if (read(ready[0], &ch, 1) != 1) {
            die("child not ready");
        }
        close(ready[0]);
        usleep(20000); /* the daemon has the process (not needed for the status, but realistic) */
        if (plan[i][0] != 0) {
            kill(c, plan[i][0]);
        }
        int st = wait_status(c);
        record("child\tpid=%d\tstatus=%d\tsignal=%d\tcorelimit=%d\tcore=%d", c, st, plan[i][0], plan[i][1],
               WIFSIGNALED(st) && WCOREDUMP(st) ? 1 : 0);
    }
    return 0;
}

/* ---- pid reuse: three lives of one pid within a few ms -------------------------------------- */

/* life K: the program every life of a reused pid runs (its name, argv and code differ per life). */
static int role_life(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    return atoi(argv[2]);
}

/* reuse OUT DIR NPIDS: DIR holds life1..life3 (links to this binary). */
static int role_reuse(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    open_out(argv[2]);
    const char *dir = argv[3];
    int npids = atoi(argv[4]);
    long pid_max = 32768;
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &pid_max) != 1) {
            pid_max = 32768;
        }
        fclose(f);
    }
    srand(getpid());
    record("workload\tpid=%d", getpid());
    static unsigned char used[4194305]; /* a pid is picked once: its three lives are all it has */
    for (int i = 0; i < npids; i++) {
        pid_t want = 0;
        char parg[32] = "";
        for (int life = 1; life <= 3; life++) {
            char path[4096], karg[16], joined[8192];
            snprintf(path, sizeof path, "%s/life%d", dir, life);
            char *args[] = {path, "life", karg, parg, NULL};
            snprintf(karg, sizeof karg, "%d", life);
            long long t0 = now_ns();
            pid_t c;
            if (want == 0) {
                /* a free pid in the upper half, away from where new pids are handed out now */
                do {
                    do {
                        want = (pid_t) (pid_max / 2 + rand() % (pid_max / 2 - 1));
                    } while (want < (pid_t) sizeof used && used[want]);
                    if (want < (pid_t) sizeof used) {
                        used[want] = 1;
                    }
                    snprintf(parg, sizeof parg, "p%d", want);
                    c = clone3_tid(want);
                } while (c < 0 && errno == EEXIST);
            } else {
                c = clone3_tid(want);
            }
            if (c < 0) {
                record("failed\tpid=%d\tlife=%d\terrno=%d", want, life, errno);
                break;
            }
            if (c == 0) {
                execv(path, args);
                _exit(127);
            }
            join_argv(joined, sizeof joined, args);
            int st = wait_status(c);
            record("life\tpid=%d\tlife=%d\tstatus=%d\tcomm=life%d\tt0=%lld\targv=%s", c, life, st, life, t0,
                   joined);
        }
    }
    return 0;
}

/* ---- thread ids reused as pids ------------------------------------------------------------- */

static pthread_barrier_t all_up;
static pid_t tids[4096];

static void *stale(void *arg) {
    long i = (long) arg;
    char name[16];
    snprintf(name, sizeof name, "STALE%ld", i);
    prctl(PR_SET_NAME, name);
    tids[i] = (pid_t) syscall(SYS_gettid);
    /* busy for a moment so the thread has its own accounting */
    volatile long spin = 0;
    for (long k = 0; k < 200000; k++) {
        spin += k;
    }
    pthread_barrier_wait(&all_up); /* all alive at once: every tid distinct */
    return NULL;
}

/* tiny: records its own peak RSS (getrusage) and exits 3. */
static int role_tiny(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    open_out(argv[2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    record("tiny\tpid=%d\tmaxrss_kib=%ld", getpid(), ru.ru_maxrss);
    return 3;
}

/* tidreuse OUT TINY N: N threads named STALEn exit; their tids become pids of TINY. */
static int role_tidreuse(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    open_out(argv[2]);
    const char *tiny = argv[3];
    int n = atoi(argv[4]);
    if (n > 4096) {
        n = 4096;
    }
    /* a big process: a thread's accounting carried over would show this, not the tiny one's */
    size_t big = 64u << 20;
    char *mem = malloc(big);
    if (mem == NULL) {
        die("malloc");
    }
    memset(mem, 1, big);
    record("workload\tpid=%d", getpid());
    pthread_t th[4096];
    pthread_barrier_init(&all_up, NULL, (unsigned) n + 1);
    for (long i = 0; i < n; i++) {
        if (pthread_create(&th[i], NULL, stale, (void *) i) != 0) {
            die("pthread_create");
        }
    }
    pthread_barrier_wait(&all_up);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
    }
    free(mem);
    for (int i = 0; i < n; i++) {
        pid_t c = -1;
        /* the kernel frees a thread id a moment after the join returns */
        for (int t = 0; t < 200; t++) {
            c = clone3_tid(tids[i]);
            if (c >= 0 || errno != EEXIST) {
                break;
            }
            usleep(1000);
        }
        if (c < 0) {
            record("failed\ttid=%d\terrno=%d", tids[i], errno);
            continue;
        }
        if (c == 0) {
            char *args[] = {(char *) tiny, "tiny", argv[2], NULL};
            execv(tiny, args);
            _exit(127);
        }
        record("reused\tpid=%d\tthread=STALE%d\tstatus=%d", c, i, wait_status(c));
    }
    return 0;
}

/* ---- exec chains ------------------------------------------------------------------------- */

/* chain OUT [NEXT...]: records its argv, then execs itself with the rest, fast. */
static int role_chain(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    open_out(argv[2]);
    char joined[8192];
    join_argv(joined, sizeof joined, argv);
    record("exec\tpid=%d\targv=%s", getpid(), joined);
    if (argc > 3) {
        char *next[64];
        int k = 0;
        next[k++] = argv[0];
        next[k++] = "chain";
        next[k++] = argv[2];
        for (int i = 4; i < argc && k < 63; i++) {
            next[k++] = argv[i];
        }
        next[k] = NULL;
        close(out_fd);
        execv(argv[0], next);
        _exit(127);
    }
    return 0;
}

/* chains OUT SELF N: N children, each sh -c 'exec SELF chain OUT b c' -> b -> c. */
static int role_chains(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[4]);
    record("workload\tpid=%d", getpid());
    for (int i = 0; i < n; i++) {
        char script[4096], joined[8192];
        snprintf(script, sizeof script, "exec %s chain %s b%d c%d", argv[3], argv[2], i, i);
        char *args[] = {"/bin/sh", "-c", script, NULL};
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            join_argv(joined, sizeof joined, args);
            record("exec\tpid=%d\targv=%s", getpid(), joined);
            execv("/bin/sh", args);
            _exit(127);
        }
        record("child\tpid=%d\tstatus=%d", c, wait_status(c));
    }
    return 0;
}

/* ---- 1-ms processes among 10,000 idle ones -------------------------------------------------- */

/* idle N: N children that do nothing until stdin closes. */
static int role_idle(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    int n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            wait_stdin_eof();
            _exit(0);
        }
    }
    say("ready");
    wait_stdin_eof();
    reap_all();
    return 0;
}

/* blip: lives about 1 ms. */
static int role_blip(int argc, char **argv) {
    (void) argc;
    (void) argv;
    usleep(1000);
    return 0;
}

/* blips OUT SELF N: two parents, N/2 children each, every child execs SELF blip i. */
static int role_blips(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[4]);
    pid_t parents[2];
    for (int p = 0; p < 2; p++) {
        parents[p] = fork();
        if (parents[p] < 0) {
            die("fork");
        }
        if (parents[p] == 0) {
            for (int i = p; i < n; i += 2) {
                char idx[32], joined[8192];
                snprintf(idx, sizeof idx, "i%d", i);
                char *args[] = {argv[3], "blip", idx, NULL};
                pid_t c = fork();
                if (c < 0) {
                    die("fork");
                }
                if (c == 0) {
                    execv(argv[3], args);
                    _exit(127);
                }
                join_argv(joined, sizeof joined, args);
                int st = wait_status(c);
                record("blip\tpid=%d\tppid=%d\tstatus=%d\targv=%s", c, getpid(), st, joined);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < 2; p++) {
        wait_status(parents[p]);
    }
    return 0;
}

/* ---- loss and recovery ----------------------------------------------------------------------- */

/* keep FD: blocks until FD reaches EOF (the storm's keepers). */
static int role_keep(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    int fd = atoi(argv[2]);
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) > 0 || (n < 0 && errno == EINTR)) {
    }
    return 0;
}

/* storm OUT DIR K M L: K keepers (DIR/pwkeep) exist; on a line from stdin they exit and are
 * reaped, M children fork and exit at once, L new children (DIR/pwlive) start; "done". The live
 * ones then wait for stdin's EOF. */
static int role_storm(int argc, char **argv) {
    if (argc < 7) {
        return 2;
    }
    open_out(argv[2]);
    const char *dir = argv[3];
    int k = atoi(argv[4]), m = atoi(argv[5]), l = atoi(argv[6]);
    char keepexe[4096], liveexe[4096], fdarg[16];
    snprintf(keepexe, sizeof keepexe, "%s/pwkeep", dir);
    snprintf(liveexe, sizeof liveexe, "%s/pwlive", dir);
    int keep[2];
    if (pipe(keep) != 0) {
        die("pipe");
    }
    snprintf(fdarg, sizeof fdarg, "%d", keep[0]);
    record("workload\tpid=%d", getpid());
    pid_t *keepers = calloc((size_t) k + 1, sizeof(pid_t));
    for (int i = 0; i < k; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            close(keep[1]);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            char *args[] = {keepexe, "keep", fdarg, NULL};
            execv(keepexe, args);
            _exit(127);
        }
        keepers[i] = c;
        record("keeper\tpid=%d", c);
    }
    close(keep[0]);
    say("ready");
    wait_stdin_line();
    long long t0 = now_ns();
    close(keep[1]);
    for (int i = 0; i < k; i++) {
        record("gone\tpid=%d\tkind=keeper\tstatus=%d", keepers[i], wait_status(keepers[i]));
    }
    for (int i = 0; i < m; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            _exit(0);
        }
        record("gone\tpid=%d\tkind=storm\tstatus=%d", c, wait_status(c));
    }
    for (int i = 0; i < l; i++) {
        pid_t c = fork();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            char *args[] = {liveexe, "keep", "0", NULL};
            execv(liveexe, args);
            _exit(127);
        }
        record("live\tpid=%d", c);
    }
    record("storm\tstart_ns=%lld\tend_ns=%lld", t0, now_ns());
    say("done");
    wait_stdin_eof();
    reap_all();
    return 0;
}

/* ---- start time ----------------------------------------------------------------------------- */

/* start OUT N: children forked between two CLOCK_REALTIME readings; they live until EOF. */
static int role_start(int argc, char **argv) {
    if (argc < 4) {
        return 2;
    }
    open_out(argv[2]);
    int n = atoi(argv[3]);
    for (int i = 0; i < n; i++) {
        long long t0 = now_ns();
        pid_t c = fork();
        long long t1 = now_ns();
        if (c < 0) {
            die("fork");
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            wait_stdin_eof();
            _exit(0);
        }
        record("child\tpid=%d\tbefore_ns=%lld\tafter_ns=%lld", c, t0, t1);
        usleep(10000);
    }
    say("ready");
    wait_stdin_eof();
    reap_all();
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: truth ROLE ...\n");
        return 2;
    }
    const char *r = argv[1];
    if (!strcmp(r, "orphan")) return role_orphan(argc, argv);
    if (!strcmp(r, "setpgid")) return role_setpgid(argc, argv);
    if (!strcmp(r, "zleader")) return role_zleader(argc, argv);
    if (!strcmp(r, "signals")) return role_signals(argc, argv);
    if (!strcmp(r, "life")) return role_life(argc, argv);
    if (!strcmp(r, "reuse")) return role_reuse(argc, argv);
    if (!strcmp(r, "tiny")) return role_tiny(argc, argv);
    if (!strcmp(r, "tidreuse")) return role_tidreuse(argc, argv);
    if (!strcmp(r, "chain")) return role_chain(argc, argv);
    if (!strcmp(r, "chains")) return role_chains(argc, argv);
    if (!strcmp(r, "idle")) return role_idle(argc, argv);
    if (!strcmp(r, "blip")) return role_blip(argc, argv);
    if (!strcmp(r, "blips")) return role_blips(argc, argv);
    if (!strcmp(r, "keep")) return role_keep(argc, argv);
    if (!strcmp(r, "storm")) return role_storm(argc, argv);
    if (!strcmp(r, "start")) return role_start(argc, argv);
    fprintf(stderr, "truth: unknown role %s\n", r);
    return 2;
}
