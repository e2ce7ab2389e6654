/* kernels/cpu/threads.c — a small persistent thread pool: every op is one pool_run.
 *
 * The caller is thread 0 and nthreads-1 workers wait for work. A worker spins briefly on the
 * generation counter (ops follow each other within microseconds during training) and then
 * sleeps on a condition variable, so an idle pool costs no CPU. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/cpu/cpu.h"

#define SPIN_ITERS 20000 /* ~ tens of microseconds of polling before sleeping */

struct lh_cpu_pool {
    int nthreads;
    pthread_t tid[LH_CPU_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    atomic_uint gen;     /* bumped once per run */
    atomic_int pending;  /* workers still running the current task */
    atomic_int stop;
    lh_cpu_task fn;
    void *arg;
};

typedef struct worker_arg {
    lh_cpu_pool *p;
    int id;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *v)
{
    worker_arg wa = *(worker_arg *)v;
    free(v);
    lh_cpu_pool *p = wa.p;
    unsigned seen = 0;
    lh_cpu_gemm_thread_init();
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && spins < SPIN_ITERS) {
            cpu_relax();
            spins++;
        }
        if (atomic_load_explicit(&p->gen, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = atomic_load(&p->gen);
        p->fn(p->arg, wa.id, p->nthreads);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Workers run oneDNN's JIT sgemm, which (Debian's oneDNN 2.x; fixed upstream in 3.11, oneDNN
 * issue #4845) points %rsp into its heap workspace while it runs: a signal handled on such a
 * thread has its frame written over the heap. So workers take no asynchronous signal at all: the
 * process's SIGINT/SIGTERM go to the thread that installed the handlers, which runs them on an
 * alternate stack (host/util/signals.c). Faults and abort() stay deliverable, for their reports. */
static void block_async_signals(sigset_t *old)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    sigset_t set;
    sigfillset(&set);
    for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++)
        sigdelset(&set, faults[k]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

lh_cpu_pool *lh_cpu_pool_create(int nthreads)
{
    sigset_t old;
    if (nthreads < 1 || nthreads > LH_CPU_MAX_THREADS)
        return NULL;
    lh_cpu_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    /* A thread starts with its creator's mask: blocked from its first instruction, with no
     * window in which a signal could still land on it. */
    block_async_signals(&old);
    for (int i = 1; i < nthreads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            p->nthreads = i;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            lh_cpu_pool_destroy(p);
            return NULL;
        }
        wa->p = p;
        wa->id = i;
        if (pthread_create(&p->tid[i], NULL, worker, wa) != 0) {
            free(wa);
            p->nthreads = i;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            lh_cpu_pool_destroy(p);
            return NULL;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p;
}

void lh_cpu_pool_destroy(lh_cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++)
        pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p);
}

void lh_cpu_pool_run(lh_cpu_pool *p, lh_cpu_task fn, void *arg)
{
    if (p->nthreads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->nthreads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0, p->nthreads);

    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spins < SPIN_ITERS) {
        cpu_relax();
        spins++;
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
