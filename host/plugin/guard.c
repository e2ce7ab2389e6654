/* host/plugin/guard.c — the fatal-signal handler that names the plugin being called (guard.h). */
#include "guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

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
/* Written by the plugin-calling thread only; read by the handler and the watchdog. Relaxed
 * atomics: a plain store each, no fence. `calls` counts enters, so the watchdog can tell a
 * plugin that is still in the same call from one that returned and was called again. */
static _Atomic(const lh_guard_note *) current;
static atomic_uint_least64_t calls;
static double watch_s; /* lh_guard_watchdog's limit */

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
    const lh_guard_note *n = atomic_load_explicit(&current, memory_order_relaxed);
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

int lh_guard_install(void)
{
    struct sigaction sa;
    int k;
    if (installed)
        return 0;
    /* A handler on the faulting stack cannot run after a stack overflow: it gets one of its own
     * (host/util/signals.c; none made when the thread has one, a sanitizer's); failing to get
     * one only loses the report of an overflow. */
    (void)lh_signals_alt_stack();
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
    note->id = id ? id : "?";
    note->hook = hook;
    note->len = n < 0 ? 0 : n >= (int)sizeof note->text ? (uint32_t)sizeof note->text - 1
                                                         : (uint32_t)n;
}

const lh_guard_note *lh_guard_enter(const lh_guard_note *note)
{
    const lh_guard_note *was = atomic_load_explicit(&current, memory_order_relaxed);
    atomic_store_explicit(&calls, atomic_load_explicit(&calls, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&current, note, memory_order_relaxed);
    return was;
}

void lh_guard_leave(const lh_guard_note *previous)
{
    atomic_store_explicit(&current, previous, memory_order_relaxed);
}

/* ---- the watchdog --------------------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Look ten times per limit (at most every second); the same note in the same call for the whole
 * limit is a hang. */
static void *watch(void *arg)
{
    double step = watch_s / 10 < 1 ? watch_s / 10 : 1, since = mono_s();
    struct timespec nap = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
    uint_least64_t seen = 0;
    (void)arg;
    for (;;) {
        const lh_guard_note *n;
        uint_least64_t c;
        nanosleep(&nap, NULL);
        n = atomic_load_explicit(&current, memory_order_relaxed);
        c = atomic_load_explicit(&calls, memory_order_relaxed);
        if (!n || c != seen) {
            seen = c;
            since = mono_s();
            continue;
        }
        if (mono_s() - since >= watch_s) {
            fprintf(stderr, "lhost: plugin %s hung in %s: no return after %g s "
                    "(--plugin-timeout)\n", n->id, n->hook, watch_s);
            _exit(LH_GUARD_HUNG_STATUS);
        }
    }
    return NULL;
}

int lh_guard_watchdog(double seconds)
{
    pthread_attr_t attr;
    pthread_t th;
    int rc;
    if (seconds <= 0 || watch_s > 0)
        return 0;
    watch_s = seconds;
    if (pthread_attr_init(&attr))
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &attr, watch, NULL) ? -1 : 0;
    pthread_attr_destroy(&attr);
    if (rc)
        watch_s = 0;
    return rc;
}
