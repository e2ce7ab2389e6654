/* kernels/cuda/sgd.cu — SGD update over n parameters, PyTorch semantics:
 *   g = grad + wd * p
 *   momentum != 0: buf = first_step ? g : momentum * buf + (1 - dampening) g
 *                  g = nesterov ? g + momentum * buf : buf
 *   p -= lr * g
 * buf is untouched (and may be NULL) when momentum is 0. */
#include "common.cuh"

__global__ void sgd_kernel(int64_t n, lh_sgd_args a, float *p, const float *grad, float *buf)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (a.weight_decay != 0.0f)
            g += a.weight_decay * p[i];
        if (a.momentum != 0.0f) {
            float b = a.first_step ? g : a.momentum * buf[i] + (1.0f - a.dampening) * g;
            buf[i] = b;
            g = a.nesterov ? g + a.momentum * b : b;
        }
        p[i] -= a.lr * g;
    }
}

int lh_cuda_sgd_step(lh_backend_ctx *ctx, int64_t n, const lh_sgd_args *a, lh_dmem *param,
                     const lh_dmem *grad, lh_dmem *buf)
{
    if (a->momentum != 0.0f && !buf)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "sgd_step: momentum %g needs a buffer",
                            (double)a->momentum);
    if (n <= 0)
        return 0;
    LH_LAUNCH(sgd_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, *a, lh_f(param), lh_cf(grad), lh_f(buf));
    LH_CUDA_LAUNCHED(ctx, "sgd");
    return 0;
}
