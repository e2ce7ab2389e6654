/* kernels/cuda/softmax_xent.cu — mean softmax cross-entropy over n rows of c logits.
 * logits (n, c), targets (n) int32 -> loss (1) = mean_i [logsumexp(row i) - logits[i, t_i]],
 * dlogits (n, c) = (softmax - onehot) / n (skipped when NULL). One warp per row; the row losses
 * are then summed by one block in a fixed order, so the loss is deterministic. A target outside
 * [0, c) makes that row's loss and gradient NaN (the caller validates labels on the host). */
#include <math.h>

#include "common.cuh"

#define LH_XENT_WARPS 8 /* rows per block */

__global__ void xent_rows_kernel(int32_t n, int32_t c, const float *logits,
                                 const int32_t *targets, float *row_loss, float *dlogits)
{
    int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * LH_XENT_WARPS + (threadIdx.x >> 5);
    if (row >= n)
        return;
    const float *x = logits + row * c;
    int32_t t = targets[row];
    float mx = -INFINITY, sum = 0.0f;
    for (int j = lane; j < c; j += 32)
        mx = fmaxf(mx, x[j]);
    for (int o = 16; o > 0; o /= 2)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    for (int j = lane; j < c; j += 32)
        sum += expf(x[j] - mx);
    for (int o = 16; o > 0; o /= 2)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    float lse = logf(sum) + mx;
    int bad = t < 0 || t >= c;
    if (lane == 0)
        row_loss[row] = bad ? NAN : lse - x[t];
    if (dlogits) {
        float inv_n = 1.0f / (float)n;
        float *d = dlogits + row * c;
        for (int j = lane; j < c; j += 32)
            d[j] = bad ? NAN : (expf(x[j] - mx) / sum - (j == t ? 1.0f : 0.0f)) * inv_n;
    }
}

__global__ void mean_kernel(int32_t n, const float *v, float *out)
{
    __shared__ float part[LH_CUDA_THREADS];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        acc += v[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[0] = part[0] / (float)n;
}

int lh_cuda_softmax_xent(lh_backend_ctx *ctx, int32_t n, int32_t c, const lh_dmem *logits,
                         const lh_dmem *targets, lh_dmem *loss, lh_dmem *dlogits)
{
    float *row_loss;
    if (n < 1 || c < 1)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "softmax_xent: bad shape n=%d c=%d", n, c);
    if (!(row_loss = (float *)lh_cuda_scratch(ctx, (size_t)n * sizeof(float))))
        return LH_BACKEND_ENOMEM;
    LH_LAUNCH(xent_rows_kernel, (unsigned)((n + LH_XENT_WARPS - 1) / LH_XENT_WARPS),
              32 * LH_XENT_WARPS, ctx->stream)(n, c, lh_cf(logits), (const int32_t *)targets,
                                               row_loss, dlogits ? lh_f(dlogits) : NULL);
    LH_CUDA_LAUNCHED(ctx, "xent_rows");
    LH_LAUNCH(mean_kernel, 1, LH_CUDA_THREADS, ctx->stream)(n, row_loss, lh_f(loss));
    LH_CUDA_LAUNCHED(ctx, "mean");
    return 0;
}
