/* host/util/signals.c — the stop-request handler for SIGINT and SIGTERM, and the terminal-resize
 * flag for SIGWINCH (see signals.h). */
#include "signals.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static struct sigaction old_int, old_term;
static int installed;

/* Only async-signal-safe calls here: write(2) and _exit(2). */
static void on_signal(int sig)
{
    static const char first[] =
        "\nlhost: stopping after the current batch (send the signal again to quit at once)\n";
    if (pending)
        _exit(128 + sig);
    pending = sig;
    ssize_t ignored = write(STDERR_FILENO, first, sizeof first - 1);
    (void)ignored;
}

int lh_signals_alt_stack(void)
{
    stack_t now, ss;
    size_t size = 1 << 16;
#ifdef _SC_SIGSTKSZ
    long want = sysconf(_SC_SIGSTKSZ); /* grows with the CPU's register state (AVX-512, AMX) */
    if (want > 0 && (size_t)want * 4 > size)
        size = (size_t)want * 4;
#endif
    if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE))
        return 0;
    ss.ss_size = size;
    ss.ss_flags = 0;
    if (!(ss.ss_sp = malloc(ss.ss_size)))
        return -1;
    if (sigaltstack(&ss, NULL) != 0) {
        free(ss.ss_sp);
        return -1;
    }
    return 0; /* kept for the thread's life: a handler may need it until exit */
}

int lh_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a read or write in flight when the signal lands carries on; the loop sees
     * the flag at the next batch boundary.
     * SA_ONSTACK, on an alternate stack of our own: oneDNN's JIT sgemm kernels (Debian's 2.x;
     * upstream fixed it in 3.11, oneDNN issue #4845) move %rsp into their heap workspace while
     * they run, and the main thread runs such GEMMs (linear layers, thread 0 of every pool
     * op). A signal landing there had the kernel push its ~3 KB frame "on the stack", i.e.
     * over the heap below that workspace: glibc later aborted with "corrupted size vs.
     * prev_size" or "double free or corruption (!prev)" in dnnl_sgemm, lh_logstore_row_add
     * or the teardown. With SA_ONSTACK the frame goes to the alternate stack whatever %rsp
     * holds; the CPU pool's workers block these signals (kernels/cpu/threads.c), so none
     * lands on a thread that runs GEMMs without such a stack. */
    if (lh_signals_alt_stack() != 0)
        return -1;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    pending = 0;
    if (sigaction(SIGINT, &sa, &old_int) != 0)
        return -1;
    if (sigaction(SIGTERM, &sa, &old_term) != 0) {
        sigaction(SIGINT, &old_int, NULL);
        return -1;
    }
    installed = 1;
    return 0;
}

void lh_signals_restore(void)
{
    if (!installed)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    installed = 0;
}

int lh_signals_pending(void)
{
    return (int)pending;
}

/* ---- SIGWINCH: the terminal changed size ---------------------------------------------------- */

static volatile sig_atomic_t winch;
static struct sigaction old_winch;
static int winch_installed;

/* Only sets the flag: the progress bar asks the terminal its width at its next draw. */
static void on_winch(int sig)
{
    (void)sig;
    winch = 1;
}

int lh_signals_watch_winch(void)
{
    struct sigaction sa;
    if (winch_installed)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    winch = 0;
    if (sigaction(SIGWINCH, &sa, &old_winch) != 0)
        return -1;
    winch_installed = 1;
    return 0;
}

void lh_signals_unwatch_winch(void)
{
    if (!winch_installed)
        return;
    sigaction(SIGWINCH, &old_winch, NULL);
    winch_installed = 0;
}

int lh_signals_winch_take(void)
{
    int was = (int)winch;
    winch = 0;
    return was;
}

const char *lh_signals_name(int sig)
{
    static char other[32];
    if (sig == SIGINT)
        return "SIGINT";
    if (sig == SIGTERM)
        return "SIGTERM";
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}
