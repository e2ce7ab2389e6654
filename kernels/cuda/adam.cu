/* kernels/cuda/adam.cu — Adam / AdamW update over n parameters, PyTorch semantics:
 *   g = grad (+ wd * p for Adam);  p *= 1 - lr * wd (AdamW)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * 1 - b and the bias corrections are computed on the host in double, as PyTorch does in Python
 * (lh_adam_scalars_of). */
#include <math.h>

#include "common.cuh"

__global__ void adam_kernel(int64_t n, float lr, float b1, float b2, float c1, float c2,
                            float eps, float wd, int decoupled, float step_size, float bc2_sqrt,
                            float *p,
                            const float *grad, float *m, float *v)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i], w = p[i];
        if (decoupled)
            w *= 1.0f - lr * wd;
        else if (wd != 0.0f)
            g += wd * w;
        float mi = b1 * m[i] + c1 * g;
        float vi = b2 * v[i] + c2 * g * g;
        m[i] = mi, v[i] = vi;
        p[i] = w - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

int lh_cuda_adam_step(lh_backend_ctx *ctx, int64_t n, const lh_adam_args *a, lh_dmem *param,
                      const lh_dmem *grad, lh_dmem *m, lh_dmem *v)
{
    lh_adam_scalars sc;
    if (a->step < 1)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "adam_step: step %lld (expected >= 1)",
                            (long long)a->step);
    if (n <= 0)
        return 0;
    sc = lh_adam_scalars_of(a);
    LH_LAUNCH(adam_kernel, lh_cuda_blocks(n), LH_CUDA_THREADS, ctx->stream)(
        n, a->lr, a->beta1, a->beta2, sc.c1, sc.c2, a->eps, a->weight_decay, a->decoupled,
        sc.step_size, sc.bc2_sqrt, lh_f(param), lh_cf(grad), lh_f(m), lh_f(v));
    LH_CUDA_LAUNCHED(ctx, "adam");
    return 0;
}
