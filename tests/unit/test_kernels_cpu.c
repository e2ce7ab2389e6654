/* tests/unit/test_kernels_cpu.c — the CPU backend (kernels/cpu) against PyTorch fixtures,
 * float64 finite differences, and itself (determinism, thread counts).
 *
 * Run: ctest --test-dir build -R test_kernels_cpu --output-on-failure
 * Fixtures: tests/golden/kernels.txt, written by tests/golden/gen_kernels.py (PyTorch). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/dropout_hash.h"

#define GOLDEN LH_SOURCE_DIR "/tests/golden/kernels.txt"

/* ---- fixtures ----------------------------------------------------------------------------- */

typedef struct vec {
    int n;
    double *v;
    float *f;
} vec;

static char *golden_text;

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* The tensor `name` from the fixture file (as double and float copies). */
static vec golden(const char *name)
{
    if (!golden_text)
        golden_text = read_all(GOLDEN);
    size_t nl = strlen(name);
    for (char *line = golden_text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            char *p = line + nl;
            vec r;
            r.n = (int)strtol(p, &p, 10);
            r.v = malloc(sizeof(double) * (size_t)r.n);
            r.f = malloc(sizeof(float) * (size_t)r.n);
            for (int i = 0; i < r.n; i++) {
                r.v[i] = strtod(p, &p);
                r.f[i] = (float)r.v[i];
            }
            return r;
        }
    }
    ck_abort_msg("fixture %s not in %s", name, GOLDEN);
    return (vec){0};
}

static void vfree(vec *v)
{
    free(v->v);
    free(v->f);
}

/* ---- backend helpers ---------------------------------------------------------------------- */

static const lh_backend *B;

static lh_backend_ctx *open_cpu(int threads)
{
    char err[256];
    B = lh_cpu_backend();
    lh_backend_ctx *ctx = B->open(0, threads, err, sizeof err);
    ck_assert_msg(ctx != NULL, "open: %s", err);
    return ctx;
}

/* Buffers made by dev(), freed by close_cpu() so sanitizer builds see no leaks. */
static struct {
    lh_backend_ctx *ctx;
    lh_dmem *mem;
} owned[256];
static int nowned;

static void close_cpu(lh_backend_ctx *ctx)
{
    for (int i = 0; i < nowned; i++)
        if (owned[i].ctx == ctx) {
            B->free(ctx, owned[i].mem);
            owned[i] = owned[--nowned];
            i--;
        }
    B->close(ctx);
}

static lh_dmem *dev(lh_backend_ctx *ctx, const void *src, size_t bytes)
{
    lh_dmem *d = B->alloc(ctx, bytes);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_lt(nowned, 256);
    owned[nowned].ctx = ctx;
    owned[nowned++].mem = d;
    if (src)
        ck_assert_int_eq(B->upload(ctx, d, src, bytes), 0);
    return d;
}

static float *host(lh_backend_ctx *ctx, const lh_dmem *d, size_t n)
{
    float *h = malloc(sizeof(float) * n);
    ck_assert_int_eq(B->download(ctx, h, d, sizeof(float) * n), 0);
    return h;
}

/* Every element within atol + rtol * |ref|; names the worst element on failure. */
static void expect_close(const char *what, const float *got, const double *ref, int n,
                         double atol, double rtol)
{
    int worst = -1;
    double worst_excess = 0;
    for (int i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        double excess = err - (atol + rtol * fabs(ref[i]));
        if (excess > worst_excess || isnan(got[i])) {
            worst_excess = isnan(got[i]) ? INFINITY : excess;
            worst = i;
        }
    }
    ck_assert_msg(worst < 0, "%s[%d] = %.9g, expected %.9g (atol %g rtol %g)", what, worst,
                  worst >= 0 ? got[worst] : 0.0, worst >= 0 ? ref[worst] : 0.0, atol, rtol);
}

/* Analytic gradient vs finite differences: relative error <= 1e-3 per element, relative to
 * max(|fd|, 1% of the tensor's largest |fd|) so near-zero entries do not dominate. */
static void expect_grad(const char *what, const float *got, const double *fd, int n)
{
    double scale = 0;
    for (int i = 0; i < n; i++)
        scale = fmax(scale, fabs(fd[i]));
    ck_assert_msg(scale > 0, "%s: finite differences are all zero", what);
    for (int i = 0; i < n; i++) {
        double den = fmax(fabs(fd[i]), 1e-2 * scale);
        double rel = fabs((double)got[i] - fd[i]) / den;
        ck_assert_msg(rel <= 1e-3, "%s[%d] = %.9g, finite difference %.9g (rel err %.2e)", what,
                      i, got[i], fd[i], rel);
    }
}

/* ---- float64 reference forwards for finite differences ----------------------------------- */

typedef double (*loss_fn)(void *state);

/* Central differences of loss(state) over the n doubles at p (h = 1e-6; the ops are linear,
 * piecewise linear (a small step stays clear of maxpool/relu kinks) or smooth). */
static double *finite_diff(loss_fn f, void *state, double *p, int n)
{
    double *g = malloc(sizeof(double) * (size_t)n);
    const double h = 1e-6;
    for (int i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = f(state);
        p[i] = keep - h;
        double down = f(state);
        p[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

typedef struct conv64 {
    lh_conv_shape s;
    double *x, *w, *b, *g; /* g: upstream gradient, loss = sum(y * g) */
} conv64;

static double conv64_loss(void *v)
{
    conv64 *c = v;
    const lh_conv_shape *s = &c->s;
    double loss = 0;
    for (int n = 0; n < s->n; n++)
        for (int k = 0; k < s->k; k++)
            for (int oh = 0; oh < s->oh; oh++)
                for (int ow = 0; ow < s->ow; ow++) {
                    double acc = c->b[k];
                    for (int ch = 0; ch < s->c; ch++)
                        for (int r = 0; r < s->r; r++)
                            for (int q = 0; q < s->s; q++) {
                                int ih = oh * s->stride - s->pad + r, iw = ow * s->stride - s->pad + q;
                                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w)
                                    continue;
                                acc += c->w[((k * s->c + ch) * s->r + r) * s->s + q] *
                                       c->x[((n * s->c + ch) * s->h + ih) * s->w + iw];
                            }
                    loss += acc * c->g[((n * s->k + k) * s->oh + oh) * s->ow + ow];
                }
    return loss;
}

static lh_conv_shape conv_shape_of(const vec *sh)
{
    const double *d = sh->v;
    return (lh_conv_shape){.n = (int)d[0], .c = (int)d[1], .h = (int)d[2], .w = (int)d[3],
                           .k = (int)d[4], .r = (int)d[5], .s = (int)d[6], .stride = (int)d[7],
                           .pad = (int)d[8], .oh = (int)d[9], .ow = (int)d[10]};
}

/* ---- conv2d ------------------------------------------------------------------------------- */

static const char *conv_cases[] = {"conv_a", "conv_b", "conv_c", "conv_d"};

static void conv_case(const char *name, int threads)
{
    char key[64];
#define G(t) (snprintf(key, sizeof key, "%s." t, name), golden(key))
    vec sh = G("shape"), x = G("x"), w = G("w"), b = G("b"), dy = G("dy"), y = G("y"),
        dx = G("dx"), dw = G("dw"), db = G("db");
#undef G
    lh_conv_shape s = conv_shape_of(&sh);
    lh_backend_ctx *ctx = open_cpu(threads);
    lh_dmem *dX = dev(ctx, x.f, 4 * x.n), *dW = dev(ctx, w.f, 4 * w.n), *dB = dev(ctx, b.f, 4 * b.n),
            *dDY = dev(ctx, dy.f, 4 * dy.n), *dY = dev(ctx, NULL, 4 * y.n),
            *dDX = dev(ctx, NULL, 4 * dx.n), *dDW = dev(ctx, NULL, 4 * dw.n),
            *dDB = dev(ctx, NULL, 4 * db.n);
    ck_assert_int_eq(B->conv2d_forward(ctx, &s, dX, dW, dB, dY), 0);
    ck_assert_int_eq(B->conv2d_backward(ctx, &s, dX, dW, dDY, dDX, dDW, dDB), 0);
    float *hy = host(ctx, dY, y.n), *hdx = host(ctx, dDX, dx.n), *hdw = host(ctx, dDW, dw.n),
          *hdb = host(ctx, dDB, db.n);
    expect_close("conv y", hy, y.v, y.n, 1e-4, 1e-4);
    expect_close("conv dx", hdx, dx.v, dx.n, 1e-4, 1e-4);
    expect_close("conv dw", hdw, dw.v, dw.n, 1e-4, 1e-4);
    expect_close("conv db", hdb, db.v, db.n, 1e-4, 1e-4);

    /* finite differences of sum(y * dy) in float64 */
    conv64 c = {.s = s, .x = x.v, .w = w.v, .b = b.v, .g = dy.v};
    double *fx = finite_diff(conv64_loss, &c, x.v, x.n);
    double *fw = finite_diff(conv64_loss, &c, w.v, w.n);
    double *fb = finite_diff(conv64_loss, &c, b.v, b.n);
    expect_grad("conv dx vs fd", hdx, fx, x.n);
    expect_grad("conv dw vs fd", hdw, fw, w.n);
    expect_grad("conv db vs fd", hdb, fb, b.n);

    /* dx may be NULL (first layer): dw and db unchanged */
    float *hdw2;
    ck_assert_int_eq(B->conv2d_backward(ctx, &s, dX, dW, dDY, NULL, dDW, dDB), 0);
    hdw2 = host(ctx, dDW, dw.n);
    ck_assert_int_eq(memcmp(hdw, hdw2, 4 * (size_t)dw.n), 0);
    free(hdw2);
    free(fx), free(fw), free(fb);
    free(hy), free(hdx), free(hdw), free(hdb);
    close_cpu(ctx);
    vec *all[] = {&sh, &x, &w, &b, &dy, &y, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vfree(all[i]);
}

START_TEST(conv2d_matches_pytorch_and_fd)
{
    conv_case(conv_cases[_i], 2);
}
END_TEST

START_TEST(conv2d_one_thread)
{
    conv_case(conv_cases[_i], 1);
}
END_TEST

/* ---- relu --------------------------------------------------------------------------------- */

START_TEST(relu_matches_pytorch)
{
    vec x = golden("relu.x"), dy = golden("relu.dy"), y = golden("relu.y"), dx = golden("relu.dx");
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dX = dev(ctx, x.f, 4 * x.n), *dDY = dev(ctx, dy.f, 4 * dy.n);
    /* in place, as the trainer uses it */
    ck_assert_int_eq(B->relu_forward(ctx, x.n, dX, dX), 0);
    ck_assert_int_eq(B->relu_backward(ctx, x.n, dX, dDY, dDY), 0);
    float *hy = host(ctx, dX, y.n), *hdx = host(ctx, dDY, dx.n);
    expect_close("relu y", hy, y.v, y.n, 0, 1e-7);
    expect_close("relu dx", hdx, dx.v, dx.n, 0, 1e-7);
    /* finite differences: d/dx sum(relu(x) * dy) */
    for (int i = 0; i < x.n; i++) {
        double h = 1e-4, up = fmax(x.v[i] + h, 0) * dy.v[i], dn = fmax(x.v[i] - h, 0) * dy.v[i];
        double fd = (up - dn) / (2 * h);
        ck_assert_msg(fabs(hdx[i] - fd) <= 1e-3 * fmax(fabs(fd), 1e-3), "relu dx[%d] fd", i);
    }
    free(hy), free(hdx);
    close_cpu(ctx);
    vfree(&x), vfree(&dy), vfree(&y), vfree(&dx);
}
END_TEST

/* ---- maxpool ------------------------------------------------------------------------------ */

typedef struct pool64 {
    lh_pool_shape s;
    double *x, *g;
} pool64;

static double pool64_loss(void *v)
{
    pool64 *p = v;
    const lh_pool_shape *s = &p->s;
    double loss = 0;
    for (int pl = 0; pl < s->n * s->c; pl++)
        for (int oh = 0; oh < s->oh; oh++)
            for (int ow = 0; ow < s->ow; ow++) {
                double m = -INFINITY;
                for (int i = 0; i < s->size; i++)
                    for (int j = 0; j < s->size; j++)
                        m = fmax(m, p->x[(pl * s->h + oh * s->stride + i) * s->w + ow * s->stride + j]);
                loss += m * p->g[(pl * s->oh + oh) * s->ow + ow];
            }
    return loss;
}

static const char *pool_cases[] = {"pool_a", "pool_b"};

START_TEST(maxpool_matches_pytorch_and_fd)
{
    char key[64];
    const char *name = pool_cases[_i];
#define G(t) (snprintf(key, sizeof key, "%s." t, name), golden(key))
    vec sh = G("shape"), x = G("x"), dy = G("dy"), y = G("y"), dx = G("dx");
#undef G
    lh_pool_shape s = {.n = (int)sh.v[0], .c = (int)sh.v[1], .h = (int)sh.v[2], .w = (int)sh.v[3],
                       .size = (int)sh.v[4], .stride = (int)sh.v[5], .oh = (int)sh.v[6],
                       .ow = (int)sh.v[7]};
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dX = dev(ctx, x.f, 4 * x.n), *dDY = dev(ctx, dy.f, 4 * dy.n),
            *dY = dev(ctx, NULL, 4 * y.n), *dA = dev(ctx, NULL, 4 * y.n),
            *dDX = dev(ctx, NULL, 4 * dx.n);
    ck_assert_int_eq(B->maxpool_forward(ctx, &s, dX, dY, dA), 0);
    ck_assert_int_eq(B->maxpool_backward(ctx, &s, dDY, dA, dDX), 0);
    float *hy = host(ctx, dY, y.n), *hdx = host(ctx, dDX, dx.n);
    expect_close("maxpool y", hy, y.v, y.n, 0, 1e-7);
    expect_close("maxpool dx", hdx, dx.v, dx.n, 1e-6, 1e-6);
    pool64 p = {.s = s, .x = x.v, .g = dy.v};
    double *fx = finite_diff(pool64_loss, &p, x.v, x.n);
    expect_grad("maxpool dx vs fd", hdx, fx, x.n);
    free(fx), free(hy), free(hdx);
    close_cpu(ctx);
    vfree(&sh), vfree(&x), vfree(&dy), vfree(&y), vfree(&dx);
}
END_TEST

START_TEST(maxpool_ties_pick_first)
{
    lh_backend_ctx *ctx = open_cpu(1);
    float x[4] = {1, 1, 1, 1}, dy[1] = {2}, out[4];
    int32_t am;
    lh_pool_shape s = {.n = 1, .c = 1, .h = 2, .w = 2, .size = 2, .stride = 2, .oh = 1, .ow = 1};
    lh_dmem *dX = dev(ctx, x, 16), *dY = dev(ctx, NULL, 4), *dA = dev(ctx, NULL, 4),
            *dDY = dev(ctx, dy, 4), *dDX = dev(ctx, NULL, 16);
    ck_assert_int_eq(B->maxpool_forward(ctx, &s, dX, dY, dA), 0);
    B->download(ctx, &am, dA, 4);
    ck_assert_int_eq(am, 0);
    ck_assert_int_eq(B->maxpool_backward(ctx, &s, dDY, dA, dDX), 0);
    B->download(ctx, out, dDX, 16);
    ck_assert(out[0] == 2 && out[1] == 0 && out[2] == 0 && out[3] == 0);
    close_cpu(ctx);
}
END_TEST

/* The 2x2 stride-2 fast paths (C and AVX-512) against a naive loop, on planes wider than one
 * vector (W 37 -> 18 outputs), with ties and NaNs (PyTorch: later greater-or-NaN wins). */
START_TEST(maxpool_2x2_matches_naive)
{
    lh_pool_shape s = {.n = 2, .c = 3, .h = 9, .w = 37, .size = 2, .stride = 2, .oh = 4, .ow = 18};
    int nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.oh * s.ow;
    float *x = malloc(4 * nx), *dy = malloc(4 * ny);
    for (int i = 0; i < nx; i++)
        x[i] = (float)((i * 7919) % 23) - 11.0f; /* many ties */
    x[5] = NAN, x[100] = NAN, x[101] = NAN, x[37 + 40] = NAN;
    for (int i = 0; i < ny; i++)
        dy[i] = (float)i + 1.0f;
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dX = dev(ctx, x, 4 * nx), *dY = dev(ctx, NULL, 4 * ny), *dA = dev(ctx, NULL, 4 * ny),
            *dDY = dev(ctx, dy, 4 * ny), *dDX = dev(ctx, NULL, 4 * nx);
    ck_assert_int_eq(B->maxpool_forward(ctx, &s, dX, dY, dA), 0);
    ck_assert_int_eq(B->maxpool_backward(ctx, &s, dDY, dA, dDX), 0);
    float *y = host(ctx, dY, ny), *dx = host(ctx, dDX, nx);
    int32_t *am = malloc(4 * ny);
    B->download(ctx, am, dA, 4 * ny);
    float *want_dx = calloc(nx, 4);
    for (int pl = 0; pl < s.n * s.c; pl++)
        for (int oh = 0; oh < s.oh; oh++)
            for (int ow = 0; ow < s.ow; ow++) {
                const float *xp = x + pl * s.h * s.w;
                int best = 2 * oh * s.w + 2 * ow;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        int idx = (2 * oh + i) * s.w + 2 * ow + j;
                        if (xp[idx] > xp[best] || isnan(xp[idx]))
                            best = idx;
                    }
                int o = (pl * s.oh + oh) * s.ow + ow;
                ck_assert_msg(am[o] == best, "argmax[%d] = %d, expected %d", o, am[o], best);
                ck_assert(memcmp(&y[o], &xp[best], 4) == 0);
                want_dx[pl * s.h * s.w + best] += dy[o];
            }
    ck_assert_msg(memcmp(dx, want_dx, 4 * (size_t)nx) == 0, "maxpool 2x2 backward differs");
    free(x), free(dy), free(y), free(dx), free(am), free(want_dx);
    close_cpu(ctx);
}
END_TEST

/* ---- linear ------------------------------------------------------------------------------- */

typedef struct lin64 {
    int n, in, out;
    double *x, *w, *b, *g;
} lin64;

static double lin64_loss(void *v)
{
    lin64 *l = v;
    double loss = 0;
    for (int i = 0; i < l->n; i++)
        for (int o = 0; o < l->out; o++) {
            double acc = l->b[o];
            for (int k = 0; k < l->in; k++)
                acc += l->x[i * l->in + k] * l->w[o * l->in + k];
            loss += acc * l->g[i * l->out + o];
        }
    return loss;
}

START_TEST(linear_matches_pytorch_and_fd)
{
    vec sh = golden("linear.shape"), x = golden("linear.x"), w = golden("linear.w"),
        b = golden("linear.b"), dy = golden("linear.dy"), y = golden("linear.y"),
        dx = golden("linear.dx"), dw = golden("linear.dw"), db = golden("linear.db");
    int n = (int)sh.v[0], in = (int)sh.v[1], out = (int)sh.v[2];
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dX = dev(ctx, x.f, 4 * x.n), *dW = dev(ctx, w.f, 4 * w.n), *dB = dev(ctx, b.f, 4 * b.n),
            *dDY = dev(ctx, dy.f, 4 * dy.n), *dY = dev(ctx, NULL, 4 * y.n),
            *dDX = dev(ctx, NULL, 4 * dx.n), *dDW = dev(ctx, NULL, 4 * dw.n),
            *dDB = dev(ctx, NULL, 4 * db.n);
    ck_assert_int_eq(B->linear_forward(ctx, n, in, out, dX, dW, dB, dY), 0);
    ck_assert_int_eq(B->linear_backward(ctx, n, in, out, dX, dW, dDY, dDX, dDW, dDB), 0);
    float *hy = host(ctx, dY, y.n), *hdx = host(ctx, dDX, dx.n), *hdw = host(ctx, dDW, dw.n),
          *hdb = host(ctx, dDB, db.n);
    expect_close("linear y", hy, y.v, y.n, 1e-4, 1e-4);
    expect_close("linear dx", hdx, dx.v, dx.n, 1e-4, 1e-4);
    expect_close("linear dw", hdw, dw.v, dw.n, 1e-4, 1e-4);
    expect_close("linear db", hdb, db.v, db.n, 1e-4, 1e-4);
    lin64 l = {.n = n, .in = in, .out = out, .x = x.v, .w = w.v, .b = b.v, .g = dy.v};
    double *fx = finite_diff(lin64_loss, &l, x.v, x.n), *fw = finite_diff(lin64_loss, &l, w.v, w.n),
           *fb = finite_diff(lin64_loss, &l, b.v, b.n);
    expect_grad("linear dx vs fd", hdx, fx, x.n);
    expect_grad("linear dw vs fd", hdw, fw, w.n);
    expect_grad("linear db vs fd", hdb, fb, b.n);
    /* dx NULL is allowed */
    ck_assert_int_eq(B->linear_backward(ctx, n, in, out, dX, dW, dDY, NULL, dDW, dDB), 0);
    free(fx), free(fw), free(fb), free(hy), free(hdx), free(hdw), free(hdb);
    close_cpu(ctx);
    vec *all[] = {&sh, &x, &w, &b, &dy, &y, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vfree(all[i]);
}
END_TEST

/* A layer big enough to take the threaded path (row / column splits) against float64 loops. */
START_TEST(linear_threaded_matches_naive)
{
    enum { N = 64, IN = 2003, OUT = 40 };
    float *x = malloc(4 * N * IN), *w = malloc(4 * OUT * IN), b[OUT], *dy = malloc(4 * N * OUT);
    for (int i = 0; i < N * IN; i++)
        x[i] = lh_dropout_uniform(1, i) - 0.5f;
    for (int i = 0; i < OUT * IN; i++)
        w[i] = (lh_dropout_uniform(2, i) - 0.5f) * 0.05f;
    for (int i = 0; i < OUT; i++)
        b[i] = lh_dropout_uniform(3, i);
    for (int i = 0; i < N * OUT; i++)
        dy[i] = lh_dropout_uniform(4, i) - 0.5f;
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dX = dev(ctx, x, 4 * N * IN), *dW = dev(ctx, w, 4 * OUT * IN), *dB = dev(ctx, b, 4 * OUT),
            *dDY = dev(ctx, dy, 4 * N * OUT), *dY = dev(ctx, NULL, 4 * N * OUT),
            *dDX = dev(ctx, NULL, 4 * N * IN), *dDW = dev(ctx, NULL, 4 * OUT * IN),
            *dDB = dev(ctx, NULL, 4 * OUT);
    ck_assert_int_eq(B->linear_forward(ctx, N, IN, OUT, dX, dW, dB, dY), 0);
    ck_assert_int_eq(B->linear_backward(ctx, N, IN, OUT, dX, dW, dDY, dDX, dDW, dDB), 0);
    float *y = host(ctx, dY, N * OUT), *dx = host(ctx, dDX, N * IN), *dw = host(ctx, dDW, OUT * IN),
          *db = host(ctx, dDB, OUT);
    double *ry = calloc(N * OUT, 8), *rdx = calloc(N * IN, 8), *rdw = calloc(OUT * IN, 8),
           *rdb = calloc(OUT, 8);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OUT; o++) {
            double acc = b[o], g = dy[i * OUT + o];
            for (int k = 0; k < IN; k++) {
                acc += (double)x[i * IN + k] * w[o * IN + k];
                rdx[i * IN + k] += g * w[o * IN + k];
                rdw[o * IN + k] += g * x[i * IN + k];
            }
            ry[i * OUT + o] = acc;
            rdb[o] += g;
        }
    expect_close("linear y (threaded)", y, ry, N * OUT, 1e-4, 1e-4);
    expect_close("linear dx (threaded)", dx, rdx, N * IN, 1e-4, 1e-4);
    expect_close("linear dw (threaded)", dw, rdw, OUT * IN, 1e-4, 1e-4);
    expect_close("linear db (threaded)", db, rdb, OUT, 1e-4, 1e-4);
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(db);
    free(ry), free(rdx), free(rdw), free(rdb);
    close_cpu(ctx);
}
END_TEST

/* ---- softmax cross-entropy ---------------------------------------------------------------- */

typedef struct xent64 {
    int n, c;
    double *z;
    const int32_t *t;
} xent64;

static double xent64_loss(void *v)
{
    xent64 *e = v;
    double loss = 0;
    for (int i = 0; i < e->n; i++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < e->c; j++)
            mx = fmax(mx, e->z[i * e->c + j]);
        for (int j = 0; j < e->c; j++)
            sum += exp(e->z[i * e->c + j] - mx);
        loss += mx + log(sum) - e->z[i * e->c + e->t[i]];
    }
    return loss / e->n;
}

START_TEST(xent_matches_pytorch_and_fd)
{
    vec z = golden("xent.logits"), tv = golden("xent.targets"), loss = golden("xent.loss"),
        dz = golden("xent.dlogits");
    int n = tv.n, c = z.n / tv.n;
    int32_t t[64];
    for (int i = 0; i < n; i++)
        t[i] = (int32_t)tv.v[i];
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dZ = dev(ctx, z.f, 4 * z.n), *dT = dev(ctx, t, 4 * n), *dL = dev(ctx, NULL, 4),
            *dG = dev(ctx, NULL, 4 * z.n);
    ck_assert_int_eq(B->softmax_xent(ctx, n, c, dZ, dT, dL, dG), 0);
    float *hl = host(ctx, dL, 1), *hg = host(ctx, dG, z.n);
    expect_close("xent loss", hl, loss.v, 1, 1e-4, 1e-4);
    expect_close("xent dlogits", hg, dz.v, dz.n, 1e-4, 1e-4);
    xent64 e = {.n = n, .c = c, .z = z.v, .t = t};
    double *fz = finite_diff(xent64_loss, &e, z.v, z.n);
    expect_grad("xent dlogits vs fd", hg, fz, z.n);
    /* validation mode: no gradient; bad target refused */
    ck_assert_int_eq(B->softmax_xent(ctx, n, c, dZ, dT, dL, NULL), 0);
    t[0] = c;
    B->upload(ctx, dT, t, 4 * n);
    ck_assert_int_eq(B->softmax_xent(ctx, n, c, dZ, dT, dL, dG), LH_BACKEND_EINVAL);
    ck_assert_ptr_nonnull(strstr(B->last_error(ctx), "target"));
    free(fz), free(hl), free(hg);
    close_cpu(ctx);
    vfree(&z), vfree(&tv), vfree(&loss), vfree(&dz);
}
END_TEST

/* ---- optimizers --------------------------------------------------------------------------- */

static const char *adam_cases[] = {"adam", "adam_wd", "adamw"};

START_TEST(adam_matches_pytorch)
{
    char key[64];
    vec p0 = golden("opt.p0"), grads = golden("opt.grads");
    snprintf(key, sizeof key, "%s.hp", adam_cases[_i]);
    vec hp = golden(key);
    snprintf(key, sizeof key, "%s.p", adam_cases[_i]);
    vec want = golden(key);
    int np = p0.n, steps = grads.n / np;
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *p = dev(ctx, p0.f, 4 * np), *g = dev(ctx, NULL, 4 * np), *m = dev(ctx, NULL, 4 * np),
            *v = dev(ctx, NULL, 4 * np);
    lh_adam_args a = {.lr = (float)hp.v[0], .beta1 = (float)hp.v[1], .beta2 = (float)hp.v[2],
                      .eps = (float)hp.v[3], .weight_decay = (float)hp.v[4],
                      .decoupled = (int)hp.v[5], .lr_exact = hp.v[0],
                      .beta1_exact = hp.v[1], .beta2_exact = hp.v[2]};
    for (int s = 0; s < steps; s++) {
        B->upload(ctx, g, grads.f + s * np, 4 * np);
        a.step = s + 1;
        ck_assert_int_eq(B->adam_step(ctx, np, &a, p, g, m, v), 0);
    }
    float *hp_ = host(ctx, p, np);
    expect_close(adam_cases[_i], hp_, want.v, np, 1e-6, 0);
    free(hp_);
    close_cpu(ctx);
    vfree(&p0), vfree(&grads), vfree(&hp), vfree(&want);
}
END_TEST

static const char *sgd_cases[] = {"sgd", "sgd_mom", "sgd_nesterov", "sgd_damp_wd"};

START_TEST(sgd_matches_pytorch)
{
    char key[64];
    vec p0 = golden("opt.p0"), grads = golden("opt.grads");
    snprintf(key, sizeof key, "%s.hp", sgd_cases[_i]);
    vec hp = golden(key);
    snprintf(key, sizeof key, "%s.p", sgd_cases[_i]);
    vec want = golden(key);
    int np = p0.n, steps = grads.n / np;
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *p = dev(ctx, p0.f, 4 * np), *g = dev(ctx, NULL, 4 * np), *buf = dev(ctx, NULL, 4 * np);
    lh_sgd_args a = {.lr = (float)hp.v[0], .momentum = (float)hp.v[1], .dampening = (float)hp.v[2],
                     .weight_decay = (float)hp.v[3], .nesterov = (int)hp.v[4]};
    for (int s = 0; s < steps; s++) {
        B->upload(ctx, g, grads.f + s * np, 4 * np);
        a.first_step = s == 0;
        ck_assert_int_eq(B->sgd_step(ctx, np, &a, p, g, buf), 0);
    }
    float *hp_ = host(ctx, p, np);
    expect_close(sgd_cases[_i], hp_, want.v, np, 1e-6, 0);
    free(hp_);
    close_cpu(ctx);
    vfree(&p0), vfree(&grads), vfree(&hp), vfree(&want);
}
END_TEST

/* ---- dropout ------------------------------------------------------------------------------ */

START_TEST(dropout_statistics_and_backward)
{
    const int64_t n = 200000;
    const float p = 0.3f;
    float *x = malloc(4 * n), *dy = malloc(4 * n);
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)((i % 97) - 48) * 0.01f + 0.001f;
        dy[i] = (float)((i % 31) - 15) * 0.1f + 0.01f;
    }
    lh_backend_ctx *c2 = open_cpu(2), *c1 = open_cpu(1);
    lh_dmem *dX = dev(c2, x, 4 * n), *dY = dev(c2, NULL, 4 * n), *dM = dev(c2, NULL, 4 * n),
            *dDY = dev(c2, dy, 4 * n), *dDX = dev(c2, NULL, 4 * n), *dM1 = dev(c1, NULL, 4 * n),
            *dY1 = dev(c1, NULL, 4 * n);
    ck_assert_int_eq(B->dropout_forward(c2, n, p, 42, dX, dY, dM), 0);
    ck_assert_int_eq(B->dropout_backward(c2, n, dDY, dM, dDX), 0);
    float *y = host(c2, dY, n), *m = host(c2, dM, n), *dx = host(c2, dDX, n);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(m[i] == 0.0f || m[i] == 1.0f / (1.0f - p), "mask[%lld] = %g", (long long)i, m[i]);
        ck_assert(m[i] == lh_dropout_mask(42, (uint64_t)i, p));
        ck_assert(y[i] == x[i] * m[i]);
        ck_assert(dx[i] == dy[i] * m[i]);
        kept += m[i] != 0.0f;
    }
    /* keep fraction 0.7 within 5 standard deviations (sd = sqrt(p(1-p)/n) ~ 0.001) */
    double frac = (double)kept / n;
    ck_assert_msg(fabs(frac - 0.7) < 5 * sqrt(0.21 / n), "kept fraction %g, expected 0.7", frac);
    /* E[y] = E[x]: the scale keeps the mean */
    double sx = 0, sy = 0;
    for (int64_t i = 0; i < n; i++)
        sx += x[i], sy += y[i];
    ck_assert_msg(fabs(sy - sx) / n < 0.01, "mean of y %g vs x %g", sy / n, sx / n);
    /* same mask on one thread; another seed gives another mask */
    ck_assert_int_eq(B->upload(c1, dY1, x, 4 * n), 0);
    ck_assert_int_eq(B->dropout_forward(c1, n, p, 42, dY1, dY1, dM1), 0);
    float *m1 = host(c1, dM1, n);
    ck_assert_int_eq(memcmp(m, m1, 4 * (size_t)n), 0);
    ck_assert_int_eq(B->dropout_forward(c1, n, p, 43, dY1, dY1, dM1), 0);
    free(m1);
    m1 = host(c1, dM1, n);
    ck_assert_int_ne(memcmp(m, m1, 4 * (size_t)n), 0);
    /* p = 0 is the identity, p = 1 drops everything, p > 1 is refused */
    ck_assert_int_eq(B->dropout_forward(c2, n, 0.0f, 7, dX, dY, dM), 0);
    free(y);
    y = host(c2, dY, n);
    ck_assert_int_eq(memcmp(x, y, 4 * (size_t)n), 0);
    ck_assert_int_eq(B->dropout_forward(c2, n, 1.0f, 7, dX, dY, dM), 0);
    free(y);
    y = host(c2, dY, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert(y[i] == 0.0f);
    ck_assert_int_eq(B->dropout_forward(c2, n, 1.5f, 7, dX, dY, dM), LH_BACKEND_EINVAL);
    free(x), free(dy), free(y), free(m), free(dx), free(m1);
    close_cpu(c2);
    close_cpu(c1);
}
END_TEST

/* ---- data --------------------------------------------------------------------------------- */

START_TEST(gather_normalize_matches_formula)
{
    enum { COUNT = 50, SAMPLE = 784, N = 17 };
    uint8_t *img = malloc(COUNT * SAMPLE), lab[COUNT];
    for (int i = 0; i < COUNT * SAMPLE; i++)
        img[i] = (uint8_t)((i * 37 + 11) % 256);
    for (int i = 0; i < COUNT; i++)
        lab[i] = (uint8_t)(i % 10);
    int32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (i * 7 + 3) % COUNT;
    const float mean = 0.2860f, std = 0.3530f;
    lh_backend_ctx *ctx = open_cpu(2);
    lh_dmem *dI = dev(ctx, img, COUNT * SAMPLE), *dL = dev(ctx, lab, COUNT), *dIdx = dev(ctx, idx, 4 * N),
            *dO = dev(ctx, NULL, 4 * N * SAMPLE), *dLO = dev(ctx, NULL, 4 * N);
    ck_assert_int_eq(B->gather_normalize(ctx, dI, dL, dIdx, N, SAMPLE, mean, std, dO, dLO), 0);
    float *o = host(ctx, dO, N * SAMPLE);
    int32_t lo[N];
    B->download(ctx, lo, dLO, 4 * N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(lo[i], lab[idx[i]]);
        for (int j = 0; j < SAMPLE; j++) {
            double want = ((double)img[idx[i] * SAMPLE + j] / 255.0 - mean) / std;
            ck_assert_msg(fabs(o[i * SAMPLE + j] - want) <= 1e-6 * fmax(1, fabs(want)),
                          "out[%d][%d] = %.9g, expected %.9g", i, j, o[i * SAMPLE + j], want);
        }
    }
    free(o), free(img);
    close_cpu(ctx);
}
END_TEST

/* ---- determinism and threads -------------------------------------------------------------- */

/* A small conv2-like block: conv + relu + pool + linear, forward and backward; returns the
 * concatenation of every output for byte comparison. */
static float *run_block(int threads, size_t *len)
{
    lh_conv_shape s = {.n = 6, .c = 16, .h = 14, .w = 14, .k = 32, .r = 3, .s = 3, .stride = 1,
                       .pad = 1, .oh = 14, .ow = 14};
    lh_pool_shape ps = {.n = 6, .c = 32, .h = 14, .w = 14, .size = 2, .stride = 2, .oh = 7, .ow = 7};
    size_t nx = 6 * 16 * 196, nw = 32 * 16 * 9, ny = 6 * 32 * 196, np = 6 * 32 * 49, nl = 32 * 49 * 10;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * 32), *lw = malloc(4 * nl),
          *dy = malloc(4 * ny);
    uint64_t st = 99;
    for (size_t i = 0; i < nx; i++)
        x[i] = lh_dropout_uniform(st, i) - 0.5f;
    for (size_t i = 0; i < nw; i++)
        w[i] = (lh_dropout_uniform(st + 1, i) - 0.5f) * 0.2f;
    for (size_t i = 0; i < 32; i++)
        b[i] = lh_dropout_uniform(st + 2, i) * 0.1f;
    for (size_t i = 0; i < nl; i++)
        lw[i] = (lh_dropout_uniform(st + 3, i) - 0.5f) * 0.05f;
    lh_backend_ctx *ctx = open_cpu(threads);
    lh_dmem *dX = dev(ctx, x, 4 * nx), *dW = dev(ctx, w, 4 * nw), *dB = dev(ctx, b, 4 * 32),
            *dY = dev(ctx, NULL, 4 * ny), *dP = dev(ctx, NULL, 4 * np), *dA = dev(ctx, NULL, 4 * np),
            *dLW = dev(ctx, lw, 4 * nl), *dLB = dev(ctx, NULL, 40), *dZ = dev(ctx, NULL, 4 * 60),
            *dT = dev(ctx, NULL, 4 * 6), *dLoss = dev(ctx, NULL, 4), *dDZ = dev(ctx, NULL, 4 * 60),
            *dDP = dev(ctx, NULL, 4 * np), *dDLW = dev(ctx, NULL, 4 * nl), *dDLB = dev(ctx, NULL, 40),
            *dDY = dev(ctx, NULL, 4 * ny), *dDX = dev(ctx, NULL, 4 * nx), *dDW = dev(ctx, NULL, 4 * nw),
            *dDB = dev(ctx, NULL, 4 * 32);
    int32_t t[6] = {1, 2, 3, 4, 5, 6};
    B->upload(ctx, dT, t, sizeof t);
    ck_assert_int_eq(B->conv2d_forward(ctx, &s, dX, dW, dB, dY), 0);
    ck_assert_int_eq(B->relu_forward(ctx, ny, dY, dY), 0);
    ck_assert_int_eq(B->maxpool_forward(ctx, &ps, dY, dP, dA), 0);
    ck_assert_int_eq(B->linear_forward(ctx, 6, 32 * 49, 10, dP, dLW, dLB, dZ), 0);
    ck_assert_int_eq(B->softmax_xent(ctx, 6, 10, dZ, dT, dLoss, dDZ), 0);
    ck_assert_int_eq(B->linear_backward(ctx, 6, 32 * 49, 10, dP, dLW, dDZ, dDP, dDLW, dDLB), 0);
    ck_assert_int_eq(B->maxpool_backward(ctx, &ps, dDP, dA, dDY), 0);
    ck_assert_int_eq(B->relu_backward(ctx, ny, dY, dDY, dDY), 0);
    ck_assert_int_eq(B->conv2d_backward(ctx, &s, dX, dW, dDY, dDX, dDW, dDB), 0);
    *len = ny + 1 + nl + 10 + nx + nw + 32;
    float *out = malloc(4 * *len), *o = out;
    B->download(ctx, o, dY, 4 * ny), o += ny;
    B->download(ctx, o, dLoss, 4), o += 1;
    B->download(ctx, o, dDLW, 4 * nl), o += nl;
    B->download(ctx, o, dDLB, 40), o += 10;
    B->download(ctx, o, dDX, 4 * nx), o += nx;
    B->download(ctx, o, dDW, 4 * nw), o += nw;
    B->download(ctx, o, dDB, 4 * 32);
    close_cpu(ctx);
    free(x), free(w), free(b), free(lw), free(dy);
    return out;
}

START_TEST(two_threads_deterministic)
{
    size_t n1, n2, n3;
    float *a = run_block(2, &n1), *b = run_block(2, &n2), *c = run_block(1, &n3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(a, b, 4 * n1) == 0, "two runs with 2 threads differ");
    /* 1 thread sums the batch in another order: equal up to rounding */
    double worst = 0;
    for (size_t i = 0; i < n1; i++)
        worst = fmax(worst, fabs((double)a[i] - c[i]) / fmax(1e-3, fabs((double)c[i])));
    ck_assert_msg(worst < 1e-4, "1 vs 2 threads: worst relative difference %g", worst);
    free(a), free(b), free(c);
}
END_TEST

/* The fused conv+relu+maxpool block equals the three single ops, bit for bit. */
START_TEST(fused_block_equals_single_ops)
{
    int with_dx = _i;
    lh_conv_shape s = {.n = 5, .c = 3, .h = 12, .w = 13, .k = 8, .r = 3, .s = 3, .stride = 1,
                       .pad = 1, .oh = 12, .ow = 13};
    lh_pool_shape ps = {.n = 5, .c = 8, .h = 12, .w = 13, .size = 2, .stride = 2, .oh = 6, .ow = 6};
    size_t nx = 5 * 3 * 156, nw = 8 * 27, ny = 5 * 8 * 156, np = 5 * 8 * 36;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), b[8], *dp = malloc(4 * np);
    for (size_t i = 0; i < nx; i++)
        x[i] = lh_dropout_uniform(5, i) - 0.5f;
    for (size_t i = 0; i < nw; i++)
        w[i] = lh_dropout_uniform(6, i) - 0.5f;
    for (int i = 0; i < 8; i++)
        b[i] = lh_dropout_uniform(7, i) - 0.5f;
    for (size_t i = 0; i < np; i++)
        dp[i] = lh_dropout_uniform(8, i) - 0.5f;
    lh_backend_ctx *ctx = open_cpu(2);
    ck_assert_ptr_nonnull(B->conv2d_relu_maxpool_forward);
    ck_assert_ptr_nonnull(B->conv2d_relu_maxpool_backward);
    lh_dmem *dX = dev(ctx, x, 4 * nx), *dW = dev(ctx, w, 4 * nw), *dB = dev(ctx, b, 32),
            *dDP = dev(ctx, dp, 4 * np), *dY = dev(ctx, NULL, 4 * ny), *dP1 = dev(ctx, NULL, 4 * np),
            *dA1 = dev(ctx, NULL, 4 * np), *dDY = dev(ctx, NULL, 4 * ny),
            *dDX1 = dev(ctx, NULL, 4 * nx), *dDW1 = dev(ctx, NULL, 4 * nw), *dDB1 = dev(ctx, NULL, 32),
            *dP2 = dev(ctx, NULL, 4 * np), *dA2 = dev(ctx, NULL, 4 * np),
            *dDX2 = dev(ctx, NULL, 4 * nx), *dDW2 = dev(ctx, NULL, 4 * nw), *dDB2 = dev(ctx, NULL, 32);
    ck_assert_int_eq(B->conv2d_forward(ctx, &s, dX, dW, dB, dY), 0);
    ck_assert_int_eq(B->relu_forward(ctx, ny, dY, dY), 0);
    ck_assert_int_eq(B->maxpool_forward(ctx, &ps, dY, dP1, dA1), 0);
    ck_assert_int_eq(B->maxpool_backward(ctx, &ps, dDP, dA1, dDY), 0);
    ck_assert_int_eq(B->relu_backward(ctx, ny, dY, dDY, dDY), 0);
    ck_assert_int_eq(B->conv2d_backward(ctx, &s, dX, dW, dDY, with_dx ? dDX1 : NULL, dDW1, dDB1), 0);
    ck_assert_int_eq(B->conv2d_relu_maxpool_forward(ctx, &s, &ps, dX, dW, dB, dP2, dA2), 0);
    ck_assert_int_eq(B->conv2d_relu_maxpool_backward(ctx, &s, &ps, dX, dW, dP2, dA2, dDP,
                                                     with_dx ? dDX2 : NULL, dDW2, dDB2), 0);
    float *p1 = host(ctx, dP1, np), *p2 = host(ctx, dP2, np);
    int zeros = 0;
    for (size_t i = 0; i < np; i++)
        zeros += p1[i] == 0.0f;
    ck_assert_msg(zeros > 0 && zeros < (int)np, "test data should have some all-negative windows");
    ck_assert_int_eq(memcmp(p1, p2, 4 * np), 0);
    float *a = host(ctx, dDW1, nw), *c = host(ctx, dDW2, nw);
    ck_assert_int_eq(memcmp(a, c, 4 * nw), 0);
    free(a), free(c);
    a = host(ctx, dDB1, 8), c = host(ctx, dDB2, 8);
    ck_assert_int_eq(memcmp(a, c, 32), 0);
    free(a), free(c);
    if (with_dx) {
        a = host(ctx, dDX1, nx), c = host(ctx, dDX2, nx);
        ck_assert_int_eq(memcmp(a, c, 4 * nx), 0);
        free(a), free(c);
    }
    /* a pool that does not read the conv output is refused */
    ps.c = 7;
    ck_assert_int_eq(B->conv2d_relu_maxpool_forward(ctx, &s, &ps, dX, dW, dB, dP2, dA2),
                     LH_BACKEND_EINVAL);
    free(p1), free(p2), free(x), free(w), free(dp);
    close_cpu(ctx);
}
END_TEST

/* ---- gradient norms and clipping ----------------------------------------------------------- */

/* norm_partials against naive long-double loops (p = 1, 2, 3.5, inf) on 1 and 2 threads over
 * segments that straddle the threads' slices, an empty one among them; NaN wins; scale and
 * clamp element by element. */
START_TEST(norm_scale_clamp_match_naive)
{
    enum { N = 70001, S = 5 };
    static const int64_t bounds[S + 1] = {0, 12, 12, 40000, 40003, N};
    static const double ps[] = {1, 2, 3.5, INFINITY};
    float *x = malloc(4 * N), *y = malloc(4 * N);
    for (int64_t i = 0; i < N; i++)
        x[i] = (float)(sin(0.37 * (double)i) * (1 + (double)(i % 7)));
    for (int threads = 1; threads <= 2; threads++) {
        lh_backend_ctx *ctx = open_cpu(threads);
        lh_dmem *d = dev(ctx, x, 4 * N);
        double out[S];
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            ck_assert_int_eq(B->norm_partials(ctx, S, bounds, d, ps[k], out), 0);
            for (int s = 0; s < S; s++) {
                long double want = 0;
                for (int64_t i = bounds[s]; i < bounds[s + 1]; i++) {
                    long double v = fabsl((long double)x[i]);
                    want = isinf(ps[k]) ? fmaxl(want, v) : want + powl(v, (long double)ps[k]);
                }
                ck_assert_msg(fabs(out[s] - (double)want) <= 1e-11 * fabs((double)want),
                              "threads %d p %g segment %d: %.17g, naive %.17Lg", threads, ps[k],
                              s, out[s], want);
            }
        }
        ck_assert_int_eq(B->scale(ctx, N, 0.25f, d), 0);
        B->download(ctx, y, d, 4 * N);
        for (int64_t i = 0; i < N; i++)
            ck_assert_msg(y[i] == x[i] * 0.25f, "scale [%lld]", (long long)i);
        ck_assert_int_eq(B->clamp(ctx, N, -0.3f, 0.3f, d), 0);
        B->download(ctx, y, d, 4 * N);
        for (int64_t i = 0; i < N; i++) {
            float v = x[i] * 0.25f, want = v < -0.3f ? -0.3f : v > 0.3f ? 0.3f : v;
            ck_assert_msg(y[i] == want, "clamp [%lld]: %g, expected %g", (long long)i, y[i], want);
        }
        y[40010] = NAN;
        B->upload(ctx, d, y, 4 * N);
        ck_assert_int_eq(B->clamp(ctx, N, -0.1f, 0.1f, d), 0);
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            ck_assert_int_eq(B->norm_partials(ctx, S, bounds, d, ps[k], out), 0);
            ck_assert_msg(isnan(out[4]) && !isnan(out[3]), "p %g: NaN must reach its segment "
                          "only (%g, %g)", ps[k], out[3], out[4]);
        }
        ck_assert_int_eq(B->norm_partials(ctx, S, bounds, d, 0.0, out), LH_BACKEND_EINVAL);
        ck_assert_int_eq(B->clamp(ctx, N, 1.0f, -1.0f, d), LH_BACKEND_EINVAL);
        close_cpu(ctx);
    }
    free(x), free(y);
}
END_TEST

START_TEST(bad_shapes_refused)
{
    lh_backend_ctx *ctx = open_cpu(2);
    lh_conv_shape s = {.n = 1, .c = 1, .h = 5, .w = 5, .k = 1, .r = 3, .s = 3, .stride = 1,
                       .pad = 1, .oh = 4, .ow = 5};
    lh_dmem *m = dev(ctx, NULL, 4096);
    ck_assert_int_eq(B->conv2d_forward(ctx, &s, m, m, m, m), LH_BACKEND_EINVAL);
    ck_assert_ptr_nonnull(strstr(B->last_error(ctx), "expected 5x5"));
    lh_pool_shape ps = {.n = 1, .c = 1, .h = 5, .w = 5, .size = 2, .stride = 2, .oh = 3, .ow = 2};
    ck_assert_int_eq(B->maxpool_forward(ctx, &ps, m, m, m), LH_BACKEND_EINVAL);
    ck_assert_int_eq(B->linear_forward(ctx, 1, 0, 3, m, m, m, m), LH_BACKEND_EINVAL);
    lh_adam_args a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = 0};
    ck_assert_int_eq(B->adam_step(ctx, 4, &a, m, m, m, m), LH_BACKEND_EINVAL);
    char err[128];
    ck_assert_ptr_null(B->open(0, -1, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "threads"));
    ck_assert_ptr_nonnull(strstr(B->describe(ctx), "2 threads"));
    close_cpu(ctx);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels_cpu");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, conv2d_matches_pytorch_and_fd, 0, 4);
    tcase_add_loop_test(tc, conv2d_one_thread, 0, 4);
    tcase_add_test(tc, relu_matches_pytorch);
    tcase_add_loop_test(tc, maxpool_matches_pytorch_and_fd, 0, 2);
    tcase_add_test(tc, maxpool_ties_pick_first);
    tcase_add_test(tc, maxpool_2x2_matches_naive);
    tcase_add_test(tc, linear_matches_pytorch_and_fd);
    tcase_add_test(tc, linear_threaded_matches_naive);
    tcase_add_test(tc, xent_matches_pytorch_and_fd);
    tcase_add_loop_test(tc, adam_matches_pytorch, 0, 3);
    tcase_add_loop_test(tc, sgd_matches_pytorch, 0, 4);
    tcase_add_test(tc, dropout_statistics_and_backward);
    tcase_add_test(tc, gather_normalize_matches_formula);
    tcase_add_test(tc, two_threads_deterministic);
    tcase_add_loop_test(tc, fused_block_equals_single_ops, 0, 2);
    tcase_add_test(tc, norm_scale_clamp_match_naive);
    tcase_add_test(tc, bad_shapes_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
