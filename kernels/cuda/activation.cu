/* kernels/cuda/activation.cu — the element-wise activations of kernels/act_math.h (tanh,
 * sigmoid, gelu, silu, leaky_relu), forward and backward, and the element-wise sum `add`. */
#include "common.cuh"
#include "kernels/act_math.h"

__global__ void act_forward_kernel(int32_t kind, float slope, int64_t n, const float *x,
                                   float *y)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = lh_act_f(kind, slope, x[i]);
}

__global__ void act_backward_kernel(int32_t kind, float slope, int64_t n, const float *x,
                                    const float *dy, float *dx)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dx[i] = lh_act_df(kind, slope, x[i], dy[i]);
}

__global__ void add_kernel(int64_t n, const float *a, const float *b, float *y)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

static int check_kind(lh_backend_ctx *ctx, int32_t kind, const char *op)
{
    if (kind < LH_ACT_TANH || kind > LH_ACT_LEAKY_RELU)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: unknown activation %d", op, (int)kind);
    return 0;
}

int lh_cuda_act_forward(lh_backend_ctx *ctx, int32_t kind, float slope, int64_t n,
                        const lh_dmem *x, lh_dmem *y)
{
    if (check_kind(ctx, kind, "act_forward"))
        return LH_BACKEND_EINVAL;
    if (n <= 0)
        return 0;
    LH_LAUNCH(act_forward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        kind, slope, n, lh_cf(x), lh_f(y));
    LH_CUDA_LAUNCHED(ctx, "act_forward");
    return 0;
}

int lh_cuda_act_backward(lh_backend_ctx *ctx, int32_t kind, float slope, int64_t n,
                         const lh_dmem *x, const lh_dmem *dy, lh_dmem *dx)
{
    if (check_kind(ctx, kind, "act_backward"))
        return LH_BACKEND_EINVAL;
    if (n <= 0)
        return 0;
    LH_LAUNCH(act_backward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        kind, slope, n, lh_cf(x), lh_cf(dy), lh_f(dx));
    LH_CUDA_LAUNCHED(ctx, "act_backward");
    return 0;
}

int lh_cuda_add(lh_backend_ctx *ctx, int64_t n, const lh_dmem *a, const lh_dmem *b, lh_dmem *y)
{
    if (n <= 0)
        return 0;
    LH_LAUNCH(add_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, lh_cf(a), lh_cf(b), lh_f(y));
    LH_CUDA_LAUNCHED(ctx, "add");
    return 0;
}
