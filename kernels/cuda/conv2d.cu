/* kernels/cuda/conv2d.cu — 2-D convolution (PyTorch's cross-correlation) as im2col + cuBLAS.
 *
 * Shapes: x (N,C,H,W), w (K,C,R,S) = (K,Q) with Q = C*R*S, b (K), y (N,K,OH,OW), P = OH*OW.
 * A chunk of nb images is unfolded into col (Q, nb*P) — column n*P + p holds the receptive
 * field of output pixel p of image n — so each pass is one large GEMM instead of nb small ones:
 *   forward   yt (K, nb*P) = w (K,Q) . col (Q, nb*P);  y = permute(yt) + b
 *   dW        dw (K,Q)    += dyt (K, nb*P) . col^T      (dyt = dy permuted to (K, nb*P))
 *   dx        dcol (Q, nb*P) = w^T . dyt;  dx = col2im(dcol)  (gather form: no atomics)
 *   db        db (K) = sum over n, p of dy               (fixed order, deterministic)
 * A small receptive field (Q <= 32: a first layer) takes dW and db straight from x and dy
 * instead (conv_dw_direct, below), and im2col and the dW GEMM are skipped.
 * cuBLAS is column-major: a row-major (r, c) matrix is its column-major transpose with ld = c.
 * Chunks keep the scratch (col + yt/dyt) under LH_CONV_SCRATCH_MAX bytes.
 * Precision (configure): fp32 cublasSgemm (TF32 tensor cores when the handle's math mode says
 * so), or bf16-mixed: each GEMM's two operands are rounded to bfloat16 (to nearest even; im2col
 * writes col so, to_bf16_kernel rounds w and dyt) and multiplied by cublasGemmEx with fp32
 * accumulation into fp32 C, as the CPU backend's bf16-mixed conv2d (inputs, weights and dy in
 * bf16; everything else fp32). The small-Q dW path is fp32 arithmetic, so bf16-mixed takes the
 * GEMM path there too.
 * The chunk loops (conv_forward_chunks, conv_backward_chunks) are shared with the fused
 * conv + relu + maxpool block (conv2d_fused.cu), which only brings its own epilogue and its own
 * way of making dyt (conv2d.cuh). */
#include <cuda_bf16.h>

#include "conv2d.cuh"

/* The emulation builds with a small cap (tests/cuda_emu/tests.cmake) so that the tests' shapes
 * run in several chunks: dW's accumulation over chunks and the fused block's per-chunk db. */
#ifndef LH_CONV_SCRATCH_MAX
#define LH_CONV_SCRATCH_MAX ((size_t)256 << 20)
#endif

/* Index arithmetic: 64-bit division is a long instruction sequence on the GPU, so each kernel
 * takes one row per grid y (a channel, a (n, c) plane, a row of col) and 32-bit positions
 * within the row (grid x), and divides only those. Rows and positions are grid-stride loops;
 * a position fits 32 bits because chunk_plan caps nb * P (LH_CONV_SCRATCH_MAX). */

/* A GEMM operand's element: fp32 as is, or (bf16-mixed) rounded to bfloat16, to nearest even. */
__device__ inline void store_operand(float *p, float v) { *p = v; }
__device__ inline void store_operand(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* col (Q, NP), NP = nb*P, from images n0 .. n0+nb-1 of x: row q = (c, r, ss), column
 * n*P + p holds x[n0 + n, c, oh*stride - pad + r, ow*stride - pad + ss] (0 outside). In
 * bf16-mixed col is the GEMM's bf16 operand itself (T = __nv_bfloat16): no fp32 copy to round. */
template <typename T>
__global__ void im2col_kernel(lh_conv_shape s, int n0, int nb, const float *x, T *col)
{
    int P = s.oh * s.ow, NP = nb * P, Q = s.c * s.r * s.s;
    for (int q = blockIdx.y; q < Q; q += gridDim.y) {
        int c = q / (s.r * s.s), rs = q - c * s.r * s.s, r = rs / s.s, ss = rs - r * s.s;
        const float *xc = x + ((int64_t)n0 * s.c + c) * s.h * s.w;
        T *row = col + (int64_t)q * NP;
        for (int np = blockIdx.x * blockDim.x + threadIdx.x; np < NP;
             np += gridDim.x * blockDim.x) {
            int n = np / P, p = np - n * P, oh = p / s.ow, ow = p - oh * s.ow;
            int h = oh * s.stride - s.pad + r, w = ow * s.stride - s.pad + ss;
            store_operand(row + np, h >= 0 && h < s.h && w >= 0 && w < s.w
                                        ? xc[(int64_t)n * s.c * s.h * s.w + h * s.w + w]
                                        : 0.0f);
        }
    }
}

/* dx of images n0.. from dcol (Q, NP): each input pixel sums the columns that read it. Row:
 * plane n*C + c; position h*W + w. */
__global__ void col2im_kernel(lh_conv_shape s, int n0, int nb, const float *dcol, float *dx)
{
    int P = s.oh * s.ow, NP = nb * P, HW = s.h * s.w, planes = nb * s.c;
    for (int pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        int n = pl / s.c, c = pl - n * s.c;
        float *dxp = dx + ((int64_t)n0 * s.c + pl) * HW;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < HW; i += gridDim.x * blockDim.x) {
            int h = i / s.w, w = i - h * s.w;
            float acc = 0.0f;
            for (int r = 0; r < s.r; r++) {
                int hh = h + s.pad - r; /* = oh * stride */
                if (hh < 0 || hh % s.stride)
                    continue;
                int oh = hh / s.stride;
                if (oh >= s.oh)
                    continue;
                for (int q = 0; q < s.s; q++) {
                    int ww = w + s.pad - q;
                    if (ww < 0 || ww % s.stride)
                        continue;
                    int ow = ww / s.stride;
                    if (ow >= s.ow)
                        continue;
                    int64_t row = ((int64_t)c * s.r + r) * s.s + q;
                    acc += dcol[row * NP + n * P + oh * s.ow + ow];
                }
            }
            dxp[i] = acc;
        }
    }
}

/* y (nb, K, P) of images n0.. = yt (K, NP) permuted, plus b (K; NULL = no bias). Row: k. */
__global__ void unpermute_bias_kernel(int K, int P, int n0, int nb, const float *yt,
                                      const float *b, float *y)
{
    int NP = nb * P;
    for (int k = blockIdx.y; k < K; k += gridDim.y) {
        float bk = b ? b[k] : 0.0f;
        const float *row = yt + (int64_t)k * NP;
        for (int np = blockIdx.x * blockDim.x + threadIdx.x; np < NP;
             np += gridDim.x * blockDim.x) {
            int n = np / P, p = np - n * P;
            y[((int64_t)(n0 + n) * K + k) * P + p] = row[np] + bk;
        }
    }
}

/* dyt (K, NP) = dy (nb, K, P) of images n0.. permuted. Row: k. */
__global__ void permute_kernel(int K, int P, int n0, int nb, const float *dy, float *dyt)
{
    int NP = nb * P;
    for (int k = blockIdx.y; k < K; k += gridDim.y) {
        float *row = dyt + (int64_t)k * NP;
        for (int np = blockIdx.x * blockDim.x + threadIdx.x; np < NP;
             np += gridDim.x * blockDim.x) {
            int n = np / P, p = np - n * P;
            row[np] = dy[((int64_t)(n0 + n) * K + k) * P + p];
        }
    }
}

/* out (n) = in rounded to bfloat16, to nearest even. */
__global__ void to_bf16_kernel(int64_t n, const float *in, __nv_bfloat16 *out)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

/* dW and db of a convolution with a small receptive field (Q = C*R*S <= 32: a first layer),
 * read straight from x and dy: no im2col, no permute, no GEMM. (The GEMM path's dW has a (K, Q)
 * output and an inner dimension of N*P, 9 x 64 and 50176 for the tutorial's conv1, which cuBLAS
 * spreads over few blocks.) One warp per (image n, channel k): its lanes take the image's P
 * pixels in turn, each adding dy[n,k,p] * x-patch(n, p)[q] for every q and dy[n,k,p] itself,
 * then a shuffle tree; lanes 0..Q-1 write the image's dW sums into pw (N, K, Q), lane 0 its db
 * sum into pb (N, K); lh_cuda_sum_strided then sums over n in order. No atomics: deterministic.
 * QM >= Q is a compile-time bound so that the sums stay in registers. */
#define LH_DW_DIRECT_QMAX 32
#define LH_DW_WARPS 8

template <int QM>
__global__ void conv_dw_direct_kernel(lh_conv_shape s, const float *x, const float *dy,
                                      float *pw, float *pb)
{
    int P = s.oh * s.ow, Q = s.c * s.r * s.s, RS = s.r * s.s, HW = s.h * s.w;
    int lane = threadIdx.x % 32, k = blockIdx.x * LH_DW_WARPS + threadIdx.x / 32;
    if (k >= s.k)
        return; /* a whole warp: no block-wide barrier follows */
    int qr[QM], qs[QM], qc[QM]; /* q = (c, r, ss), unrolled: registers */
    LH_UNROLL
    for (int q = 0; q < QM; q++) {
        int c = q / RS, rs = q - c * RS;
        qr[q] = rs / s.s, qs[q] = rs - qr[q] * s.s, qc[q] = q < Q ? c * HW : 0; /* < C*H*W */
    }
    for (int n = blockIdx.y; n < s.n; n += gridDim.y) {
        float acc[QM + 1];
        LH_UNROLL
        for (int q = 0; q <= QM; q++)
            acc[q] = 0.0f;
        const float *g = dy + ((int64_t)n * s.k + k) * P;
        const float *xn = x + (int64_t)n * s.c * HW;
        for (int p = lane; p < P; p += 32) {
            float gp = g[p];
            int oh = p / s.ow, ow = p - oh * s.ow;
            int h0 = oh * s.stride - s.pad, w0 = ow * s.stride - s.pad;
            LH_UNROLL
            for (int q = 0; q < QM; q++) {
                int h = h0 + qr[q], w = w0 + qs[q];
                if (q < Q && h >= 0 && h < s.h && w >= 0 && w < s.w)
                    acc[q] += gp * xn[qc[q] + h * s.w + w];
            }
            acc[QM] += gp;
        }
        float mine = 0.0f;
        LH_UNROLL
        for (int q = 0; q <= QM; q++) {
            float v = acc[q];
            for (int o = 16; o > 0; o /= 2)
                v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == q)
                mine = v;
            acc[q] = v;
        }
        int64_t nk = (int64_t)n * s.k + k;
        if (lane < Q)
            pw[nk * Q + lane] = mine;
        if (lane == 0)
            pb[nk] = acc[QM];
    }
}

static int conv_dw_direct(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                          const lh_dmem *dy, lh_dmem *dw, lh_dmem *db)
{
    int64_t Q = (int64_t)s->c * s->r * s->s, NK = (int64_t)s->n * s->k;
    float *pw = (float *)lh_cuda_scratch(ctx, (size_t)(NK * Q + NK) * sizeof(float)), *pb;
    if (!pw)
        return LH_BACKEND_ENOMEM;
    pb = pw + NK * Q;
    dim3 grid((unsigned)((s->k + LH_DW_WARPS - 1) / LH_DW_WARPS),
              (unsigned)(s->n < 65535 ? s->n : 65535), 1);
    unsigned threads = 32 * LH_DW_WARPS;
    if (Q <= 9)
        LH_LAUNCH(conv_dw_direct_kernel<9>, grid, threads, ctx->stream)(*s, lh_cf(x), lh_cf(dy),
                                                                       pw, pb);
    else if (Q <= 16)
        LH_LAUNCH(conv_dw_direct_kernel<16>, grid, threads, ctx->stream)(*s, lh_cf(x), lh_cf(dy),
                                                                        pw, pb);
    else
        LH_LAUNCH(conv_dw_direct_kernel<LH_DW_DIRECT_QMAX>, grid, threads, ctx->stream)(
            *s, lh_cf(x), lh_cf(dy), pw, pb);
    LH_CUDA_LAUNCHED(ctx, "conv_dw_direct");
    /* over n: dw[j] = sum_n pw[n * K*Q + j], db[k] = sum_n pb[n * K + k] */
    int rc = lh_cuda_sum_strided(ctx, pw, s->n, 1, s->k * Q, s->k * Q, 1, lh_f(dw));
    return rc ? rc : lh_cuda_sum_strided(ctx, pb, s->n, 1, s->k, s->k, 1, lh_f(db));
}

int lh_cuda_conv_check_shape(lh_backend_ctx *ctx, const lh_conv_shape *s, const char *op)
{
    if (s->n < 0 || s->c < 1 || s->k < 1 || s->r < 1 || s->s < 1 || s->stride < 1 || s->pad < 0 ||
        s->oh != (s->h + 2 * s->pad - s->r) / s->stride + 1 ||
        s->ow != (s->w + 2 * s->pad - s->s) / s->stride + 1 || s->oh < 1 || s->ow < 1 ||
        (int64_t)s->h * s->w > INT32_MAX || (int64_t)s->c * s->r * s->s > INT32_MAX ||
        (int64_t)s->oh * s->ow > INT32_MAX / 2) /* the kernels index within rows in 32 bits */
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: bad shape n=%d c=%d h=%d w=%d k=%d r=%d "
                            "s=%d stride=%d pad=%d oh=%d ow=%d", op, s->n, s->c, s->h, s->w, s->k,
                            s->r, s->s, s->stride, s->pad, s->oh, s->ow);
    return 0;
}

/* One chunk's scratch: col (Q, nb*P) and yt/dyt (K, nb*P) in fp32; in bf16-mixed also their
 * bf16 copies and w's (K*Q). */
typedef struct conv_scratch {
    float *col, *yt;
    __nv_bfloat16 *colh, *yth, *wh;
} conv_scratch;

/* Images per chunk so that the chunk's scratch fits the cap; and the scratch. */
static int chunk_plan(lh_backend_ctx *ctx, const lh_conv_shape *s, int *nb, conv_scratch *cs)
{
    size_t P = (size_t)s->oh * s->ow, Q = (size_t)s->c * s->r * s->s, K = (size_t)s->k;
    size_t half = ctx->bf16 ? sizeof(__nv_bfloat16) : 0; /* bf16 copies' element size */
    size_t per_image = (Q + K) * P * (sizeof(float) + half), fixed = K * Q * half;
    size_t fit = LH_CONV_SCRATCH_MAX / per_image;
    size_t n, at[5], total = 0;
    char *base;
    /* nb * P <= 64M floats here (or P alone, below INT32_MAX / 2 by the shape check): the
     * kernels' 32-bit positions within a row hold. */
    *nb = fit < 1 ? 1 : fit > (size_t)s->n ? s->n : (int)fit;
    n = (size_t)*nb;
    /* col, yt, colh, yth, wh, each on a 256-byte boundary (cuBLAS's fast kernels want
     * aligned operands) */
    const size_t bytes[5] = {Q * P * n * sizeof(float), K * P * n * sizeof(float),
                             Q * P * n * half, K * P * n * half, fixed};
    for (int i = 0; i < 5; i++)
        at[i] = total, total += (bytes[i] + 255) / 256 * 256;
    base = (char *)lh_cuda_scratch(ctx, total);
    if (!base)
        return LH_BACKEND_ENOMEM;
    cs->col = (float *)(base + at[0]);
    cs->yt = (float *)(base + at[1]);
    cs->colh = (__nv_bfloat16 *)(base + at[2]);
    cs->yth = (__nv_bfloat16 *)(base + at[3]);
    cs->wh = (__nv_bfloat16 *)(base + at[4]);
    return 0;
}

/* dst (n) = src rounded to bf16 (bf16-mixed only). */
static int to_bf16(lh_backend_ctx *ctx, int64_t n, const float *src, __nv_bfloat16 *dst)
{
    LH_LAUNCH(to_bf16_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(n, src, dst);
    LH_CUDA_LAUNCHED(ctx, "to_bf16");
    return 0;
}

/* The chunk's GEMM operand col: fp32 into cs->col, or in bf16-mixed straight into cs->colh. */
static int im2col(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb, const lh_dmem *x,
                  conv_scratch *cs)
{
    dim3 grid = lh_cuda_grid2((int64_t)nb * s->oh * s->ow, (int64_t)s->c * s->r * s->s);
    if (ctx->bf16)
        LH_LAUNCH(im2col_kernel<__nv_bfloat16>, grid, LH_CUDA_THREADS, ctx->stream)(
            *s, n0, nb, lh_cf(x), cs->colh);
    else
        LH_LAUNCH(im2col_kernel<float>, grid, LH_CUDA_THREADS, ctx->stream)(*s, n0, nb,
                                                                            lh_cf(x), cs->col);
    LH_CUDA_LAUNCHED(ctx, "im2col");
    return 0;
}

/* C (m x n) = op(A) . op(B) + beta C, column-major: fp32 A and B with cublasSgemm, or in
 * bf16-mixed their bf16 copies Ah, Bh (made by the caller) with cublasGemmEx. */
static int conv_gemm(lh_backend_ctx *ctx, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                     int k, const float *A, const __nv_bfloat16 *Ah, int lda, const float *B,
                     const __nv_bfloat16 *Bh, int ldb, const float *beta, float *C, int ldc)
{
    const float one = 1.0f;
    if (ctx->bf16)
        LH_BLAS_TRY(ctx, cublasGemmEx(ctx->blas, ta, tb, m, n, k, &one, Ah, CUDA_R_16BF, lda, Bh,
                                      CUDA_R_16BF, ldb, beta, C, CUDA_R_32F, ldc,
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else
        LH_BLAS_TRY(ctx, cublasSgemm(ctx->blas, ta, tb, m, n, k, &one, A, lda, B, ldb, beta, C,
                                     ldc));
    return 0;
}

int lh_cuda_conv_forward_chunks(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                                const lh_dmem *w, lh_cuda_conv_epilogue epilogue,
                                const void *arg)
{
    const float zero = 0.0f;
    int64_t P = (int64_t)s->oh * s->ow, Q = (int64_t)s->c * s->r * s->s;
    conv_scratch cs;
    int nb, rc;
    if (s->n == 0)
        return 0;
    if ((rc = chunk_plan(ctx, s, &nb, &cs)) ||
        (ctx->bf16 && (rc = to_bf16(ctx, (int64_t)s->k * Q, lh_cf(w), cs.wh))))
        return rc;
    for (int n0 = 0; n0 < s->n; n0 += nb) {
        int cnb = s->n - n0 < nb ? s->n - n0 : nb;
        int64_t NP = cnb * P;
        if ((rc = im2col(ctx, s, n0, cnb, x, &cs)))
            return rc;
        /* yt^T (NP x K) = col^T (NP x Q) . w^T (Q x K) */
        if ((rc = conv_gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, (int)NP, s->k, (int)Q, cs.col, cs.colh,
                            (int)NP, lh_cf(w), cs.wh, (int)Q, &zero, cs.yt, (int)NP)) ||
            (rc = epilogue(ctx, s, n0, cnb, cs.yt, arg)))
            return rc;
    }
    return 0;
}

/* conv2d_forward's epilogue: y = permute(yt) + b. */
static int unpermute_bias(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb,
                          const float *yt, const void *arg)
{
    const lh_dmem *const *by = (const lh_dmem *const *)arg; /* {b, y} */
    int64_t NP = (int64_t)nb * s->oh * s->ow;
    LH_LAUNCH(unpermute_bias_kernel, lh_cuda_grid2(NP, s->k), LH_CUDA_THREADS, ctx->stream)(
        s->k, s->oh * s->ow, n0, nb, yt, lh_cf(by[0]), lh_f((lh_dmem *)by[1]));
    LH_CUDA_LAUNCHED(ctx, "unpermute_bias");
    return 0;
}

int lh_cuda_conv2d_forward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                           const lh_dmem *w, const lh_dmem *b, lh_dmem *y)
{
    const lh_dmem *by[2] = {b, y};
    if (lh_cuda_conv_check_shape(ctx, s, "conv2d_forward"))
        return LH_BACKEND_EINVAL;
    return lh_cuda_conv_forward_chunks(ctx, s, x, w, unpermute_bias, by);
}

int lh_cuda_conv_dw_direct(const lh_backend_ctx *ctx, const lh_conv_shape *s)
{
    /* qc's 32-bit offsets: the image's C*H*W floats fit (Q <= 32 keeps C small) */
    return !ctx->bf16 && (int64_t)s->c * s->r * s->s <= LH_DW_DIRECT_QMAX &&
           (int64_t)s->c * s->h * s->w <= INT32_MAX;
}

int lh_cuda_conv_backward_chunks(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                                 const lh_dmem *w, const lh_dmem *dy, lh_cuda_conv_dyt fill,
                                 const void *arg, lh_dmem *dx, lh_dmem *dw, lh_dmem *db)
{
    const float one = 1.0f, zero = 0.0f;
    int64_t P = (int64_t)s->oh * s->ow, Q = (int64_t)s->c * s->r * s->s;
    conv_scratch cs;
    float *partial = NULL; /* db per chunk (K each) when db comes from dyt in several chunks */
    int nb, rc, direct = dy && lh_cuda_conv_dw_direct(ctx, s), chunk = 0;
    if (s->n == 0) {
        LH_CUDA_TRY(ctx, cudaMemsetAsync(dw, 0, (size_t)s->k * Q * sizeof(float), ctx->stream));
        LH_CUDA_TRY(ctx, cudaMemsetAsync(db, 0, (size_t)s->k * sizeof(float), ctx->stream));
        return 0;
    }
    if (direct) {
        if ((rc = conv_dw_direct(ctx, s, x, dy, dw, db)) || !dx)
            return rc;
    } else if (dy && (rc = lh_cuda_sum_strided(ctx, lh_cf(dy), s->n, P, s->k,
                                               (int64_t)s->k * P, P, lh_f(db)))) {
        return rc;
    }
    if ((rc = chunk_plan(ctx, s, &nb, &cs)) ||
        (ctx->bf16 && (rc = to_bf16(ctx, (int64_t)s->k * Q, lh_cf(w), cs.wh))))
        return rc;
    if (!dy && nb < s->n &&
        !(partial = (float *)lh_cuda_scratch_aux(ctx, (size_t)((s->n + nb - 1) / nb) * s->k *
                                                          sizeof(float))))
        return LH_BACKEND_ENOMEM;
    for (int n0 = 0; n0 < s->n; n0 += nb, chunk++) {
        int cnb = s->n - n0 < nb ? s->n - n0 : nb;
        int64_t NP = cnb * P;
        const float *beta = n0 == 0 ? &zero : &one; /* accumulate dw over chunks */
        if ((rc = fill(ctx, s, n0, cnb, arg, cs.yt)) ||
            (ctx->bf16 && (rc = to_bf16(ctx, NP * s->k, cs.yt, cs.yth))))
            return rc;
        /* db from dyt, in dy's (n, p) order: sum_strided over (N, K, P) for one chunk */
        if (!dy && (rc = lh_cuda_sum_strided(ctx, cs.yt, cnb, P, s->k, P, NP,
                                             partial ? partial + (int64_t)chunk * s->k
                                                     : lh_f(db))))
            return rc;
        if (!direct) {
            if ((rc = im2col(ctx, s, n0, cnb, x, &cs)))
            return rc;
            /* dw^T (Q x K) = col (Q x NP) . dyt^T (NP x K) */
            if ((rc = conv_gemm(ctx, CUBLAS_OP_T, CUBLAS_OP_N, (int)Q, s->k, (int)NP, cs.col,
                                cs.colh, (int)NP, cs.yt, cs.yth, (int)NP, beta, lh_f(dw),
                                (int)Q)))
                return rc;
        }
        if (!dx)
            continue;
        /* dcol^T (NP x Q) = dyt^T (NP x K) . w (K x Q); col is free again, reuse it */
        if ((rc = conv_gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_T, (int)NP, (int)Q, s->k, cs.yt, cs.yth,
                            (int)NP, lh_cf(w), cs.wh, (int)Q, &zero, cs.col, (int)NP)))
            return rc;
        LH_LAUNCH(col2im_kernel, lh_cuda_grid2((int64_t)s->h * s->w, (int64_t)cnb * s->c),
                  LH_CUDA_THREADS, ctx->stream)(*s, n0, cnb, cs.col, lh_f(dx));
        LH_CUDA_LAUNCHED(ctx, "col2im");
    }
    /* over the chunks, in order */
    return partial ? lh_cuda_sum_strided(ctx, partial, chunk, 1, s->k, s->k, 1, lh_f(db)) : 0;
}

/* conv2d_backward's dyt: dy (nb, K, P) of images n0.. permuted. */
static int permute_dy(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb,
                      const void *arg, float *dyt)
{
    int64_t NP = (int64_t)nb * s->oh * s->ow;
    LH_LAUNCH(permute_kernel, lh_cuda_grid2(NP, s->k), LH_CUDA_THREADS, ctx->stream)(
        s->k, s->oh * s->ow, n0, nb, (const float *)arg, dyt);
    LH_CUDA_LAUNCHED(ctx, "permute");
    return 0;
}

int lh_cuda_conv2d_backward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                            const lh_dmem *w, const lh_dmem *dy, lh_dmem *dx, lh_dmem *dw,
                            lh_dmem *db)
{
    if (lh_cuda_conv_check_shape(ctx, s, "conv2d_backward"))
        return LH_BACKEND_EINVAL;
    return lh_cuda_conv_backward_chunks(ctx, s, x, w, dy, permute_dy, lh_cf(dy), dx, dw, db);
}

/* ---- configure ----------------------------------------------------------------------------- */

int lh_cuda_configure(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision)
{
    static const char *const algorithms[] = {"gemm", "auto", "direct", "winograd"};
    int32_t base = precision & ~LH_PRECISION_FLAG_TF32;
    int tf32 = (precision & LH_PRECISION_FLAG_TF32) != 0;
    if (conv_algorithm != LH_CONV_ALGO_GEMM)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "cuda: conv algorithm %s: the cuda backend "
                            "has only gemm (im2col + cuBLAS)",
                            conv_algorithm >= 0 && conv_algorithm <= LH_CONV_ALGO_WINOGRAD
                                ? algorithms[conv_algorithm] : "(unknown)");
    if (base != LH_PRECISION_32 && base != LH_PRECISION_BF16_MIXED)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "cuda: precision %d: expected %d (32) or %d "
                            "(bf16-mixed), optionally with the TF32 flag 0x%x", (int)precision,
                            LH_PRECISION_32, LH_PRECISION_BF16_MIXED, LH_PRECISION_FLAG_TF32);
    LH_BLAS_TRY(ctx, cublasSetMathMode(ctx->blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                       : CUBLAS_DEFAULT_MATH));
    ctx->bf16 = base == LH_PRECISION_BF16_MIXED;
    ctx->tf32 = tf32;
    return LH_BACKEND_OK;
}
