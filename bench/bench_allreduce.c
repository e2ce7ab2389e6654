/* bench/bench_allreduce.c — the time of one gradient all-reduce through host/dist: a float sum
 * of N elements (default 137226, the seed model's 0.55 MB gradient) over all ranks, the median
 * of many, as the trainer does it once per step (host memory; the CPU backend's gradient).
 * Run: mpirun --allow-run-as-root -np 2 build/bench/bench_allreduce [N] [ITERS] */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "dist.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 137226, i;
    int32_t iters = argc > 2 ? atoi(argv[2]) : 200, k;
    float *buf = malloc((size_t)n * sizeof *buf);
    double *t = malloc((size_t)iters * sizeof *t);
    lh_error err;
    if (!buf || !t || lh_dist_init(&err))
        return fprintf(stderr, "bench_allreduce: %s\n", buf && t ? err.msg : "out of memory"), 1;
    for (i = 0; i < n; i++)
        buf[i] = 1e-3f * (float)(i % 1000);
    for (k = -10; k < iters; k++) { /* 10 warm-up rounds */
        double t0 = lh_clock_now();
        if (lh_dist_allreduce_f32(buf, n, "the benchmark buffer", &err))
            return fprintf(stderr, "bench_allreduce: %s\n", err.msg), 1;
        if (k >= 0)
            t[k] = lh_clock_now() - t0;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp);
    if (lh_dist_rank() == 0)
        printf("all-reduce of %lld floats (%.2f MB) over %d ranks (%s): median %.1f us, "
               "min %.1f us, p90 %.1f us\n", (long long)n, n * 4 / 1e6, (int)lh_dist_world(),
               lh_dist_engine(), t[iters / 2] * 1e6, t[0] * 1e6, t[iters * 9 / 10] * 1e6);
    lh_dist_finalize();
    free(buf);
    free(t);
    return 0;
}
