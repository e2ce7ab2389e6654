/* kernels/cuda/norm.cu — what torch.nn.utils.clip_grad_norm_ / clip_grad_value_ run over the
 * gradients, on the device: per-segment p-norm partial sums (sum |x|^p in double, max |x| for
 * p = inf), scaling by a factor and clamping to [lo, hi] in place.
 *
 * norm_partials: a grid of (G, count) blocks, G blocks per segment each summing a fixed strided
 * subset and then a fixed tree (no atomics: deterministic); the count * G block sums come back
 * to the host, where each segment's G sums are added in block order. Only those doubles cross;
 * the gradients never leave the device. */
#include <math.h>
#include <stdlib.h>

#include "common.cuh"

#define NORM_INF 0
#define NORM_1 1
#define NORM_2 2
#define NORM_P 3

__host__ __device__ __forceinline__ double norm_join(int mode, double a, double b)
{
    return mode != NORM_INF ? a + b : b > a || b != b ? b : a; /* NaN wins, as torch */
}

__global__ void norm_partials_kernel(const int64_t *bounds, const float *x, int mode, double p,
                                     double *parts)
{
    __shared__ double part[LH_CUDA_THREADS];
    int64_t lo = bounds[blockIdx.y], hi = bounds[blockIdx.y + 1];
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    double acc = 0;
    for (int64_t i = lo + blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < hi; i += stride) {
        double v = fabs((double)x[i]);
        acc = mode == NORM_2   ? acc + v * v
              : mode == NORM_1 ? acc + v
              : mode == NORM_P ? acc + pow(v, p)
                               : norm_join(NORM_INF, acc, v);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            part[threadIdx.x] = norm_join(mode, part[threadIdx.x], part[threadIdx.x + half]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        parts[(int64_t)blockIdx.y * gridDim.x + blockIdx.x] = part[0];
}

__global__ void scale_kernel(int64_t n, float factor, float *x)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = x[i] * factor;
}

__global__ void clamp_kernel(int64_t n, float lo, float hi, float *x)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        x[i] = v < lo ? lo : v > hi ? hi : v; /* NaN: both false */
    }
}

int lh_cuda_norm_partials(lh_backend_ctx *ctx, int32_t count, const int64_t *bounds,
                          const lh_dmem *x, double p, double *out)
{
    int mode = isinf(p) ? NORM_INF : p == 1 ? NORM_1 : p == 2 ? NORM_2 : NORM_P;
    int64_t longest = 0, g;
    size_t bounds_bytes = ((size_t)count + 1) * sizeof(int64_t);
    char *scratch;
    double *parts, *host;
    if (count < 0 || count > 65535 || !(p > 0))
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "norm_partials: expected 0 <= count <= "
                            "65535 and p > 0, got count=%d p=%g", (int)count, p);
    for (int32_t s = 0; s < count; s++) {
        if (bounds[s + 1] < bounds[s])
            return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "norm_partials: segment %d ends before "
                                "it starts", (int)s);
        longest = bounds[s + 1] - bounds[s] > longest ? bounds[s + 1] - bounds[s] : longest;
    }
    if (count == 0)
        return 0;
    /* blocks per segment: ~32 elements per thread, at most 128 (the host adds G per segment) */
    g = (longest + 32 * LH_CUDA_THREADS - 1) / (32 * LH_CUDA_THREADS);
    g = g < 1 ? 1 : g > 128 ? 128 : g;
    bounds_bytes = (bounds_bytes + 15) & ~(size_t)15;
    if (!(scratch = (char *)lh_cuda_scratch(ctx, bounds_bytes + (size_t)count * g * 8)))
        return LH_BACKEND_ENOMEM;
    parts = (double *)(scratch + bounds_bytes);
    if (!(host = (double *)malloc((size_t)count * g * 8)))
        return lh_cuda_fail(ctx, LH_BACKEND_ENOMEM, "norm_partials: out of host memory");
    LH_CUDA_TRY(ctx, cudaMemcpyAsync(scratch, bounds, ((size_t)count + 1) * sizeof(int64_t),
                                     cudaMemcpyHostToDevice, ctx->stream));
    LH_LAUNCH(norm_partials_kernel, dim3((unsigned)g, (unsigned)count, 1), LH_CUDA_THREADS,
              ctx->stream)((const int64_t *)scratch, lh_cf(x), mode, p, parts);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(host, parts, (size_t)count * g * 8, cudaMemcpyDeviceToHost,
                            ctx->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(ctx->stream);
    if (e != cudaSuccess) {
        free(host);
        return lh_cuda_fail_rt(ctx, e, "norm_partials", __FILE__, __LINE__);
    }
    for (int32_t s = 0; s < count; s++) {
        double acc = host[(int64_t)s * g];
        for (int64_t b = 1; b < g; b++)
            acc = norm_join(mode, acc, host[s * g + b]);
        out[s] = acc;
    }
    free(host);
    return 0;
}

int lh_cuda_scale(lh_backend_ctx *ctx, int64_t n, float factor, lh_dmem *x)
{
    if (n < 0)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "scale: negative length %lld", (long long)n);
    if (n == 0)
        return 0;
    LH_LAUNCH(scale_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(n, factor, lh_f(x));
    LH_CUDA_LAUNCHED(ctx, "scale");
    return 0;
}

int lh_cuda_clamp(lh_backend_ctx *ctx, int64_t n, float lo, float hi, lh_dmem *x)
{
    if (n < 0 || !(lo <= hi))
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "clamp: expected n >= 0 and lo <= hi, got "
                            "n=%lld lo=%g hi=%g", (long long)n, (double)lo, (double)hi);
    if (n == 0)
        return 0;
    LH_LAUNCH(clamp_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(n, lo, hi, lh_f(x));
    LH_CUDA_LAUNCHED(ctx, "clamp");
    return 0;
}
