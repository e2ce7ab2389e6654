/* tests/unit/test_conv_algorithms.c — the CPU backend's conv2d algorithms
 * (trainer.conv_algorithm: kernels/cpu/conv_pick.c, conv_dnn.c) against its GEMM path.
 *
 * conv2d_forward / conv2d_backward and the fused conv2d_relu_maxpool_forward / _backward run
 * under direct, winograd and auto on shapes that oneDNN has kernels for and shapes it has not
 * (Winograd, oneDNN's or where its AVX-512-only kernel cannot run lhost's own F(2x2, 3x3) and
 * F(4x4, 3x3), is 3x3 stride 1 only: other shapes must fall back to GEMM, bit for bit), on 1 and
 * 2 threads and odd batch sizes, and for Winograd's partial tiles odd H and W (every output
 * size mod 4), pad 0 and 2, one input channel and a batch of one (a thread with no image).
 * lhost's Winograd runs three ways: its own choice of tile per shape, and each tile forced
 * (ctx->wino_tile), which must give other bytes than each other. Tolerance, as
 * max |a - gemm| / max |gemm| over each tensor (y or p, dx, dw, db):
 * direct 1e-5, winograd 1e-3 (its transforms round differently), 1e-4 where lhost's own runs
 * (its worst here: 6e-7 under F(2x2), 4e-6 under F(4x4); a transform coefficient off by 0.1 %
 * shows as 1e-4 to 1e-1), auto the looser of the two, direct and auto under bf16-mixed 2e-2
 * (bf16 keeps 8 bits of mantissa).
 * argmax must equal GEMM's wherever the pooled value is positive (ties have probability 0 with
 * these inputs; where p is 0 the contract lets it differ). Each algorithm gives the same bytes
 * twice, in one context and in a fresh one.
 * Run: ctest --test-dir build -R test_conv_algorithms --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check_run.h"
#include "cpu_bf16.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu.h"

static const char *const names[] = {"gemm", "auto", "direct", "winograd"};

/* What runs against GEMM, and how close it must come; tile: lhost's Winograd's output tile
 * forced (0: its own choice). */
typedef struct variant {
    int32_t algorithm, precision;
    const char *name;
    double tol;
    int32_t tile;
} variant;

enum { WINO_F2 = 3, WINO_F4 = 4 }; /* the forced tiles' places in variants */
#define OWN_WINOGRAD_TOL 1e-4
static const variant variants[] = {
    {LH_CONV_ALGO_AUTO, LH_PRECISION_32, "auto", 1e-3, 0},
    {LH_CONV_ALGO_DIRECT, LH_PRECISION_32, "direct", 1e-5, 0},
    {LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, "winograd", 1e-3, 0},
    {LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, "winograd F(2x2)", 1e-3, 2},
    {LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, "winograd F(4x4)", 1e-3, 4},
    {LH_CONV_ALGO_DIRECT, LH_PRECISION_BF16_MIXED, "direct bf16-mixed", 2e-2, 0},
    {LH_CONV_ALGO_AUTO, LH_PRECISION_BF16_MIXED, "auto bf16-mixed", 2e-2, 0},
};

static float *random_floats(size_t n, unsigned seed)
{
    float *v = malloc(n * sizeof *v + 4);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

static lh_backend_ctx *open_tile(int algorithm, int precision, int threads, int tile)
{
    const lh_backend *be = lh_cpu_backend();
    char err[256];
    lh_backend_ctx *ctx = be->open(0, threads, err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_msg(be->configure(ctx, algorithm, precision) == 0, "%s", be->last_error(ctx));
    ctx->wino_tile = tile;
    return ctx;
}

static lh_backend_ctx *open_with(int algorithm, int precision, int threads)
{
    return open_tile(algorithm, precision, threads, 0);
}

/* max |a - r| / max |r| over n elements. */
static double rel_error(const float *a, const float *r, size_t n)
{
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)r[i]);
        scale = fmax(scale, fabs((double)r[i]));
        worst = d <= worst ? worst : d; /* NaN counts as worst */
    }
    return worst / scale;
}

/* max |a - r| / max |r| <= tol, printing the worst element when not. */
static void assert_close(const char *what, const float *a, const float *r, size_t n, double tol)
{
    double err = rel_error(a, r, n);
    size_t at = 0;
    if (getenv("LH_TEST_VERBOSE"))
        fprintf(stderr, "%s: %.3g\n", what, err);
    if (err <= tol)
        return;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - r[i]) <= fabs((double)a[at] - r[at])))
            at = i;
    ck_abort_msg("%s: relative error %.3g > %.3g at [%zu]: %.8g vs %.8g", what, err, tol, at,
                 (double)a[at], (double)r[at]);
}

/* Outputs of one algorithm on one shape: plain conv (y, dx, dw, db) or fused (p, argmax, ...). */
typedef struct outs {
    float *y, *dx, *dw, *db;
    int32_t *argmax;
    size_t ny, nx, nw, k;
} outs;

typedef struct inputs {
    lh_conv_shape s;
    lh_pool_shape ps; /* ps.size 0: plain conv */
    float *x, *w, *b, *dy;
} inputs;

static inputs make_inputs(lh_conv_shape s, int pool_size, int pool_stride)
{
    inputs in = {.s = s};
    s.oh = (s.h + 2 * s.pad - s.r) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.s) / s.stride + 1;
    in.s = s;
    size_t ny = (size_t)s.n * s.k * s.oh * s.ow;
    if (pool_size) {
        in.ps = (lh_pool_shape){.n = s.n, .c = s.k, .h = s.oh, .w = s.ow, .size = pool_size,
                                .stride = pool_stride,
                                .oh = (s.oh - pool_size) / pool_stride + 1,
                                .ow = (s.ow - pool_size) / pool_stride + 1};
        ny = (size_t)s.n * s.k * in.ps.oh * in.ps.ow;
    }
    in.x = random_floats((size_t)s.n * s.c * s.h * s.w, 11);
    in.w = random_floats((size_t)s.k * s.c * s.r * s.s, 12);
    in.b = random_floats((size_t)s.k, 13);
    in.dy = random_floats(ny, 14);
    return in;
}

/* Forward and backward; the fused backward reads `given` p and argmax when not NULL (bf16's
 * rounding may move a pool window's maximum to another element, which changes the whole
 * gradient there: its conv math is compared on GEMM's forward instead). */
static outs run_given(lh_backend_ctx *ctx, const inputs *in, int with_dx, const outs *given)
{
    const lh_backend *be = lh_cpu_backend();
    const lh_conv_shape *s = &in->s;
    outs o = {.nx = (size_t)s->n * s->c * s->h * s->w, .nw = (size_t)s->k * s->c * s->r * s->s,
              .k = (size_t)s->k};
    int rc;
    o.ny = in->ps.size ? (size_t)s->n * s->k * in->ps.oh * in->ps.ow
                       : (size_t)s->n * s->k * s->oh * s->ow;
    o.y = calloc(o.ny + 1, sizeof(float));
    o.argmax = calloc(o.ny + 1, sizeof(int32_t));
    o.dx = calloc(o.nx + 1, sizeof(float));
    o.dw = calloc(o.nw + 1, sizeof(float));
    o.db = calloc(o.k + 1, sizeof(float));
    lh_dmem *X = (lh_dmem *)in->x, *W = (lh_dmem *)in->w, *B = (lh_dmem *)in->b;
    lh_dmem *DY = (lh_dmem *)in->dy, *DX = with_dx ? (lh_dmem *)o.dx : NULL;
    if (in->ps.size) {
        rc = be->conv2d_relu_maxpool_forward(ctx, s, &in->ps, X, W, B, (lh_dmem *)o.y,
                                             (lh_dmem *)o.argmax);
        ck_assert_msg(rc == 0, "%s", be->last_error(ctx));
        const outs *fw = given ? given : &o;
        rc = be->conv2d_relu_maxpool_backward(ctx, s, &in->ps, X, W, (lh_dmem *)fw->y,
                                              (lh_dmem *)fw->argmax, DY, DX, (lh_dmem *)o.dw,
                                              (lh_dmem *)o.db);
    } else {
        rc = be->conv2d_forward(ctx, s, X, W, B, (lh_dmem *)o.y);
        ck_assert_msg(rc == 0, "%s", be->last_error(ctx));
        rc = be->conv2d_backward(ctx, s, X, W, DY, DX, (lh_dmem *)o.dw, (lh_dmem *)o.db);
    }
    ck_assert_msg(rc == 0, "%s", be->last_error(ctx));
    return o;
}

static outs run(lh_backend_ctx *ctx, const inputs *in, int with_dx)
{
    return run_given(ctx, in, with_dx, NULL);
}

static void outs_free(outs *o)
{
    free(o->y), free(o->dx), free(o->dw), free(o->db), free(o->argmax);
}

static int same_bytes(const outs *a, const outs *b)
{
    return memcmp(a->y, b->y, a->ny * sizeof(float)) == 0 &&
           memcmp(a->argmax, b->argmax, a->ny * sizeof(int32_t)) == 0 &&
           memcmp(a->dx, b->dx, a->nx * sizeof(float)) == 0 &&
           memcmp(a->dw, b->dw, a->nw * sizeof(float)) == 0 &&
           memcmp(a->db, b->db, a->k * sizeof(float)) == 0;
}

/* 1 when lhost's own Winograd runs `in` under ctx (not oneDNN's, not the GEMM fallback). */
static int runs_own_winograd(lh_backend_ctx *ctx, const inputs *in)
{
    lh_cpu_dnn_plan *pl[LH_CPU_MAX_THREADS];
    return lh_cpu_conv_algorithm_for(ctx, &in->s, in->ps.size ? &in->ps : NULL, pl) ==
           LH_CPU_CONV_ALGO_WINO_OWN;
}

/* Every variant on `in` against GEMM on the same thread count; fallback: fp32 Winograd has no
 * kernel here (neither oneDNN's nor lhost's), so its results must be GEMM's bytes; otherwise
 * each non-auto variant must not give GEMM's bytes (proof that it ran), and where lhost's own
 * Winograd runs, its two forced tiles must give other y, dx and dw bytes than each other. */
static void compare_all(const char *label, inputs in, int threads, int with_dx,
                        int winograd_falls_back)
{
    lh_backend_ctx *g = open_with(LH_CONV_ALGO_GEMM, LH_PRECISION_32, threads);
    outs ref = run(g, &in, with_dx), tiled[2] = {{0}};
    char what[160], t[200];
    int own = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const variant *va = &variants[v];
        if (va->precision == LH_PRECISION_BF16_MIXED &&
            !cpu_runs_bf16("test_conv_algorithms"))
            continue;
        lh_backend_ctx *ctx = open_tile(va->algorithm, va->precision, threads, va->tile);
        const outs *given = va->precision == LH_PRECISION_BF16_MIXED ? &ref : NULL;
        outs o = run_given(ctx, &in, with_dx, given), again = run_given(ctx, &in, with_dx, given);
        lh_backend_ctx *fresh = open_tile(va->algorithm, va->precision, threads, va->tile);
        const double tol = va->algorithm == LH_CONV_ALGO_WINOGRAD && runs_own_winograd(ctx, &in)
                               ? OWN_WINOGRAD_TOL
                               : va->tol;
        outs o2 = run_given(fresh, &in, with_dx, given);
        snprintf(what, sizeof what, "%s, %s, %d threads", label, va->name, threads);
        ck_assert_msg(same_bytes(&o, &again), "%s: two runs in one context differ", what);
        if (va->algorithm != LH_CONV_ALGO_AUTO) /* auto's choice may differ between contexts */
            ck_assert_msg(same_bytes(&o, &o2), "%s: a fresh context gives other bytes", what);
        if (va->precision == LH_PRECISION_32 && va->algorithm == LH_CONV_ALGO_WINOGRAD &&
            winograd_falls_back)
            ck_assert_msg(same_bytes(&o, &ref), "%s: no Winograd kernel here, so GEMM's bytes "
                          "were expected", what);
        else if (va->algorithm != LH_CONV_ALGO_AUTO) /* oneDNN sums in another order */
            ck_assert_msg(!same_bytes(&o, &ref), "%s: GEMM's very bytes; did %s run?", what,
                          va->name);
        if (va->precision == LH_PRECISION_BF16_MIXED && va->algorithm == LH_CONV_ALGO_DIRECT)
            /* bf16's 8-bit mantissa shows */
            ck_assert_msg(rel_error(o.y, ref.y, ref.ny) > 1e-4, "%s: y as close as fp32's; did "
                          "bf16 run?", what);
        snprintf(t, sizeof t, "%s: y", what);
        assert_close(t, o.y, ref.y, ref.ny, tol);
        if (with_dx) {
            snprintf(t, sizeof t, "%s: dx", what);
            assert_close(t, o.dx, ref.dx, ref.nx, tol);
        }
        snprintf(t, sizeof t, "%s: dw", what);
        assert_close(t, o.dw, ref.dw, ref.nw, tol);
        snprintf(t, sizeof t, "%s: db", what);
        assert_close(t, o.db, ref.db, ref.k, tol);
        /* argmax: GEMM's wherever p > 0 (fp32; bf16's rounding may move a near-tie) */
        if (in.ps.size && va->precision == LH_PRECISION_32)
            for (size_t i = 0; i < ref.ny; i++)
                ck_assert_msg(ref.y[i] <= 0.0f || o.argmax[i] == ref.argmax[i],
                              "%s: argmax[%zu] %d, GEMM's %d (p %g)", what, i, o.argmax[i],
                              ref.argmax[i], (double)ref.y[i]);
        if (v == WINO_F2 || v == WINO_F4) {
            own = runs_own_winograd(ctx, &in);
            tiled[v == WINO_F4] = o;
        } else {
            outs_free(&o);
        }
        outs_free(&again), outs_free(&o2);
        lh_cpu_backend()->close(ctx);
        lh_cpu_backend()->close(fresh);
    }
    if (own) {
        ck_assert_msg(memcmp(tiled[0].y, tiled[1].y, ref.ny * sizeof(float)) != 0,
                      "%s, %d threads: F(2x2) and F(4x4) give the same y; did both run?", label,
                      threads);
        ck_assert_msg(!with_dx || memcmp(tiled[0].dx, tiled[1].dx, ref.nx * sizeof(float)) != 0,
                      "%s, %d threads: F(2x2) and F(4x4) give the same dx; did both run?",
                      label, threads);
        ck_assert_msg(memcmp(tiled[0].dw, tiled[1].dw, ref.nw * sizeof(float)) != 0,
                      "%s, %d threads: F(2x2) and F(4x4) give the same dw; did both run?",
                      label, threads);
    }
    outs_free(&tiled[0]), outs_free(&tiled[1]);
    outs_free(&ref);
    lh_cpu_backend()->close(g);
    free(in.x), free(in.w), free(in.b), free(in.dy);
}

#define SHAPE(N, C, H, W, K, R, ST, P)                                                           \
    ((lh_conv_shape){.n = N, .c = C, .h = H, .w = W, .k = K, .r = R, .s = R, .stride = ST,        \
                     .pad = P})

START_TEST(conv_3x3_matches_gemm)
{
    for (int t = 1; t <= 2; t++) {
        compare_all("conv 16->32 14x14 3x3 pad 1, n 6", make_inputs(SHAPE(6, 16, 14, 14, 32, 3,
                                                                          1, 1), 0, 0), t, 1, 0);
        compare_all("conv 1->16 28x28 3x3 pad 1, n 5 (no dx)",
                    make_inputs(SHAPE(5, 1, 28, 28, 16, 3, 1, 1), 0, 0), t, 0, 0);
    }
}
END_TEST

START_TEST(odd_shapes_match_gemm)
{
    for (int t = 1; t <= 2; t++) {
        compare_all("conv 3->8 12x13 3x3 stride 2 pad 1, n 5",
                    make_inputs(SHAPE(5, 3, 12, 13, 8, 3, 2, 1), 0, 0), t, 1, 1);
        compare_all("conv 8->16 9x9 5x5 pad 0, n 3", make_inputs(SHAPE(3, 8, 9, 9, 16, 5, 1, 0),
                                                                 0, 0), t, 1, 1);
        compare_all("conv 4->8 7x7 1x1, n 1", make_inputs(SHAPE(1, 4, 7, 7, 8, 1, 1, 0), 0, 0),
                    t, 1, 1);
    }
}
END_TEST

START_TEST(fused_block_matches_gemm)
{
    for (int t = 1; t <= 2; t++) {
        compare_all("block 16->32 14x14 + pool 2, n 6",
                    make_inputs(SHAPE(6, 16, 14, 14, 32, 3, 1, 1), 2, 2), t, 1, 0);
        compare_all("block 1->16 28x28 + pool 2, n 3 (no dx)",
                    make_inputs(SHAPE(3, 1, 28, 28, 16, 3, 1, 1), 2, 2), t, 0, 0);
        compare_all("block 8->16 13x13 + pool 3 stride 2, n 5",
                    make_inputs(SHAPE(5, 8, 13, 13, 16, 3, 1, 1), 3, 2), t, 1, 0);
        compare_all("block 8->16 14x14 + pool 3 stride 2 (floor drops a row), n 3",
                    make_inputs(SHAPE(3, 8, 14, 14, 16, 3, 1, 1), 3, 2), t, 1, 0);
        compare_all("block 4->8 11x11 stride 2 + pool 2, n 2",
                    make_inputs(SHAPE(2, 4, 11, 11, 8, 3, 2, 1), 2, 2), t, 1, 1);
    }
}
END_TEST

/* Winograd's tiling edges: odd H and W (partial 2x2 tiles), pad 0, C = 1 (conv1's shape),
 * n = 1 (the second thread has no image), pad 2 (backward-x then pads dy by 0), a single
 * output pixel and a single tile row. */
START_TEST(winograd_edges_match_gemm)
{
    static const struct {
        const char *label;
        lh_conv_shape s;
        int pool, with_dx;
    } edges[] = {
        {"conv 5->6 7x7 3x3 pad 1, n 1", SHAPE(1, 5, 7, 7, 6, 3, 1, 1), 0, 1},
        {"conv 3->7 13x11 3x3 pad 0, n 3", SHAPE(3, 3, 13, 11, 7, 3, 1, 0), 0, 1},
        {"conv 1->8 11x13 3x3 pad 1, n 2", SHAPE(2, 1, 11, 13, 8, 3, 1, 1), 0, 1},
        {"conv 1->8 9x8 3x3 pad 0, n 4", SHAPE(4, 1, 9, 8, 8, 3, 1, 0), 0, 1},
        {"block 4->8 7x7 pad 0 + pool 2, n 1", SHAPE(1, 4, 7, 7, 8, 3, 1, 0), 2, 1},
        {"block 1->8 13x11 + pool 2, n 3 (no dx)", SHAPE(3, 1, 13, 11, 8, 3, 1, 1), 2, 0},
        {"conv 4->8 6x6 3x3 pad 2, n 2", SHAPE(2, 4, 6, 6, 8, 3, 1, 2), 0, 1},
        {"conv 6->5 3x3 3x3 pad 0 (one output), n 3", SHAPE(3, 6, 3, 3, 5, 3, 1, 0), 0, 1},
        {"conv 6->5 1x2 3x3 pad 1, n 2", SHAPE(2, 6, 1, 2, 5, 3, 1, 1), 0, 1},
    };
    for (int t = 1; t <= 2; t++)
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
            compare_all(edges[i].label, make_inputs(edges[i].s, edges[i].pool, edges[i].pool), t,
                        edges[i].with_dx, 0);
}
END_TEST

/* Winograd's fused forward under 2x2 stride-2 pooling pools each output tile straight from
 * its products (a 2x2 tile is one window, a 4x4 tile four): p and argmax must be the very bytes
 * of its plain conv2d_forward followed by maxpool_forward and relu_forward, ties and NaN
 * included (the first image is all zeros, so every window ties at the bias; a NaN in the second
 * spreads over a patch of windows), on even and odd outputs (the floor drops the last row and
 * column; 4x4 tiles whose second window row or column falls outside), pad 0 and 1, n = 1, under
 * each tile (0: the file's own choice) and 2 threads. */
static void fused_is_pooled_conv(const char *label, inputs in, int threads, int tile)
{
    const lh_backend *be = lh_cpu_backend();
    lh_backend_ctx *ctx = open_tile(LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, threads, tile);
    const lh_conv_shape *s = &in.s;
    const size_t img = (size_t)s->c * s->h * s->w, ny = (size_t)s->n * s->k * s->oh * s->ow;
    const size_t np = (size_t)s->n * s->k * in.ps.oh * in.ps.ow;
    memset(in.x, 0, sizeof(float) * img);
    if (s->n > 1)
        in.x[img + img / 2] = NAN;
    float *y = calloc(ny, sizeof(float)), *p = calloc(np, sizeof(float));
    float *p2 = calloc(np, sizeof(float));
    int32_t *a = calloc(np, sizeof(int32_t)), *a2 = calloc(np, sizeof(int32_t));
    lh_dmem *X = (lh_dmem *)in.x, *W = (lh_dmem *)in.w, *B = (lh_dmem *)in.b;
    ck_assert_int_eq(be->conv2d_relu_maxpool_forward(ctx, s, &in.ps, X, W, B, (lh_dmem *)p,
                                                     (lh_dmem *)a), 0);
    ck_assert_int_eq(be->conv2d_forward(ctx, s, X, W, B, (lh_dmem *)y), 0);
    ck_assert_int_eq(be->maxpool_forward(ctx, &in.ps, (lh_dmem *)y, (lh_dmem *)p2,
                                         (lh_dmem *)a2), 0);
    ck_assert_int_eq(be->relu_forward(ctx, (int64_t)np, (lh_dmem *)p2, (lh_dmem *)p2), 0);
    size_t nans = 0;
    for (size_t i = 0; i < np; i++) {
        ck_assert_msg(memcmp(&p[i], &p2[i], sizeof(float)) == 0 && a[i] == a2[i],
                      "%s, tile %d, %d threads: [%zu] p %g argmax %d, pooled conv's %g %d",
                      label, tile, threads, i, (double)p[i], a[i], (double)p2[i], a2[i]);
        nans += p[i] != p[i];
    }
    for (int32_t k = 0; k < s->k; k++) /* image 0 ties everywhere: the first one wins */
        for (int32_t r = 0; r < in.ps.oh; r++)
            for (int32_t c = 0; c < in.ps.ow; c++)
                ck_assert_int_eq(a[(k * in.ps.oh + r) * in.ps.ow + c], 2 * r * s->ow + 2 * c);
    ck_assert_msg(s->n == 1 || nans > 0, "%s: the NaN reached no window", label);
    free(y), free(p), free(p2), free(a), free(a2);
    be->close(ctx);
}

static void assert_fused_is_pooled_conv(const char *label, inputs in, int threads)
{
    for (int tile = 0; tile <= 4; tile += 2)
        fused_is_pooled_conv(label, in, threads, tile);
    free(in.x), free(in.w), free(in.b), free(in.dy);
}

START_TEST(winograd_fused_pool_is_pooled_conv)
{
    for (int t = 1; t <= 2; t++) {
        assert_fused_is_pooled_conv("block 8->16 14x14 pad 1, n 3",
                                    make_inputs(SHAPE(3, 8, 14, 14, 16, 3, 1, 1), 2, 2), t);
        assert_fused_is_pooled_conv("block 3->5 7x7 pad 0 (5x5 out), n 2",
                                    make_inputs(SHAPE(2, 3, 7, 7, 5, 3, 1, 0), 2, 2), t);
        assert_fused_is_pooled_conv("block 1->4 13x11 pad 1, n 2",
                                    make_inputs(SHAPE(2, 1, 13, 11, 4, 3, 1, 1), 2, 2), t);
        assert_fused_is_pooled_conv("block 4->6 10x12 pad 0, n 1",
                                    make_inputs(SHAPE(1, 4, 10, 12, 6, 3, 1, 0), 2, 2), t);
        assert_fused_is_pooled_conv("block 2->3 8x8 pad 0 (6x6 out, 3x3 pooled), n 2",
                                    make_inputs(SHAPE(2, 2, 8, 8, 3, 3, 1, 0), 2, 2), t);
    }
}
END_TEST

/* lhost's Winograd picks F(4x4) for a correlation where its products (36 a tile) are at most
 * 0.8 of F(2x2)'s (16 a tile), partial tiles counted whole: the forward and backward-w on the
 * output (oh, ow), backward-x on the input (h, w); backward-w with one input channel keeps
 * F(2x2). Its bytes must be those of the tile forced: y, dw and dx, each from its own rule. */
static void assert_tiles(const char *label, inputs in, int fwd_tile, int w_tile, int data_tile)
{
    lh_backend_ctx *rule = open_with(LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, 2);
    lh_backend_ctx *f2 = open_tile(LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, 2, 2);
    lh_backend_ctx *f4 = open_tile(LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, 2, 4);
    if (runs_own_winograd(rule, &in)) {
        outs o = run(rule, &in, 1), o2 = run(f2, &in, 1), o4 = run(f4, &in, 1);
        const outs *fy = fwd_tile == 4 ? &o4 : &o2, *fx = data_tile == 4 ? &o4 : &o2;
        const outs *fw = w_tile == 4 ? &o4 : &o2;
        ck_assert_msg(memcmp(o.y, fy->y, o.ny * sizeof(float)) == 0,
                      "%s: y is not F(%dx%d)'s", label, fwd_tile, fwd_tile);
        ck_assert_msg(memcmp(o.dw, fw->dw, o.nw * sizeof(float)) == 0,
                      "%s: dw is not F(%dx%d)'s", label, w_tile, w_tile);
        ck_assert_msg(memcmp(o.dx, fx->dx, o.nx * sizeof(float)) == 0,
                      "%s: dx is not F(%dx%d)'s", label, data_tile, data_tile);
        outs_free(&o), outs_free(&o2), outs_free(&o4);
    } else {
        fprintf(stderr, "test_conv_algorithms: %s: oneDNN's Winograd runs here, lhost's tile "
                        "rule left out\n", label);
    }
    lh_cpu_backend()->close(rule), lh_cpu_backend()->close(f2), lh_cpu_backend()->close(f4);
    free(in.x), free(in.w), free(in.b), free(in.dy);
}

START_TEST(winograd_picks_tiles)
{
    assert_tiles("conv 8->16 14x14 pad 1 (576 products to 784)",
                 make_inputs(SHAPE(2, 8, 14, 14, 16, 3, 1, 1), 0, 0), 4, 4, 4);
    assert_tiles("conv 1->8 28x28 pad 1 (one input channel)",
                 make_inputs(SHAPE(2, 1, 28, 28, 8, 3, 1, 1), 0, 0), 4, 2, 4);
    assert_tiles("conv 3->4 3x3 pad 0 (1x1 out: 36 to 16; dx 3x3: 36 to 64)",
                 make_inputs(SHAPE(2, 3, 3, 3, 4, 3, 1, 0), 0, 0), 2, 2, 4);
    assert_tiles("conv 3->4 7x7 pad 0 (5x5 out: 144 to 144; dx 7x7: 144 to 256)",
                 make_inputs(SHAPE(2, 3, 7, 7, 4, 3, 1, 0), 0, 0), 2, 2, 4);
    assert_tiles("conv 3->4 1x2 pad 1 (36 to 16)", make_inputs(SHAPE(2, 3, 1, 2, 4, 3, 1, 1), 0,
                                                                0), 2, 2, 2);
}
END_TEST

/* Unknown choices are refused by the backend; a backend without configure takes only gemm in
 * fp32, bf16-mixed only direct or auto, and the host says which key refused what. */
START_TEST(choices_are_checked)
{
    const lh_backend *be = lh_cpu_backend();
    char err[256];
    lh_backend_ctx *ctx = be->open(0, 1, err, sizeof err);
    lh_error e = {{0}};
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(be->configure(ctx, 7, LH_PRECISION_32), LH_BACKEND_EINVAL);
    ck_assert_str_eq(be->last_error(ctx), "cpu: conv algorithm 7: expected 0 to 3");
    ck_assert_int_eq(be->configure(ctx, LH_CONV_ALGO_DIRECT, 5), LH_BACKEND_EINVAL);
    ck_assert_str_eq(be->last_error(ctx), "cpu: precision 5: expected 0 or 1");
    ck_assert_int_eq(lh_backend_configure(be, ctx, LH_CONV_ALGO_WINOGRAD, LH_PRECISION_32, &e),
                     0);
    ck_assert_int_ne(lh_backend_configure(be, ctx, LH_CONV_ALGO_WINOGRAD,
                                          LH_PRECISION_BF16_MIXED, &e), 0);
    ck_assert_str_eq(e.msg, "trainer.precision: bf16-mixed runs conv2d as oneDNN's direct bf16 "
                            "convolution: trainer.conv_algorithm must be direct or auto, got "
                            "winograd");
    lh_backend gemm_only = *be;
    gemm_only.name = "cuda";
    gemm_only.configure = NULL;
    ck_assert_int_eq(lh_backend_configure(&gemm_only, ctx, LH_CONV_ALGO_GEMM, LH_PRECISION_32,
                                          &e), 0);
    ck_assert_int_ne(lh_backend_configure(&gemm_only, ctx, LH_CONV_ALGO_DIRECT, LH_PRECISION_32,
                                          &e), 0);
    ck_assert_str_eq(e.msg, "trainer.conv_algorithm: direct needs the cpu device (the cuda "
                            "backend has only gemm)");
    ck_assert_int_ne(lh_backend_configure(&gemm_only, ctx, LH_CONV_ALGO_GEMM,
                                          LH_PRECISION_BF16_MIXED, &e), 0);
    ck_assert_str_eq(e.msg, "trainer.precision: bf16-mixed needs the cpu device (the cuda "
                            "backend computes in 32 only, for now)");
    ck_assert_int_eq(lh_backend_precision(0), LH_PRECISION_32);
    ck_assert_int_eq(lh_backend_precision(1), LH_PRECISION_BF16_MIXED);
    ck_assert_int_eq(lh_backend_precision(2), LH_PRECISION_32); /* "32-true" */
    for (int a = 0; a < 4; a++)
        ck_assert_str_eq(lh_backend_conv_algorithms[a], names[a]);
    be->close(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_algorithms");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, conv_3x3_matches_gemm);
    tcase_add_test(tc, odd_shapes_match_gemm);
    tcase_add_test(tc, fused_block_matches_gemm);
    tcase_add_test(tc, winograd_edges_match_gemm);
    tcase_add_test(tc, winograd_fused_pool_is_pooled_conv);
    tcase_add_test(tc, winograd_picks_tiles);
    tcase_add_test(tc, choices_are_checked);
    suite_add_tcase(s, tc);
    return check_run(s);
}
