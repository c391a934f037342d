/*
 * Benchmark helper: forks N children that only pause(), prints "ready", and waits until its
 * stdin closes or it gets SIGTERM/SIGINT; then kills them all. Each child also dies by
 * PR_SET_PDEATHSIG when this process goes, however it goes, so no benchmark leaves 10,000
 * processes behind.   cc -std=c11 -O2 -o pausers pausers.c && ./pausers 10000 </dev/tty
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (n < 0 || n > 100000) {
        fprintf(stderr, "usage: pausers N (0 to 100000)\n");
        return 2;
    }
    pid_t self = getpid();
    pid_t *kids = calloc((size_t)n + 1, sizeof *kids);
    long made = 0;
    if (kids == NULL) {
        perror("calloc");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            break;
        }
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self) {
                _exit(0); /* the parent went before the line above */
            }
            for (;;) {
                pause();
            }
        }
        kids[made++] = p;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready\n");
    fflush(stdout);
    char c;
    while (!stop && read(0, &c, 1) > 0) {
    }
    for (long i = 0; i < made; i++) {
        kill(kids[i], SIGKILL);
    }
    while (wait(NULL) > 0) {
    }
    return 0;
}
