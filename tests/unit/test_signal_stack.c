/* tests/unit/test_signal_stack.c — where a SIGINT/SIGTERM handler runs: never on whatever the
 * interrupted code holds in %rsp, and never on a CPU pool worker.
 *
 * oneDNN's JIT sgemm kernels (Debian's 2.x) point %rsp into their heap workspace while they run;
 * a signal handled there had the kernel write its frame over the heap, and glibc aborted later
 * ("corrupted size vs. prev_size", "double free or corruption (!prev)") after a Ctrl-C in
 * `lhost train`. The first case recreates that moment exactly: a pending SIGINT is delivered on
 * the way back from a system call made with %rsp inside a heap buffer; the buffer must come back
 * untouched. The pool's workers must block the signals, so that no thread without that stack
 * takes them while it runs a GEMM. Last, the real thing for a few seconds: oneDNN's sgemm on the
 * main thread under a stream of SIGINTs handled as lh_signals_install sets them up.
 * Run: ctest --test-dir build -R test_signal_stack --output-on-failure */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check_run.h"
#include "clock.h"
#include "kernels/cpu/cpu.h"
#include "signals.h"

#define FAKE_STACK (64 * 1024)
#define PATTERN 0xA5

#if defined(__x86_64__) && defined(__linux__)
/* rt_sigprocmask(SIG_UNBLOCK, set) made with %rsp at fake_sp, as a JIT kernel leaves it: the
 * pending signal is delivered on the return to user space, with that %rsp. 0 or -errno. */
static long unblock_on_fake_stack(const sigset_t *set, void *fake_sp)
{
    register long r10 __asm__("r10") = 8; /* the kernel's sigset size */
    long rax = SYS_rt_sigprocmask;
    __asm__ volatile("mov %%rsp, %%r12\n\t"
                     "mov %[sp], %%rsp\n\t"
                     "syscall\n\t"
                     "mov %%r12, %%rsp"
                     : "+a"(rax)
                     : "D"((long)SIG_UNBLOCK), "S"(set), "d"(0L), "r"(r10), [sp] "r"(fake_sp)
                     : "rcx", "r11", "r12", "memory", "cc");
    return rax;
}

static void frame_off_the_heap(int sig)
{
    unsigned char *buf = malloc(FAKE_STACK);
    sigset_t set;
    size_t i;
    ck_assert_ptr_nonnull(buf);
    memset(buf, PATTERN, FAKE_STACK);
    ck_assert_int_eq(lh_signals_install(), 0);
    sigemptyset(&set);
    sigaddset(&set, sig);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
    ck_assert_int_eq(kill(getpid(), sig), 0);
    ck_assert_int_eq(lh_signals_pending(), 0); /* blocked: not delivered yet */
    ck_assert_int_eq(unblock_on_fake_stack(&set, buf + FAKE_STACK / 2), 0);
    ck_assert_int_eq(lh_signals_pending(), sig);
    for (i = 0; i < FAKE_STACK && buf[i] == PATTERN; i++)
        ;
    ck_assert_msg(i == FAKE_STACK, "the %s handler's frame was written over the heap buffer "
                  "%%rsp pointed into (first changed byte %ld bytes below %%rsp)",
                  lh_signals_name(sig), (long)(FAKE_STACK / 2) - (long)i);
    lh_signals_restore();
    free(buf);
}
#else
static void frame_off_the_heap(int sig)
{
    (void)sig; /* the JIT kernels this guards against are x86-64 ones */
}
#endif

START_TEST(sigint_frame_not_on_interrupted_stack)
{
    frame_off_the_heap(SIGINT);
}
END_TEST

START_TEST(sigterm_frame_not_on_interrupted_stack)
{
    frame_off_the_heap(SIGTERM);
}
END_TEST

/* blocked[tid]: bit 0 SIGINT, bit 1 SIGTERM, bit 2 SIGSEGV blocked on that thread. */
static void record_mask(void *arg, int tid, int nt)
{
    int *blocked = arg;
    sigset_t cur;
    (void)nt;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    blocked[tid] = (sigismember(&cur, SIGINT) == 1) | (sigismember(&cur, SIGTERM) == 1) << 1 |
                   (sigismember(&cur, SIGSEGV) == 1) << 2;
}

START_TEST(pool_workers_take_no_stop_signal)
{
    int blocked[4] = {-1, -1, -1, -1}, i;
    sigset_t before, after;
    lh_cpu_pool *p;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    p = lh_cpu_pool_create(4);
    ck_assert_ptr_nonnull(p);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    ck_assert_msg(sigismember(&after, SIGINT) == sigismember(&before, SIGINT) &&
                      sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM),
                  "creating the pool changed the caller's signal mask");
    lh_cpu_pool_run(p, record_mask, blocked);
    lh_cpu_pool_destroy(p);
    ck_assert_int_eq(blocked[0], 0); /* the caller: as it was */
    for (i = 1; i < 4; i++)
        ck_assert_msg(blocked[i] == 3, "worker %d: mask bits %d, expected SIGINT and SIGTERM "
                      "blocked (3) and SIGSEGV not", i, blocked[i]);
}
END_TEST

/* ---- oneDNN itself --------------------------------------------------------------------------- */

static volatile sig_atomic_t hits;
static pthread_t gemm_thread;
static atomic_int sender_stop;

static void count_signal(int sig)
{
    (void)sig;
    hits++;
}

static void *send_sigints(void *arg)
{
    (void)arg;
    while (!atomic_load(&sender_stop)) {
        pthread_kill(gemm_thread, SIGINT);
        usleep(50);
    }
    return NULL;
}

/* The linear layer's GEMM of the failing runs (16 x 10 x 5408, B transposed), with malloc and
 * free between calls so a damaged heap aborts at once; before the fix the process aborted within
 * about 0.5 to 4 s ("corrupted size vs. prev_size"). Bounded to 5 s or 20000 calls. */
START_TEST(onednn_sgemm_survives_sigints)
{
    enum { M = 16, N = 10, K = 5408 };
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)N * K, 4), *c = calloc(M * N, 4);
    struct sigaction sa;
    pthread_t th;
    double t0 = lh_clock_now();
    ck_assert(a && b && c);
    ck_assert_int_eq(lh_signals_install(), 0);
    /* Its handler ends the process at the second signal: count them instead, with the flags
     * (and so the stack) lh_signals_install chose. */
    ck_assert_int_eq(sigaction(SIGINT, NULL, &sa), 0);
    ck_assert(!(sa.sa_flags & SA_SIGINFO));
    sa.sa_handler = count_signal;
    ck_assert_int_eq(sigaction(SIGINT, &sa, NULL), 0);
    lh_cpu_gemm_thread_init();
    gemm_thread = pthread_self();
    ck_assert_int_eq(pthread_create(&th, NULL, send_sigints, NULL), 0);
    for (int it = 0; it < 20000 && lh_clock_now() - t0 < 5; it++) {
        lh_cpu_sgemm(0, 1, M, N, K, 1.0f, a, K, b, K, 1.0f, c, N);
        free(malloc(100 + (size_t)(it % 5000)));
    }
    atomic_store(&sender_stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_gt(hits, 0);
    lh_signals_restore();
    free(a);
    free(b);
    free(c);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        sigint_frame_not_on_interrupted_stack, sigterm_frame_not_on_interrupted_stack,
        pool_workers_take_no_stop_signal, onednn_sgemm_survives_sigints, NULL,
    };
    return check_main("signal_stack", 60, NULL, NULL, tests);
}
