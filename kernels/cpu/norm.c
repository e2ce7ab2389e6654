/* kernels/cpu/norm.c — what torch.nn.utils.clip_grad_norm_ / clip_grad_value_ run over the
 * gradients, in place: per-segment p-norm partial sums (sum |x|^p in double, max |x| for
 * p = inf), scaling by a factor, clamping to [lo, hi].
 *
 * norm_partials splits the whole range into one contiguous slice per thread; each thread sums
 * the part of every segment its slice holds, and the slices' sums are added in thread order, so
 * the result depends only on the thread count. */
#include <math.h>

#include "kernels/cpu/cpu.h"

enum { SCALE, CLAMP };

/* |x|^p summed over [lo, hi) in double; p = INFINITY: the largest |x| (NaN wins, as torch).
 * Eight independent partial sums (added in lane order at the end), so the loop vectorises
 * without reassociating anything: the result depends only on lo and hi. */
#define LANES 8
LH_CPU_CLONES
static double partial(const float *x, int64_t lo, int64_t hi, double p)
{
    double a[LANES] = {0}, acc = 0;
    int64_t i = lo;
    int mode = isinf(p) ? 0 : p == 2 ? 2 : p == 1 ? 1 : 3, nan = 0;
    if (mode == 0) {
        for (; i + LANES <= hi; i += LANES)
            for (int l = 0; l < LANES; l++) {
                double v = fabs((double)x[i + l]);
                nan |= v != v;
                a[l] = v > a[l] ? v : a[l];
            }
        for (; i < hi; i++) {
            double v = fabs((double)x[i]);
            nan |= v != v;
            a[0] = v > a[0] ? v : a[0];
        }
        for (int l = 0; l < LANES; l++)
            acc = a[l] > acc ? a[l] : acc;
        return nan ? NAN : acc;
    }
    for (; i + LANES <= hi; i += LANES)
        for (int l = 0; l < LANES; l++) {
            double v = (double)x[i + l];
            a[l] += mode == 2 ? v * v : mode == 1 ? fabs(v) : pow(fabs(v), p);
        }
    for (; i < hi; i++) {
        double v = (double)x[i];
        a[0] += mode == 2 ? v * v : mode == 1 ? fabs(v) : pow(fabs(v), p);
    }
    for (int l = 0; l < LANES; l++)
        acc += a[l];
    return acc;
}

typedef struct norm_job {
    int32_t count;
    const int64_t *bounds;
    const float *x;
    double p;
    double *parts; /* (nthreads, count) */
} norm_job;

static void norm_task(void *arg, int tid, int nt)
{
    const norm_job *j = arg;
    int64_t lo, hi, first = j->bounds[0], total = j->bounds[j->count] - first;
    lh_cpu_split(total, tid, nt, &lo, &hi);
    lo += first;
    hi += first;
    for (int32_t s = 0; s < j->count; s++) {
        int64_t a = j->bounds[s] > lo ? j->bounds[s] : lo;
        int64_t b = j->bounds[s + 1] < hi ? j->bounds[s + 1] : hi;
        j->parts[(int64_t)tid * j->count + s] = a < b ? partial(j->x, a, b, j->p) : 0;
    }
}

int lh_cpu_norm_partials(lh_backend_ctx *ctx, int32_t count, const int64_t *bounds,
                         const lh_dmem *x, double p, double *out)
{
    double parts[LH_CPU_MAX_THREADS * 128], *buf = parts;
    norm_job j = {count, bounds, CF(x), p, NULL};
    int nt = ctx->nthreads;
    if (count < 0 || !(p > 0))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: norm_partials: expected count >= 0 "
                           "and p > 0, got count=%d p=%g", (int)count, p);
    for (int32_t s = 0; s < count; s++)
        if (bounds[s + 1] < bounds[s])
            return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: norm_partials: segment %d ends "
                               "before it starts", (int)s);
    if (count == 0)
        return LH_BACKEND_OK;
    if (bounds[count] - bounds[0] < 32768) /* not worth waking the other threads */
        nt = 1;
    if ((int64_t)nt * count > (int64_t)(sizeof parts / sizeof parts[0])) {
        if (lh_cpu_reserve(ctx, 0, (size_t)nt * (size_t)count * 2))
            return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: norm_partials: out of memory");
        buf = (double *)ctx->shared;
    }
    j.parts = buf;
    if (nt == 1)
        norm_task(&j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, norm_task, &j);
    for (int32_t s = 0; s < count; s++) {
        double acc = buf[s];
        for (int t = 1; t < nt; t++) {
            double v = buf[(int64_t)t * count + s];
            acc = !isinf(p) ? acc + v : v > acc || v != v ? v : acc;
        }
        out[s] = acc;
    }
    return LH_BACKEND_OK;
}

typedef struct ew_job {
    int op;
    int64_t n;
    float a, b; /* scale: the factor; clamp: lo, hi */
    float *x;
} ew_job;

LH_CPU_CLONES
static void ew_range(const ew_job *j, int64_t lo, int64_t hi)
{
    float *x = j->x;
    if (j->op == SCALE)
        for (int64_t i = lo; i < hi; i++)
            x[i] = x[i] * j->a;
    else
        for (int64_t i = lo; i < hi; i++)
            x[i] = x[i] < j->a ? j->a : x[i] > j->b ? j->b : x[i]; /* NaN: both false */
}

static void ew_task(void *arg, int tid, int nt)
{
    const ew_job *j = arg;
    int64_t lo, hi;
    lh_cpu_split((j->n + 15) / 16, tid, nt, &lo, &hi); /* 16-float units: no shared lines */
    lo *= 16;
    hi = hi * 16 < j->n ? hi * 16 : j->n;
    if (lo < hi)
        ew_range(j, lo, hi);
}

static int run(lh_backend_ctx *ctx, ew_job *j, const char *op)
{
    if (j->n < 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: negative length %lld", op,
                           (long long)j->n);
    if (j->n < (1 << 18))
        ew_task(j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, ew_task, j);
    return LH_BACKEND_OK;
}

int lh_cpu_scale(lh_backend_ctx *ctx, int64_t n, float factor, lh_dmem *x)
{
    ew_job j = {SCALE, n, factor, 0.0f, F(x)};
    return run(ctx, &j, "scale");
}

int lh_cpu_clamp(lh_backend_ctx *ctx, int64_t n, float lo, float hi, lh_dmem *x)
{
    ew_job j = {CLAMP, n, lo, hi, F(x)};
    if (!(lo <= hi))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: clamp: expected lo <= hi, got %g > %g",
                           (double)lo, (double)hi);
    return run(ctx, &j, "clamp");
}
