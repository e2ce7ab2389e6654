/* kernels/cpu/conv_wino.c — lhost's own Winograd conv2d, F(2x2, 3x3) and F(4x4, 3x3), for
 * CPUs where oneDNN has no Winograd kernel (its convolution_winograd is AVX-512 only): 3x3,
 * stride 1, pad 0 to 2, any H, W (partial tiles read zeros and drop what falls outside the
 * output).
 *
 * An m x m output tile (m = 2 or 4) is read from an (m + 2)^2 input tile (tiles overlap by 2);
 * xi = 0 .. (m + 2)^2 - 1 numbers the elements of a transformed tile (16 or 36). F(2x2):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1];
 * F(4x4), points 0, +-1, +-2 (Lavin and Gray):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1],
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 *   forward     U = G g G^T per (k, c); V = B^T d B per (c, tile);
 *               M(xi) (K, T) = U(xi) (K, C) . V(xi) (C, T); y = A^T M A + b per tile
 *   backward-x  the same on dy padded by 2 - pad, with the filter rotated by 180 degrees and
 *               (k, c) transposed: dx is the full correlation of dy with it
 *   backward-w  over the forward's tiles: Z = A dY A^T per (k, tile); D(xi) (K, C) = sum over
 *               tiles Z(xi) . V(xi)^T; dw = G^T D G per (k, c); db = row sums of dy
 * Multiplications per output: 4 under F(2x2), 2.25 under F(4x4), against the direct
 * convolution's 9; each GEMM one lh_cpu_sgemm call over a chunk of the thread's images (with one
 * input channel, conv1's case, the products are formed per output channel in cache instead).
 * The transforms are plain loops over a chunk's tiles that the compiler vectorises
 * (LH_CPU_CLONES: AVX-512, AVX2 or baseline, picked at load time).
 *
 * Which tile: the forward's correlation and backward-w (both over the output oh x ow) and
 * backward-x's (output h x w) each take F(4x4) where its products, 36 ceil(h / 4) ceil(w / 4),
 * are at most 0.8 of F(2x2)'s, 16 ceil(h / 2) ceil(w / 2), else F(2x2): F(4x4)'s transforms
 * cost more per tile, so it wins only where it saves GEMM work (its partial tiles counted
 * whole). Backward-w with one input channel keeps F(2x2): its GEMMs are then matrix-vector
 * products and the transforms of dy, dearer under F(4x4), are most of its time. So conv2
 * (64 -> 128, 14x14: 576 products to 784) runs F(4x4) throughout, conv1 (1 -> 64, 28x28: 1764
 * to 3136) its forward (dx is not asked there). Measured with bench_conv's wino-f4 / wino-f2
 * rows (the fused block, batch 64, 30 interleaved reps, min ms, F(4x4) / F(2x2), all three
 * parts forced; AVX2 EPYC, two cores, with two other training processes running beside, so
 * the figures swing, the two-thread ones most; four runs):
 *   conv2 forward   1 thread 0.87, 0.81, 0.88, 0.84 (12.6 / 15.4 ms)   2 threads 0.94 to 1.08
 *   conv2 backward  1 thread 0.92, 0.84, 0.86, 0.88 (30.0 / 35.8 ms)   2 threads 0.89 to 0.98
 *   conv1 forward   1 thread 0.85, 0.97, 0.90, 1.11 (3.6 / 4.2 ms)     2 threads 0.83 to 0.98
 *   conv1 backward  1 thread 1.06, 1.31, 1.06, 1.06 (6.8 / 6.4 ms)     2 threads 0.89 to 1.20
 * A 5x5 output (144 products either way) and a 1x2 one keep F(2x2) (test_conv_algorithms).
 * F(4x4) rounds worse (its transforms multiply by up to 8 and divide by 6 and 24): within
 * 4e-6 of GEMM, max |diff| / max |GEMM| over a tensor, on test_conv_algorithms' shapes, against
 * 6e-7 under F(2x2); U, and dw from D, are computed in double and rounded once.
 *
 * Threads split the batch as conv.c does (a contiguous slice each, in chunks of whole images
 * so the transformed tiles of a chunk stay in cache); the transformed filter is computed once
 * per call into ctx->shared by all threads, and backward-weights sums each thread's D and db in
 * thread order before the (m + 2)^2 -> 3x3 transform, so results depend only on the thread
 * count.
 * The fused block keeps conv.c's structure and contract: the conv output of a chunk is pooled
 * while in cache and never stored (under 2x2 stride-2 pooling the windows split the output
 * tiles exactly, one per 2x2 tile and four per 4x4 tile, pooled straight from the tile's
 * outputs, the same bytes as conv2d_forward's); backward rebuilds dy from dp. */
#include <string.h>

#include "kernels/cpu/cpu.h"

/* Elements of a transformed tile: 16 under F(2x2), 36 under F(4x4). */
enum { XI_MAX = 36 };

/* The tile loops store 16 or 36 planes a runtime stride apart, which GCC cannot prove
 * disjoint. */
#if defined(__GNUC__) && !defined(__clang__)
#define LH_IVDEP _Pragma("GCC ivdep")
#else
#define LH_IVDEP
#endif

/* A chunk holds at least this many tiles (whole images), so each GEMM has a wide N: conv2's
 * 14x14 output gets 4 images under F(2x2) (49 tiles each: ~0.8 + 1.6 MB of V and M), 12 under
 * F(4x4) (16 tiles each: ~1.8 + 3.5 MB). Backward runs backward-w's chunks (of its tile)
 * within the larger chunks of backward-x's where their tiles differ. */
enum { CHUNK_TILES = 192 };

int lh_cpu_wino_fits(const lh_conv_shape *s)
{
    return s->r == 3 && s->s == 3 && s->stride == 1 && s->pad >= 0 && s->pad <= 2;
}

/* One Winograd correlation: cin planes (hin, win), zero-padded by q, into cout planes
 * (hout, wout) = (hin + 2q - 2, win + 2q - 2), covered by th x tw tiles of m x m (m = 2 or 4,
 * read from (m + 2) x (m + 2) input tiles), numbered t = ty * tw + x within an image. The
 * transforms run over all tiles of one channel of a chunk's images in one loop (the tiles of
 * one plane are too few to fill vectors well: 16 on conv2 under F(4x4)): the planes are first
 * staged, element (a, b) of every tile in a phase of its own holding it at i tpi + t (image i,
 * tiles per image tpi), so every load is contiguous in the run. */
typedef struct wgeo {
    int cin, cout, hin, win, q, m;
    int hout, wout, th, tw;
} wgeo;

static wgeo make_geo(int cin, int cout, int hin, int win, int q, int m)
{
    wgeo g = {.cin = cin, .cout = cout, .hin = hin, .win = win, .q = q, .m = m};
    g.hout = hin + 2 * q - 2, g.wout = win + 2 * q - 2;
    g.th = (g.hout + m - 1) / m, g.tw = (g.wout + m - 1) / m;
    return g;
}

static int64_t geo_tiles(const wgeo *g) { return (int64_t)g->th * g->tw; }
/* Elements of a transformed tile. */
static int geo_xi(const wgeo *g) { return (g->m + 2) * (g->m + 2); }
/* Floats of the staging of n images' planes: geo_xi phases of n tpi. */
static int64_t stage_floats(const wgeo *g, int64_t n) { return geo_xi(g) * n * geo_tiles(g); }

/* Columns and floats of a zero-bordered copy of a plane: (m th + 2, m tw + 2) covers every
 * tile. */
static int padded_cols(const wgeo *g) { return g->m * g->tw + 2; }
static int64_t padded_floats(const wgeo *g)
{
    return (int64_t)(g->m * g->th + 2) * padded_cols(g);
}

/* pl (., cols) = x (h, w) at row and column q. Only the interior is written, so the border a
 * caller zeroed once stays zero for every plane of one geometry. */
static void pad_plane(const float *x, int h, int w, int q, int cols, float *pl)
{
    for (int r = 0; r < h; r++)
        memcpy(pl + (int64_t)(r + q) * cols + q, x + (int64_t)r * w, sizeof(float) * w);
}

/* st[(a * na + b) * len + R * tw + x] = pl (., cols) at (m R + a, m x + b), for R < th,
 * x < tw, a, b < na; len = phase length. Inline with m and na constant, so the strided loads
 * vectorise: columns b < m are an interleaved group of m per x, and b >= m are column b - m
 * one tile further on. */
static inline void stage_rows(const float *pl, int cols, int m, int na, int th, int tw,
                              int64_t len, float *restrict st)
{
    for (int a = 0; a < na; a++)
        for (int r = 0; r < th; r++) {
            const float *src = pl + (int64_t)(m * r + a) * cols;
            float *restrict dst = st + a * na * len + (int64_t)r * tw;
            for (int c = 0; c < tw; c++)
                for (int b = 0; b < m; b++)
                    dst[b * len + c] = src[m * c + b];
            for (int b = m; b < na; b++) { /* a loop, not memcpy: runs are a few floats */
                for (int c = 0; c + 1 < tw; c++)
                    dst[b * len + c] = dst[(b - m) * len + c + 1];
                dst[b * len + tw - 1] = src[m * tw + b - m];
            }
        }
}

/* The staging of one plane: input tiles (na = m + 2) or gradient tiles (na = m). */
LH_CPU_CLONES
static void stage_plane(const float *pl, const wgeo *g, int na, int64_t len, float *restrict st)
{
    const int cols = padded_cols(g);
    if (g->m == 4 && na == 6)
        stage_rows(pl, cols, 4, 6, g->th, g->tw, len, st);
    else if (g->m == 4)
        stage_rows(pl, cols, 4, 4, g->th, g->tw, len, st);
    else if (na == 4)
        stage_rows(pl, cols, 2, 4, g->th, g->tw, len, st);
    else
        stage_rows(pl, cols, 2, 2, g->th, g->tw, len, st);
}

/* V = B^T d B under F(2x2) for the n tiles of a staging (phases n apart): v[xi * xs + t]. */
LH_CPU_CLONES
static void input_tiles2(const float *st, int64_t n, float *restrict v, int64_t xs)
{
    const float *e[4][4]; /* element (a, b) of tile 0 */
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            e[a][b] = st + (a * 4 + b) * n;
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

/* y = B^T x for F(4x4)'s B^T, rows [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
 * 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]. */
static inline void bt6(const float x[6], float y[6])
{
    y[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];
    y[1] = (x[3] + x[4]) - 4.0f * (x[1] + x[2]);
    y[2] = (x[4] - x[3]) + 4.0f * (x[1] - x[2]);
    y[3] = (x[4] - x[2]) + 2.0f * (x[3] - x[1]);
    y[4] = (x[4] - x[2]) - 2.0f * (x[3] - x[1]);
    y[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
}

/* V = B^T d B under F(4x4) for the n tiles of a staging: v[xi * xs + t]. In two passes, the
 * first in place in st, so each loop keeps 12 streams (36 at once spill the registers). */
LH_CPU_CLONES
static void input_tiles4(float *st, int64_t n, float *restrict v, int64_t xs)
{
    for (int b = 0; b < 6; b++) { /* B^T d: combine rows of column b */
        float *restrict e = st + b * n; /* element (a, b) at e + 6 a n */
        LH_IVDEP /* each element is read, then written, at its own place */
        for (int64_t t = 0; t < n; t++) {
            float x[6], y[6];
            for (int a = 0; a < 6; a++)
                x[a] = e[6 * a * n + t];
            bt6(x, y);
            for (int a = 0; a < 6; a++)
                e[6 * a * n + t] = y[a];
        }
    }
    for (int a = 0; a < 6; a++) { /* (B^T d) B: combine columns of row a */
        const float *r = st + 6 * a * n;
        float *restrict o = v + 6 * a * xs;
        LH_IVDEP /* the planes of v are xs apart and never overlap */
        for (int64_t t = 0; t < n; t++) {
            float x[6], y[6];
            for (int b = 0; b < 6; b++)
                x[b] = r[b * n + t];
            bt6(x, y);
            for (int b = 0; b < 6; b++)
                o[b * xs + t] = y[b];
        }
    }
}

static void input_tiles(const wgeo *g, float *st, int64_t n, float *v, int64_t xs)
{
    if (g->m == 4)
        input_tiles4(st, n, v, xs);
    else
        input_tiles2(st, n, v, xs);
}

/* q = the four outputs (row-major) A^T M A + bias of tile t (m[xi * xs + t]) under F(2x2). */
static inline void tile_outputs2(const float *m, int64_t xs, int64_t t, float bias, float q[4])
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

/* y = A^T x for F(4x4)'s A^T, rows [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
 * 0 1 -1 8 -8 1]: its factors are powers of 2, so every product is exact and the outputs do
 * not depend on how a compiler fuses them. */
static inline void at6(const float x[6], float y[4])
{
    const float s12 = x[1] + x[2], d12 = x[1] - x[2], s34 = x[3] + x[4], d34 = x[3] - x[4];
    y[0] = x[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + x[5];
}

/* Under F(4x4), for the n tiles of a run (m's planes xs apart): s[(6 a + b) n + t] =
 * (A^T M)(a, b) of tile t, a < 4. The column pass follows in outputs4_row: two passes of 10
 * and 6 streams, where one would keep 36 and spill the registers. */
LH_CPU_CLONES
static void outputs4_rows(const float *m, int64_t xs, int64_t n, float *restrict s)
{
    for (int b = 0; b < 6; b++) {
        const float *e = m + b * xs; /* element (a, b) at e + 6 a xs */
        LH_IVDEP /* s is apart from m */
        for (int64_t t = 0; t < n; t++) {
            float x[6], y[4];
            for (int a = 0; a < 6; a++)
                x[a] = e[6 * a * xs + t];
            at6(x, y);
            for (int a = 0; a < 4; a++)
                s[(6 * a + b) * n + t] = y[a];
        }
    }
}

/* q = outputs (a, 0..3) + bias of tile t, from outputs4_rows' s. */
static inline void outputs4_row(const float *s, int64_t n, int64_t t, int a, float bias,
                                float q[4])
{
    float x[6];
    for (int b = 0; b < 6; b++)
        x[b] = s[(6 * a + b) * n + t];
    at6(x, q);
    for (int b = 0; b < 4; b++)
        q[b] += bias;
}

/* tmp (m^2 planes of n) = A^T M A + bias of the n tiles of a run (m[xi * xs + t]); F(4x4)
 * needs 24 more planes of tmp for its row pass. */
static inline void run_outputs(int tm, const float *m, int64_t xs, int64_t n, float bias,
                               float *restrict tmp)
{
    if (tm == 4) {
        float *s = tmp + 16 * n;
        outputs4_rows(m, xs, n, s);
        for (int a = 0; a < 4; a++) {
            LH_IVDEP /* tmp's planes and s are apart */
            for (int64_t t = 0; t < n; t++) {
                float q[4];
                outputs4_row(s, n, t, a, bias, q);
                for (int b = 0; b < 4; b++)
                    tmp[(4 * a + b) * n + t] = q[b];
            }
        }
    } else {
        LH_IVDEP
        for (int64_t t = 0; t < n; t++) {
            float q[4];
            tile_outputs2(m, xs, t, bias, q);
            for (int i = 0; i < 4; i++)
                tmp[i * n + t] = q[i];
        }
    }
}

/* row[c] = src[(c % m) * n + c / m] for c < w: one output row from the m planes of its tile
 * row's outputs. Inline with m constant, so the interleaving stores vectorise. */
static inline void row_out(float *restrict row, const float *src, int64_t n, int m, int w)
{
    const int full = w / m;
    for (int x = 0; x < full; x++)
        for (int cc = 0; cc < m; cc++)
            row[m * x + cc] = src[cc * n + x];
    for (int c = full * m; c < w; c++)
        row[c] = src[(c - full * m) * n + full];
}

/* y (hout, wout) of images 0..ni-1 (planes ys apart) = A^T M A + bias for the tiles of one
 * output channel of a chunk (m[xi * xs + i tpi + t]); tmp holds m^2 floats per tile (each
 * tile's outputs, interleaved into y's rows after). */
LH_CPU_CLONES
static void output_tiles(const wgeo *g, const float *m, int64_t xs, int64_t ni, float bias,
                         float *y, int64_t ys, float *restrict tmp)
{
    const int64_t tpi = geo_tiles(g), n = ni * tpi;
    const int tm = g->m, sh = tm == 4 ? 2 : 1;
    run_outputs(tm, m, xs, n, bias, tmp);
    for (int64_t i = 0; i < ni; i++)
        for (int r = 0; r < g->hout; r++) { /* output (r, c): plane (r % m, c % m), tile t */
            const float *src = tmp + (r & (tm - 1)) * tm * n + i * tpi + (r >> sh) * g->tw;
            float *row = y + i * ys + (int64_t)r * g->wout;
            if (tm == 4)
                row_out(row, src, n, 4, g->wout);
            else
                row_out(row, src, n, 2, g->wout);
        }
}

/* pr[c], ar[c] for c < ow: one row of pooled windows from the wpt planes of its tile row's
 * windows (values v, which-of-four k); i0: the flat index of the row's first conv output, w
 * the conv output's width. Inline with wpt constant. */
static inline void row_pool(float *restrict pr, int32_t *restrict ar, const float *v,
                            const int32_t *k, int64_t n, int wpt, int ow, int32_t i0, int w)
{
    const int full = ow / wpt;
    for (int x = 0; x < full; x++)
        for (int wc = 0; wc < wpt; wc++) {
            const int c = wpt * x + wc;
            const int32_t kk = k[wc * n + x];
            pr[c] = v[wc * n + x];
            ar[c] = i0 + 2 * c + (kk & 1) + ((kk & 2) ? w : 0);
        }
    for (int c = full * wpt; c < ow; c++) {
        const int32_t kk = k[(c - full * wpt) * n + full];
        pr[c] = v[(c - full * wpt) * n + full];
        ar[c] = i0 + 2 * c + (kk & 1) + ((kk & 2) ? w : 0);
    }
}

/* The fused block under 2x2 stride-2 pooling: the pooling windows split the output tiles
 * exactly (tiles start at (0, 0)): a 2x2 tile is one window, a 4x4 tile four. So p (oh, ow) =
 * relu(max of the window) and its argmax come straight from M, and the conv output is never
 * stored. Same rules as lh_cpu_conv_block_pool. As output_tiles, for images 0..ni-1 of one
 * channel (p and am planes pst apart); tmp: 2 floats a window, F(4x4) 24 more a tile. */
LH_CPU_CLONES
static void pool_tiles(const wgeo *g, const lh_pool_shape *ps, const float *m, int64_t xs,
                       int64_t ni, float bias, float *p, int32_t *am, int64_t pst,
                       float *restrict tmp)
{
    const int wpt = g->m / 2; /* windows per tile side */
    const int64_t tpi = geo_tiles(g), n = ni * tpi;
    float *restrict pv = tmp; /* window (wr, wc) of tile t at (wr wpt + wc) n + t */
    int32_t *restrict pk = (int32_t *)(tmp + wpt * wpt * n); /* which of the four: 0 1 / 2 3 */
    if (g->m == 4) {
        float *s = tmp + 8 * n;
        outputs4_rows(m, xs, n, s);
        for (int wr = 0; wr < 2; wr++) {
            LH_IVDEP /* pv, pk and s are apart */
            for (int64_t t = 0; t < n; t++) {
                float q0[4], q1[4]; /* output rows 2 wr, 2 wr + 1 of the tile */
                outputs4_row(s, n, t, 2 * wr, bias, q0);
                outputs4_row(s, n, t, 2 * wr + 1, bias, q1);
                for (int wc = 0; wc < 2; wc++) {
                    const int wi = 2 * wr + wc;
                    float v = lh_cpu_pool2x2(q0[2 * wc], q0[2 * wc + 1], q1[2 * wc],
                                             q1[2 * wc + 1], 0, 2, &pk[wi * n + t]);
                    pv[wi * n + t] = v > 0.0f || v != v ? v : 0.0f; /* relu_forward's rule */
                }
            }
        }
    } else {
        LH_IVDEP
        for (int64_t t = 0; t < n; t++) {
            float q[4];
            tile_outputs2(m, xs, t, bias, q);
            float v = lh_cpu_pool2x2(q[0], q[1], q[2], q[3], 0, 2, &pk[t]);
            pv[t] = v > 0.0f || v != v ? v : 0.0f;
        }
    }
    const int ow = ps->ow, w = g->wout;
    for (int64_t i = 0; i < ni; i++)
        for (int r = 0; r < ps->oh; r++) { /* window (r, c): plane (r % wpt, c % wpt) */
            const int64_t at = (r & (wpt - 1)) * wpt * n + i * tpi + (r >> (wpt - 1)) * g->tw;
            float *pr = p + i * pst + (int64_t)r * ow;
            int32_t *ar = am + i * pst + (int64_t)r * ow, i0 = 2 * r * w;
            if (wpt == 2)
                row_pool(pr, ar, pv + at, pk + at, n, 2, ow, i0, w);
            else
                row_pool(pr, ar, pv + at, pk + at, n, 1, ow, i0, w);
        }
}

/* Z = A dY A^T under F(2x2) for the n tiles of a staged gradient (2 row and 2 column phases,
 * n apart, zero outside dy): z[xi * xs + t]. */
LH_CPU_CLONES
static void grad_tiles(const float *st, int64_t n, float *restrict z, int64_t xs)
{
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

/* y = A x for F(4x4)'s A (A^T's transpose, 6x4). */
static inline void a6(const float x[4], float y[6])
{
    const float s02 = x[0] + x[2], s13 = x[1] + x[3];
    const float q02 = x[0] + 4.0f * x[2], q13 = 2.0f * x[1] + 8.0f * x[3];
    y[0] = x[0], y[1] = s02 + s13, y[2] = s02 - s13;
    y[3] = q02 + q13, y[4] = q02 - q13, y[5] = x[3];
}

/* Z = A dY A^T under F(4x4) for the n tiles of a staged gradient (4 row and 4 column phases, n
 * apart): z[xi * xs + t]. In two passes through s (24 planes of n), as input_tiles4. */
LH_CPU_CLONES
static void grad_tiles4(const float *st, int64_t n, float *restrict z, int64_t xs,
                        float *restrict s)
{
    for (int b = 0; b < 4; b++) { /* A dY: column b, into s[(4 a + b) n + t], a < 6 */
        const float *e = st + b * n; /* element (a, b) at e + 4 a n */
        LH_IVDEP /* s is apart from st */
        for (int64_t t = 0; t < n; t++) {
            float x[4], y[6];
            for (int a = 0; a < 4; a++)
                x[a] = e[4 * a * n + t];
            a6(x, y);
            for (int a = 0; a < 6; a++)
                s[(4 * a + b) * n + t] = y[a];
        }
    }
    for (int a = 0; a < 6; a++) { /* (A dY) A^T: row a */
        const float *r = s + 4 * a * n;
        float *restrict o = z + 6 * a * xs;
        LH_IVDEP /* the planes of z are xs apart and never overlap */
        for (int64_t t = 0; t < n; t++) {
            float x[4], y[6];
            for (int b = 0; b < 4; b++)
                x[b] = r[b * n + t];
            a6(x, y);
            for (int b = 0; b < 6; b++)
                o[b * xs + t] = y[b];
        }
    }
}

/* ---- the transformed filter, in ctx->shared ---------------------------------------------- */

typedef struct wino_job {
    lh_backend_ctx *ctx;
    lh_cpu_conv_io io;       /* the op's tensors (io.ps: the fused block) */
    float *u;                /* transformed filter ((m + 2)^2, rows, cols) */
    int m;                   /* the output tile of u's correlation: 2 or 4 */
    int wm;                  /* backward-w's tile */
    int rotate;              /* 1: u for backward-x (rotated, (k, c) transposed) */
    float *dsum;             /* backward-w: D summed over threads ((wm + 2)^2, K, C) */
    size_t part_stride;      /* floats between threads' partials (D then db) in ctx->shared */
    float *parts;
    int64_t chunk;           /* images per chunk */
    int64_t wchunk;          /* backward: images per backward-w chunk, within a chunk */
} wino_job;

/* u (16 planes kc apart) = G g G^T of one 3x3 filter r under F(2x2). */
static void filter2(const float r[9], float *u, int64_t kc)
{
    float t[4][3];
    for (int b = 0; b < 3; b++) { /* G g */
        float g0 = r[b], g1 = r[3 + b], g2 = r[6 + b];
        t[0][b] = g0, t[1][b] = 0.5f * (g0 + g1 + g2);
        t[2][b] = 0.5f * (g0 - g1 + g2), t[3][b] = g2;
    }
    for (int a = 0; a < 4; a++) { /* (G g) G^T */
        u[(4 * a + 0) * kc] = t[a][0];
        u[(4 * a + 1) * kc] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
        u[(4 * a + 2) * kc] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
        u[(4 * a + 3) * kc] = t[a][2];
    }
}

/* y = G x for F(4x4)'s G, rows [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 * 1/24 -1/12 1/6; 0 0 1]; x: 3 values xs apart, y: 6 values ys apart. */
static void g6(const double *x, int xs, double *y, int ys)
{
    const double x0 = x[0], x1 = x[xs], x2 = x[2 * xs], sixth = 1.0 / 6.0;
    const double e = x0 / 4 + x2, o = x1 / 2; /* rows 3 and 4 are (e + o) / 6, (e - o) / 6 */
    y[0] = x0 / 4;
    y[ys] = -(x0 + x1 + x2) * sixth, y[2 * ys] = -(x0 - x1 + x2) * sixth;
    y[3 * ys] = (e + o) * sixth, y[4 * ys] = (e - o) * sixth;
    y[5 * ys] = x2;
}

/* u (36 planes kc apart) = G g G^T of one 3x3 filter r under F(4x4), in double and rounded
 * once: the thirds and sixths are inexact in float. */
static void filter4(const float r[9], float *u, int64_t kc)
{
    double g[9], t[6][3], o[6][6];
    for (int i = 0; i < 9; i++)
        g[i] = r[i];
    for (int b = 0; b < 3; b++) /* G g */
        g6(&g[b], 3, &t[0][b], 3);
    for (int a = 0; a < 6; a++) /* (G g) G^T */
        g6(t[a], 1, o[a], 1);
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            u[(6 * a + b) * kc] = (float)o[a][b];
}

/* u(xi)[k][c] = (G g G^T)(xi) for k in this thread's range; rotate: u(xi)[c][k] of g
 * rotated by 180 degrees, for c in this thread's range. Each thread writes runs of FB along a
 * row of u per plane, through a local block (one filter's planes are pages apart). */
static void filter_task(void *arg, int tid, int nt)
{
    enum { FB = 16 };
    wino_job *j = arg;
    const int64_t K = j->io.s->k, C = j->io.s->c, kc = K * C;
    const int64_t rows = j->rotate ? C : K, cols = j->rotate ? K : C;
    const int xin = (j->m + 2) * (j->m + 2);
    float blk[XI_MAX * FB];
    int64_t lo, hi;
    lh_cpu_split(rows, tid, nt, &lo, &hi);
    for (int64_t r = lo; r < hi; r++)
        for (int64_t q0 = 0; q0 < cols; q0 += FB) {
            const int64_t nb = cols - q0 < FB ? cols - q0 : FB;
            for (int64_t q = 0; q < nb; q++) {
                const int64_t k = j->rotate ? q0 + q : r, c = j->rotate ? r : q0 + q;
                const float *g = j->io.w + (k * C + c) * 9;
                float f[9];
                for (int i = 0; i < 9; i++)
                    f[i] = j->rotate ? g[8 - i] : g[i];
                if (j->m == 4)
                    filter4(f, blk + q, FB);
                else
                    filter2(f, blk + q, FB);
            }
            for (int xi = 0; xi < xin; xi++)
                memcpy(j->u + xi * kc + r * cols + q0, blk + xi * FB, sizeof(float) * nb);
        }
}

/* ---- one chunk of images through one correlation ----------------------------------------- */

/* out (n, cout, hout, wout) = the correlation g of in (n, cin, hin, win) with the transformed
 * filter u ((m + 2)^2, cout, cin), + bias (may be NULL). ws: wino_chunk_floats(g, n): V, M,
 * the staging of n planes (then output_tiles' and pool_tiles' tmp, the larger of the two) and
 * one padded plane. */
static int64_t tmp_floats(const wgeo *g, int64_t n)
{
    const int64_t out = (g->m == 4 ? 16 + 24 : 4) * n * geo_tiles(g);
    return out > stage_floats(g, n) ? out : stage_floats(g, n);
}

static size_t wino_chunk_floats(const wgeo *g, int64_t n)
{
    return (size_t)(geo_xi(g) * (g->cin + g->cout) * n * geo_tiles(g) + tmp_floats(g, n) +
                    padded_floats(g));
}

/* The staging of a chunk's workspace, and the tmp of the transforms out of M after it. */
static float *chunk_stage(const wgeo *g, int64_t n, float *ws)
{
    return ws + geo_xi(g) * (g->cin + g->cout) * n * geo_tiles(g);
}

/* V of a chunk (the start of ws) and, with more than one input channel, its (m + 2)^2 products
 * M(xi) (cout, n tiles; after V, xi planes cout * n * tiles apart) for the correlation g of in
 * with u; ws: wino_chunk_floats(g, n). channel_products then gives M per output channel. */
static void wino_products(const wgeo *g, int64_t n, const float *in, const float *u,
                          float *ws)
{
    const int64_t tpi = geo_tiles(g), t = n * tpi;
    const int64_t vs = g->cin * t, ms = g->cout * t; /* distance between xi planes */
    const int xin = geo_xi(g);
    float *v = ws, *m = v + xin * vs, *st = chunk_stage(g, n, ws);
    float *pl = st + tmp_floats(g, n);
    memset(pl, 0, sizeof(float) * padded_floats(g));
    for (int c = 0; c < g->cin; c++) {
        for (int64_t i = 0; i < n; i++) {
            pad_plane(in + (i * g->cin + c) * g->hin * g->win, g->hin, g->win, g->q,
                      padded_cols(g), pl);
            stage_plane(pl, g, g->m + 2, t, st + i * tpi);
        }
        input_tiles(g, st, t, v + c * t, vs);
    }
    for (int xi = 0; g->cin > 1 && xi < xin; xi++) /* one channel: channel_products */
        lh_cpu_sgemm(0, 0, g->cout, t, g->cin, 1.0f, u + (int64_t)xi * g->cout * g->cin, g->cin,
                     v + xi * vs, t, 0.0f, m + xi * ms, t);
}

/* The products M(xi) (t tiles) of output channel k of a chunk and the distance between their
 * planes (*xs): in M where wino_products ran the GEMMs. With one input channel M(xi)[k] =
 * u(xi)[k] V(xi) is formed here, per channel, into M's first (m + 2)^2 t floats: the GEMMs
 * would be outer products writing all of M out of cache to be read back (conv1's case). */
LH_CPU_CLONES
static const float *channel_products(const wgeo *g, int64_t t, const float *u, float *ws,
                                     int k, int64_t *xs)
{
    const int xin = geo_xi(g);
    float *m = ws + xin * g->cin * t;
    *xs = g->cout * t;
    if (g->cin > 1)
        return m + k * t;
    for (int xi = 0; xi < xin; xi++) {
        const float uk = u[xi * g->cout + k], *v = ws + xi * t;
        float *restrict mk = m + xi * t;
        for (int64_t j = 0; j < t; j++)
            mk[j] = uk * v[j];
    }
    *xs = t;
    return m;
}

static void wino_chunk(const wgeo *g, int64_t n, const float *in, const float *u,
                       const float *bias, float *out, float *ws)
{
    const int64_t t = n * geo_tiles(g), plane = (int64_t)g->hout * g->wout;
    wino_products(g, n, in, u, ws);
    for (int k = 0; k < g->cout; k++) {
        int64_t xs;
        const float *mk = channel_products(g, t, u, ws, k, &xs);
        output_tiles(g, mk, xs, n, bias ? bias[k] : 0.0f, out + k * plane, g->cout * plane,
                     chunk_stage(g, n, ws));
    }
}

/* ---- which tile ---------------------------------------------------------------------------- */

/* The output tile of a correlation with output (h, w): ctx->wino_tile where set (tests,
 * bench), else 4 where F(4x4)'s products (36 per tile) are at most 0.8 of F(2x2)'s (16 per
 * tile), the partial tiles at the edges counted whole (the header's rule and figures). */
static int pick_tile(const lh_backend_ctx *ctx, int h, int w)
{
    if (ctx->wino_tile)
        return ctx->wino_tile;
    const int64_t p4 = 36 * (int64_t)((h + 3) / 4) * ((w + 3) / 4);
    const int64_t p2 = 16 * (int64_t)((h + 1) / 2) * ((w + 1) / 2);
    return 5 * p4 <= 4 * p2 ? 4 : 2;
}

/* ---- forward ------------------------------------------------------------------------------ */

static wgeo forward_geo(const lh_conv_shape *s, int m)
{
    return make_geo(s->c, s->k, s->h, s->w, s->pad, m);
}
/* backward-x: dy padded by 2 - pad, correlated into dx (its output is (h, w) again). */
static wgeo data_geo(const lh_conv_shape *s, int m)
{
    return make_geo(s->k, s->c, s->oh, s->ow, 2 - s->pad, m);
}

/* Images per chunk of a geometry: at least CHUNK_TILES tiles. */
static int64_t chunk_images(const wgeo *g)
{
    return (CHUNK_TILES + geo_tiles(g) - 1) / geo_tiles(g);
}

/* The fused forward pools each 2x2 stride-2 window straight from its tile's products (the conv
 * output is never staged); any other pool runs on the chunk's conv output. */
static int pools_from_tiles(const lh_pool_shape *ps)
{
    return ps && ps->size == 2 && ps->stride == 2;
}

static void forward_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const lh_conv_shape *s = j->io.s;
    const wgeo g = forward_geo(s, j->m);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, out_sz = (int64_t)s->k * s->oh * s->ow;
    const lh_pool_shape *ps = j->io.ps;
    const int64_t pplane = ps ? (int64_t)ps->oh * ps->ow : 0, pout = s->k * pplane;
    float *ws = j->ctx->scratch[tid], *ybuf = ws + wino_chunk_floats(&g, j->chunk);
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    for (int64_t i = lo; i < hi; i += j->chunk) {
        int64_t n = hi - i < j->chunk ? hi - i : j->chunk;
        if (pools_from_tiles(ps)) {
            wino_products(&g, n, j->io.x + i * in_sz, j->u, ws);
            for (int k = 0; k < s->k; k++) {
                int64_t xs;
                const float *mk = channel_products(&g, n * geo_tiles(&g), j->u, ws, k, &xs);
                pool_tiles(&g, j->io.ps, mk, xs, n, j->io.b ? j->io.b[k] : 0.0f,
                           j->io.p + i * pout + k * pplane, j->io.argmax + i * pout + k * pplane,
                           pout, chunk_stage(&g, n, ws));
            }
            continue;
        }
        float *yc = j->io.ps ? ybuf : j->io.y + i * out_sz;
        wino_chunk(&g, n, j->io.x + i * in_sz, j->u, j->io.b, yc, ws);
        for (int64_t q = 0; j->io.ps && q < n; q++)
            lh_cpu_conv_block_pool(j->io.ps, yc + q * out_sz, j->io.p + (i + q) * pout,
                                   j->io.argmax + (i + q) * pout, s->k);
    }
}

static size_t uplane_floats(const lh_conv_shape *s)
{
    return ((size_t)XI_MAX * s->k * s->c + 15) / 16 * 16;
}

static int wino_forward(lh_backend_ctx *ctx, const lh_cpu_conv_io *io)
{
    wino_job job = {.ctx = ctx, .io = *io}, *j = &job;
    const lh_conv_shape *s = io->s;
    j->m = pick_tile(ctx, s->oh, s->ow);
    const wgeo g = forward_geo(s, j->m);
    j->chunk = chunk_images(&g);
    size_t ws = wino_chunk_floats(&g, j->chunk);
    if (io->ps && !pools_from_tiles(io->ps)) /* the chunk's conv output, to pool */
        ws += (size_t)j->chunk * s->k * s->oh * s->ow;
    int rc = lh_cpu_reserve(ctx, ws, uplane_floats(s));
    if (rc)
        return rc;
    j->u = ctx->shared;
    lh_cpu_pool_run(ctx->pool, filter_task, j);
    lh_cpu_pool_run(ctx->pool, forward_task, j);
    return LH_BACKEND_OK;
}

/* ---- backward ----------------------------------------------------------------------------- */

/* Per thread: the chunk's dy (fused: rebuilt from dp) and masked dp, then the larger of
 * backward-w's (V of x, Z of dy, their staging) and backward-x's (wino_chunk) workspaces. */
static size_t backward_floats(const lh_conv_shape *s, const lh_pool_shape *ps, int64_t chunk,
                              int64_t wchunk, const wgeo *g, const wgeo *gd, int with_dx)
{
    size_t n = 0;
    if (ps)
        n += (size_t)chunk * s->k * s->oh * s->ow + (size_t)s->k * ps->oh * ps->ow;
    size_t wgrad = (size_t)(geo_xi(g) * (s->c + s->k) * wchunk * geo_tiles(g) +
                            tmp_floats(g, wchunk) + 2 * padded_floats(g));
    size_t xgrad = with_dx ? wino_chunk_floats(gd, chunk) : 0;
    return n + (wgrad > xgrad ? wgrad : xgrad);
}

/* backward-w for images i..i+n-1 (dy: theirs): part's D ((wm + 2)^2, K, C) += sum over their
 * tiles Z(xi) . V(xi)^T (overwritten on the thread's first images, lo). ws: V of x, Z of dy,
 * their staging (and grad_tiles4's s) and two zero-bordered planes. */
static void wgrad_chunk(const wino_job *j, int64_t i, int64_t n, int64_t lo, const float *dy,
                        float *part, float *ws)
{
    const lh_conv_shape *s = j->io.s;
    const wgeo g = forward_geo(s, j->wm);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, plane = (int64_t)s->oh * s->ow;
    const int64_t out_sz = s->k * plane, tpi = geo_tiles(&g), t = n * tpi;
    const int64_t kc = (int64_t)s->k * s->c, vs = s->c * t, zs = s->k * t;
    const int cols = padded_cols(&g), xin = geo_xi(&g);
    float *v = ws, *z = v + xin * vs, *st = z + xin * zs;
    float *plx = st + tmp_floats(&g, n), *pld = plx + padded_floats(&g); /* x's, dy's */
    memset(plx, 0, sizeof(float) * 2 * padded_floats(&g)); /* zero-bordered planes */
    for (int c = 0; c < s->c; c++) {
        for (int64_t q = 0; q < n; q++) {
            pad_plane(j->io.x + (i + q) * in_sz + c * s->h * s->w, s->h, s->w, s->pad, cols, plx);
            stage_plane(plx, &g, g.m + 2, t, st + q * tpi);
        }
        input_tiles(&g, st, t, v + c * t, vs);
    }
    for (int k = 0; k < s->k; k++) {
        for (int64_t q = 0; q < n; q++) {
            pad_plane(dy + q * out_sz + k * plane, s->oh, s->ow, 0, cols, pld);
            stage_plane(pld, &g, g.m, t, st + q * tpi);
        }
        if (g.m == 4)
            grad_tiles4(st, t, z + k * t, zs, st + 16 * t);
        else
            grad_tiles(st, t, z + k * t, zs);
    }
    for (int xi = 0; xi < xin; xi++)
        lh_cpu_sgemm(0, 1, s->k, s->c, t, 1.0f, z + xi * zs, t, v + xi * vs, t,
                     i == lo ? 0.0f : 1.0f, part + xi * kc, s->c);
}

static void backward_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const lh_conv_shape *s = j->io.s;
    const wgeo gd = data_geo(s, j->m);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, plane = (int64_t)s->oh * s->ow;
    const int64_t out_sz = s->k * plane;
    const int64_t pout = j->io.ps ? (int64_t)s->k * j->io.ps->oh * j->io.ps->ow : 0;
    const int64_t kc = (int64_t)s->k * s->c;
    float *dybuf = j->ctx->scratch[tid], *dpm = dybuf + (j->io.ps ? j->chunk * out_sz : 0);
    float *ws = dpm + pout;
    const int xin = (j->wm + 2) * (j->wm + 2);
    float *part = j->parts + (size_t)tid * j->part_stride, *dbp = part + xin * kc;
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    if (lo == hi) {
        memset(part, 0, sizeof(float) * (size_t)(xin * kc + s->k));
        return;
    }
    for (int64_t i0 = lo; i0 < hi; i0 += j->chunk) {
        const int64_t nc = hi - i0 < j->chunk ? hi - i0 : j->chunk;
        const float *dyc0 = j->io.ps ? dybuf : j->io.dy + i0 * out_sz;
        for (int64_t q = 0; j->io.ps && q < nc; q++)
            lh_cpu_conv_block_dy(j->io.ps, j->io.dp + (i0 + q) * pout, j->io.cp + (i0 + q) * pout,
                                 j->io.cargmax + (i0 + q) * pout, dpm, dybuf + q * out_sz, s->k);
        for (int64_t q = 0; q < nc; q++)
            lh_cpu_conv_row_sums(dbp, dyc0 + q * out_sz, s->k, plane, i0 + q == lo);
        for (int64_t i = i0; i < i0 + nc; i += j->wchunk)
            wgrad_chunk(j, i, i0 + nc - i < j->wchunk ? i0 + nc - i : j->wchunk, lo,
                        dyc0 + (i - i0) * out_sz, part, ws);
        if (j->io.dx)
            wino_chunk(&gd, nc, dyc0, j->u, NULL, j->io.dx + i0 * in_sz, ws);
    }
}

/* dw (3x3) = G^T D G of one D (planes kc apart) under F(2x2). */
static void unfilter2(const float *d, int64_t kc, float *dw)
{
    float t[3][4];
    for (int b = 0; b < 4; b++) { /* G^T D */
        float d0 = d[b * kc], d1 = d[(4 + b) * kc], d2 = d[(8 + b) * kc];
        float d3 = d[(12 + b) * kc];
        t[0][b] = d0 + 0.5f * (d1 + d2), t[1][b] = 0.5f * (d1 - d2);
        t[2][b] = 0.5f * (d1 + d2) + d3;
    }
    for (int a = 0; a < 3; a++) { /* (G^T D) G */
        dw[3 * a + 0] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
        dw[3 * a + 1] = 0.5f * (t[a][1] - t[a][2]);
        dw[3 * a + 2] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
    }
}

/* y = G^T x for F(4x4)'s G (3x6); x: 6 values xs apart, y: 3 values ys apart. */
static void gt6(const double *x, int xs, double *y, int ys)
{
    const double x0 = x[0], x1 = x[xs], x2 = x[2 * xs], x3 = x[3 * xs], x4 = x[4 * xs];
    const double x5 = x[5 * xs], sixth = 1.0 / 6.0;
    y[0] = x0 / 4 + (x3 + x4) / 4 * sixth - (x1 + x2) * sixth;
    y[ys] = (x2 - x1) * sixth + (x3 - x4) / 2 * sixth;
    y[2 * ys] = (x3 + x4 - x1 - x2) * sixth + x5;
}

/* dw (3x3) = G^T D G of one D (planes kc apart) under F(4x4), in double and rounded once. */
static void unfilter4(const float *d, int64_t kc, float *dw)
{
    double x[36], t[3][6], o[3][3];
    for (int i = 0; i < 36; i++)
        x[i] = d[i * kc];
    for (int b = 0; b < 6; b++) /* G^T D */
        gt6(&x[b], 6, &t[0][b], 6);
    for (int a = 0; a < 3; a++) /* (G^T D) G */
        gt6(t[a], 1, o[a], 1);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            dw[3 * a + b] = (float)o[a][b];
}

/* dsum = the threads' D in thread order, then dw = G^T D G, for this thread's k; db. */
static void reduce_task(void *arg, int tid, int nt)
{
    wino_job *j = arg;
    const int64_t K = j->io.s->k, C = j->io.s->c, kc = K * C;
    const int xin = (j->wm + 2) * (j->wm + 2);
    int64_t lo, hi;
    lh_cpu_split(K, tid, nt, &lo, &hi);
    for (int xi = 0; xi < xin; xi++)
        lh_cpu_sum_parts(j->dsum, j->parts, nt, j->part_stride, xi * kc + lo * C,
                         xi * kc + hi * C);
    if (tid == 0 && j->io.db)
        lh_cpu_sum_parts(j->io.db, j->parts + xin * kc, nt, j->part_stride, 0, K);
    for (int64_t k = lo; k < hi; k++)
        for (int64_t c = 0; c < C; c++) {
            if (j->wm == 4)
                unfilter4(j->dsum + k * C + c, kc, j->io.dw + (k * C + c) * 9);
            else
                unfilter2(j->dsum + k * C + c, kc, j->io.dw + (k * C + c) * 9);
        }
}

static int wino_backward(lh_backend_ctx *ctx, const lh_cpu_conv_io *io)
{
    wino_job job = {.ctx = ctx, .io = *io}, *j = &job;
    const lh_conv_shape *s = io->s;
    const size_t uf = uplane_floats(s);
    /* backward-w with one input channel keeps F(2x2) (the header's figures) */
    j->m = pick_tile(ctx, s->h, s->w);
    j->wm = s->c > 1 || ctx->wino_tile ? pick_tile(ctx, s->oh, s->ow) : 2;
    const wgeo g = forward_geo(s, j->wm), gd = data_geo(s, j->m);
    j->wchunk = chunk_images(&g);
    j->chunk = j->io.dx && chunk_images(&gd) > j->wchunk ? chunk_images(&gd) : j->wchunk;
    j->part_stride = ((size_t)geo_xi(&g) * s->k * s->c + s->k + 15) / 16 * 16;
    int rc = lh_cpu_reserve(ctx, backward_floats(s, j->io.ps, j->chunk, j->wchunk, &g, &gd,
                                                 j->io.dx != NULL),
                            2 * uf + j->part_stride * ctx->nthreads);
    if (rc)
        return rc;
    j->u = ctx->shared, j->dsum = j->u + uf, j->parts = j->dsum + uf, j->rotate = 1;
    if (j->io.dx)
        lh_cpu_pool_run(ctx->pool, filter_task, j);
    lh_cpu_pool_run(ctx->pool, backward_task, j);
    lh_cpu_pool_run(ctx->pool, reduce_task, j);
    return LH_BACKEND_OK;
}

const lh_cpu_conv_impl lh_cpu_conv_wino = {wino_forward, wino_backward};
