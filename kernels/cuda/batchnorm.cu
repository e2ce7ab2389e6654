/* kernels/cuda/batchnorm.cu — batch normalisation over (N, C, HW), forward (train and eval) and
 * backward; the arithmetic is kernels/cpu/batchnorm.c's (see there). One block per channel:
 * each thread sums a fixed strided subset of the channel's N * HW values, then a fixed tree
 * (deterministic, no atomics); forward takes two passes (mean, then squared deviations). */
#include "common.cuh"

/* The block's sum of v (one value per thread), returned to every thread. */
__device__ static float block_sum(float v, float *part)
{
    float total;
    part[threadIdx.x] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    total = part[0];
    __syncthreads(); /* part is reused by the next sum */
    return total;
}

__global__ void batchnorm_forward_kernel(lh_bn_args a, const float *x, const float *gamma,
                                         const float *beta, float *rm, float *rv,
                                         float *save_mean, float *save_invstd, float *y)
{
    __shared__ float part[LH_CUDA_THREADS];
    int32_t c = blockIdx.x;
    int64_t M = (int64_t)a.n * a.hw, cs = (int64_t)a.c * a.hw;
    /* eval sums nothing, but every thread still meets the same barriers either way */
    int64_t count = a.training ? M : 0;
    float mean, var, inv, acc = 0.0f;
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x)
        acc += x[t / a.hw * cs + (int64_t)c * a.hw + t % a.hw];
    mean = block_sum(acc, part) / (float)M;
    acc = 0.0f;
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x) {
        float d = x[t / a.hw * cs + (int64_t)c * a.hw + t % a.hw] - mean;
        acc += d * d;
    }
    var = block_sum(acc, part) / (float)M;
    if (a.training) {
        if (threadIdx.x == 0) {
            rm[c] = (1.0f - a.momentum) * rm[c] + a.momentum * mean;
            rv[c] = (1.0f - a.momentum) * rv[c] +
                    a.momentum * (float)((double)var * (double)M / (double)(M - 1));
        }
    } else {
        mean = rm[c], var = rv[c];
    }
    inv = 1.0f / sqrtf(var + a.eps);
    if (threadIdx.x == 0) {
        if (save_mean)
            save_mean[c] = mean;
        if (save_invstd)
            save_invstd[c] = inv;
    }
    for (int64_t t = threadIdx.x; t < M; t += blockDim.x) {
        int64_t at = t / a.hw * cs + (int64_t)c * a.hw + t % a.hw;
        y[at] = (x[at] - mean) * inv * gamma[c] + beta[c];
    }
}

__global__ void batchnorm_backward_kernel(lh_bn_args a, const float *x, const float *gamma,
                                          const float *mu, const float *is, const float *dy,
                                          float *dx, float *dgamma, float *dbeta)
{
    __shared__ float part[LH_CUDA_THREADS];
    int32_t c = blockIdx.x;
    int64_t M = (int64_t)a.n * a.hw, cs = (int64_t)a.c * a.hw;
    float sdy = 0.0f, sdyx = 0.0f;
    for (int64_t t = threadIdx.x; t < M; t += blockDim.x) {
        int64_t at = t / a.hw * cs + (int64_t)c * a.hw + t % a.hw;
        sdy += dy[at];
        sdyx += dy[at] * (x[at] - mu[c]) * is[c];
    }
    sdy = block_sum(sdy, part);
    sdyx = block_sum(sdyx, part);
    if (threadIdx.x == 0)
        dbeta[c] = sdy, dgamma[c] = sdyx;
    if (!dx)
        return;
    for (int64_t t = threadIdx.x; t < M; t += blockDim.x) {
        int64_t at = t / a.hw * cs + (int64_t)c * a.hw + t % a.hw;
        float xhat = (x[at] - mu[c]) * is[c];
        dx[at] = a.training ? gamma[c] * is[c] / (float)M * ((float)M * dy[at] - sdy - xhat * sdyx)
                            : gamma[c] * is[c] * dy[at];
    }
}

static int check(lh_backend_ctx *ctx, const lh_bn_args *a, const char *op)
{
    if (a->n < 1 || a->c < 1 || a->hw < 1 || (a->training && (int64_t)a->n * a->hw < 2))
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: expected more than 1 value per channel "
                            "while training (n %d, c %d, hw %d)", op, a->n, a->c, a->hw);
    return 0;
}

int lh_cuda_batchnorm_forward(lh_backend_ctx *ctx, const lh_bn_args *a, const lh_dmem *x,
                              const lh_dmem *gamma, const lh_dmem *beta, lh_dmem *running_mean,
                              lh_dmem *running_var, lh_dmem *save_mean, lh_dmem *save_invstd,
                              lh_dmem *y)
{
    if (check(ctx, a, "batchnorm_forward"))
        return LH_BACKEND_EINVAL;
    LH_LAUNCH(batchnorm_forward_kernel, (unsigned)a->c, LH_CUDA_THREADS, ctx->stream)(
        *a, lh_cf(x), lh_cf(gamma), lh_cf(beta), lh_f(running_mean), lh_f(running_var),
        lh_f(save_mean), lh_f(save_invstd), lh_f(y));
    LH_CUDA_LAUNCHED(ctx, "batchnorm_forward");
    return 0;
}

int lh_cuda_batchnorm_backward(lh_backend_ctx *ctx, const lh_bn_args *a, const lh_dmem *x,
                               const lh_dmem *gamma, const lh_dmem *save_mean,
                               const lh_dmem *save_invstd, const lh_dmem *dy, lh_dmem *dx,
                               lh_dmem *dgamma, lh_dmem *dbeta)
{
    if (check(ctx, a, "batchnorm_backward"))
        return LH_BACKEND_EINVAL;
    LH_LAUNCH(batchnorm_backward_kernel, (unsigned)a->c, LH_CUDA_THREADS, ctx->stream)(
        *a, lh_cf(x), lh_cf(gamma), lh_cf(save_mean), lh_cf(save_invstd), lh_cf(dy), lh_f(dx),
        lh_f(dgamma), lh_f(dbeta));
    LH_CUDA_LAUNCHED(ctx, "batchnorm_backward");
    return 0;
}
