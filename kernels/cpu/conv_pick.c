/* kernels/cpu/conv_pick.c — which algorithm runs conv2d, and the ops that dispatch on it.
 *
 * trainer.conv_algorithm reaches the context through lh_backend.configure:
 *   gemm      im2col + sgemm (conv.c): the reference, and every fallback below
 *   direct    oneDNN's convolution_direct primitives (conv_dnn.c)
 *   winograd  oneDNN's convolution_winograd (F(4x4, 3x3), 3x3 stride 1, AVX-512 only) where
 *             conv_dnn.c says it has a kernel, else lhost's F(4x4, 3x3) or F(2x2, 3x3) per
 *             shape (conv_wino.c: 3x3, stride 1, pad 0 to 2), else GEMM
 *   auto      per shape, the fastest of the three on a one-off measurement
 * Otherwise a shape oneDNN has no optimised kernel for (conv_dnn.c says how that is told) runs
 * GEMM.
 * trainer.precision bf16-mixed runs direct in bf16 (oneDNN has no bf16 Winograd); auto then
 * picks per shape between that and fp32 GEMM (oneDNN's direct kernels are slow with one input
 * channel, as the tutorial's first conv has: 4-5x GEMM's time there, bench/README.md); a
 * shape with no bf16 kernel runs GEMM in fp32.
 *
 * auto measures each candidate's forward + backward (best of two timed runs after one warm
 * run) on the shape's first call, on plan-sized buffers of fixed values, and remembers the
 * winner in the context for the life of the process: a training run meets each shape
 * thousands of times, so the measurement (tens of ms per shape) is paid once, and nothing is
 * kept on disk that a different load, library or CPU microcode would silently make wrong. The
 * cost of keeping it in memory is that auto's choice, and so the bits of the result, can differ
 * from one run to the next: auto is the one setting that does not keep the determinism
 * promise (README.md). */
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/cpu.h"

typedef struct lh_cpu_conv_choice {
    struct lh_cpu_conv_choice *next;
    lh_conv_shape s;
    lh_pool_shape ps;
    int fused;
    int32_t precision;
    int32_t algorithm;
} lh_cpu_conv_choice;

/* bf16 needs oneDNN's bf16 kernels for real: avx512_bf16 (Cooper Lake, Zen 4) or AMX. On
 * plain AVX-512 oneDNN would emulate bf16 at a loss, so that is refused, not run slowly. */
static int cpu_has_bf16(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
           (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int lh_cpu_configure(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision)
{
    precision &= ~LH_PRECISION_FLAG_TF32; /* no TF32 here: fp32 GEMMs stay fp32 */
    if (conv_algorithm < LH_CONV_ALGO_GEMM || conv_algorithm > LH_CONV_ALGO_WINOGRAD)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: conv algorithm %d: expected %d to %d",
                           (int)conv_algorithm, LH_CONV_ALGO_GEMM, LH_CONV_ALGO_WINOGRAD);
    if (precision != LH_PRECISION_32 && precision != LH_PRECISION_BF16_MIXED)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: precision %d: expected %d or %d",
                           (int)precision, LH_PRECISION_32, LH_PRECISION_BF16_MIXED);
    if (precision == LH_PRECISION_BF16_MIXED && !cpu_has_bf16()) {
        char lib[96];
        lh_cpu_gemm_describe(lib, sizeof lib);
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: bf16-mixed needs a CPU with avx512_bf16 "
                           "or AMX; this one has neither (%s)", lib);
    }
    if (precision == LH_PRECISION_BF16_MIXED && conv_algorithm != LH_CONV_ALGO_DIRECT &&
        conv_algorithm != LH_CONV_ALGO_AUTO)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: bf16-mixed runs conv2d as direct "
                           "convolution only (conv algorithm %d)", (int)conv_algorithm);
    ctx->conv_algorithm = conv_algorithm;
    ctx->precision = precision;
    return LH_BACKEND_OK;
}

void lh_cpu_conv_release(lh_backend_ctx *ctx)
{
    while (ctx->conv_choices) {
        lh_cpu_conv_choice *c = ctx->conv_choices;
        ctx->conv_choices = c->next;
        free(c);
    }
    lh_cpu_dnn_release(ctx);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Buffers of one shape for the measurement: x, w, b, y (conv or pooled output), argmax, dy,
 * dx, dw, db, in one block. */
typedef struct probe {
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    int32_t *argmax;
    void *block;
} probe;

static int probe_alloc(probe *pr, const lh_conv_shape *s, const lh_pool_shape *ps)
{
    size_t nx = (size_t)s->n * s->c * s->h * s->w, nw = (size_t)s->k * s->c * s->r * s->s;
    size_t ny = ps ? (size_t)ps->n * ps->c * ps->oh * ps->ow : (size_t)s->n * s->k * s->oh * s->ow;
    size_t total = 2 * nx + 2 * nw + 2 * (size_t)s->k + 3 * ny;
    float *f = malloc(total * sizeof(float));
    if (!f)
        return -1;
    pr->block = f;
    pr->x = f, f += nx, pr->dx = f, f += nx;
    pr->w = f, f += nw, pr->dw = f, f += nw;
    pr->b = f, f += s->k, pr->db = f, f += s->k;
    pr->y = f, f += ny, pr->dy = f, f += ny, pr->argmax = (int32_t *)f;
    for (size_t i = 0; i < nx; i++) /* fixed, sign-varying values: no denormal or zero path */
        pr->x[i] = (float)((int)(i * 7919 % 2001) - 1000) * 1e-3f;
    for (size_t i = 0; i < nw; i++)
        pr->w[i] = (float)((int)(i * 104729 % 2001) - 1000) * 1e-4f;
    for (size_t i = 0; i < (size_t)s->k; i++)
        pr->b[i] = 0.01f;
    for (size_t i = 0; i < ny; i++)
        pr->dy[i] = (float)((int)(i * 15485863 % 2001) - 1000) * 1e-3f;
    return 0;
}

/* One forward + backward on the probe's buffers: oneDNN's plans pl, else lhost's Winograd
 * (own), else GEMM. */
static int probe_step(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                      lh_cpu_dnn_plan **pl, int own, probe *pr)
{
    if (pl)
        return lh_cpu_dnn_forward(ctx, s, ps, pl, pr->x, pr->w, pr->b, pr->y, pr->argmax) ||
               lh_cpu_dnn_backward(ctx, s, ps, pl, pr->x, pr->w, pr->y, pr->argmax, pr->dy,
                                   pr->dx, pr->dw, pr->db);
    const lh_cpu_conv_impl *impl = own ? &lh_cpu_conv_wino : &lh_cpu_conv_gemm;
    lh_cpu_conv_io fwd = {.s = s, .ps = ps, .x = pr->x, .w = pr->w, .b = pr->b};
    lh_cpu_conv_io bwd = {.s = s, .ps = ps, .x = pr->x, .w = pr->w, .dx = pr->dx, .dw = pr->dw,
                          .db = pr->db};
    if (ps) {
        fwd.p = pr->y, fwd.argmax = pr->argmax;
        bwd.cp = pr->y, bwd.cargmax = pr->argmax, bwd.dp = pr->dy;
    } else {
        fwd.y = pr->y, bwd.dy = pr->dy;
    }
    return impl->forward(ctx, &fwd) || impl->backward(ctx, &bwd);
}

/* The fastest of GEMM, the oneDNN algorithms that have a kernel for this shape and, where
 * oneDNN has no Winograd kernel, lhost's own. */
static int measure(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                   int32_t *best)
{
    static const int32_t candidates[] = {LH_CONV_ALGO_GEMM, LH_CONV_ALGO_DIRECT,
                                         LH_CONV_ALGO_WINOGRAD};
    double best_t = 0.0;
    probe pr;
    int rc = 0;
    *best = LH_CONV_ALGO_GEMM;
    if (probe_alloc(&pr, s, ps))
        return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory measuring conv2d");
    for (size_t c = 0; c < sizeof candidates / sizeof candidates[0] && !rc; c++) {
        lh_cpu_dnn_plan *plans[LH_CPU_MAX_THREADS], **pl = NULL;
        int own = 0;
        if (candidates[c] == LH_CONV_ALGO_WINOGRAD && ctx->precision != LH_PRECISION_32)
            continue; /* oneDNN has no bf16 Winograd */
        if (candidates[c] != LH_CONV_ALGO_GEMM) {
            int usable = lh_cpu_dnn_plans(ctx, s, ps, candidates[c], plans);
            if (usable < 0) {
                rc = usable;
                break;
            }
            own = !usable && candidates[c] == LH_CONV_ALGO_WINOGRAD && lh_cpu_wino_fits(s);
            if (!usable && !own)
                continue; /* no kernel here */
            pl = usable ? plans : NULL;
        }
        double t = 0.0;
        for (int rep = 0; rep < 3 && !rc; rep++) {
            double t0 = now_s();
            rc = probe_step(ctx, s, ps, pl, own, &pr);
            double dt = now_s() - t0;
            if (rep == 1 || (rep == 2 && dt < t))
                t = dt;
        }
        if (!rc && (c == 0 || t < best_t))
            best_t = t, *best = candidates[c];
    }
    free(pr.block);
    for (size_t c = 1; c < sizeof candidates / sizeof candidates[0]; c++)
        if (candidates[c] != *best) /* the losers' plans would only hold memory */
            lh_cpu_dnn_drop(ctx, s, ps, candidates[c]);
    return rc < 0 ? rc : rc ? LH_BACKEND_EINVAL : LH_BACKEND_OK;
}

static int pick_auto(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t *algorithm)
{
    lh_cpu_conv_choice *c;
    for (c = ctx->conv_choices; c; c = c->next)
        if (memcmp(&c->s, s, sizeof *s) == 0 && c->fused == (ps != NULL) &&
            c->precision == ctx->precision &&
            (!ps || memcmp(&c->ps, ps, sizeof *ps) == 0)) {
            *algorithm = c->algorithm;
            return LH_BACKEND_OK;
        }
    int rc = measure(ctx, s, ps, algorithm);
    if (rc)
        return rc;
    if (!(c = calloc(1, sizeof *c)))
        return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory");
    c->s = *s, c->fused = ps != NULL, c->algorithm = *algorithm, c->precision = ctx->precision;
    if (ps)
        c->ps = *ps;
    c->next = ctx->conv_choices;
    ctx->conv_choices = c;
    return LH_BACKEND_OK;
}

int lh_cpu_conv_algorithm_for(lh_backend_ctx *ctx, const lh_conv_shape *s,
                              const lh_pool_shape *ps, lh_cpu_dnn_plan **pl)
{
    int32_t a = ctx->conv_algorithm;
    int rc;
    if (a == LH_CONV_ALGO_GEMM || s->n <= 0)
        return LH_CONV_ALGO_GEMM;
    if (a == LH_CONV_ALGO_AUTO && (rc = pick_auto(ctx, s, ps, &a)))
        return rc;
    if (a == LH_CONV_ALGO_GEMM)
        return a;
    rc = lh_cpu_dnn_plans(ctx, s, ps, a, pl);
    if (rc)
        return rc < 0 ? rc : a;
    return a == LH_CONV_ALGO_WINOGRAD && lh_cpu_wino_fits(s) ? LH_CPU_CONV_ALGO_WINO_OWN
                                                             : LH_CONV_ALGO_GEMM;
}

/* ---- the ops ------------------------------------------------------------------------------- */

/* The algorithm for io's shape, and the op run with it: forward (1) or backward (0). */
static int run_op(lh_backend_ctx *ctx, const lh_cpu_conv_io *io, int forward)
{
    lh_cpu_dnn_plan *pl[LH_CPU_MAX_THREADS];
    const lh_conv_shape *s = io->s;
    const lh_pool_shape *ps = io->ps;
    int rc = ps ? lh_cpu_conv_block_check(ctx, s, ps) : lh_cpu_conv_check(ctx, s);
    if (rc || (rc = lh_cpu_conv_algorithm_for(ctx, s, ps, pl)) < 0)
        return rc;
    if (rc == LH_CONV_ALGO_GEMM || rc == LH_CPU_CONV_ALGO_WINO_OWN) {
        const lh_cpu_conv_impl *impl = rc == LH_CONV_ALGO_GEMM ? &lh_cpu_conv_gemm
                                                               : &lh_cpu_conv_wino;
        return forward ? impl->forward(ctx, io) : impl->backward(ctx, io);
    }
    if (forward)
        return lh_cpu_dnn_forward(ctx, s, ps, pl, io->x, io->w, io->b, ps ? io->p : io->y,
                                  io->argmax);
    return lh_cpu_dnn_backward(ctx, s, ps, pl, io->x, io->w, io->cp, io->cargmax,
                               ps ? io->dp : io->dy, io->dx, io->dw, io->db);
}

int lh_cpu_conv2d_forward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                          const lh_dmem *w, const lh_dmem *b, lh_dmem *y)
{
    lh_cpu_conv_io io = {.s = s, .x = CF(x), .w = CF(w), .b = CF(b), .y = F(y)};
    return run_op(ctx, &io, 1);
}

int lh_cpu_conv2d_backward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                           const lh_dmem *w, const lh_dmem *dy, lh_dmem *dx, lh_dmem *dw,
                           lh_dmem *db)
{
    lh_cpu_conv_io io = {.s = s, .x = CF(x), .w = CF(w), .dy = CF(dy), .dx = F(dx),
                         .dw = F(dw), .db = F(db)};
    return run_op(ctx, &io, 0);
}

int lh_cpu_conv2d_relu_maxpool_forward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                       const lh_pool_shape *ps, const lh_dmem *x,
                                       const lh_dmem *w, const lh_dmem *b, lh_dmem *p,
                                       lh_dmem *argmax)
{
    lh_cpu_conv_io io = {.s = s, .ps = ps, .x = CF(x), .w = CF(w), .b = CF(b), .p = F(p),
                         .argmax = (int32_t *)argmax};
    return run_op(ctx, &io, 1);
}

int lh_cpu_conv2d_relu_maxpool_backward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                        const lh_pool_shape *ps, const lh_dmem *x,
                                        const lh_dmem *w, const lh_dmem *p,
                                        const lh_dmem *argmax, const lh_dmem *dp, lh_dmem *dx,
                                        lh_dmem *dw, lh_dmem *db)
{
    lh_cpu_conv_io io = {.s = s, .ps = ps, .x = CF(x), .w = CF(w), .cp = CF(p),
                         .cargmax = (const int32_t *)argmax, .dp = CF(dp), .dx = F(dx),
                         .dw = F(dw), .db = F(db)};
    return run_op(ctx, &io, 0);
}
