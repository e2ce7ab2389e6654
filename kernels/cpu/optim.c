/* kernels/cpu/optim.c — Adam/AdamW and SGD parameter updates with PyTorch's semantics.
 *
 * Adam (torch.optim.Adam / AdamW, single-tensor path), step t = a->step:
 *   g = grad (+ wd * p for Adam) ; p *= 1 - lr * wd for AdamW
 *   m = b1 m + (1 - b1) g ; v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * SGD (torch.optim.SGD): g = grad + wd p; buf = g on the first step, else
 *   buf = momentum buf + (1 - dampening) g; g = g + momentum buf (nesterov) or buf; p -= lr g.
 * Scalars (1 - b, the bias corrections, the step size) are computed in double from the
 * config's values and rounded to float once, as PyTorch does (lh_adam_scalars_of). Element-wise, so
 * the thread split does not change results. */
#include <math.h>

#include "kernels/cpu/cpu.h"

typedef struct opt_job {
    int64_t n;
    const lh_adam_args *adam;
    const lh_sgd_args *sgd;
    float *p, *m, *v, *buf;
    const float *g;
    lh_adam_scalars sc;        /* Adam: 1 - b1, 1 - b2, lr / (1 - b1^t), sqrt(1 - b2^t) */
} opt_job;

LH_CPU_CLONES
static void adam_range(const opt_job *j, int64_t lo, int64_t hi)
{
    const lh_adam_args *a = j->adam;
    const float b1 = a->beta1, b2 = a->beta2, c1 = j->sc.c1, c2 = j->sc.c2;
    const float wd = a->weight_decay, decay = 1.0f - a->lr * a->weight_decay;
    const int coupled = !a->decoupled && wd != 0.0f, decoupled = a->decoupled && wd != 0.0f;
    for (int64_t i = lo; i < hi; i++) {
        float p = j->p[i], g = j->g[i];
        if (coupled)
            g = g + wd * p;
        if (decoupled)
            p = p * decay;
        float m = j->m[i] * b1 + g * c1;
        float v = j->v[i] * b2 + g * g * c2;
        j->m[i] = m;
        j->v[i] = v;
        float denom = sqrtf(v) / j->sc.bc2_sqrt + a->eps;
        j->p[i] = p - j->sc.step_size * (m / denom);
    }
}

LH_CPU_CLONES
static void sgd_range(const opt_job *j, int64_t lo, int64_t hi)
{
    const lh_sgd_args *a = j->sgd;
    const float mom = a->momentum, keep = 1.0f - a->dampening, wd = a->weight_decay;
    for (int64_t i = lo; i < hi; i++) {
        float g = j->g[i];
        if (wd != 0.0f)
            g = g + wd * j->p[i];
        if (mom != 0.0f) {
            float b = a->first_step ? g : j->buf[i] * mom + g * keep;
            j->buf[i] = b;
            g = a->nesterov ? g + mom * b : b;
        }
        j->p[i] = j->p[i] - a->lr * g;
    }
}

static void opt_task(void *arg, int tid, int nt)
{
    opt_job *j = arg;
    int64_t lo, hi;
    lh_cpu_split((j->n + 15) / 16, tid, nt, &lo, &hi);
    lo *= 16;
    hi = hi * 16 < j->n ? hi * 16 : j->n;
    if (lo >= hi)
        return;
    if (j->adam)
        adam_range(j, lo, hi);
    else
        sgd_range(j, lo, hi);
}

static void run(lh_backend_ctx *ctx, opt_job *j)
{
    if (j->n < (1 << 18)) /* the tutorial's largest tensor is 73,728: waking threads costs more */
        opt_task(j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, opt_task, j);
}

int lh_cpu_adam_step(lh_backend_ctx *ctx, int64_t n, const lh_adam_args *a, lh_dmem *param,
                     const lh_dmem *grad, lh_dmem *m, lh_dmem *v)
{
    if (n < 0 || a->step < 1)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: adam_step: expected n >= 0 and step >= 1,"
                           " got n=%lld step=%lld", (long long)n, (long long)a->step);
    opt_job j = {.n = n, .adam = a, .p = F(param), .g = CF(grad), .m = F(m), .v = F(v),
                 .sc = lh_adam_scalars_of(a)};
    run(ctx, &j);
    return LH_BACKEND_OK;
}

int lh_cpu_sgd_step(lh_backend_ctx *ctx, int64_t n, const lh_sgd_args *a, lh_dmem *param,
                    const lh_dmem *grad, lh_dmem *buf)
{
    if (n < 0 || (a->momentum != 0.0f && !buf))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: sgd_step: expected n >= 0 and a momentum "
                           "buffer when momentum != 0");
    if (a->nesterov && (a->momentum <= 0.0f || a->dampening != 0.0f))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: sgd_step: nesterov needs momentum > 0 "
                           "and dampening 0 (as PyTorch)");
    opt_job j = {.n = n, .sgd = a, .p = F(param), .g = CF(grad), .buf = F(buf)};
    run(ctx, &j);
    return LH_BACKEND_OK;
}
