/* host/util/child.c — fork, run, read the pipe until EOF or the deadline, reap (see child.h). */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* In the child: die of the signal itself (not of a sanitizer's handler) so the parent sees it. */
static void default_fatal_signals(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    struct sigaction sa;
    size_t k;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaction(sigs[k], &sa, NULL);
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 4096);
        char *nb;
        while (nc < *len + n + 1)
            nc *= 2;
        nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int lh_child_run(lh_child_fn fn, void *arg, double timeout_s, char **out, lh_error *err)
{
    int fds[2], status = 0, timed_out = 0, rc;
    char chunk[4096], *buf = NULL;
    size_t len = 0, cap = 0;
    double deadline;
    pid_t pid;

    *out = NULL;
    if (timeout_s <= 0)
        timeout_s = 5;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return lh_error_set(err, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return lh_error_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        default_fatal_signals();
        rc = fn(fds[1], arg);
        _exit(rc & 0xff);
    }
    close(fds[1]);
    if (append(&buf, &len, &cap, "", 0) != 0)
        goto oom;
    deadline = now_s() + timeout_s;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        double left = deadline - now_s();
        ssize_t n;
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        rc = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            continue; /* re-check the deadline */
        n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (append(&buf, &len, &cap, chunk, (size_t)n) != 0)
            goto oom;
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *out = buf;
    if (timed_out)
        return lh_error_set(err, "entry timed out after %g s", timeout_s);
    if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev)
            return lh_error_set(err, "entry crashed: SIG%s", abbrev);
        return lh_error_set(err, "entry crashed: signal %d", WTERMSIG(status));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return lh_error_set(err, "scanner exited with status %d", WEXITSTATUS(status));
    return 0;
oom:
    close(fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    free(buf);
    return lh_error_set(err, "out of memory reading the scanner's answer");
}
