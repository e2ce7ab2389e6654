/* kernels/cpu/activation.c — the element-wise activations of kernels/act_math.h (tanh,
 * sigmoid, gelu, silu, leaky_relu) and the element-wise sum `add`, forward and backward.
 *
 * Each thread takes a contiguous slice of the n elements (results do not depend on the split). */
#include "kernels/act_math.h"
#include "kernels/cpu/cpu.h"

enum { FWD, BWD, ADD };

typedef struct ew_job {
    int op;
    int32_t kind;
    float slope;
    int64_t n;
    const float *x, *dy; /* add: a = x, b = dy */
    float *out;
} ew_job;

static void ew_task(void *arg, int tid, int nt)
{
    const ew_job *j = arg;
    int64_t lo, hi;
    lh_cpu_split((j->n + 15) / 16, tid, nt, &lo, &hi); /* 16-float units: no shared lines */
    lo *= 16;
    hi = hi * 16 < j->n ? hi * 16 : j->n;
    for (int64_t i = lo; i < hi; i++) {
        if (j->op == FWD)
            j->out[i] = lh_act_f(j->kind, j->slope, j->x[i]);
        else if (j->op == BWD)
            j->out[i] = lh_act_df(j->kind, j->slope, j->x[i], j->dy[i]);
        else
            j->out[i] = j->x[i] + j->dy[i];
    }
}

static int run(lh_backend_ctx *ctx, ew_job *j, const char *op)
{
    if (j->n < 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: negative length %lld", op,
                           (long long)j->n);
    if (j->op != ADD && (j->kind < LH_ACT_TANH || j->kind > LH_ACT_LEAKY_RELU))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: unknown activation %d", op,
                           (int)j->kind);
    if (j->n < 32768) /* not worth waking the other threads */
        ew_task(j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, ew_task, j);
    return LH_BACKEND_OK;
}

int lh_cpu_act_forward(lh_backend_ctx *ctx, int32_t kind, float slope, int64_t n,
                       const lh_dmem *x, lh_dmem *y)
{
    ew_job j = {FWD, kind, slope, n, CF(x), NULL, F(y)};
    return run(ctx, &j, "act_forward");
}

int lh_cpu_act_backward(lh_backend_ctx *ctx, int32_t kind, float slope, int64_t n,
                        const lh_dmem *x, const lh_dmem *dy, lh_dmem *dx)
{
    ew_job j = {BWD, kind, slope, n, CF(x), CF(dy), F(dx)};
    return run(ctx, &j, "act_backward");
}

int lh_cpu_add(lh_backend_ctx *ctx, int64_t n, const lh_dmem *a, const lh_dmem *b, lh_dmem *y)
{
    ew_job j = {ADD, 0, 0.0f, n, CF(a), CF(b), F(y)};
    return run(ctx, &j, "add");
}
