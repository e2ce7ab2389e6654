/* kernels/cuda/reduce.cu — helpers shared by several ops: bias-gradient sums in a fixed order
 * (deterministic, no atomics) and the bias broadcast-add after a GEMM. */
#include "common.cuh"

/* One block per output j; each thread sums a fixed strided subset, then a fixed tree. I: the
 * index type of the A*B terms, int32_t when they fit (64-bit division is slow on the GPU). */
template <typename I>
__global__ void sum_strided_kernel(const float *in, int64_t A, int64_t B, int64_t stride_a,
                                   int64_t stride_j, float *out)
{
    __shared__ float part[LH_CUDA_THREADS];
    int64_t j = blockIdx.x;
    I total = (I)(A * B), Bi = (I)B;
    float acc = 0.0f;
    for (I t = threadIdx.x; t < total; t += blockDim.x) {
        I a = t / Bi, b = t - a * Bi;
        acc += in[a * stride_a + j * stride_j + b];
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[j] = part[0];
}

/* y (rows, cols) += b (cols) */
__global__ void add_bias_rows_kernel(int64_t total, int64_t cols, const float *b, float *y)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] += b[i % cols];
}

int lh_cuda_sum_strided(lh_backend_ctx *ctx, const float *in, int64_t A, int64_t B, int64_t J,
                        int64_t stride_a, int64_t stride_j, float *out)
{
    if (J <= 0)
        return 0;
    if (J > 0x7fffffff)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "sum_strided: %lld outputs is too many",
                            (long long)J);
    if (lh_cuda_index32(A * B))
        LH_LAUNCH(sum_strided_kernel<int32_t>, (unsigned)J, LH_CUDA_THREADS, ctx->stream)(
            in, A, B, stride_a, stride_j, out);
    else
        LH_LAUNCH(sum_strided_kernel<int64_t>, (unsigned)J, LH_CUDA_THREADS, ctx->stream)(
            in, A, B, stride_a, stride_j, out);
    LH_CUDA_LAUNCHED(ctx, "sum_strided");
    return 0;
}

int lh_cuda_add_bias_rows(lh_backend_ctx *ctx, int64_t rows, int64_t cols, const float *b,
                          float *y)
{
    int64_t total = rows * cols;
    if (total <= 0 || !b) /* no bias */
        return 0;
    LH_LAUNCH(add_bias_rows_kernel, lh_cuda_blocks(total), LH_CUDA_THREADS, ctx->stream)(
        total, cols, b, y);
    LH_CUDA_LAUNCHED(ctx, "add_bias_rows");
    return 0;
}
