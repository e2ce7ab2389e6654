/* kernels/cpu/conv_wino.c — lhost's own Winograd F(2x2, 3x3) conv2d, for CPUs where oneDNN
 * has no Winograd kernel (its convolution_winograd is AVX-512 only): 3x3, stride 1, pad 0 to 2,
 * any H, W (partial tiles read zeros and drop what falls outside the output).
 *
 * Each output tile is 2x2, read from a 4x4 input tile (tiles overlap by 2). With
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1],
 * and xi = 0..15 the 16 elements of a transformed 4x4 tile:
 *   forward     U = G g G^T per (k, c); V = B^T d B per (c, tile);
 *               M(xi) (K, T) = U(xi) (K, C) . V(xi) (C, T); y = A^T M A + b per tile
 *   backward-x  the same on dy padded by 2 - pad, with the filter rotated by 180 degrees and
 *               (k, c) transposed: dx is the full correlation of dy with it
 *   backward-w  Z = A dY A^T per (k, tile); D(xi) (K, C) = sum over tiles Z(xi) . V(xi)^T;
 *               dw = G^T D G per (k, c); db = row sums of dy
 * 2.25x fewer multiplications than the direct convolution (16 per 4 outputs instead of 36),
 * each of the 16 GEMMs one lh_cpu_sgemm call over a chunk of the thread's images; the transforms
 * are plain loops over tiles that the compiler vectorises (LH_CPU_CLONES: AVX-512, AVX2 or
 * baseline, picked at load time).
 *
 * Threads split the batch as conv.c does (a contiguous slice each, in chunks of whole images
 * so the transformed tiles of a chunk stay in cache); the transformed filter is computed once
 * per call into ctx->shared by all threads (split over k), and backward-weights sums each
 * thread's D and db in thread order before the 4x4 -> 3x3 transform, so results depend only
 * on the thread count. The fused block keeps conv.c's structure and contract: the conv output
 * of a chunk is pooled while in cache and never stored (under 2x2 stride-2 pooling each output
 * tile is one pooling window, pooled straight from M); backward rebuilds dy from dp.
 * Rounding differs from GEMM's (the transforms add and halve), by ~1e-6 relative. */
#include <string.h>

#include "kernels/cpu/cpu.h"

enum { XI = 16 }; /* elements of a transformed tile */

/* The tile loops store 16 planes a runtime stride apart, which GCC cannot prove disjoint. */
#if defined(__GNUC__) && !defined(__clang__)
#define LH_IVDEP _Pragma("GCC ivdep")
#else
#define LH_IVDEP
#endif

/* A chunk holds at least this many tiles (whole images), so each GEMM has a wide N: conv2's
 * 14x14 output (49 tiles) gets 4 images, 196 tiles, ~0.8 + 1.6 MB of V and M. */
enum { CHUNK_TILES = 192 };

int lh_cpu_wino_fits(const lh_conv_shape *s)
{
    return s->r == 3 && s->s == 3 && s->stride == 1 && s->pad >= 0 && s->pad <= 2;
}

/* One Winograd correlation: cin planes (hin, win), zero-padded by q, into cout planes
 * (hout, wout) = (hin + 2q - 2, win + 2q - 2), covered by th x tw tiles of 2x2, numbered
 * t = ty * tw + x. The transforms run over all tiles of a plane in one loop (a row of tiles is
 * too short to fill a vector: 7 on conv2): a plane is first staged as phases, phase (rp, cp)
 * holding element (2 R + rp, 2 x + cp) of the padded plane at R * tw + x, so element (a, b)
 * of tile t is phase (a % 2, b) at t + (a / 2) tw, and every load is contiguous in t. */
typedef struct wgeo {
    int cin, cout, hin, win, q;
    int hout, wout, th, tw;
} wgeo;

static wgeo make_geo(int cin, int cout, int hin, int win, int q)
{
    wgeo g = {.cin = cin, .cout = cout, .hin = hin, .win = win, .q = q};
    g.hout = hin + 2 * q - 2, g.wout = win + 2 * q - 2;
    g.th = (g.hout + 1) / 2, g.tw = (g.wout + 1) / 2;
    return g;
}

static int64_t geo_tiles(const wgeo *g) { return (int64_t)g->th * g->tw; }
/* Floats of one phase of an input plane's staging (th + 1 rows of tw) and of all 8. */
static int64_t phase_floats(const wgeo *g) { return (int64_t)(g->th + 1) * g->tw; }
static int64_t stage_floats(const wgeo *g) { return 8 * phase_floats(g); }

/* Floats of a zero-bordered copy of a plane: (2 th + 2, 2 tw + 2) covers every tile. */
static int64_t padded_floats(const wgeo *g) { return (int64_t)(2 * g->th + 2) * (2 * g->tw + 2); }

/* pl (., cols) = x (h, w) at row and column q. Only the interior is written, so the border a
 * caller zeroed once stays zero for every plane of one geometry. */
static void pad_plane(const float *x, int h, int w, int q, int cols, float *pl)
{
    for (int r = 0; r < h; r++)
        memcpy(pl + (int64_t)(r + q) * cols + q, x + (int64_t)r * w, sizeof(float) * w);
}

/* st[(rp * ncp + cp) * len + R * tw + x] = pl (., cols) at (2 R + rp, 2 x + cp), for R < rows,
 * rp < 2, cp < ncp; len = phase length. */
LH_CPU_CLONES
static void stage_plane(const float *pl, int cols, int rows, int tw, int ncp, int64_t len,
                        float *restrict st)
{
    for (int rp = 0; rp < 2; rp++)
        for (int r = 0; r < rows; r++) {
            const float *src = pl + (int64_t)(2 * r + rp) * cols;
            for (int cp = 0; cp < ncp; cp++) {
                float *restrict dst = st + (rp * ncp + cp) * len + (int64_t)r * tw;
                for (int c = 0; c < tw; c++)
                    dst[c] = src[2 * c + cp];
            }
        }
}

/* V = B^T d B for every tile of one staged plane: v[xi * xs + t]. */
LH_CPU_CLONES
static void input_tiles(const wgeo *g, const float *st, float *restrict v, int64_t xs)
{
    const int64_t n = geo_tiles(g), len = phase_floats(g), tw = g->tw;
    /* element (a, b) of tile 0: phase (a % 2, b), a / 2 rows of tiles down */
    const float *e[4][4];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            e[a][b] = st + ((a & 1) * 4 + b) * len + (a >> 1) * tw;
    LH_IVDEP /* the 16 planes of v are xs apart and never overlap */
    for (int64_t t = 0; t < n; t++) {
        float d[4][4], r[4][4];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                d[a][b] = e[a][b][t];
        for (int b = 0; b < 4; b++) { /* B^T d: combine rows */
            r[0][b] = d[0][b] - d[2][b], r[1][b] = d[1][b] + d[2][b];
            r[2][b] = d[2][b] - d[1][b], r[3][b] = d[1][b] - d[3][b];
        }
        for (int a = 0; a < 4; a++) { /* (B^T d) B: combine columns */
            v[(4 * a + 0) * xs + t] = r[a][0] - r[a][2];
            v[(4 * a + 1) * xs + t] = r[a][1] + r[a][2];
            v[(4 * a + 2) * xs + t] = r[a][2] - r[a][1];
            v[(4 * a + 3) * xs + t] = r[a][1] - r[a][3];
        }
    }
}

/* q = the four outputs (row-major) A^T M A + bias of tile t (m[xi * xs + t]). */
static inline void tile_outputs(const float *m, int64_t xs, int64_t t, float bias, float q[4])
{
    float s[2][4]; /* A^T M: combine rows */
    for (int b = 0; b < 4; b++) {
        float m0 = m[b * xs + t], m1 = m[(4 + b) * xs + t];
        float m2 = m[(8 + b) * xs + t], m3 = m[(12 + b) * xs + t];
        s[0][b] = m0 + m1 + m2, s[1][b] = m1 - m2 - m3;
    }
    q[0] = s[0][0] + s[0][1] + s[0][2] + bias;
    q[1] = s[0][1] - s[0][2] - s[0][3] + bias;
    q[2] = s[1][0] + s[1][1] + s[1][2] + bias;
    q[3] = s[1][1] - s[1][2] - s[1][3] + bias;
}

/* y (hout, wout) = A^T M A + bias for every tile of one output plane (m[xi * xs + t]); tmp
 * holds 4 floats per tile (each tile's four outputs, interleaved into y's rows after). */
LH_CPU_CLONES
static void output_tiles(const wgeo *g, const float *m, int64_t xs, float bias, float *y,
                         float *restrict tmp)
{
    const int64_t n = geo_tiles(g);
    float *restrict q00 = tmp, *restrict q01 = tmp + n, *restrict q10 = tmp + 2 * n;
    float *restrict q11 = tmp + 3 * n;
    for (int64_t t = 0; t < n; t++) {
        float q[4];
        tile_outputs(m, xs, t, bias, q);
        q00[t] = q[0], q01[t] = q[1], q10[t] = q[2], q11[t] = q[3];
    }
    for (int r = 0; r < g->hout; r++) {
        const int64_t t0 = (int64_t)(r >> 1) * g->tw;
        const float *ev = (r & 1 ? q10 : q00) + t0, *od = (r & 1 ? q11 : q01) + t0;
        float *row = y + (int64_t)r * g->wout;
        int c = 0;
        for (; c + 1 < g->wout; c += 2)
            row[c] = ev[c >> 1], row[c + 1] = od[c >> 1];
        if (c < g->wout)
            row[c] = ev[c >> 1];
    }
}

/* The fused block under 2x2 stride-2 pooling: each pooling window is one output tile (tiles
 * start at (0, 0)), so p (oh, ow) = relu(max of the tile) and its argmax come straight from
 * M, and the conv output is never stored. Same rules as lh_cpu_conv_block_pool. The pooled
 * tiles are one run of t (a row of tiles is too short for a vector); tmp: 2 floats a tile. */
LH_CPU_CLONES
static void pool_tiles(const wgeo *g, const lh_pool_shape *ps, const float *m, int64_t xs,
                       float bias, float *p, int32_t *am, float *restrict tmp)
{
    const int64_t n = (int64_t)ps->oh * g->tw;
    float *restrict pv = tmp;
    int32_t *restrict pk = (int32_t *)(tmp + n); /* which of the four: 0 1 / 2 3 */
    LH_IVDEP /* tmp is apart from m */
    for (int64_t t = 0; t < n; t++) {
        float q[4];
        tile_outputs(m, xs, t, bias, q);
        float v = lh_cpu_pool2x2(q[0], q[1], q[2], q[3], 0, 2, &pk[t]);
        pv[t] = v > 0.0f || v != v ? v : 0.0f; /* relu_forward's rule */
    }
    const int ow = ps->ow, w = g->wout;
    for (int r = 0; r < ps->oh; r++) {
        const int32_t *kr = pk + (int64_t)r * g->tw, i0 = 2 * r * w;
        const float *vr = pv + (int64_t)r * g->tw;
        for (int c = 0; c < ow; c++) {
            p[(int64_t)r * ow + c] = vr[c];
            am[(int64_t)r * ow + c] = i0 + 2 * c + (kr[c] & 1) + (kr[c] >> 1) * w;
        }
    }
}

/* Z = A dY A^T for every 2x2 tile of one staged gradient plane (2 row and 2 column phases of
 * th x tw, zero outside dy): z[xi * xs + t]. */
LH_CPU_CLONES
static void grad_tiles(const wgeo *g, const float *st, float *restrict z, int64_t xs)
{
    const int64_t n = geo_tiles(g);
    const float *e0 = st, *o0 = st + n, *e1 = st + 2 * n, *o1 = st + 3 * n;
    LH_IVDEP /* the 16 planes of z are xs apart and never overlap */
    for (int64_t t = 0; t < n; t++) {
        float r0[4], r1[4]; /* A dY: rows of the 4x2 result, column 0 and 1 */
        r0[0] = e0[t], r0[1] = e0[t] + e1[t], r0[2] = e0[t] - e1[t], r0[3] = -e1[t];
        r1[0] = o0[t], r1[1] = o0[t] + o1[t], r1[2] = o0[t] - o1[t], r1[3] = -o1[t];
        for (int a = 0; a < 4; a++) { /* (A dY) A^T */
            z[(4 * a + 0) * xs + t] = r0[a];
            z[(4 * a + 1) * xs + t] = r0[a] + r1[a];
            z[(4 * a + 2) * xs + t] = r0[a] - r1[a];
            z[(4 * a + 3) * xs + t] = -r1[a];
        }
    }
}

/* ---- the transformed filter, in ctx->shared ---------------------------------------------- */

typedef struct wino_job {
    lh_backend_ctx *ctx;
    const lh_conv_shape *s;
    const lh_pool_shape *ps;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
    float *p;                /* fused forward: pooled output, argmax */
    int32_t *argmax;
    const float *cp, *dp;    /* fused backward: pooled output, its gradient, argmax */
    const int32_t *cargmax;
    float *u;                /* transformed filter (16, rows, cols) */
    int rotate;              /* 1: u for backward-x (rotated, (k, c) transposed) */
    float *dsum;             /* backward-w: D summed over threads (16, K, C) */
    size_t part_stride;      /* floats between threads' partials (D then db) in ctx->shared */
    float *parts;
    int64_t chunk;           /* images per chunk */
} wino_job;

/* u(xi)[k][c] = (G g G^T)(xi) for k in this thread's range; rotate: u(xi)[c][k] of g
 * rotated by 180 degrees. */
static void filter_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const int64_t K = j->s->k, C = j->s->c, kc = K * C;
    int64_t lo, hi;
    lh_cpu_split(K, tid, nt, &lo, &hi);
    for (int64_t k = lo; k < hi; k++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = j->w + (k * C + c) * 9;
            float r[9], t[4][3];
            for (int i = 0; i < 9; i++)
                r[i] = j->rotate ? g[8 - i] : g[i];
            for (int b = 0; b < 3; b++) { /* G g */
                float g0 = r[b], g1 = r[3 + b], g2 = r[6 + b];
                t[0][b] = g0, t[1][b] = 0.5f * (g0 + g1 + g2);
                t[2][b] = 0.5f * (g0 - g1 + g2), t[3][b] = g2;
            }
            float *u = j->u + (j->rotate ? c * K + k : k * C + c);
            for (int a = 0; a < 4; a++) { /* (G g) G^T */
                u[(4 * a + 0) * kc] = t[a][0];
                u[(4 * a + 1) * kc] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                u[(4 * a + 2) * kc] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                u[(4 * a + 3) * kc] = t[a][2];
            }
        }
}

/* ---- one chunk of images through one correlation ----------------------------------------- */

/* out (n, cout, hout, wout) = the correlation g of in (n, cin, hin, win) with the transformed
 * filter u (16, cout, cin), + bias (may be NULL). ws: wino_chunk_floats(g, n). */
static size_t wino_chunk_floats(const wgeo *g, int64_t n)
{
    return (size_t)(XI * (g->cin + g->cout) * n * geo_tiles(g) + stage_floats(g) +
                    padded_floats(g) + 4 * geo_tiles(g));
}

/* The 16 products M(xi) (cout, n tiles) of a chunk (in ws; xi planes cout * n * tiles
 * apart) for the correlation g of in with u; ws: wino_chunk_floats(g, n). */
static const float *wino_products(const wgeo *g, int64_t n, const float *in, const float *u,
                                  float *ws)
{
    const int64_t tpi = geo_tiles(g), t = n * tpi;
    const int64_t vs = g->cin * t, ms = g->cout * t; /* distance between xi planes */
    float *v = ws, *m = v + XI * vs, *st = m + XI * ms, *pl = st + stage_floats(g);
    const int cols = 2 * g->tw + 2;
    memset(pl, 0, sizeof(float) * padded_floats(g));
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < g->cin; c++) {
            pad_plane(in + (i * g->cin + c) * g->hin * g->win, g->hin, g->win, g->q, cols, pl);
            stage_plane(pl, cols, g->th + 1, g->tw, 4, phase_floats(g), st);
            input_tiles(g, st, v + c * t + i * tpi, vs);
        }
    for (int xi = 0; xi < XI; xi++)
        lh_cpu_sgemm(0, 0, g->cout, t, g->cin, 1.0f, u + (int64_t)xi * g->cout * g->cin, g->cin,
                     v + xi * vs, t, 0.0f, m + xi * ms, t);
    return m;
}

static void wino_chunk(const wgeo *g, int64_t n, const float *in, const float *u,
                       const float *bias, float *out, float *ws)
{
    const int64_t tpi = geo_tiles(g), t = n * tpi, ms = g->cout * t;
    const float *m = wino_products(g, n, in, u, ws);
    float *tmp = ws + wino_chunk_floats(g, n) - 4 * tpi;
    const int64_t plane = (int64_t)g->hout * g->wout;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < g->cout; k++)
            output_tiles(g, m + k * t + i * tpi, ms, bias ? bias[k] : 0.0f,
                         out + (i * g->cout + k) * plane, tmp);
}

/* ---- forward ------------------------------------------------------------------------------ */

static wgeo forward_geo(const lh_conv_shape *s) { return make_geo(s->c, s->k, s->h, s->w, s->pad); }
/* backward-x: dy padded by 2 - pad, correlated into dx (its output is (h, w) again). */
static wgeo data_geo(const lh_conv_shape *s)
{
    return make_geo(s->k, s->c, s->oh, s->ow, 2 - s->pad);
}

static int64_t chunk_images(const lh_conv_shape *s)
{
    int64_t tpi = (int64_t)((s->oh + 1) / 2) * ((s->ow + 1) / 2);
    return (CHUNK_TILES + tpi - 1) / tpi;
}

static void forward_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const lh_conv_shape *s = j->s;
    const wgeo g = forward_geo(s);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, out_sz = (int64_t)s->k * s->oh * s->ow;
    const int64_t pplane = j->ps ? (int64_t)j->ps->oh * j->ps->ow : 0, pout = s->k * pplane;
    float *ws = j->ctx->scratch[tid], *ybuf = ws + wino_chunk_floats(&g, j->chunk);
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    for (int64_t i = lo; i < hi; i += j->chunk) {
        int64_t n = hi - i < j->chunk ? hi - i : j->chunk;
        if (j->ps && j->ps->size == 2 && j->ps->stride == 2) {
            const float *m = wino_products(&g, n, j->x + i * in_sz, j->u, ws);
            const int64_t tpi = geo_tiles(&g), ms = s->k * n * tpi;
            for (int64_t q = 0; q < n; q++)
                for (int k = 0; k < s->k; k++)
                    pool_tiles(&g, j->ps, m + k * n * tpi + q * tpi, ms, j->b ? j->b[k] : 0.0f,
                               j->p + (i + q) * pout + k * pplane,
                               j->argmax + (i + q) * pout + k * pplane,
                               ws + wino_chunk_floats(&g, n) - 4 * tpi);
            continue;
        }
        float *yc = j->ps ? ybuf : j->y + i * out_sz;
        wino_chunk(&g, n, j->x + i * in_sz, j->u, j->b, yc, ws);
        for (int64_t q = 0; j->ps && q < n; q++)
            lh_cpu_conv_block_pool(j->ps, yc + q * out_sz, j->p + (i + q) * pout,
                                   j->argmax + (i + q) * pout, s->k);
    }
}

static size_t uplane_floats(const lh_conv_shape *s)
{
    return ((size_t)XI * s->k * s->c + 15) / 16 * 16;
}

static int run_forward(lh_backend_ctx *ctx, wino_job *j)
{
    const lh_conv_shape *s = j->s;
    const wgeo g = forward_geo(s);
    j->chunk = chunk_images(s);
    size_t ws = wino_chunk_floats(&g, j->chunk);
    if (j->ps)
        ws += (size_t)j->chunk * s->k * s->oh * s->ow;
    int rc = lh_cpu_reserve(ctx, ws, uplane_floats(s));
    if (rc)
        return rc;
    j->u = ctx->shared;
    lh_cpu_pool_run(ctx->pool, filter_task, j);
    lh_cpu_pool_run(ctx->pool, forward_task, j);
    return LH_BACKEND_OK;
}

int lh_cpu_wino_conv2d_forward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                               const lh_dmem *w, const lh_dmem *b, lh_dmem *y)
{
    int rc = lh_cpu_conv_check(ctx, s);
    if (rc)
        return rc;
    wino_job j = {.ctx = ctx, .s = s, .x = CF(x), .w = CF(w), .b = CF(b), .y = F(y)};
    return run_forward(ctx, &j);
}

int lh_cpu_wino_conv2d_relu_maxpool_forward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                            const lh_pool_shape *ps, const lh_dmem *x,
                                            const lh_dmem *w, const lh_dmem *b, lh_dmem *p,
                                            lh_dmem *argmax)
{
    int rc = lh_cpu_conv_block_check(ctx, s, ps);
    if (rc)
        return rc;
    wino_job j = {.ctx = ctx, .s = s, .ps = ps, .x = CF(x), .w = CF(w), .b = CF(b), .p = F(p),
                  .argmax = (int32_t *)argmax};
    return run_forward(ctx, &j);
}

/* ---- backward ----------------------------------------------------------------------------- */

/* Per thread: the chunk's dy (fused: rebuilt from dp) and masked dp, then the larger of
 * backward-w's (V of x, Z of dy) and backward-x's (wino_chunk) workspaces. */
static size_t backward_floats(const lh_conv_shape *s, const lh_pool_shape *ps, int64_t chunk,
                              int with_dx)
{
    const wgeo g = forward_geo(s), gd = data_geo(s);
    size_t n = 0;
    if (ps)
        n += (size_t)chunk * s->k * s->oh * s->ow + (size_t)s->k * ps->oh * ps->ow;
    size_t wgrad = (size_t)(XI * (s->c + s->k) * chunk * geo_tiles(&g) + stage_floats(&g) +
                            2 * padded_floats(&g));
    size_t xgrad = with_dx ? wino_chunk_floats(&gd, chunk) : 0;
    return n + (wgrad > xgrad ? wgrad : xgrad);
}

static void backward_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const lh_conv_shape *s = j->s;
    const wgeo g = forward_geo(s), gd = data_geo(s);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, plane = (int64_t)s->oh * s->ow;
    const int64_t out_sz = s->k * plane, tpi = geo_tiles(&g);
    const int64_t pout = j->ps ? (int64_t)s->k * j->ps->oh * j->ps->ow : 0;
    const int64_t kc = (int64_t)s->k * s->c;
    const int cols = 2 * g.tw + 2;
    float *dybuf = j->ctx->scratch[tid], *dpm = dybuf + (j->ps ? j->chunk * out_sz : 0);
    float *ws = dpm + pout;
    float *part = j->parts + (size_t)tid * j->part_stride, *dbp = part + XI * kc;
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    if (lo == hi) {
        memset(part, 0, sizeof(float) * (size_t)(XI * kc + s->k));
        return;
    }
    for (int64_t i = lo; i < hi; i += j->chunk) {
        const int64_t n = hi - i < j->chunk ? hi - i : j->chunk, t = n * tpi;
        const float *dyc = j->ps ? dybuf : j->dy + i * out_sz;
        for (int64_t q = 0; j->ps && q < n; q++)
            lh_cpu_conv_block_dy(j->ps, j->dp + (i + q) * pout, j->cp + (i + q) * pout,
                                 j->cargmax + (i + q) * pout, dpm, dybuf + q * out_sz, s->k);
        for (int64_t q = 0; q < n; q++)
            lh_cpu_conv_row_sums(dbp, dyc + q * out_sz, s->k, plane, i + q == lo);
        /* backward-w: V of x and Z of dy over the forward's tiles */
        const int64_t vs = s->c * t, zs = s->k * t;
        float *v = ws, *z = v + XI * vs, *st = z + XI * zs, *plx = st + stage_floats(&g);
        float *pld = plx + padded_floats(&g); /* x's and dy's zero-bordered planes */
        memset(plx, 0, sizeof(float) * 2 * padded_floats(&g));
        for (int64_t q = 0; q < n; q++) {
            for (int c = 0; c < s->c; c++) {
                pad_plane(j->x + (i + q) * in_sz + c * s->h * s->w, s->h, s->w, s->pad, cols,
                          plx);
                stage_plane(plx, cols, g.th + 1, g.tw, 4, phase_floats(&g), st);
                input_tiles(&g, st, v + c * t + q * tpi, vs);
            }
            for (int k = 0; k < s->k; k++) {
                pad_plane(dyc + q * out_sz + k * plane, s->oh, s->ow, 0, cols, pld);
                stage_plane(pld, cols, g.th, g.tw, 2, tpi, st);
                grad_tiles(&g, st, z + k * t + q * tpi, zs);
            }
        }
        for (int xi = 0; xi < XI; xi++)
            lh_cpu_sgemm(0, 1, s->k, s->c, t, 1.0f, z + xi * zs, t, v + xi * vs, t,
                         i == lo ? 0.0f : 1.0f, part + xi * kc, s->c);
        if (j->dx)
            wino_chunk(&gd, n, dyc, j->u, NULL, j->dx + i * in_sz, ws);
    }
}

/* dsum = the threads' D in thread order, then dw = G^T D G, for this thread's k; db. */
static void reduce_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const int64_t K = j->s->k, C = j->s->c, kc = K * C;
    int64_t lo, hi;
    lh_cpu_split(K, tid, nt, &lo, &hi);
    for (int xi = 0; xi < XI; xi++)
        lh_cpu_sum_parts(j->dsum, j->parts, nt, j->part_stride, xi * kc + lo * C,
                         xi * kc + hi * C);
    if (tid == 0 && j->db)
        lh_cpu_sum_parts(j->db, j->parts + XI * kc, nt, j->part_stride, 0, K);
    for (int64_t k = lo; k < hi; k++)
        for (int64_t c = 0; c < C; c++) {
            const float *d = j->dsum + k * C + c;
            float t[3][4];
            for (int b = 0; b < 4; b++) { /* G^T D */
                float d0 = d[b * kc], d1 = d[(4 + b) * kc], d2 = d[(8 + b) * kc];
                float d3 = d[(12 + b) * kc];
                t[0][b] = d0 + 0.5f * (d1 + d2), t[1][b] = 0.5f * (d1 - d2);
                t[2][b] = 0.5f * (d1 + d2) + d3;
            }
            float *dw = j->dw + (k * C + c) * 9;
            for (int a = 0; a < 3; a++) { /* (G^T D) G */
                dw[3 * a + 0] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                dw[3 * a + 1] = 0.5f * (t[a][1] - t[a][2]);
                dw[3 * a + 2] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
}

static int run_backward(lh_backend_ctx *ctx, wino_job *j)
{
    const lh_conv_shape *s = j->s;
    const size_t uf = uplane_floats(s);
    j->chunk = chunk_images(s);
    j->part_stride = ((size_t)XI * s->k * s->c + s->k + 15) / 16 * 16;
    int rc = lh_cpu_reserve(ctx, backward_floats(s, j->ps, j->chunk, j->dx != NULL),
                            2 * uf + j->part_stride * ctx->nthreads);
    if (rc)
        return rc;
    j->u = ctx->shared, j->dsum = j->u + uf, j->parts = j->dsum + uf, j->rotate = 1;
    if (j->dx)
        lh_cpu_pool_run(ctx->pool, filter_task, j);
    lh_cpu_pool_run(ctx->pool, backward_task, j);
    lh_cpu_pool_run(ctx->pool, reduce_task, j);
    return LH_BACKEND_OK;
}

int lh_cpu_wino_conv2d_backward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                                const lh_dmem *w, const lh_dmem *dy, lh_dmem *dx, lh_dmem *dw,
                                lh_dmem *db)
{
    int rc = lh_cpu_conv_check(ctx, s);
    if (rc)
        return rc;
    wino_job j = {.ctx = ctx, .s = s, .x = CF(x), .w = CF(w), .dy = CF(dy), .dx = F(dx),
                  .dw = F(dw), .db = F(db)};
    return run_backward(ctx, &j);
}

int lh_cpu_wino_conv2d_relu_maxpool_backward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                             const lh_pool_shape *ps, const lh_dmem *x,
                                             const lh_dmem *w, const lh_dmem *p,
                                             const lh_dmem *argmax, const lh_dmem *dp,
                                             lh_dmem *dx, lh_dmem *dw, lh_dmem *db)
{
    int rc = lh_cpu_conv_block_check(ctx, s, ps);
    if (rc)
        return rc;
    wino_job j = {.ctx = ctx, .s = s, .ps = ps, .x = CF(x), .w = CF(w), .cp = CF(p),
                  .cargmax = (const int32_t *)argmax, .dp = CF(dp), .dx = F(dx), .dw = F(dw),
                  .db = F(db)};
    return run_backward(ctx, &j);
}
