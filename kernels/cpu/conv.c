/* kernels/cpu/conv.c — conv2d forward/backward as im2col + oneDNN sgemm, one image at a time:
 * the GEMM algorithm (LH_CONV_ALGO_GEMM), the reference the oneDNN primitives of conv_dnn.c are
 * tested against and their fallback (conv_pick.c dispatches between them).
 *
 * Each thread takes a contiguous slice of the batch. Per image (P = OH*OW, CRS = C*R*S):
 *   forward   y_i (K, P)   = w (K, CRS) . col_i (CRS, P) + b      (y prefilled with b, beta 1)
 *   backward  dw_t (K,CRS) += dy_i (K, P) . col_i^T               (per-thread partial sums)
 *             db_t (K)     += rowsum(dy_i)
 *             dx_i         = col2im(w^T (CRS, K) . dy_i)
 * then dw = sum of the partials in thread order, so results depend only on the thread count.
 * Per-image GEMMs keep col_i in L2 (conv2: 576 x 196 floats = 441 KiB).
 *
 * The fused block (conv2d_relu_maxpool_*) pools each image's conv output while it is still in
 * the thread's cache and never stores it: forward keeps only p = relu(maxpool(y)) and argmax;
 * backward rebuilds dy_i = scatter(dp * (p > 0)) per image (relu's mask is p > 0 at the argmax,
 * and every other element of dy_i is 0 anyway). */
#include <string.h>

#include "kernels/cpu/cpu.h"

typedef struct conv_job {
    lh_backend_ctx *ctx;
    lh_cpu_conv_io io;  /* the op's tensors (io.ps: the fused block) */
    size_t part_len;    /* floats of one thread's partial: K*CRS (dw) then K (db) */
    size_t part_stride; /* distance between partials in ctx->shared (64-byte multiple) */
} conv_job;

static int64_t conv_crs(const lh_conv_shape *s) { return (int64_t)s->c * s->r * s->s; }
static int64_t conv_p(const lh_conv_shape *s) { return (int64_t)s->oh * s->ow; }


LH_CPU_CLONES
static void fill_bias(float *y, const float *b, int k, int64_t p)
{
    for (int i = 0; i < k; i++) {
        float v = b ? b[i] : 0.0f;
        float *row = y + (int64_t)i * p;
        for (int64_t j = 0; j < p; j++)
            row[j] = v;
    }
}

LH_CPU_CLONES
void lh_cpu_conv_row_sums(float *db, const float *dy, int k, int64_t p, int first)
{
    for (int i = 0; i < k; i++) {
        const float *row = dy + (int64_t)i * p;
        float lane[16] = {0}; /* 16 independent sums vectorise without reassociating */
        int64_t j = 0;
        for (; j + 16 <= p; j += 16)
            for (int l = 0; l < 16; l++)
                lane[l] += row[j + l];
        float acc = 0.0f;
        for (int l = 0; l < 16; l++)
            acc += lane[l];
        for (; j < p; j++)
            acc += row[j];
        db[i] = first ? acc : db[i] + acc;
    }
}

/* Per-thread workspace: col | dcol | padded image | conv output (fused) | masked dp (fused). */
static size_t scratch_floats(const lh_conv_shape *s, const lh_pool_shape *ps)
{
    size_t n = (size_t)(2 * conv_crs(s) * conv_p(s) + lh_cpu_conv_padded_floats(s));
    if (ps)
        n += (size_t)s->k * conv_p(s) + (size_t)s->k * ps->oh * ps->ow;
    return n;
}

LH_CPU_CLONES
static void relu_inplace(float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = v[i] > 0.0f || v[i] != v[i] ? v[i] : 0.0f; /* relu_forward's rule */
}

LH_CPU_CLONES
static void mask_positive(float *out, const float *g, const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = p[i] > 0.0f ? g[i] : 0.0f;
}

void lh_cpu_conv_block_pool(const lh_pool_shape *ps, const float *y, float *p, int32_t *argmax,
                            int k)
{
    /* relu(max(window)) == max(relu(window)) */
    lh_cpu_maxpool_planes_forward(ps, y, p, argmax, k);
    relu_inplace(p, (int64_t)k * ps->oh * ps->ow);
}

void lh_cpu_conv_block_dy(const lh_pool_shape *ps, const float *dp, const float *p,
                          const int32_t *argmax, float *dpm, float *dy, int k)
{
    mask_positive(dpm, dp, p, (int64_t)k * ps->oh * ps->ow);
    lh_cpu_maxpool_planes_backward(ps, dpm, argmax, dy, k);
}

static void forward_task(void *arg, int tid, int nt)
{
    conv_job *j = arg;
    const lh_conv_shape *s = j->io.s;
    const int64_t crs = conv_crs(s), p = conv_p(s);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, out_sz = (int64_t)s->k * p;
    float *col = j->ctx->scratch[tid], *xp = col + 2 * crs * p;
    float *ybuf = xp + lh_cpu_conv_padded_floats(s);
    const int64_t pout = j->io.ps ? (int64_t)s->k * j->io.ps->oh * j->io.ps->ow : 0;
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const float *xi = j->io.x + i * in_sz;
        float *yi = j->io.ps ? ybuf : j->io.y + i * out_sz;
        const float *bmat = lh_cpu_conv_columns(s, xi, col, xp);
        fill_bias(yi, j->io.b, s->k, p);
        lh_cpu_sgemm(0, 0, s->k, p, crs, 1.0f, j->io.w, crs, bmat, p, 1.0f, yi, p);
        if (j->io.ps)
            lh_cpu_conv_block_pool(j->io.ps, yi, j->io.p + i * pout, j->io.argmax + i * pout, s->k);
    }
}

static void backward_task(void *arg, int tid, int nt)
{
    conv_job *j = arg;
    const lh_conv_shape *s = j->io.s;
    const int64_t crs = conv_crs(s), p = conv_p(s);
    const int64_t in_sz = (int64_t)s->c * s->h * s->w, out_sz = (int64_t)s->k * p;
    float *col = j->ctx->scratch[tid];
    float *dcol = col + crs * p, *xp = dcol + crs * p, *dybuf = xp + lh_cpu_conv_padded_floats(s);
    float *dpm = dybuf + s->k * p;
    const int64_t pout = j->io.ps ? (int64_t)s->k * j->io.ps->oh * j->io.ps->ow : 0;
    float *dwp = j->ctx->shared + (size_t)tid * j->part_stride;
    float *dbp = dwp + (size_t)s->k * crs;
    int64_t lo, hi;
    lh_cpu_split(s->n, tid, nt, &lo, &hi);
    if (lo == hi) {
        memset(dwp, 0, sizeof(float) * j->part_len);
        return;
    }
    for (int64_t i = lo; i < hi; i++) {
        const float *xi = j->io.x + i * in_sz;
        const float *dyi = j->io.dy ? j->io.dy + i * out_sz : dybuf;
        if (j->io.ps)
            lh_cpu_conv_block_dy(j->io.ps, j->io.dp + i * pout, j->io.cp + i * pout,
                                 j->io.cargmax + i * pout, dpm, dybuf, s->k);
        const float *cmat = lh_cpu_conv_columns(s, xi, col, xp);
        lh_cpu_sgemm(0, 1, s->k, crs, p, 1.0f, dyi, p, cmat, p, i == lo ? 0.0f : 1.0f, dwp, crs);
        lh_cpu_conv_row_sums(dbp, dyi, s->k, p, i == lo);
        if (j->io.dx) {
            float *dxi = j->io.dx + i * in_sz;
            if (lh_cpu_conv_is_pointwise(s)) {
                lh_cpu_sgemm(1, 0, crs, p, s->k, 1.0f, j->io.w, crs, dyi, p, 0.0f, dxi, p);
            } else {
                lh_cpu_sgemm(1, 0, crs, p, s->k, 1.0f, j->io.w, crs, dyi, p, 0.0f, dcol, p);
                lh_cpu_conv_col2im(s, dcol, xp, dxi);
            }
        }
    }
}

static void reduce_task(void *arg, int tid, int nt)
{
    conv_job *j = arg;
    const int64_t nw = (int64_t)j->io.s->k * conv_crs(j->io.s);
    int64_t lo, hi;
    lh_cpu_split((int64_t)j->part_len, tid, nt, &lo, &hi);
    /* [0, nw) of each partial is dw, [nw, nw + K) is db */
    if (lo < nw)
        lh_cpu_sum_parts(j->io.dw, j->ctx->shared, nt, j->part_stride, lo, hi < nw ? hi : nw);
    if (hi > nw && j->io.db)
        lh_cpu_sum_parts(j->io.db, j->ctx->shared + nw, nt, j->part_stride,
                         (lo > nw ? lo : nw) - nw, hi - nw);
}

int lh_cpu_conv_check(lh_backend_ctx *ctx, const lh_conv_shape *s)
{
    if (s->n < 0 || s->c <= 0 || s->h <= 0 || s->w <= 0 || s->k <= 0 || s->r <= 0 ||
        s->s <= 0 || s->stride <= 0 || s->pad < 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: conv2d: bad shape n=%d c=%d h=%d w=%d "
                           "k=%d r=%d s=%d stride=%d pad=%d", s->n, s->c, s->h, s->w, s->k, s->r,
                           s->s, s->stride, s->pad);
    int oh = (s->h + 2 * s->pad - s->r) / s->stride + 1;
    int ow = (s->w + 2 * s->pad - s->s) / s->stride + 1;
    if (s->h + 2 * s->pad < s->r || s->w + 2 * s->pad < s->s || oh != s->oh || ow != s->ow)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: conv2d: output %dx%d given, expected "
                           "%dx%d", s->oh, s->ow, oh, ow);
    return LH_BACKEND_OK;
}

static int gemm_forward(lh_backend_ctx *ctx, const lh_cpu_conv_io *io)
{
    int rc = lh_cpu_reserve(ctx, scratch_floats(io->s, io->ps), 0);
    if (rc)
        return rc;
    conv_job j = {.ctx = ctx, .io = *io};
    lh_cpu_pool_run(ctx->pool, forward_task, &j);
    return LH_BACKEND_OK;
}

/* Runs the backward tasks (dy, or under io->ps dp) and reduces dw/db. */
static int gemm_backward(lh_backend_ctx *ctx, const lh_cpu_conv_io *io)
{
    const lh_conv_shape *s = io->s;
    size_t len = (size_t)s->k * conv_crs(s) + s->k;
    size_t stride = (len + 15) / 16 * 16; /* keep each partial 64-byte aligned */
    int rc = lh_cpu_reserve(ctx, scratch_floats(s, io->ps), stride * ctx->nthreads);
    if (rc)
        return rc;
    conv_job j = {.ctx = ctx, .io = *io, .part_len = len, .part_stride = stride};
    lh_cpu_pool_run(ctx->pool, backward_task, &j);
    lh_cpu_pool_run(ctx->pool, reduce_task, &j);
    return LH_BACKEND_OK;
}

const lh_cpu_conv_impl lh_cpu_conv_gemm = {gemm_forward, gemm_backward};

/* The pool must read the conv output: ps->n == s->n, ps->c == s->k, ps->h/w == s->oh/ow. */
int lh_cpu_conv_block_check(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps)
{
    int rc = lh_cpu_conv_check(ctx, s);
    if (rc)
        return rc;
    if ((rc = lh_cpu_maxpool_check(ctx, ps)))
        return rc;
    if (ps->n != s->n || ps->c != s->k || ps->h != s->oh || ps->w != s->ow)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: conv2d_relu_maxpool: pool input "
                           "(%d,%d,%d,%d) is not the conv output (%d,%d,%d,%d)", ps->n, ps->c,
                           ps->h, ps->w, s->n, s->k, s->oh, s->ow);
    return LH_BACKEND_OK;
}
