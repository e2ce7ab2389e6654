/* kernels/cuda/maxpool.cu — max pooling, kernel `size`, `stride`, no padding, floor mode.
 * forward: x (N,C,H,W) -> y (N,C,OH,OW), argmax (N,C,OH,OW) int32 = h * W + w within the plane;
 * the first maximum in row-major window order wins, NaN counts as the maximum (PyTorch).
 * backward: dx (N,C,H,W) = sum of dy over the outputs whose argmax is this element; every dx
 * element is written (gather form: no atomics, deterministic, overlapping windows allowed). */
#include "maxpool.cuh"

/* I: the element index type, int32_t whenever the tensor allows (64-bit division is slow on
 * the GPU), int64_t beyond. */
template <typename I>
__global__ void maxpool_forward_kernel(lh_pool_shape s, const float *x, float *y, int32_t *arg)
{
    I total = (I)s.n * s.c * s.oh * s.ow, per_plane = (I)s.oh * s.ow;
    for (I t = blockIdx.x * (I)blockDim.x + threadIdx.x; t < total;
         t += (I)gridDim.x * blockDim.x) {
        I plane = t / per_plane;
        int o = (int)(t - plane * per_plane), oh = o / s.ow, ow = o - oh * s.ow, at;
        const float *xp = x + (int64_t)plane * s.h * s.w;
        y[t] = lh_pool_window_max(xp, s.w, s.size, oh * s.stride, ow * s.stride,
                                  lh_pool_plain(), &at);
        arg[t] = at;
    }
}

template <typename I>
__global__ void maxpool_backward_kernel(lh_pool_shape s, const float *dy, const int32_t *arg,
                                        float *dx)
{
    I total = (I)s.n * s.c * s.h * s.w, per_plane = (I)s.h * s.w;
    for (I t = blockIdx.x * (I)blockDim.x + threadIdx.x; t < total;
         t += (I)gridDim.x * blockDim.x) {
        I plane = t / per_plane;
        int i = (int)(t - plane * per_plane), h = i / s.w, w = i - h * s.w, last;
        const float *dyp = dy + (int64_t)plane * s.oh * s.ow;
        const int32_t *ap = arg + (int64_t)plane * s.oh * s.ow;
        float acc = lh_pool_gather(s, dyp, ap, h, w, &last);
        dx[t] = acc;
    }
}

int lh_cuda_pool_check_shape(lh_backend_ctx *ctx, const lh_pool_shape *s, const char *op)
{
    if (s->n < 0 || s->c < 0 || s->size < 1 || s->stride < 1 ||
        s->oh != (s->h - s->size) / s->stride + 1 || s->ow != (s->w - s->size) / s->stride + 1 ||
        s->oh < 1 || s->ow < 1)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: bad shape n=%d c=%d h=%d w=%d size=%d "
                            "stride=%d oh=%d ow=%d", op, s->n, s->c, s->h, s->w, s->size,
                            s->stride, s->oh, s->ow);
    return 0;
}

int lh_cuda_maxpool_forward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *x,
                            lh_dmem *y, lh_dmem *argmax)
{
    int64_t total = (int64_t)s->n * s->c * s->oh * s->ow;
    if (lh_cuda_pool_check_shape(ctx, s, "maxpool_forward"))
        return LH_BACKEND_EINVAL;
    if (total == 0)
        return 0;
    if (lh_cuda_index32(total))
        LH_LAUNCH(maxpool_forward_kernel<int32_t>, lh_cuda_blocks(total), LH_CUDA_THREADS,
                  ctx->stream)(*s, lh_cf(x), lh_f(y), (int32_t *)argmax);
    else
        LH_LAUNCH(maxpool_forward_kernel<int64_t>, lh_cuda_blocks(total), LH_CUDA_THREADS,
                  ctx->stream)(*s, lh_cf(x), lh_f(y), (int32_t *)argmax);
    LH_CUDA_LAUNCHED(ctx, "maxpool_forward");
    return 0;
}

int lh_cuda_maxpool_backward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *dy,
                             const lh_dmem *argmax, lh_dmem *dx)
{
    int64_t total = (int64_t)s->n * s->c * s->h * s->w;
    if (lh_cuda_pool_check_shape(ctx, s, "maxpool_backward"))
        return LH_BACKEND_EINVAL;
    if (total == 0)
        return 0;
    if (lh_cuda_index32(total))
        LH_LAUNCH(maxpool_backward_kernel<int32_t>, lh_cuda_blocks(total), LH_CUDA_THREADS,
                  ctx->stream)(*s, lh_cf(dy), (const int32_t *)argmax, lh_f(dx));
    else
        LH_LAUNCH(maxpool_backward_kernel<int64_t>, lh_cuda_blocks(total), LH_CUDA_THREADS,
                  ctx->stream)(*s, lh_cf(dy), (const int32_t *)argmax, lh_f(dx));
    LH_CUDA_LAUNCHED(ctx, "maxpool_backward");
    return 0;
}
