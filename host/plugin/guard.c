/* host/plugin/guard.c — the fatal-signal handler that names the plugin being called (guard.h). */
#include "guard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The signals a plugin's bug raises, with the names the report uses. */
#define FATAL_MAP(X) X(SIGSEGV) X(SIGBUS) X(SIGFPE) X(SIGILL) X(SIGABRT)
#define SIG_NUM(s) s,
#define SIG_NAME(s) #s,
static const int fatal[] = {FATAL_MAP(SIG_NUM)};
static const char *const fatal_names[] = {FATAL_MAP(SIG_NAME)};
#define N_FATAL ((int)(sizeof fatal / sizeof fatal[0]))

static struct sigaction old[N_FATAL];
static int installed;
static pid_t owner; /* the thread that calls plugins */
static const lh_guard_note *volatile current;

static void put(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Only async-signal-safe calls: gettid, write, _exit, sigaction, raise. */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    const lh_guard_note *n = current;
    int k;
    (void)uc;
    for (k = 0; k < N_FATAL && fatal[k] != sig; k++)
        ;
    if (n && n->len && k < N_FATAL && gettid() == owner) {
        put(n->text, n->len);
        put(fatal_names[k], strlen(fatal_names[k]));
        put(")\n", 2);
        _exit(128 + sig);
    }
    /* Not a plugin's: the old disposition takes it. A fault comes back when the instruction
     * runs again; a signal that was sent (kill, abort) is sent once more. */
    if (k < N_FATAL)
        sigaction(sig, &old[k], NULL);
    else
        signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        raise(sig);
}

/* A handler on the faulting stack cannot run after a stack overflow: give it one of its own,
 * unless the thread has one already (a sanitizer's). */
static void alt_stack(void)
{
    stack_t now, ss;
    if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE))
        return;
    ss.ss_size = 1 << 16;
    ss.ss_flags = 0;
    if ((ss.ss_sp = malloc(ss.ss_size)) && sigaltstack(&ss, NULL) != 0)
        free(ss.ss_sp); /* kept for the process's life otherwise */
}

int lh_guard_install(void)
{
    struct sigaction sa;
    int k;
    if (installed)
        return 0;
    alt_stack();
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    owner = gettid();
    for (k = 0; k < N_FATAL; k++)
        if (sigaction(fatal[k], &sa, &old[k]) != 0) {
            while (--k >= 0)
                sigaction(fatal[k], &old[k], NULL);
            return -1;
        }
    installed = 1;
    return 0;
}

void lh_guard_restore(void)
{
    int k;
    if (!installed)
        return;
    for (k = 0; k < N_FATAL; k++)
        sigaction(fatal[k], &old[k], NULL);
    installed = 0;
}

void lh_guard_note_set(lh_guard_note *note, const char *id, const char *hook)
{
    int n = snprintf(note->text, sizeof note->text, "lhost: plugin %s crashed in %s (",
                     id ? id : "?", hook);
    note->len = n < 0 ? 0 : n >= (int)sizeof note->text ? (uint32_t)sizeof note->text - 1
                                                         : (uint32_t)n;
}

const lh_guard_note *lh_guard_enter(const lh_guard_note *note)
{
    const lh_guard_note *was = current;
    current = note;
    return was;
}

void lh_guard_leave(const lh_guard_note *previous) { current = previous; }
