/* kernels/cuda/dropout.cu — inverted dropout with the shared counter-based hash
 * (kernels/dropout_hash.h), so the mask is bit-identical to the CPU backend's.
 * forward: mask (n) = 1/(1-p) or 0, y = x * mask (y may equal x); backward: dx = dy * mask. */
#include "common.cuh"
#include "kernels/dropout_hash.h"

__global__ void dropout_forward_kernel(int64_t n, float p, uint64_t seed,
                                       const float *x, float *y, float *mask)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float m = lh_dropout_mask(seed, (uint64_t)i, p);
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

__global__ void dropout_backward_kernel(int64_t n, const float *dy, const float *mask, float *dx)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dx[i] = dy[i] * mask[i];
}

int lh_cuda_dropout_forward(lh_backend_ctx *ctx, int64_t n, float p, uint64_t seed,
                            const lh_dmem *x, lh_dmem *y, lh_dmem *mask)
{
    if (!(p >= 0.0f && p <= 1.0f))
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "dropout_forward: p=%g is not in [0, 1]",
                            (double)p);
    if (n <= 0)
        return 0;
    LH_LAUNCH(dropout_forward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, p, seed, lh_cf(x), lh_f(y), lh_f(mask));
    LH_CUDA_LAUNCHED(ctx, "dropout_forward");
    return 0;
}

int lh_cuda_dropout_backward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *dy,
                             const lh_dmem *mask, lh_dmem *dx)
{
    if (n <= 0)
        return 0;
    LH_LAUNCH(dropout_backward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, lh_cf(dy), lh_cf(mask), lh_f(dx));
    LH_CUDA_LAUNCHED(ctx, "dropout_backward");
    return 0;
}
