/* kernels/cuda/relu.cu — y = max(x, 0) over n elements (y may equal x);
 * backward dx = dy * (y > 0) (dx may equal dy). */
#include "common.cuh"

__global__ void relu_forward_kernel(int64_t n, const float *x, float *y)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(int64_t n, const float *y, const float *dy, float *dx)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

int lh_cuda_relu_forward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *x, lh_dmem *y)
{
    if (n <= 0)
        return 0;
    LH_LAUNCH(relu_forward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, lh_cf(x), lh_f(y));
    LH_CUDA_LAUNCHED(ctx, "relu_forward");
    return 0;
}

int lh_cuda_relu_backward(lh_backend_ctx *ctx, int64_t n, const lh_dmem *y, const lh_dmem *dy,
                          lh_dmem *dx)
{
    if (n <= 0)
        return 0;
    LH_LAUNCH(relu_backward_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, lh_cf(y), lh_cf(dy), lh_f(dx));
    LH_CUDA_LAUNCHED(ctx, "relu_backward");
    return 0;
}
