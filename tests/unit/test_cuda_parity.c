/* tests/unit/test_cuda_parity.c — every CUDA op's forward and backward against the CPU backend
 * on random data: |cuda - cpu| <= 1e-4 * max(|cpu|, rms(cpu)) element-wise (the RMS floor keeps
 * sums that cancel to ~0 from failing on rounding alone); integer outputs (argmax, labels,
 * dropout masks) must be identical. Each op prints its worst element. Every op in
 * LH_BACKEND_OPS must be named by a case in `cases` below (test every_op_has_a_case), so an op
 * added to the table without a parity case fails here, with or without a device.
 * Without the CUDA module or a device it prints "SKIP: <reason>" and exits 77 (CTest: skipped).
 * Run: ctest --test-dir build -R test_cuda_parity --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "rel_error.h"

#define RTOL 1e-4

static const lh_backend *G, *C; /* CUDA, CPU */
static lh_backend_ctx *gx, *cx;

/* ---- fixtures: both backends open in every (forked) test --------------------------------- */

static void setup(void)
{
    lh_error err = {{0}};
    char why[512] = "";
    ck_assert_msg(lh_backend_load_cuda(&G, &err) == 0, "%s", err.msg);
    gx = G->open(0, 1, why, sizeof why);
    ck_assert_msg(gx != NULL, "cuda open: %s", why);
    C = lh_cpu_backend();
    cx = C->open(0, 1, why, sizeof why);
    ck_assert_msg(cx != NULL, "cpu open: %s", why);
}

static void teardown(void)
{
    if (gx)
        G->close(gx);
    if (cx)
        C->close(cx);
}

/* ---- a tensor living on both backends ---------------------------------------------------- */

typedef struct twin {
    lh_dmem *g, *c;
    size_t bytes;
} twin;

static twin twin_new(size_t bytes)
{
    twin t = {G->alloc(gx, bytes), C->alloc(cx, bytes), bytes};
    ck_assert_msg(t.g != NULL, "cuda alloc %zu: %s", bytes, G->last_error(gx));
    ck_assert_msg(t.c != NULL, "cpu alloc %zu", bytes);
    return t;
}

static twin twin_from(const void *host, size_t bytes)
{
    twin t = twin_new(bytes);
    ck_assert_msg(G->upload(gx, t.g, host, bytes) == 0, "%s", G->last_error(gx));
    ck_assert_int_eq(C->upload(cx, t.c, host, bytes), 0);
    return t;
}

static void twin_free(twin *t)
{
    G->free(gx, t->g);
    C->free(cx, t->c);
}

static uint64_t rng_state;

static float frand(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)(rng_state >> 40) / 16777216.0f;
}

static float *random_floats(size_t n, float lo, float hi, uint64_t seed)
{
    float *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    rng_state = seed;
    for (size_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
    return v;
}

static twin twin_random(size_t n, float lo, float hi, uint64_t seed)
{
    float *v = random_floats(n, lo, hi, seed);
    twin t = twin_from(v, n * sizeof(float));
    free(v);
    return t;
}

/* Download both sides of n floats and compare; prints the worst element. */
static void check_floats(const char *what, const twin *t, size_t n)
{
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    double worst;
    size_t wi, bad;
    ck_assert_msg(G->sync(gx) == 0 && G->download(gx, a, t->g, n * sizeof *a) == 0, "%s: %s",
                  what, G->last_error(gx));
    ck_assert_int_eq(C->download(cx, b, t->c, n * sizeof *b), 0);
    worst = rel_error_worst(a, b, n, RTOL, &wi, &bad);
    printf("%-28s n=%-8zu worst rel %.3g at [%zu]: cuda %.9g cpu %.9g\n", what, n, worst, wi,
           (double)a[wi], (double)b[wi]);
    fflush(stdout);
    ck_assert_msg(bad == 0, "%s: %zu of %zu elements differ by more than %g relative; worst %.3g "
                  "at [%zu]: cuda %.9g cpu %.9g", what, bad, n, RTOL, worst, wi, (double)a[wi],
                  (double)b[wi]);
    free(a);
    free(b);
}

/* A convolution's gradients, named "<op> <case> dx|dw|db"; dx NULL when not asked for. */
static void check_conv_grads(const char *op, const char *name, const twin *dx, size_t nx,
                             const twin *dw, size_t nw, const twin *db, size_t nb)
{
    char what[160];
    if (dx) {
        snprintf(what, sizeof what, "%s %s dx", op, name);
        check_floats(what, dx, nx);
    }
    snprintf(what, sizeof what, "%s %s dw", op, name);
    check_floats(what, dw, nw);
    snprintf(what, sizeof what, "%s %s db", op, name);
    check_floats(what, db, nb);
}

static void check_same_bytes(const char *what, const twin *t)
{
    unsigned char *a = malloc(t->bytes), *b = malloc(t->bytes);
    size_t i;
    ck_assert_msg(G->download(gx, a, t->g, t->bytes) == 0, "%s: %s", what, G->last_error(gx));
    ck_assert_int_eq(C->download(cx, b, t->c, t->bytes), 0);
    for (i = 0; i < t->bytes && a[i] == b[i]; i++)
        ;
    printf("%-28s %zu bytes %s\n", what, t->bytes, i == t->bytes ? "identical" : "DIFFER");
    ck_assert_msg(i == t->bytes, "%s: first difference at byte %zu of %zu", what, i, t->bytes);
    free(a);
    free(b);
}

#define BOTH(call_g, call_c)                                                                     \
    do {                                                                                         \
        ck_assert_msg((call_g) == 0, "cuda: %s", G->last_error(gx));                             \
        ck_assert_msg((call_c) == 0, "cpu: %s", C->last_error(cx));                              \
    } while (0)

/* ---- memory ------------------------------------------------------------------------------ */

START_TEST(memory_ops)
{
    enum { N = 3001 };
    float *h = random_floats(N, -1, 1, 1), *back = calloc(N, sizeof *back);
    lh_dmem *a = G->alloc(gx, N * sizeof(float)), *b = G->alloc(gx, N * sizeof(float));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(G->download(gx, back, a, N * sizeof(float)), 0);
    for (int i = 0; i < N; i++)
        ck_assert_msg(back[i] == 0.0f, "alloc not zeroed at %d", i);
    ck_assert_int_eq(G->upload(gx, a, h, N * sizeof(float)), 0);
    ck_assert_int_eq(G->copy(gx, lh_dmem_at(b, 4), a, (N - 1) * sizeof(float)), 0);
    ck_assert_int_eq(G->download(gx, back, b, N * sizeof(float)), 0);
    ck_assert(back[0] == 0.0f);
    ck_assert(memcmp(back + 1, h, (N - 1) * sizeof(float)) == 0);
    ck_assert_int_eq(G->zero(gx, lh_dmem_at(b, 8), 16), 0);
    ck_assert_int_eq(G->sync(gx), 0);
    ck_assert_int_eq(G->download(gx, back, b, N * sizeof(float)), 0);
    ck_assert(back[1] == h[0] && back[2] == 0.0f && back[5] == 0.0f && back[6] == h[5]);
    ck_assert_str_eq(G->name, "cuda");
    printf("describe: %s\n", G->describe(gx));
    G->free(gx, a);
    G->free(gx, b);
    free(h);
    free(back);
}
END_TEST

/* ---- data ---------------------------------------------------------------------------------- */

START_TEST(gather_normalize)
{
    enum { COUNT = 300, SAMPLE = 784, NB = 64 };
    uint8_t *img = malloc(COUNT * SAMPLE), lab[COUNT];
    int32_t idx[NB];
    rng_state = 7;
    for (int i = 0; i < COUNT * SAMPLE; i++)
        img[i] = (uint8_t)frand(0, 256);
    for (int i = 0; i < COUNT; i++)
        lab[i] = (uint8_t)frand(0, 10);
    for (int i = 0; i < NB; i++)
        idx[i] = (int32_t)frand(0, COUNT);
    twin ti = twin_from(img, COUNT * SAMPLE), tl = twin_from(lab, COUNT),
         tx = twin_from(idx, sizeof idx), out = twin_new(NB * SAMPLE * 4), lo = twin_new(NB * 4);
    BOTH(G->gather_normalize(gx, ti.g, tl.g, tx.g, NB, SAMPLE, 0.2860f, 0.3530f, out.g, lo.g),
         C->gather_normalize(cx, ti.c, tl.c, tx.c, NB, SAMPLE, 0.2860f, 0.3530f, out.c, lo.c));
    check_floats("gather_normalize images", &out, NB * SAMPLE);
    check_same_bytes("gather_normalize labels", &lo);
    twin_free(&ti), twin_free(&tl), twin_free(&tx), twin_free(&out), twin_free(&lo);
    free(img);
}
END_TEST

/* ---- conv2d ------------------------------------------------------------------------------- */

static void conv_case(const char *name, lh_conv_shape s, int with_dx)
{
    char what[64];
    size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.k * s.c * s.r * s.s,
           ny = (size_t)s.n * s.k * s.oh * s.ow;
    s.oh = (s.h + 2 * s.pad - s.r) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.s) / s.stride + 1;
    ny = (size_t)s.n * s.k * s.oh * s.ow;
    twin x = twin_random(nx, -1, 1, 11), w = twin_random(nw, -0.3f, 0.3f, 12),
         b = twin_random(s.k, -0.1f, 0.1f, 13), y = twin_new(ny * 4),
         dy = twin_random(ny, -1, 1, 14), dx = twin_new(nx * 4), dw = twin_new(nw * 4),
         db = twin_new(s.k * 4);
    BOTH(G->conv2d_forward(gx, &s, x.g, w.g, b.g, y.g),
         C->conv2d_forward(cx, &s, x.c, w.c, b.c, y.c));
    snprintf(what, sizeof what, "conv2d %s y", name);
    check_floats(what, &y, ny);
    BOTH(G->conv2d_backward(gx, &s, x.g, w.g, dy.g, with_dx ? dx.g : NULL, dw.g, db.g),
         C->conv2d_backward(cx, &s, x.c, w.c, dy.c, with_dx ? dx.c : NULL, dw.c, db.c));
    check_conv_grads("conv2d", name, with_dx ? &dx : NULL, nx, &dw, nw, &db, s.k);
    twin_free(&x), twin_free(&w), twin_free(&b), twin_free(&y);
    twin_free(&dy), twin_free(&dx), twin_free(&dw), twin_free(&db);
}

START_TEST(conv2d)
{
    /* the tutorial's two layers (smaller batch), then stride 2 / no padding / non-square */
    conv_case("1->64 28x28", (lh_conv_shape){.n = 8, .c = 1, .h = 28, .w = 28, .k = 64, .r = 3,
                                             .s = 3, .stride = 1, .pad = 1}, 0);
    conv_case("64->128 14x14", (lh_conv_shape){.n = 8, .c = 64, .h = 14, .w = 14, .k = 128,
                                               .r = 3, .s = 3, .stride = 1, .pad = 1}, 1);
    conv_case("5->7 s2 11x9 k3x2", (lh_conv_shape){.n = 3, .c = 5, .h = 11, .w = 9, .k = 7,
                                                   .r = 3, .s = 2, .stride = 2, .pad = 0}, 1);
    /* dW and db of a small receptive field (C*R*S <= 32) skip im2col: each size class of that
     * path (<= 9 above, <= 16, <= 32 with its bound exact), a channel count that is not a
     * multiple of a block's 8, and the GEMM path just past the bound (33) */
    conv_case("3->11 k2x2 p1 13x10", (lh_conv_shape){.n = 5, .c = 3, .h = 13, .w = 10, .k = 11,
                                                     .r = 2, .s = 2, .stride = 1, .pad = 1}, 1);
    conv_case("2->9 k4x4 p1 9x9", (lh_conv_shape){.n = 4, .c = 2, .h = 9, .w = 9, .k = 9,
                                                  .r = 4, .s = 4, .stride = 1, .pad = 1}, 0);
    conv_case("1->4 k3x11 p1 12x15", (lh_conv_shape){.n = 3, .c = 1, .h = 12, .w = 15, .k = 4,
                                                     .r = 3, .s = 11, .stride = 1, .pad = 1}, 1);
    /* im2col has more rows (C*R*S = 73728) than a grid's y dimension holds (65535): its row
     * loop runs twice */
    conv_case("8192->3 1x1 k3 p1", (lh_conv_shape){.n = 2, .c = 8192, .h = 1, .w = 1, .k = 3,
                                                   .r = 3, .s = 3, .stride = 1, .pad = 1}, 1);
}
END_TEST

/* ---- relu, maxpool ------------------------------------------------------------------------ */

START_TEST(relu)
{
    enum { N = 10007 };
    twin x = twin_random(N, -1, 1, 21), y = twin_new(N * 4), dy = twin_random(N, -1, 1, 22),
         dx = twin_new(N * 4);
    BOTH(G->relu_forward(gx, N, x.g, y.g), C->relu_forward(cx, N, x.c, y.c));
    check_floats("relu y", &y, N);
    BOTH(G->relu_backward(gx, N, y.g, dy.g, dx.g), C->relu_backward(cx, N, y.c, dy.c, dx.c));
    check_floats("relu dx", &dx, N);
    twin_free(&x), twin_free(&y), twin_free(&dy), twin_free(&dx);
}
END_TEST

static void pool_case(const char *name, lh_pool_shape s)
{
    char what[64];
    size_t nx, ny;
    float *h;
    s.oh = (s.h - s.size) / s.stride + 1;
    s.ow = (s.w - s.size) / s.stride + 1;
    nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * s.oh * s.ow;
    h = random_floats(nx, -1, 1, 31);
    for (size_t i = 0; i < nx; i++) /* few levels, so windows hold ties: first max must win */
        h[i] = roundf(h[i] * 2.0f) / 2.0f;
    twin x = twin_from(h, nx * 4), y = twin_new(ny * 4), arg = twin_new(ny * 4),
         dy = twin_random(ny, -1, 1, 32), dx = twin_new(nx * 4);
    BOTH(G->maxpool_forward(gx, &s, x.g, y.g, arg.g), C->maxpool_forward(cx, &s, x.c, y.c, arg.c));
    snprintf(what, sizeof what, "maxpool %s y", name);
    check_floats(what, &y, ny);
    snprintf(what, sizeof what, "maxpool %s argmax", name);
    check_same_bytes(what, &arg);
    BOTH(G->maxpool_backward(gx, &s, dy.g, arg.g, dx.g),
         C->maxpool_backward(cx, &s, dy.c, arg.c, dx.c));
    snprintf(what, sizeof what, "maxpool %s dx", name);
    check_floats(what, &dx, nx);
    twin_free(&x), twin_free(&y), twin_free(&arg), twin_free(&dy), twin_free(&dx);
    free(h);
}

START_TEST(maxpool)
{
    pool_case("2/2 28x28", (lh_pool_shape){.n = 4, .c = 64, .h = 28, .w = 28, .size = 2,
                                           .stride = 2});
    pool_case("3/2 9x7", (lh_pool_shape){.n = 2, .c = 3, .h = 9, .w = 7, .size = 3, .stride = 2});
}
END_TEST

/* ---- activations, add, average pooling, batch norm --------------------------------------- */

START_TEST(activations)
{
    enum { N = 4099 };
    static const char *const names[] = {"", "tanh", "sigmoid", "gelu", "silu", "leaky_relu"};
    twin x = twin_random(N, -4, 4, 51), y = twin_new(N * 4), dy = twin_random(N, -1, 1, 52),
         dx = twin_new(N * 4), s = twin_new(N * 4);
    char what[64];
    for (int32_t k = LH_ACT_TANH; k <= LH_ACT_LEAKY_RELU; k++) {
        BOTH(G->act_forward(gx, k, 0.2f, N, x.g, y.g), C->act_forward(cx, k, 0.2f, N, x.c, y.c));
        snprintf(what, sizeof what, "%s y", names[k]);
        check_floats(what, &y, N);
        BOTH(G->act_backward(gx, k, 0.2f, N, x.g, dy.g, dx.g),
             C->act_backward(cx, k, 0.2f, N, x.c, dy.c, dx.c));
        snprintf(what, sizeof what, "%s dx", names[k]);
        check_floats(what, &dx, N);
    }
    BOTH(G->add(gx, N, x.g, dy.g, s.g), C->add(cx, N, x.c, dy.c, s.c));
    check_floats("add", &s, N);
    twin_free(&x), twin_free(&y), twin_free(&dy), twin_free(&dx), twin_free(&s);
}
END_TEST

static void avgpool_case(const char *name, lh_pool_shape s)
{
    char what[64];
    size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * s.oh * s.ow;
    twin x = twin_random(nx, -1, 1, 61), y = twin_new(ny * 4), dy = twin_random(ny, -1, 1, 62),
         dx = twin_new(nx * 4);
    BOTH(G->avgpool_forward(gx, &s, x.g, y.g), C->avgpool_forward(cx, &s, x.c, y.c));
    snprintf(what, sizeof what, "avgpool %s y", name);
    check_floats(what, &y, ny);
    BOTH(G->avgpool_backward(gx, &s, dy.g, dx.g), C->avgpool_backward(cx, &s, dy.c, dx.c));
    snprintf(what, sizeof what, "avgpool %s dx", name);
    check_floats(what, &dx, nx);
    twin_free(&x), twin_free(&y), twin_free(&dy), twin_free(&dx);
}

START_TEST(avgpool)
{
    avgpool_case("2/2 8x8", (lh_pool_shape){.n = 2, .c = 3, .h = 8, .w = 8, .size = 2,
                                            .stride = 2, .oh = 4, .ow = 4});
    avgpool_case("3/2 9x7", (lh_pool_shape){.n = 2, .c = 3, .h = 9, .w = 7, .size = 3,
                                            .stride = 2, .oh = 4, .ow = 3});
    /* adaptive windows that overlap (7 -> 3) and a global mean */
    avgpool_case("adaptive 7x5->3x2", (lh_pool_shape){.n = 2, .c = 3, .h = 7, .w = 5, .oh = 3,
                                                      .ow = 2});
    avgpool_case("global 6x6", (lh_pool_shape){.n = 3, .c = 4, .h = 6, .w = 6, .oh = 1,
                                               .ow = 1});
}
END_TEST

static void bn_case(const char *name, lh_bn_args a)
{
    char what[64];
    size_t nx = (size_t)a.n * a.c * a.hw, c = (size_t)a.c;
    float *ones = random_floats(c, 0.5f, 1.5f, 73);
    twin x = twin_random(nx, -2, 3, 71), g = twin_random(c, 0.5f, 1.5f, 72),
         b = twin_random(c, -0.5f, 0.5f, 74), rm = twin_random(c, -0.1f, 0.1f, 75),
         rv = twin_from(ones, c * 4), sm = twin_new(c * 4), si = twin_new(c * 4),
         y = twin_new(nx * 4), dy = twin_random(nx, -1, 1, 76), dx = twin_new(nx * 4),
         dg = twin_new(c * 4), db = twin_new(c * 4);
    BOTH(G->batchnorm_forward(gx, &a, x.g, g.g, b.g, rm.g, rv.g, sm.g, si.g, y.g),
         C->batchnorm_forward(cx, &a, x.c, g.c, b.c, rm.c, rv.c, sm.c, si.c, y.c));
#define BN_CHECK(t, n, part)                                                                     \
    (snprintf(what, sizeof what, "batchnorm %s %s", name, part), check_floats(what, &t, n))
    BN_CHECK(y, nx, "y");
    BN_CHECK(rm, c, "running_mean");
    BN_CHECK(rv, c, "running_var");
    BN_CHECK(sm, c, "save_mean");
    BN_CHECK(si, c, "save_invstd");
    BOTH(G->batchnorm_backward(gx, &a, x.g, g.g, sm.g, si.g, dy.g, dx.g, dg.g, db.g),
         C->batchnorm_backward(cx, &a, x.c, g.c, sm.c, si.c, dy.c, dx.c, dg.c, db.c));
    BN_CHECK(dx, nx, "dx");
    BN_CHECK(dg, c, "dgamma");
    BN_CHECK(db, c, "dbeta");
#undef BN_CHECK
    twin_free(&x), twin_free(&g), twin_free(&b), twin_free(&rm), twin_free(&rv);
    twin_free(&sm), twin_free(&si), twin_free(&y), twin_free(&dy), twin_free(&dx);
    twin_free(&dg), twin_free(&db);
    free(ones);
}

START_TEST(batchnorm)
{
    bn_case("2d train", (lh_bn_args){.n = 4, .c = 5, .hw = 49, .training = 1, .momentum = 0.1f,
                                     .eps = 1e-5f});
    bn_case("2d eval", (lh_bn_args){.n = 4, .c = 5, .hw = 49, .training = 0, .momentum = 0.1f,
                                    .eps = 1e-5f});
    bn_case("1d train", (lh_bn_args){.n = 300, .c = 7, .hw = 1, .training = 1,
                                     .momentum = 0.3f, .eps = 1e-3f});
}
END_TEST

/* ---- linear, softmax cross-entropy ------------------------------------------------------- */

START_TEST(linear)
{
    enum { N = 64, IN = 6272, OUT = 10 };
    twin x = twin_random(N * IN, -1, 1, 41), w = twin_random(OUT * IN, -0.05f, 0.05f, 42),
         b = twin_random(OUT, -0.1f, 0.1f, 43), y = twin_new(N * OUT * 4),
         dy = twin_random(N * OUT, -1, 1, 44), dx = twin_new(N * IN * 4),
         dw = twin_new(OUT * IN * 4), db = twin_new(OUT * 4);
    BOTH(G->linear_forward(gx, N, IN, OUT, x.g, w.g, b.g, y.g),
         C->linear_forward(cx, N, IN, OUT, x.c, w.c, b.c, y.c));
    check_floats("linear y", &y, N * OUT);
    BOTH(G->linear_backward(gx, N, IN, OUT, x.g, w.g, dy.g, dx.g, dw.g, db.g),
         C->linear_backward(cx, N, IN, OUT, x.c, w.c, dy.c, dx.c, dw.c, db.c));
    check_floats("linear dx", &dx, N * IN);
    check_floats("linear dw", &dw, OUT * IN);
    check_floats("linear db", &db, OUT);
    twin_free(&x), twin_free(&w), twin_free(&b), twin_free(&y);
    twin_free(&dy), twin_free(&dx), twin_free(&dw), twin_free(&db);
}
END_TEST

START_TEST(softmax_xent)
{
    enum { N = 64, CL = 10 };
    int32_t t[N];
    rng_state = 51;
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)frand(0, CL);
    twin logits = twin_random(N * CL, -5, 5, 52), tg = twin_from(t, sizeof t),
         loss = twin_new(4), dl = twin_new(N * CL * 4);
    BOTH(G->softmax_xent(gx, N, CL, logits.g, tg.g, loss.g, dl.g),
         C->softmax_xent(cx, N, CL, logits.c, tg.c, loss.c, dl.c));
    check_floats("softmax_xent loss", &loss, 1);
    check_floats("softmax_xent dlogits", &dl, N * CL);
    BOTH(G->softmax_xent(gx, N, CL, logits.g, tg.g, loss.g, NULL),
         C->softmax_xent(cx, N, CL, logits.c, tg.c, loss.c, NULL));
    check_floats("softmax_xent loss (no grad)", &loss, 1);
    twin_free(&logits), twin_free(&tg), twin_free(&loss), twin_free(&dl);
}
END_TEST

/* ---- dropout ------------------------------------------------------------------------------ */

START_TEST(dropout)
{
    enum { N = 10007 };
    twin x = twin_random(N, -1, 1, 61), y = twin_new(N * 4), mask = twin_new(N * 4),
         dy = twin_random(N, -1, 1, 62), dx = twin_new(N * 4);
    BOTH(G->dropout_forward(gx, N, 0.3f, 0x1234567890abcdefULL, x.g, y.g, mask.g),
         C->dropout_forward(cx, N, 0.3f, 0x1234567890abcdefULL, x.c, y.c, mask.c));
    check_same_bytes("dropout mask", &mask);
    check_floats("dropout y", &y, N);
    BOTH(G->dropout_backward(gx, N, dy.g, mask.g, dx.g),
         C->dropout_backward(cx, N, dy.c, mask.c, dx.c));
    check_floats("dropout dx", &dx, N);
    twin_free(&x), twin_free(&y), twin_free(&mask), twin_free(&dy), twin_free(&dx);
}
END_TEST

/* ---- optimizers: three steps each, state compared after every step ----------------------- */

static void adam_case(const char *name, int decoupled, float wd)
{
    enum { N = 5003 };
    char what[64];
    twin p = twin_random(N, -1, 1, 71), m = twin_new(N * 4), v = twin_new(N * 4);
    for (int step = 1; step <= 3; step++) {
        lh_adam_args a = {1e-3f, 0.9f, 0.999f, 1e-8f, wd, decoupled, step, 1e-3, 0.9, 0.999};
        twin g = twin_random(N, -1, 1, 72 + (uint64_t)step);
        BOTH(G->adam_step(gx, N, &a, p.g, g.g, m.g, v.g),
             C->adam_step(cx, N, &a, p.c, g.c, m.c, v.c));
        snprintf(what, sizeof what, "%s step %d param", name, step);
        check_floats(what, &p, N);
        snprintf(what, sizeof what, "%s step %d m", name, step);
        check_floats(what, &m, N);
        snprintf(what, sizeof what, "%s step %d v", name, step);
        check_floats(what, &v, N);
        twin_free(&g);
    }
    twin_free(&p), twin_free(&m), twin_free(&v);
}

START_TEST(adam)
{
    adam_case("adam", 0, 0.0f);
    adam_case("adam wd", 0, 0.01f);
    adam_case("adamw", 1, 0.01f);
}
END_TEST

static void sgd_case(const char *name, float momentum, float dampening, float wd, int nesterov)
{
    enum { N = 5003 };
    char what[64];
    twin p = twin_random(N, -1, 1, 81), buf = twin_new(N * 4);
    for (int step = 1; step <= 3; step++) {
        lh_sgd_args a = {0.01f, momentum, dampening, wd, nesterov, step == 1};
        twin g = twin_random(N, -1, 1, 82 + (uint64_t)step);
        BOTH(G->sgd_step(gx, N, &a, p.g, g.g, momentum != 0 ? buf.g : NULL),
             C->sgd_step(cx, N, &a, p.c, g.c, momentum != 0 ? buf.c : NULL));
        snprintf(what, sizeof what, "%s step %d param", name, step);
        check_floats(what, &p, N);
        if (momentum != 0) {
            snprintf(what, sizeof what, "%s step %d buf", name, step);
            check_floats(what, &buf, N);
        }
        twin_free(&g);
    }
    twin_free(&p), twin_free(&buf);
}

START_TEST(sgd)
{
    sgd_case("sgd", 0.0f, 0.0f, 0.0f, 0);
    sgd_case("sgd momentum", 0.9f, 0.1f, 1e-4f, 0);
    sgd_case("sgd nesterov", 0.9f, 0.0f, 1e-4f, 1);
}
END_TEST

/* ---- gradient norms and clipping --------------------------------------------------------- */

/* norm_partials' doubles within 1e-10 relative (both accumulate in double, in other orders;
 * max |x| exactly), over segments the CUDA grid splits into several blocks and one empty one;
 * NaN reaches its segment only; scale and clamp element-wise. */
START_TEST(norm_ops)
{
    enum { N = 300007, S = 5 };
    static const int64_t bounds[S + 1] = {0, 17, 17, 150000, 150003, N};
    static const double ps[] = {1, 2, 3.5, INFINITY};
    twin x = twin_random(N, -2, 2, 91);
    double og[S], oc[S];
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        BOTH(G->norm_partials(gx, S, bounds, x.g, ps[k], og),
             C->norm_partials(cx, S, bounds, x.c, ps[k], oc));
        for (int s = 0; s < S; s++) {
            double rel = fabs(og[s] - oc[s]) / (fabs(oc[s]) > 0 ? fabs(oc[s]) : 1);
            printf("norm_partials p=%-4g seg %d  cuda %.17g cpu %.17g\n", ps[k], s, og[s], oc[s]);
            ck_assert_msg(isinf(ps[k]) ? og[s] == oc[s] : rel <= 1e-10,
                          "norm_partials p=%g segment %d: cuda %.17g cpu %.17g", ps[k], s, og[s],
                          oc[s]);
        }
    }
    BOTH(G->scale(gx, N, -0.75f, x.g), C->scale(cx, N, -0.75f, x.c));
    check_floats("scale", &x, N);
    BOTH(G->clamp(gx, N, -0.5f, 0.5f, x.g), C->clamp(cx, N, -0.5f, 0.5f, x.c));
    check_floats("clamp", &x, N);
    float nan = NAN;
    ck_assert_int_eq(G->upload(gx, lh_dmem_at(x.g, 4 * 150010), &nan, 4), 0);
    BOTH(G->norm_partials(gx, S, bounds, x.g, 2.0, og),
         C->norm_partials(cx, S, bounds, x.c, 2.0, oc));
    ck_assert_msg(isnan(og[4]) && og[3] == og[3], "NaN: cuda segments %g %g", og[3], og[4]);
    ck_assert_int_eq(G->norm_partials(gx, S, bounds, x.g, -1.0, og), LH_BACKEND_EINVAL);
    twin_free(&x);
}
END_TEST

/* ---- fused conv2d + relu + maxpool: CUDA's own when it has one, else its single ops ------ */

/* Forward's argmax may differ from the single ops' only where the pooled value is 0 (ties among
 * relu's zeros): compare it elsewhere. */
static void check_argmax_where_nonzero(const char *what, const twin *arg, const twin *p, size_t n)
{
    int32_t *a = malloc(n * 4), *b = malloc(n * 4);
    float *v = malloc(n * 4);
    size_t i, bad = 0, first = 0;
    ck_assert_int_eq(G->download(gx, a, arg->g, n * 4), 0);
    ck_assert_int_eq(C->download(cx, b, arg->c, n * 4), 0);
    ck_assert_int_eq(C->download(cx, v, p->c, n * 4), 0);
    for (i = 0; i < n; i++)
        if (v[i] != 0.0f && a[i] != b[i] && bad++ == 0)
            first = i;
    printf("%-28s n=%-8zu %zu differ where p != 0\n", what, n, bad);
    ck_assert_msg(bad == 0, "%s: %zu of %zu differ where p != 0; first at [%zu]: cuda %d cpu %d",
                  what, bad, n, first, (int)a[first], (int)b[first]);
    free(a), free(b), free(v);
}

static void fused_case(const char *name, lh_conv_shape s, int size, int stride, int with_dx)
{
    char what[80];
    lh_pool_shape ps;
    size_t nx, nw, ny, np;
    s.oh = (s.h + 2 * s.pad - s.r) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.s) / s.stride + 1;
    ps = (lh_pool_shape){.n = s.n, .c = s.k, .h = s.oh, .w = s.ow, .size = size,
                         .stride = stride};
    ps.oh = (ps.h - size) / stride + 1;
    ps.ow = (ps.w - size) / stride + 1;
    nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.k * s.c * s.r * s.s;
    ny = (size_t)s.n * s.k * s.oh * s.ow, np = (size_t)s.n * s.k * ps.oh * ps.ow;
    twin x = twin_random(nx, -1, 1, 91), w = twin_random(nw, -0.3f, 0.3f, 92),
         b = twin_random(s.k, -0.1f, 0.1f, 93), p = twin_new(np * 4), arg = twin_new(np * 4),
         dp = twin_random(np, -1, 1, 94), y = twin_new(ny * 4), dy = twin_new(ny * 4),
         dx = twin_new(nx * 4), dw = twin_new(nw * 4), db = twin_new(s.k * 4);
    ck_assert_msg(C->conv2d_relu_maxpool_forward && C->conv2d_relu_maxpool_backward,
                  "the CPU backend lost its fused conv2d_relu_maxpool ops");
    if (G->conv2d_relu_maxpool_forward)
        BOTH(G->conv2d_relu_maxpool_forward(gx, &s, &ps, x.g, w.g, b.g, p.g, arg.g), 0);
    else
        BOTH(G->conv2d_forward(gx, &s, x.g, w.g, b.g, y.g) ||
             G->relu_forward(gx, (int64_t)ny, y.g, y.g) ||
             G->maxpool_forward(gx, &ps, y.g, p.g, arg.g), 0);
    BOTH(0, C->conv2d_relu_maxpool_forward(cx, &s, &ps, x.c, w.c, b.c, p.c, arg.c));
    snprintf(what, sizeof what, "fused %s p", name);
    check_floats(what, &p, np);
    snprintf(what, sizeof what, "fused %s argmax", name);
    check_argmax_where_nonzero(what, &arg, &p, np);
    if (G->conv2d_relu_maxpool_backward)
        BOTH(G->conv2d_relu_maxpool_backward(gx, &s, &ps, x.g, w.g, p.g, arg.g, dp.g,
                                             with_dx ? dx.g : NULL, dw.g, db.g), 0);
    else /* dy: the gradient at relu's output y, then (in place) at the conv's output */
        BOTH(G->maxpool_backward(gx, &ps, dp.g, arg.g, dy.g) ||
             G->relu_backward(gx, (int64_t)ny, y.g, dy.g, dy.g) ||
             G->conv2d_backward(gx, &s, x.g, w.g, dy.g, with_dx ? dx.g : NULL, dw.g, db.g), 0);
    BOTH(0, C->conv2d_relu_maxpool_backward(cx, &s, &ps, x.c, w.c, p.c, arg.c, dp.c,
                                            with_dx ? dx.c : NULL, dw.c, db.c));
    check_conv_grads("fused", name, with_dx ? &dx : NULL, nx, &dw, nw, &db, s.k);
    twin_free(&x), twin_free(&w), twin_free(&b), twin_free(&p), twin_free(&arg);
    twin_free(&dp), twin_free(&y), twin_free(&dy), twin_free(&dx), twin_free(&dw);
    twin_free(&db);
}

START_TEST(conv2d_relu_maxpool)
{
    printf("fused ops on cuda: %s\n", G->conv2d_relu_maxpool_forward ? "its own" : "single ops");
    fused_case("1->16 28x28 pool 2/2", (lh_conv_shape){.n = 4, .c = 1, .h = 28, .w = 28,
                                                      .k = 16, .r = 3, .s = 3, .stride = 1,
                                                      .pad = 1}, 2, 2, 0);
    fused_case("5->7 k3x2 11x9 pool 3/2", (lh_conv_shape){.n = 3, .c = 5, .h = 11, .w = 9,
                                                         .k = 7, .r = 3, .s = 2, .stride = 1,
                                                         .pad = 1}, 3, 2, 1);
}
END_TEST

/* ---- which case covers which ops: every op in LH_BACKEND_OPS needs one ------------------- */

typedef struct parity_case {
    const TTest *const *test; /* the START_TEST's name */
    const char *ops;          /* the LH_BACKEND_OPS it compares, space-separated */
} parity_case;

static const parity_case cases[] = {
    {&memory_ops, "upload download copy zero"},
    {&gather_normalize, "gather_normalize"},
    {&conv2d, "conv2d_forward conv2d_backward"},
    {&relu, "relu_forward relu_backward"},
    {&maxpool, "maxpool_forward maxpool_backward"},
    {&linear, "linear_forward linear_backward"},
    {&softmax_xent, "softmax_xent"},
    {&dropout, "dropout_forward dropout_backward"},
    {&adam, "adam_step"},
    {&sgd, "sgd_step"},
    {&conv2d_relu_maxpool, "conv2d_relu_maxpool_forward conv2d_relu_maxpool_backward"},
    {&activations, "act_forward act_backward add"},
    {&avgpool, "avgpool_forward avgpool_backward"},
    {&batchnorm, "batchnorm_forward batchnorm_backward"},
    {&norm_ops, "norm_partials scale clamp"},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Whether the space-separated list names `op` as a whole word. */
static int names_op(const char *list, const char *op)
{
    size_t len = strlen(op);
    for (const char *at = list; (at = strstr(at, op)) != NULL; at += len)
        if ((at == list || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
            return 1;
    return 0;
}

START_TEST(every_op_has_a_case)
{
    int missing = 0;
    for (int op = 0; op < LH_BACKEND_OP_COUNT; op++) {
        const char *name = lh_backend_op_name(op);
        size_t i;
        for (i = 0; i < NCASES && !names_op(cases[i].ops, name); i++)
            ;
        if (i == NCASES) {
            fprintf(stderr, "op %s (kernels/backend.h) has no parity case\n", name);
            missing++;
        }
    }
    ck_assert_msg(missing == 0, "%d op(s) of LH_BACKEND_OPS have no case in `cases` "
                  "(tests/unit/test_cuda_parity.c); see stderr", missing);
    /* and every name a case gives is an op (a misspelt name covers nothing) */
    for (size_t i = 0; i < NCASES; i++) {
        char list[256], *save = NULL;
        snprintf(list, sizeof list, "%s", cases[i].ops);
        for (char *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            int op;
            for (op = 0; op < LH_BACKEND_OP_COUNT && strcmp(lh_backend_op_name(op), w); op++)
                ;
            ck_assert_msg(op < LH_BACKEND_OP_COUNT, "case %s names %s, which is not an op of "
                          "LH_BACKEND_OPS", (*cases[i].test)->name, w);
        }
    }
}
END_TEST

/* ---- main: probe the device in a child (CUDA must not be initialised before Check forks) -- */

/* 0: a device opens; 1: skip (reason in why); -1: the probe crashed (a bug: fail). */
static int probe(char *why, size_t len)
{
    int fds[2], status = 0;
    ssize_t n, got = 0;
    pid_t pid;
    if (pipe(fds) != 0)
        return snprintf(why, len, "pipe failed"), -1;
    pid = fork();
    if (pid == 0) {
        lh_error err = {{0}};
        char reason[512] = "";
        const lh_backend *be;
        lh_backend_ctx *ctx;
        close(fds[0]);
        if (lh_backend_load_cuda(&be, &err)) {
            n = write(fds[1], err.msg, strlen(err.msg));
            _exit(1);
        }
        if (!(ctx = be->open(0, 1, reason, sizeof reason))) {
            n = write(fds[1], reason, strlen(reason));
            _exit(1);
        }
        be->close(ctx);
        _exit(0);
    }
    close(fds[1]);
    while (got < (ssize_t)len - 1 && (n = read(fds[0], why + got, len - 1 - (size_t)got)) > 0)
        got += n;
    why[got] = '\0';
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return snprintf(why, len, "fork/wait failed"), -1;
    if (WIFSIGNALED(status))
        return snprintf(why, len, "probing the CUDA module crashed (signal %d)", WTERMSIG(status)),
               -1;
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(void)
{
    char why[1024];
    int p = probe(why, sizeof why), failed;
    Suite *s = suite_create("cuda_parity");
    TCase *book = tcase_create("bookkeeping"), *tc;
    SRunner *sr;
    if (p < 0) {
        fprintf(stderr, "FAIL: %s\n", why);
        return 1;
    }
    /* The op list is checked with or without a device. */
    tcase_add_test(book, every_op_has_a_case);
    suite_add_tcase(s, book);
    if (p == 0) {
        tc = tcase_create("ops");
        tcase_add_checked_fixture(tc, setup, teardown);
        for (size_t i = 0; i < NCASES; i++)
            tcase_add_test(tc, *cases[i].test);
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return 1;
    if (p > 0) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    return 0;
}
