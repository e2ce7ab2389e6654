/* bench/fma_probe.c — the CPU's FP32 FMA peak, the ceiling under which no convolution runs.
 *
 *   ./build/bench/fma_probe [max_threads] [seconds_per_trial] [--isa avx512|avx2]
 *
 * Each thread runs 12 independent FMA chains (acc_i = acc_i * m + c) on full vectors: 16 fp32
 * lanes per zmm register (AVX-512F) or 8 per ymm (AVX2 + FMA), chosen at run time from what the
 * CPU reports (--isa forces one the CPU has). 12 chains cover the FMA latency (4 cycles) times
 * the FMA ports (2) with room to spare, so the loop is bound by FMA throughput alone, with no
 * memory traffic. One FMA lane is 2 FLOP: a trial's FLOP = threads x iterations x 12 x lanes x 2.
 * The chains are floating point (no reassociation without -ffast-math) and their sum goes to a
 * volatile sink and is checked finite, so the compiler can neither fold nor drop the loop.
 *
 * For each thread count 1..max_threads (default: the CPUs this process may run on) it runs
 * 5 trials of about seconds_per_trial (0.3 s) each, threads pinned one per allowed CPU where
 * the OS lets it, and prints the best of each of two rates on one line:
 *   threads N: W GFLOP/s wall, C GFLOP/s CPU time (pinned|unpinned)
 * W is on the wall clock from a common start to the last thread's end: what the machine gave
 * under its load at the time (the idle peak only on a quiet machine). C sums each thread's FLOP
 * over its own CPU time (CLOCK_THREAD_CPUTIME_ID): the rate while scheduled, close to the idle
 * peak even on a loaded machine (a hypervisor's steal still lowers it). Say the load with W.
 * Without AVX2 + FMA it says so on one line and exits 2 (there is no vector peak to measure).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET (the build may define it already) */
#endif
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CHAINS = 12, TRIALS = 5, MAX_THREADS = 256 };

typedef double (*fma_kernel)(uint64_t iters, float seed);

static volatile double sink;

/* 12 chains of zmm FMAs; m < 1 keeps each chain bounded (it tends to c / (1 - m)), no
 * denormals. Returns the sum of every lane so the work is observable. */
__attribute__((target("avx512f"))) static double run_avx512(uint64_t iters, float seed)
{
  const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  __m512 a[CHAINS];
  for (int i = 0; i < CHAINS; i++) a[i] = _mm512_set1_ps(seed + (float)i);
  for (uint64_t n = 0; n < iters; n++) {
    a[0] = _mm512_fmadd_ps(a[0], m, c);   a[1] = _mm512_fmadd_ps(a[1], m, c);
    a[2] = _mm512_fmadd_ps(a[2], m, c);   a[3] = _mm512_fmadd_ps(a[3], m, c);
    a[4] = _mm512_fmadd_ps(a[4], m, c);   a[5] = _mm512_fmadd_ps(a[5], m, c);
    a[6] = _mm512_fmadd_ps(a[6], m, c);   a[7] = _mm512_fmadd_ps(a[7], m, c);
    a[8] = _mm512_fmadd_ps(a[8], m, c);   a[9] = _mm512_fmadd_ps(a[9], m, c);
    a[10] = _mm512_fmadd_ps(a[10], m, c); a[11] = _mm512_fmadd_ps(a[11], m, c);
  }
  double s = 0;
  for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(a[i]);
  return s;
}

__attribute__((target("avx2,fma"))) static double run_avx2(uint64_t iters, float seed)
{
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  __m256 a[CHAINS];
  for (int i = 0; i < CHAINS; i++) a[i] = _mm256_set1_ps(seed + (float)i);
  for (uint64_t n = 0; n < iters; n++) {
    a[0] = _mm256_fmadd_ps(a[0], m, c);   a[1] = _mm256_fmadd_ps(a[1], m, c);
    a[2] = _mm256_fmadd_ps(a[2], m, c);   a[3] = _mm256_fmadd_ps(a[3], m, c);
    a[4] = _mm256_fmadd_ps(a[4], m, c);   a[5] = _mm256_fmadd_ps(a[5], m, c);
    a[6] = _mm256_fmadd_ps(a[6], m, c);   a[7] = _mm256_fmadd_ps(a[7], m, c);
    a[8] = _mm256_fmadd_ps(a[8], m, c);   a[9] = _mm256_fmadd_ps(a[9], m, c);
    a[10] = _mm256_fmadd_ps(a[10], m, c); a[11] = _mm256_fmadd_ps(a[11], m, c);
  }
  float lane[8];
  double s = 0;
  for (int i = 0; i < CHAINS; i++) {
    _mm256_storeu_ps(lane, a[i]);
    for (int j = 0; j < 8; j++) s += lane[j];
  }
  return s;
}

typedef struct {
  fma_kernel kernel;
  uint64_t iters;
  int cpu; /* -1: leave unpinned */
  int pinned;
  double result, cpu_s;
  pthread_barrier_t *start;
} worker;

static void *worker_main(void *p)
{
  worker *w = p;
  if (w->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    w->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  }
  pthread_barrier_wait(w->start);
  struct timespec t0, t1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  w->result = w->kernel(w->iters, 1.0f + (float)w->cpu);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  w->cpu_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  return NULL;
}

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One trial on `threads` threads: wall seconds from the common start to the last join;
 * *inv_cpu = sum over threads of 1 / (its CPU seconds); *pinned: every worker got its CPU. */
static double trial(fma_kernel k, int threads, uint64_t iters, const int *cpus, int ncpus,
                    double *inv_cpu, int *pinned)
{
  worker w[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    w[i] = (worker){ .kernel = k, .iters = iters, .cpu = ncpus ? cpus[i % ncpus] : -1,
                     .start = &start };
    if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
      fprintf(stderr, "fma_probe: pthread_create failed for thread %d of %d\n", i, threads);
      exit(1);
    }
  }
  pthread_barrier_wait(&start);
  double t0 = now_s();
  double s = 0;
  *pinned = 1;
  *inv_cpu = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    s += w[i].result;
    *pinned &= w[i].pinned;
    *inv_cpu += 1.0 / (w[i].cpu_s > 1e-9 ? w[i].cpu_s : 1e-9);
  }
  double t = now_s() - t0;
  pthread_barrier_destroy(&start);
  if (!isfinite(s)) {
    fprintf(stderr, "fma_probe: the FMA chains' sum is %g, expected a finite number\n", s);
    exit(1);
  }
  sink = s;
  return t;
}

static int parse_int(const char *s, const char *what, int lo, int hi)
{
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == 0 || *end != 0 || v < lo || v > hi) {
    fprintf(stderr, "fma_probe: %s: expected an integer in %d..%d, got \"%s\"\n", what, lo, hi,
            s);
    exit(1);
  }
  return (int)v;
}

int main(int argc, char **argv)
{
  const char *isa = NULL;
  const char *pos[2] = { NULL, NULL };
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) isa = argv[++i];
    else if (argv[i][0] != '-' && npos < 2) pos[npos++] = argv[i];
    else {
      fprintf(stderr, "fma_probe: unexpected argument \"%s\"; usage: fma_probe [max_threads] "
              "[seconds_per_trial] [--isa avx512|avx2]\n", argv[i]);
      return 1;
    }
  }
  cpu_set_t allowed;
  int cpus[MAX_THREADS], ncpus = 0;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE && ncpus < MAX_THREADS; c++)
      if (CPU_ISSET(c, &allowed)) cpus[ncpus++] = c;
  int max_threads = pos[0] ? parse_int(pos[0], "max_threads", 1, MAX_THREADS)
                           : (ncpus ? ncpus : 1);
  double secs = 0.3;
  if (pos[1]) {
    char *end;
    secs = strtod(pos[1], &end);
    if (*end != 0 || !(secs >= 0.01 && secs <= 60)) {
      fprintf(stderr, "fma_probe: seconds_per_trial: expected 0.01..60, got \"%s\"\n", pos[1]);
      return 1;
    }
  }

  __builtin_cpu_init();
  int has512 = __builtin_cpu_supports("avx512f");
  int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  fma_kernel k;
  int lanes;
  if (isa && strcmp(isa, "avx512") != 0 && strcmp(isa, "avx2") != 0) {
    fprintf(stderr, "fma_probe: --isa: expected avx512 or avx2, got \"%s\"\n", isa);
    return 1;
  }
  if (isa && ((strcmp(isa, "avx512") == 0 && !has512) || (strcmp(isa, "avx2") == 0 && !has2))) {
    fprintf(stderr, "fma_probe: --isa %s: this CPU does not report it\n", isa);
    return 1;
  }
  if (has512 && !(isa && strcmp(isa, "avx2") == 0)) k = run_avx512, lanes = 16, isa = "avx512f";
  else if (has2) k = run_avx2, lanes = 8, isa = "avx2+fma";
  else {
    printf("fma_probe: this CPU has neither AVX-512F nor AVX2+FMA; only scalar FMA, no vector "
           "peak measured\n");
    return 2;
  }

  /* Calibrate on one thread: iterations for about `secs` per trial. */
  uint64_t iters = 1u << 20;
  int pinned;
  double inv_cpu;
  for (;;) {
    double t = trial(k, 1, iters, cpus, ncpus, &inv_cpu, &pinned);
    if (t > 0.05 || iters > (UINT64_C(1) << 40)) {
      iters = (uint64_t)((double)iters * secs / t) + 1;
      break;
    }
    iters *= 4;
  }
  double flop_per_thread = (double)iters * CHAINS * lanes * 2.0;
  printf("fma_probe: %s, %d independent FMA chains x %d fp32 lanes per thread, best of %d "
         "trials of %.2f s\n", isa, CHAINS, lanes, TRIALS, secs);
  for (int th = 1; th <= max_threads; th++) {
    double best = 0, best_cpu = 0;
    int all_pinned = 1;
    for (int r = 0; r < TRIALS; r++) {
      double t = trial(k, th, iters, cpus, ncpus, &inv_cpu, &pinned);
      double g = flop_per_thread * th / t * 1e-9, gc = flop_per_thread * inv_cpu * 1e-9;
      if (g > best) best = g;
      if (gc > best_cpu) best_cpu = gc;
      all_pinned &= pinned;
    }
    if (th > ncpus) /* threads sharing a CPU: the sum of their rates is no machine's rate */
      printf("threads %d: %.1f GFLOP/s wall, - GFLOP/s CPU time (more threads than CPUs)\n",
             th, best);
    else
      printf("threads %d: %.1f GFLOP/s wall, %.1f GFLOP/s CPU time (%s)\n", th, best,
             best_cpu, all_pinned ? "pinned" : "unpinned");
    fflush(stdout);
  }
  return 0;
}
