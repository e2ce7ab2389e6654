/* kernels/cpu/act.c — element-wise activations: relu and dropout, forward and backward.
 *
 * Each thread takes a contiguous slice of the n elements (results do not depend on the split).
 * Dropout's mask is lh_dropout_mask(seed, i, p) from kernels/dropout_hash.h: a pure function
 * of (seed, element index), identical on every backend. */
#include "kernels/cpu/cpu.h"
#include "kernels/dropout_hash.h"

enum { RELU_FWD, RELU_BWD, DROP_FWD, MUL };

typedef struct act_job {
    int kind;
    int64_t n;
    const float *a, *b; /* inputs: x | y, dy | x | dy, mask */
    float *out, *mask;
    float p;
    uint64_t seed;
} act_job;

LH_CPU_CLONES
static void relu_fwd(const float *x, float *y, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++)
        y[i] = x[i] > 0.0f || x[i] != x[i] ? x[i] : 0.0f; /* NaN propagates, as in PyTorch */
}

LH_CPU_CLONES
static void relu_bwd(const float *y, const float *dy, float *dx, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

LH_CPU_CLONES
static void mul(const float *a, const float *b, float *out, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++)
        out[i] = a[i] * b[i];
}

static void drop_fwd(const act_job *j, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++) {
        float m = lh_dropout_mask(j->seed, (uint64_t)i, j->p);
        j->mask[i] = m;
        j->out[i] = j->a[i] * m;
    }
}

static void act_task(void *arg, int tid, int nt)
{
    act_job *j = arg;
    int64_t lo, hi;
    /* slices in 16-float units so no two threads share a cache line */
    lh_cpu_split((j->n + 15) / 16, tid, nt, &lo, &hi);
    lo *= 16;
    hi = hi * 16 < j->n ? hi * 16 : j->n;
    if (lo >= hi)
        return;
    switch (j->kind) {
    case RELU_FWD: relu_fwd(j->a, j->out, lo, hi); break;
    case RELU_BWD: relu_bwd(j->a, j->b, j->out, lo, hi); break;
    case DROP_FWD: drop_fwd(j, lo, hi); break;
    default: mul(j->a, j->b, j->out, lo, hi); break;
    }
}

static int run(lh_backend_ctx *ctx, act_job *j, const char *op)
{
    if (j->n < 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: negative length %lld", op,
                           (long long)j->n);
    if (j->n < 32768) /* not worth waking the other threads */
        act_task(j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, act_task, j);
    return LH_BACKEND_OK;
}

int lh_cpu_relu_forward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *x, lh_dmem *y)
{
    act_job j = {.kind = RELU_FWD, .n = n, .a = CF(x), .out = F(y)};
    return run(ctx, &j, "relu_forward");
}

int lh_cpu_relu_backward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *y, const lh_dmem *dy,
                         lh_dmem *dx)
{
    act_job j = {.kind = RELU_BWD, .n = n, .a = CF(y), .b = CF(dy), .out = F(dx)};
    return run(ctx, &j, "relu_backward");
}

int lh_cpu_dropout_forward(lh_backend_ctx *ctx, int64_t n, float p, uint64_t seed,
                           const lh_dmem *x, lh_dmem *y, lh_dmem *mask)
{
    if (!(p >= 0.0f && p <= 1.0f))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: dropout: p: expected 0 to 1, got %g",
                           (double)p);
    act_job j = {.kind = DROP_FWD, .n = n, .a = CF(x), .out = F(y), .mask = F(mask), .p = p,
                 .seed = seed};
    return run(ctx, &j, "dropout_forward");
}

int lh_cpu_dropout_backward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *dy,
                            const lh_dmem *mask, lh_dmem *dx)
{
    act_job j = {.kind = MUL, .n = n, .a = CF(dy), .b = CF(mask), .out = F(dx)};
    return run(ctx, &j, "dropout_backward");
}
