/* kernels/cuda/conv2d_fused.cu — conv2d + bias + relu + maxpool as one op (the CUDA backend's
 * conv2d_relu_maxpool_forward / _backward), on conv2d.cu's im2col + GEMM loops (conv2d.cuh).
 *
 * forward: each chunk's yt (K, nb*P) from the same GEMM as conv2d_forward, then one epilogue
 *   kernel that adds the bias, applies relu and max-pools straight from yt's layout into
 *   p (N,K,POH,POW) and argmax (maxpool.cu's convention): no full-resolution y is stored. The
 *   arithmetic and the window scan are those of unpermute_bias + relu + maxpool_forward, so p
 *   and argmax are the single ops' bits.
 * backward: one kernel writes the gradient at the conv's output from dp, argmax and relu's mask
 *   (p > 0: the pooled value is the relu output of the element it took) in the single ops'
 *   order and bits; then conv2d_backward's dW / dX GEMMs, col2im and db. The kernel writes
 *   dyt (K, nb*P) per chunk, except where conv2d_backward takes dW from dy itself (small Q, a
 *   first layer: conv_dw_direct reads dy (N,K,P)): there it writes dy once into the auxiliary
 *   scratch and the conv backward runs on that.
 * ps is the pool over the conv output: ps->n = s->n, ps->c = s->k, ps->h = s->oh, ps->w = s->ow.
 * Run (tests): ctest --test-dir build -R 'test_cuda_(parity|precision)_emu' */
#include "conv2d.cuh"
#include "maxpool.cuh"

/* The value as pooled from yt: relu(yt + b), rounded as unpermute_bias then relu_forward. */
struct bias_relu {
    float b;
    __device__ float operator()(float v) const
    {
        float y = v + b;
        return y > 0.0f ? y : 0.0f;
    }
};

/* p, argmax (N,K,POH,POW) of images n0.. from yt (K, nb*P). Row: k; position n*POH*POW + o. */
__global__ void bias_relu_pool_kernel(lh_pool_shape ps, int n0, int nb, const float *yt,
                                      const float *b, float *p, int32_t *arg)
{
    int P = ps.h * ps.w, PO = ps.oh * ps.ow, NPO = nb * PO;
    for (int k = blockIdx.y; k < ps.c; k += gridDim.y) {
        bias_relu f = {b ? b[k] : 0.0f};
        const float *row = yt + (int64_t)k * nb * P;
        for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < NPO; t += gridDim.x * blockDim.x) {
            int n = t / PO, o = t - n * PO, oh = o / ps.ow, ow = o - oh * ps.ow, at;
            int64_t out = ((int64_t)(n0 + n) * ps.c + k) * PO + o;
            p[out] = lh_pool_window_max(row + (int64_t)n * P, ps.w, ps.size, oh * ps.stride,
                                        ow * ps.stride, f, &at);
            arg[out] = at;
        }
    }
}

/* The gradient at the conv's output of images n0.. (maxpool_backward then relu_backward), written
 * at out[k * sk + n * sn + pixel]: dyt (K, nb*P) is sk = nb*P, sn = P; dy (N,K,P) is sk = P, sn =
 * K*P. Row: k; position n*P + pixel. */
__global__ void pool_relu_grad_kernel(lh_pool_shape ps, int n0, int nb, const float *dp,
                                      const int32_t *arg, const float *p, float *out, int64_t sk,
                                      int64_t sn)
{
    int P = ps.h * ps.w, PO = ps.oh * ps.ow, NP = nb * P;
    for (int k = blockIdx.y; k < ps.c; k += gridDim.y)
        for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < NP; t += gridDim.x * blockDim.x) {
            int n = t / P, i = t - n * P, h = i / ps.w, w = i - h * ps.w, last;
            int64_t plane = ((int64_t)(n0 + n) * ps.c + k) * PO;
            float g = lh_pool_gather(ps, dp + plane, arg + plane, h, w, &last);
            out[k * sk + n * sn + i] = last >= 0 && p[plane + last] > 0.0f ? g : 0.0f;
        }
}

static int check_shapes(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                        const char *op)
{
    if (lh_cuda_conv_check_shape(ctx, s, op) || lh_cuda_pool_check_shape(ctx, ps, op))
        return LH_BACKEND_EINVAL;
    if (ps->n != s->n || ps->c != s->k || ps->h != s->oh || ps->w != s->ow)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL,
                            "%s: the pool (n=%d c=%d h=%d w=%d) is not "
                            "over the conv's output (n=%d k=%d oh=%d ow=%d)",
                            op, ps->n, ps->c, ps->h, ps->w, s->n, s->k, s->oh, s->ow);
    return 0;
}

/* What the forward epilogue writes to. */
typedef struct pool_out {
    const lh_pool_shape *ps;
    const float *b;
    float *p;
    int32_t *arg;
} pool_out;

static int bias_relu_pool(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb,
                          const float *yt, const void *v)
{
    const pool_out *o = (const pool_out *)v;
    int64_t NPO = (int64_t)nb * o->ps->oh * o->ps->ow;
    LH_LAUNCH(bias_relu_pool_kernel, lh_cuda_grid2(NPO, s->k), LH_CUDA_THREADS, ctx->stream)
    (*o->ps, n0, nb, yt, o->b, o->p, o->arg);
    LH_CUDA_LAUNCHED(ctx, "bias_relu_pool");
    return 0;
}

int lh_cuda_conv2d_relu_maxpool_forward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                        const lh_pool_shape *ps, const lh_dmem *x, const lh_dmem *w,
                                        const lh_dmem *b, lh_dmem *p, lh_dmem *argmax)
{
    pool_out o = {ps, lh_cf(b), lh_f(p), (int32_t *)argmax};
    if (check_shapes(ctx, s, ps, "conv2d_relu_maxpool_forward"))
        return LH_BACKEND_EINVAL;
    return lh_cuda_conv_forward_chunks(ctx, s, x, w, bias_relu_pool, &o);
}

/* What the backward kernel reads. */
typedef struct pool_grad {
    const lh_pool_shape *ps;
    const float *dp, *p;
    const int32_t *arg;
} pool_grad;

static int launch_pool_grad(lh_backend_ctx *ctx, const pool_grad *g, int n0, int nb, float *out,
                            int64_t sk, int64_t sn)
{
    int64_t NP = (int64_t)nb * g->ps->h * g->ps->w;
    LH_LAUNCH(pool_relu_grad_kernel, lh_cuda_grid2(NP, g->ps->c), LH_CUDA_THREADS, ctx->stream)
    (*g->ps, n0, nb, g->dp, g->arg, g->p, out, sk, sn);
    LH_CUDA_LAUNCHED(ctx, "pool_relu_grad");
    return 0;
}

/* lh_cuda_conv_dyt: a chunk's dyt straight from dp. */
static int pool_grad_dyt(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb, const void *v,
                         float *dyt)
{
    int64_t P = (int64_t)s->oh * s->ow;
    return launch_pool_grad(ctx, (const pool_grad *)v, n0, nb, dyt, nb * P, P);
}

int lh_cuda_conv2d_relu_maxpool_backward(lh_backend_ctx *ctx, const lh_conv_shape *s,
                                         const lh_pool_shape *ps, const lh_dmem *x,
                                         const lh_dmem *w, const lh_dmem *p, const lh_dmem *argmax,
                                         const lh_dmem *dp, lh_dmem *dx, lh_dmem *dw, lh_dmem *db)
{
    pool_grad g = {ps, lh_cf(dp), lh_cf(p), (const int32_t *)argmax};
    int64_t P = (int64_t)s->oh * s->ow;
    float *dy;
    int rc;
    if (check_shapes(ctx, s, ps, "conv2d_relu_maxpool_backward"))
        return LH_BACKEND_EINVAL;
    if (s->n == 0 || !lh_cuda_conv_dw_direct(ctx, s))
        return lh_cuda_conv_backward_chunks(ctx, s, x, w, NULL, pool_grad_dyt, &g, dx, dw, db);
    /* the small-Q dW path reads dy (N,K,P): make it once, whole */
    if ((int64_t)s->n * P > INT32_MAX / 2)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL,
                            "conv2d_relu_maxpool_backward: %d images of "
                            "%lld pixels is too many for one pass",
                            s->n, (long long)P);
    if (!(dy = (float *)lh_cuda_scratch_aux(ctx, (size_t)s->n * s->k * P * sizeof(float))))
        return LH_BACKEND_ENOMEM;
    if ((rc = launch_pool_grad(ctx, &g, 0, s->n, dy, P, (int64_t)s->k * P)))
        return rc;
    return lh_cuda_conv2d_backward(ctx, s, x, w, (const lh_dmem *)dy, dx, dw, db);
}
