/* tests/unit/test_cuda_precision.c — the CUDA backend's precisions and its fused conv block:
 *   - conv2d_relu_maxpool_forward / _backward equal the single ops (conv2d, relu, maxpool) on
 *     the same backend: p and argmax bitwise, dx, dw, db within 1e-6 (worst element, below),
 *     in fp32, bf16-mixed and TF32, for first layers (Q <= 32: the small-Q dW path) and second
 *     ones, odd pool sizes, one image and a batch;
 *   - bf16-mixed conv2d within 2e-2 of the CPU backend's fp32 (normwise and worst element),
 *     TF32 (conv2d and linear) within 1e-3 normwise and 2e-3 in its worst element, each NOT
 *     equal to the CUDA backend's own fp32 (the reduced precision ran), the ops a precision
 *     leaves alone bitwise equal to it;
 *   - configure's refusals (cuda + direct, an unknown precision) and their messages;
 *   - `precision: bf16-mixed` alone on the cpu takes its direct algorithm (runs where the CPU
 *     has bf16, refused for the CPU elsewhere), with gemm named it is refused
 *   - `lhost train` on the cuda device in 32, bf16-mixed and float32_matmul_precision high: the
 *     runs succeed, the fused op is what the host calls (profiler report), and the losses stay
 *     within 5% of the fp32 run; on the cpu, high prints one warning and trains.
 * Metrics: normwise ||a - b||_2 / ||b||_2, and the worst over elements of
 * |a - b| / max(|b|, rms(b)) (the RMS floor keeps sums that cancel to ~0 from failing on
 * rounding alone).
 * Without a CUDA module or device each test says so and passes (backend_each.h); CTest runs it
 * on the emulation as test_cuda_precision_emu (tests/cuda_emu/tests.cmake).
 * Run: ctest --test-dir build -R test_cuda_precision --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "backend_each.h"
#include "check_run.h"
#include "cli_run.h"
#include "csv_column.h"
#include "rel_error.h"
#include "synth_data.h"

static const lh_backend *cpu_be;
static lh_backend_ctx *cpu_ctx;

/* ---- device buffers ------------------------------------------------------------------------ */

/* Uniform in [lo, hi), from synth_data.h's generator. */
static float frand(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)synth_next(state) / 2147483648.0); /* 31 bits */
}

static lh_dmem *dev_random(const lh_backend *be, lh_backend_ctx *ctx, size_t n, float lo, float hi,
                           uint64_t seed)
{
    float *h = malloc(n * sizeof *h);
    lh_dmem *d = be->alloc(ctx, n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(d != NULL, "alloc: %s", be->last_error(ctx));
    for (size_t i = 0; i < n; i++)
        h[i] = frand(&seed, lo, hi);
    ck_assert_msg(be->upload(ctx, d, h, n * sizeof *h) == 0, "%s", be->last_error(ctx));
    free(h);
    return d;
}

static lh_dmem *dev_new(const lh_backend *be, lh_backend_ctx *ctx, size_t bytes)
{
    lh_dmem *d = be->alloc(ctx, bytes);
    ck_assert_msg(d != NULL, "alloc: %s", be->last_error(ctx));
    return d;
}

static float *host_copy(const lh_backend *be, lh_backend_ctx *ctx, const lh_dmem *d, size_t n)
{
    float *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(be->sync(ctx) == 0 && be->download(ctx, h, d, n * sizeof *h) == 0, "%s",
                  be->last_error(ctx));
    return h;
}

/* The metric above (rel_error.h), printed with the worst element; identical: whether every
 * bit matched. */
static double worst_rel(const char *what, const float *a, const float *b, size_t n, int *identical)
{
    size_t wi;
    double worst = rel_error_worst(a, b, n, 0, &wi, NULL);
    *identical = memcmp(a, b, n * sizeof *a) == 0;
    printf("%-48s n=%-7zu worst rel %.3g at [%zu] (%.9g vs %.9g)%s\n", what, n, worst, wi,
           n ? (double)a[wi] : 0.0, n ? (double)b[wi] : 0.0, *identical ? ", identical" : "");
    fflush(stdout);
    return worst;
}

/* ---- the fused block against the single ops, on one backend -------------------------------- */

typedef struct block {
    lh_conv_shape s;
    lh_pool_shape ps;
    size_t nx, nw, ny, np;
} block;

static block make_block(lh_conv_shape s, int size, int stride)
{
    block b;
    s.oh = (s.h + 2 * s.pad - s.r) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.s) / s.stride + 1;
    b.s = s;
    b.ps =
        (lh_pool_shape){.n = s.n, .c = s.k, .h = s.oh, .w = s.ow, .size = size, .stride = stride};
    b.ps.oh = (b.ps.h - size) / stride + 1;
    b.ps.ow = (b.ps.w - size) / stride + 1;
    b.nx = (size_t)s.n * s.c * s.h * s.w, b.nw = (size_t)s.k * s.c * s.r * s.s;
    b.ny = (size_t)s.n * s.k * s.oh * s.ow, b.np = (size_t)s.n * s.k * b.ps.oh * b.ps.ow;
    return b;
}

/* Compare n floats of two device buffers: bitwise (exact) or within 1e-6. */
static void same(const lh_backend *be, lh_backend_ctx *ctx, const char *what, const lh_dmem *a,
                 const lh_dmem *b, size_t n, int exact)
{
    float *ha = host_copy(be, ctx, a, n), *hb = host_copy(be, ctx, b, n);
    int identical;
    double w = worst_rel(what, ha, hb, n, &identical);
    ck_assert_msg(exact ? identical : w <= 1e-6, "%s: fused vs single ops: worst rel %.3g%s", what,
                  w, exact ? " (must be bitwise equal)" : "");
    free(ha), free(hb);
}

static void fused_vs_single(const lh_backend *be, lh_backend_ctx *ctx, const char *mode,
                            const char *name, block k, int with_dx)
{
    char what[160];
    const lh_conv_shape *s = &k.s;
    lh_dmem *x = dev_random(be, ctx, k.nx, -1, 1, 91),
            *w = dev_random(be, ctx, k.nw, -.3f, .3f, 92);
    lh_dmem *b = dev_random(be, ctx, s->k, -.1f, .1f, 93),
            *dp = dev_random(be, ctx, k.np, -1, 1, 94);
    lh_dmem *p1 = dev_new(be, ctx, k.np * 4), *a1 = dev_new(be, ctx, k.np * 4);
    lh_dmem *p2 = dev_new(be, ctx, k.np * 4), *a2 = dev_new(be, ctx, k.np * 4);
    lh_dmem *y = dev_new(be, ctx, k.ny * 4), *dy = dev_new(be, ctx, k.ny * 4);
    lh_dmem *g1[3], *g2[3]; /* dx, dw, db */
    size_t gn[3] = {k.nx, k.nw, (size_t)s->k};
    for (int i = 0; i < 3; i++)
        g1[i] = dev_new(be, ctx, gn[i] * 4), g2[i] = dev_new(be, ctx, gn[i] * 4);
    ck_assert_msg(be->conv2d_relu_maxpool_forward(ctx, s, &k.ps, x, w, b, p1, a1) == 0 &&
                      be->conv2d_relu_maxpool_backward(ctx, s, &k.ps, x, w, p1, a1, dp,
                                                       with_dx ? g1[0] : NULL, g1[1], g1[2]) == 0,
                  "fused: %s", be->last_error(ctx));
    ck_assert_msg(be->conv2d_forward(ctx, s, x, w, b, y) == 0 &&
                      be->relu_forward(ctx, (int64_t)k.ny, y, y) == 0 &&
                      be->maxpool_forward(ctx, &k.ps, y, p2, a2) == 0 &&
                      be->maxpool_backward(ctx, &k.ps, dp, a2, dy) == 0 &&
                      be->relu_backward(ctx, (int64_t)k.ny, y, dy, dy) == 0 &&
                      be->conv2d_backward(ctx, s, x, w, dy, with_dx ? g2[0] : NULL, g2[1], g2[2]) ==
                          0,
                  "single ops: %s", be->last_error(ctx));
    snprintf(what, sizeof what, "%s %s p", mode, name);
    same(be, ctx, what, p1, p2, k.np, 1);
    snprintf(what, sizeof what, "%s %s argmax", mode, name);
    same(be, ctx, what, a1, a2, k.np, 1); /* as bits: same() compares bytes first */
    for (int i = with_dx ? 0 : 1; i < 3; i++) {
        static const char *const gname[] = {"dx", "dw", "db"};
        snprintf(what, sizeof what, "%s %s %s", mode, name, gname[i]);
        same(be, ctx, what, g1[i], g2[i], gn[i], 0);
    }
    lh_dmem *all[] = {x, w, b, dp, p1, a1, p2, a2, y, dy, g1[0], g1[1], g1[2], g2[0], g2[1], g2[2]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        be->free(ctx, all[i]);
}

static const struct {
    const char *name;
    int32_t precision;
} modes[] = {
    {"fp32", LH_PRECISION_32},
    {"bf16-mixed", LH_PRECISION_BF16_MIXED},
    {"tf32", LH_PRECISION_32 | LH_PRECISION_FLAG_TF32},
};

/* The blocks fused_vs_single compares: conv1-like (Q = 9: fp32 takes the small-Q dW path from a
 * dy the fused op builds; no dx, as conv1 has none), an odd pool, conv2-like (Q = 144: dW by
 * GEMM, dyt straight from dp) and a 3x2 kernel under a 3/3 pool. */
#define CONV(N, C, H, W, K, R, S, P)                                                              \
    {.n = N, .c = C, .h = H, .w = W, .k = K, .r = R, .s = S, .stride = 1, .pad = P}
static const struct {
    const char *name;
    lh_conv_shape s;
    int pool_size, pool_stride, with_dx;
} fused_blocks[] = {
    {"1->8 28x28 pool 2/2 n1", CONV(1, 1, 28, 28, 8, 3, 3, 1), 2, 2, 0},
    {"3->5 k3x3 13x13 pool 3/2 n4", CONV(4, 3, 13, 13, 5, 3, 3, 1), 3, 2, 1},
    {"16->24 14x14 pool 2/2 n3", CONV(3, 16, 14, 14, 24, 3, 3, 1), 2, 2, 1},
    {"7->6 k3x2 11x9 pool 3/3 n1", CONV(1, 7, 11, 9, 6, 3, 2, 0), 3, 3, 1},
};

static void check_fused(const lh_backend *be, lh_backend_ctx *ctx)
{
    ck_assert_msg(be->conv2d_relu_maxpool_forward && be->conv2d_relu_maxpool_backward,
                  "the cuda backend has no fused conv2d_relu_maxpool ops");
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        ck_assert_msg(be->configure(ctx, LH_CONV_ALGO_GEMM, modes[m].precision) == 0, "%s",
                      be->last_error(ctx));
        for (size_t i = 0; i < sizeof fused_blocks / sizeof fused_blocks[0]; i++)
            fused_vs_single(be, ctx, modes[m].name, fused_blocks[i].name,
                            make_block(fused_blocks[i].s, fused_blocks[i].pool_size,
                                       fused_blocks[i].pool_stride),
                            fused_blocks[i].with_dx);
    }
}

START_TEST(fused_equals_single_ops)
{
    on_cuda_backend("fused_equals_single_ops", check_fused);
}
END_TEST

/* ---- reduced precisions against fp32 -------------------------------------------------------- */

enum { OUT_Y, OUT_DX, OUT_DW, OUT_DB, OUT_LIN, OUT_COUNT };
static const char *const out_names[] = {"conv y", "conv dx", "conv dw", "conv db", "linear y"};

typedef struct outs {
    float *v[OUT_COUNT];
    size_t n[OUT_COUNT];
} outs;

/* conv2d forward and backward (dx too) of a conv2-like layer, and one linear forward, on be. */
static outs run_layers(const lh_backend *be, lh_backend_ctx *ctx)
{
    lh_conv_shape s = {.n = 4,
                       .c = 16,
                       .h = 10,
                       .w = 10,
                       .k = 12,
                       .r = 3,
                       .s = 3,
                       .stride = 1,
                       .pad = 1,
                       .oh = 10,
                       .ow = 10};
    enum { LN = 8, LIN = 200, LOUT = 10 };
    size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.k * s.c * s.r * s.s,
           ny = (size_t)s.n * s.k * s.oh * s.ow;
    lh_dmem *x = dev_random(be, ctx, nx, -1, 1, 1), *w = dev_random(be, ctx, nw, -.3f, .3f, 2);
    lh_dmem *b = dev_random(be, ctx, s.k, -.1f, .1f, 3), *dy = dev_random(be, ctx, ny, -1, 1, 4);
    lh_dmem *lx = dev_random(be, ctx, LN * LIN, -1, 1, 5);
    lh_dmem *lw = dev_random(be, ctx, LOUT * LIN, -.1f, .1f, 6);
    lh_dmem *lb = dev_random(be, ctx, LOUT, -.1f, .1f, 7);
    lh_dmem *d[OUT_COUNT];
    outs o = {{0}, {ny, nx, nw, (size_t)s.k, LN * LOUT}};
    for (int i = 0; i < OUT_COUNT; i++)
        d[i] = dev_new(be, ctx, o.n[i] * 4);
    ck_assert_msg(be->conv2d_forward(ctx, &s, x, w, b, d[OUT_Y]) == 0 &&
                      be->conv2d_backward(ctx, &s, x, w, dy, d[OUT_DX], d[OUT_DW], d[OUT_DB]) ==
                          0 &&
                      be->linear_forward(ctx, LN, LIN, LOUT, lx, lw, lb, d[OUT_LIN]) == 0,
                  "%s: %s", be->name, be->last_error(ctx));
    for (int i = 0; i < OUT_COUNT; i++) {
        o.v[i] = host_copy(be, ctx, d[i], o.n[i]);
        be->free(ctx, d[i]);
    }
    lh_dmem *all[] = {x, w, b, dy, lx, lw, lb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        be->free(ctx, all[i]);
    return o;
}

static void outs_free(outs *o)
{
    for (int i = 0; i < OUT_COUNT; i++)
        free(o->v[i]);
}

/* ||a - b||_2 / ||b||_2 over n floats. */
static double norm_rel(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++)
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), r += (double)b[i] * b[i];
    return sqrt(d / (r > 0 ? r : 1e-300));
}

/* Each output of `got` against the CPU's fp32 (ref): normwise relative error within norm_tol and
 * the worst element (metric above) within elem_tol; and, where `changed`, its worst element more
 * than 1e-5 from the CUDA backend's own fp32 (the reduced precision really ran), elsewhere fp32's
 * very bits. */
static void versus(const char *mode, const outs *got, const outs *ref, const outs *fp32,
                   double norm_tol, double elem_tol, const int *changed)
{
    char what[96];
    int identical;
    for (int i = 0; i < OUT_COUNT; i++) {
        snprintf(what, sizeof what, "%s %s vs cpu fp32", mode, out_names[i]);
        double w = worst_rel(what, got->v[i], ref->v[i], got->n[i], &identical);
        double nr = norm_rel(got->v[i], ref->v[i], got->n[i]);
        printf("%-48s normwise rel %.3g\n", what, nr);
        ck_assert_msg(nr <= norm_tol && w <= elem_tol,
                      "%s: normwise rel %.3g (tolerance %g), "
                      "worst element %.3g (tolerance %g)",
                      what, nr, norm_tol, w, elem_tol);
        snprintf(what, sizeof what, "%s %s vs cuda fp32", mode, out_names[i]);
        w = worst_rel(what, got->v[i], fp32->v[i], got->n[i], &identical);
        if (changed[i])
            ck_assert_msg(w > 1e-5, "%s: worst rel %.3g: did %s run at all?", what, w, mode);
        else
            ck_assert_msg(identical, "%s: %s changed an fp32 op", what, mode);
    }
}

static void check_precisions(const lh_backend *be, lh_backend_ctx *ctx)
{
    /* bf16-mixed: conv2d only (linear stays fp32); TF32: every fp32 GEMM */
    static const int bf16_changes[OUT_COUNT] = {1, 1, 1, 0, 0};
    static const int tf32_changes[OUT_COUNT] = {1, 1, 1, 0, 1};
    outs ref = run_layers(cpu_be, cpu_ctx), fp32, bf16, tf32;
    ck_assert_msg(be->configure(ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32) == 0, "%s",
                  be->last_error(ctx));
    fp32 = run_layers(be, ctx);
    ck_assert_int_eq(be->configure(ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_BF16_MIXED), 0);
    bf16 = run_layers(be, ctx);
    ck_assert_int_eq(
        be->configure(ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32 | LH_PRECISION_FLAG_TF32), 0);
    tf32 = run_layers(be, ctx);
    versus("bf16-mixed", &bf16, &ref, &fp32, 2e-2, 2e-2, bf16_changes);
    versus("tf32", &tf32, &ref, &fp32, 1e-3, 2e-3, tf32_changes);
    /* and back: fp32 again is fp32's very bits */
    ck_assert_int_eq(be->configure(ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32), 0);
    outs again = run_layers(be, ctx);
    for (int i = 0; i < OUT_COUNT; i++)
        ck_assert_msg(memcmp(again.v[i], fp32.v[i], fp32.n[i] * 4) == 0,
                      "%s: fp32 after bf16/tf32 is not fp32", out_names[i]);
    outs_free(&ref), outs_free(&fp32), outs_free(&bf16), outs_free(&tf32), outs_free(&again);
}

START_TEST(reduced_precisions)
{
    on_cuda_backend("reduced_precisions", check_precisions);
}
END_TEST

/* ---- configure's choices -------------------------------------------------------------------- */

static void check_choices(const lh_backend *be, lh_backend_ctx *ctx)
{
    lh_error e = {{0}};
    ck_assert_int_eq(be->version, 7);
    ck_assert_ptr_nonnull(be->configure);
    ck_assert_int_eq(be->configure(ctx, LH_CONV_ALGO_DIRECT, LH_PRECISION_32), LH_BACKEND_EINVAL);
    ck_assert_str_eq(be->last_error(ctx), "cuda: conv algorithm direct: the cuda backend has only "
                                          "gemm (im2col + cuBLAS)");
    ck_assert_int_eq(be->configure(ctx, LH_CONV_ALGO_GEMM, 5), LH_BACKEND_EINVAL);
    ck_assert_str_eq(be->last_error(ctx), "cuda: precision 5: expected 0 (32) or 1 (bf16-mixed), "
                                          "optionally with the TF32 flag 0x100");
    ck_assert_int_ne(lh_backend_configure(be, ctx, LH_CONV_ALGO_WINOGRAD,
                                          LH_PRECISION_32 | LH_PRECISION_FLAG_TF32, &e),
                     0);
    ck_assert_str_eq(e.msg, "trainer.conv_algorithm: cuda: conv algorithm winograd: the cuda "
                            "backend has only gemm (im2col + cuBLAS)");
    ck_assert_int_ne(lh_backend_configure(be, ctx, LH_CONV_ALGO_AUTO, LH_PRECISION_BF16_MIXED, &e),
                     0);
    ck_assert_str_eq(e.msg, "trainer.precision: cuda: conv algorithm auto: the cuda backend has "
                            "only gemm (im2col + cuBLAS)");
    /* gemm + bf16-mixed is the cuda backend's bf16 (the cpu's direct-only rule is the cpu's) */
    ck_assert_msg(lh_backend_configure(be, ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_BF16_MIXED, &e) ==
                      0,
                  "%s", e.msg);
    ck_assert_msg(lh_backend_configure(be, ctx, LH_CONV_ALGO_GEMM,
                                       LH_PRECISION_BF16_MIXED | LH_PRECISION_FLAG_TF32, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(lh_backend_takes_tf32(be), 1);
}

START_TEST(configure_choices)
{
    lh_error e = {{0}};
    /* the cpu has no TF32: the host drops the flag, the backend ignores it if given */
    ck_assert_int_eq(lh_backend_takes_tf32(cpu_be), 0);
    ck_assert_msg(lh_backend_configure(cpu_be, cpu_ctx, LH_CONV_ALGO_GEMM,
                                       LH_PRECISION_32 | LH_PRECISION_FLAG_TF32, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(
        cpu_be->configure(cpu_ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32 | LH_PRECISION_FLAG_TF32), 0);
    ck_assert_str_eq(lh_backend_matmul_precisions[0], "highest");
    ck_assert_str_eq(lh_backend_matmul_precisions[1], "high");
    ck_assert_str_eq(lh_backend_matmul_precisions[2], "medium");
    ck_assert_ptr_null(lh_backend_matmul_precisions[3]);
    on_cuda_backend("configure_choices", check_choices);
}
END_TEST

/* ---- lhost train on the cuda device ------------------------------------------------------- */

static char dir[256];

static const char cfg_text[] =
    "seed: 5\n"
    "data: {path: ../data, batch_size: 16}\n"
    "optimizer: {name: adam, lr: 0.002}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: conv2d, name: conv2.0, out_channels: 8, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 1, limit_train_batches: 6, limit_val_batches: 2, log_every_n_steps: 2, "
    "enable_progress_bar: false, default_root_dir: .}\n";

/* val_loss of the run in dir/sub: the last metrics.csv row that has it. */
static double val_loss(const char *sub)
{
    char path[600], *text;
    double v[256];
    int n;
    snprintf(path, sizeof path, "%s/%s/lightning_logs/version_0/metrics.csv", dir, sub);
    text = read_text(path);
    ck_assert_msg(text != NULL, "no %s", path);
    n = csv_column_values(text, "val_loss", v, 256);
    free(text);
    ck_assert_msg(n > 0, "%s has no val_loss", path);
    return v[n - 1];
}

/* lhost train in dir/sub with `args`, its exit status in *rc; the output (malloc'ed). */
static char *train_rc(const char *sub, const char *args, int *rc)
{
    char path[600], cmd[512], *out;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/cfg.yaml", dir, sub);
    write_text(path, cfg_text);
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    snprintf(cmd, sizeof cmd, "train --config cfg.yaml %s", args);
    *rc = cli_run(path, cmd, &out);
    return out;
}

static char *train(const char *sub, const char *args)
{
    int rc;
    char *out = train_rc(sub, args, &rc);
    ck_assert_msg(rc == 0, "lhost train %s: exit %d\n%s", args, rc, out);
    return out;
}

/* 1 when the CPU backend takes bf16-mixed here (avx512_bf16 or AMX); its context is left in
 * gemm / 32 as the other cases use it. */
static int cpu_bf16(void)
{
    int yes = cpu_be->configure(cpu_ctx, LH_CONV_ALGO_DIRECT, LH_PRECISION_BF16_MIXED) == 0;
    ck_assert_int_eq(cpu_be->configure(cpu_ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32), 0);
    return yes;
}

/* precision: bf16-mixed alone runs on the CPU (conv_algorithm unset: direct, its bf16
 * algorithm) where the CPU has bf16, and elsewhere is refused for the CPU, not for the
 * algorithm; an explicit gemm with it is refused naming the key. */
START_TEST(bf16_mixed_alone_on_the_cpu)
{
    int rc;
    char *out = train_rc("cpu_bf16", "--trainer.device=cpu --trainer.precision=bf16-mixed", &rc);
    if (cpu_bf16()) {
        ck_assert_msg(rc == 0, "bf16-mixed alone: exit %d\n%s", rc, out);
        printf("cpu bf16-mixed: val_loss %.6g\n", val_loss("cpu_bf16"));
    } else {
        ck_assert_msg(rc == 1 && strstr(out, "cpu: bf16-mixed needs a CPU with avx512_bf16 or "
                                             "AMX"), "bf16-mixed alone: exit %d\n%s", rc, out);
    }
    free(out);
    out = train_rc("cpu_bf16_gemm", "--trainer.device=cpu --trainer.precision=bf16-mixed "
                   "--trainer.conv_algorithm=gemm", &rc);
    ck_assert_msg(rc == 1 && strstr(out, "trainer.conv_algorithm must be direct or auto, got "
                                         "gemm"), "bf16-mixed with gemm: exit %d\n%s", rc, out);
    free(out);
}
END_TEST

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(train_on_cuda)
{
    static const char *const warning =
        "lhost: warning: trainer.float32_matmul_precision: high has no effect on the cpu backend "
        "(float32 throughout)";
    const lh_backend *be;
    lh_backend_ctx *ctx;
    lh_error err = {{0}};
    char *out;
    double l32;
    out = train("cpu_high", "--trainer.device=cpu --trainer.float32_matmul_precision=high");
    ck_assert_msg(count(out, warning) == 1, "expected the warning once in:\n%s", out);
    free(out);
    printf("cpu, float32_matmul_precision high: val_loss %.6g\n", val_loss("cpu_high"));
    if (lh_backend_select("cuda", 1, &be, &ctx, &err)) {
        printf("train_on_cuda: no CUDA backend here (%s); checked on the CPU only\n", err.msg);
        return;
    }
    be->close(ctx);
    out = train("cuda32", "--trainer.device=cuda --trainer.profiler=simple");
    /* the host ran the blocks as the backend's fused op, not as its single ops */
    ck_assert_msg(strstr(out, "conv2d_relu_maxpool_forward ") &&
                      strstr(out, "conv2d_relu_maxpool_backward ") &&
                      !strstr(out, "\nmaxpool_forward "),
                  "the profiler saw no fused conv block:\n%s", out);
    ck_assert_msg(!strstr(out, "warning"), "%s", out);
    free(out);
    l32 = val_loss("cuda32");
    static const struct {
        const char *sub, *args;
    } runs[] = {
        {"cuda_bf16", "--trainer.device=cuda --trainer.precision=bf16-mixed"},
        {"cuda_high", "--trainer.device=cuda --trainer.float32_matmul_precision=high"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double l;
        out = train(runs[i].sub, runs[i].args);
        ck_assert_msg(!strstr(out, "warning"), "%s", out);
        free(out);
        l = val_loss(runs[i].sub);
        printf("%-10s val_loss %.6g vs fp32's %.6g (rel %.3g)\n", runs[i].sub, l, l32,
               fabs(l - l32) / l32);
        ck_assert_msg(!isnan(l) && !isnan(l32) && fabs(l - l32) <= 0.05 * l32,
                      "%s: val_loss %.6g vs fp32's %.6g", runs[i].sub, l, l32);
    }
}
END_TEST

int main(void)
{
    char why[256];
    Suite *s = suite_create("cuda_precision");
    TCase *ops = tcase_create("ops"), *run = tcase_create("run");
    int rc;
    cpu_be = lh_cpu_backend();
    cpu_ctx = cpu_be->open(0, 1, why, sizeof why);
    if (!cpu_ctx || synth_workdir(dir, sizeof dir, "cudaprec", 128, 64)) {
        printf("cannot open the cpu backend or make a work folder: %s\n", why);
        return EXIT_FAILURE;
    }
    tcase_set_timeout(ops, 240);
    tcase_add_test(ops, fused_equals_single_ops);
    tcase_add_test(ops, reduced_precisions);
    tcase_add_test(ops, configure_choices);
    suite_add_tcase(s, ops);
    tcase_set_timeout(run, 600);
    tcase_add_test(run, train_on_cuda);
    tcase_add_test(run, bf16_mixed_alone_on_the_cpu);
    suite_add_tcase(s, run);
    rc = check_run(s);
    cpu_be->close(cpu_ctx);
    synth_remove(dir);
    return rc;
}
