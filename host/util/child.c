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

/* Open the pipe and fork; the child runs fn and never returns. fflush first so buffered output
 * is not written twice. In the parent: the child's pid with only fds[0] open, or -1 (err set). */
static pid_t start(lh_child_fn fn, void *arg, int fds[2], lh_error *err)
{
    pid_t pid;
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
        _exit(fn(fds[1], arg) & 0xff);
    }
    close(fds[1]);
    return pid;
}

/* Read until EOF (the child closed its end or died) or the deadline, so a hung child costs at
 * most timeout_s. *buf is always a NUL-terminated string on success. -1 when out of memory. */
static int read_answer(int fd, double timeout_s, char **buf, int *timed_out)
{
    char chunk[4096];
    size_t len = 0, cap = 0;
    double deadline;
    if (append(buf, &len, &cap, "", 0) != 0)
        return -1;
    deadline = now_s() + timeout_s;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        double left = deadline - now_s();
        ssize_t n;
        int rc;
        if (left <= 0) {
            *timed_out = 1;
            return 0;
        }
        rc = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            continue; /* re-check the deadline */
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (append(buf, &len, &cap, chunk, (size_t)n) != 0)
            return -1;
    }
}

/* Turn how the child ended into the status and message lh_child_run promises (child.h). */
static int judge(int status, int timed_out, double timeout_s, lh_error *err)
{
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
}

int lh_child_run(lh_child_fn fn, void *arg, double timeout_s, char **out, lh_error *err)
{
    int fds[2], status = 0, timed_out = 0;
    char *buf = NULL;
    pid_t pid;

    *out = NULL;
    if (timeout_s <= 0)
        timeout_s = 5;
    if ((pid = start(fn, arg, fds, err)) < 0)
        return -1;
    if (read_answer(fds[0], timeout_s, &buf, &timed_out) != 0) {
        /* No room for the answer: stop the child rather than leave it blocked on a full pipe. */
        close(fds[0]);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        free(buf);
        return lh_error_set(err, "out of memory reading the scanner's answer");
    }
    close(fds[0]);
    /* A child past its deadline may be hung: kill it so waitpid cannot block. */
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *out = buf;
    return judge(status, timed_out, timeout_s, err);
}
