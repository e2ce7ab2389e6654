/* kernels/cuda/avgpool.cu — average pooling with fixed or adaptive windows
 * (kernels/pool_window.h): one thread per output element forward; backward one thread per
 * input element, gathering from every window that holds it (no atomics, deterministic). */
#include "common.cuh"
#include "kernels/pool_window.h"

__global__ void avgpool_forward_kernel(lh_pool_shape s, const float *x, float *y)
{
    int64_t total = (int64_t)s.n * s.c * s.oh * s.ow;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int32_t ox = (int32_t)(i % s.ow), oy = (int32_t)(i / s.ow % s.oh);
        int64_t plane = i / ((int64_t)s.oh * s.ow);
        const float *xi = x + plane * s.h * s.w;
        int32_t y0, y1, x0, x1;
        float acc = 0.0f;
        lh_pool_window(s.size, s.stride, s.h, s.oh, oy, &y0, &y1);
        lh_pool_window(s.size, s.stride, s.w, s.ow, ox, &x0, &x1);
        for (int32_t r = y0; r < y1; r++)
            for (int32_t c = x0; c < x1; c++)
                acc += xi[r * s.w + c];
        y[i] = acc / (float)((y1 - y0) * (x1 - x0));
    }
}

/* The outputs o whose window [lo(o), hi(o)) holds input index v: a short scan over the outputs
 * near v's position (windows are monotone in o). */
__device__ static void covering(int32_t size, int32_t stride, int32_t in, int32_t out, int32_t v,
                                int32_t *first, int32_t *last)
{
    int32_t o = (int32_t)((int64_t)v * out / in), lo, hi;
    if (size > 0)
        o = v / stride;
    if (o >= out)
        o = out - 1;
    *last = o;
    while (*last + 1 < out) {
        lh_pool_window(size, stride, in, out, *last + 1, &lo, &hi);
        if (lo > v)
            break;
        (*last)++;
    }
    *first = o + 1;
    while (*first > 0) {
        lh_pool_window(size, stride, in, out, *first - 1, &lo, &hi);
        if (hi <= v)
            break;
        (*first)--;
    }
}

__global__ void avgpool_backward_kernel(lh_pool_shape s, const float *dy, float *dx)
{
    int64_t total = (int64_t)s.n * s.c * s.h * s.w;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int32_t vx = (int32_t)(i % s.w), vy = (int32_t)(i / s.w % s.h);
        int64_t plane = i / ((int64_t)s.h * s.w);
        const float *gi = dy + plane * s.oh * s.ow;
        int32_t fy, ly, fx, lx;
        float acc = 0.0f;
        covering(s.size, s.stride, s.h, s.oh, vy, &fy, &ly);
        covering(s.size, s.stride, s.w, s.ow, vx, &fx, &lx);
        for (int32_t oy = fy; oy <= ly; oy++) {
            int32_t y0, y1;
            lh_pool_window(s.size, s.stride, s.h, s.oh, oy, &y0, &y1);
            for (int32_t ox = fx; ox <= lx; ox++) {
                int32_t x0, x1;
                lh_pool_window(s.size, s.stride, s.w, s.ow, ox, &x0, &x1);
                acc += gi[oy * s.ow + ox] / (float)((y1 - y0) * (x1 - x0));
            }
        }
        dx[i] = acc;
    }
}

static int check(lh_backend_ctx *ctx, const lh_pool_shape *s, const char *op)
{
    if (s->n < 0 || s->c < 0 || s->h < 1 || s->w < 1 || s->oh < 1 || s->ow < 1 ||
        s->size < 0 || (s->size > 0 && (s->stride < 1 ||
                                        (s->oh - 1) * s->stride + s->size > s->h ||
                                        (s->ow - 1) * s->stride + s->size > s->w)) ||
        (s->size == 0 && (s->oh > s->h || s->ow > s->w)))
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: inconsistent shape %dx%d -> %dx%d "
                            "(size %d, stride %d)", op, s->h, s->w, s->oh, s->ow, s->size,
                            s->stride);
    return 0;
}

int lh_cuda_avgpool_forward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *x,
                            lh_dmem *y)
{
    int64_t total = (int64_t)s->n * s->c * s->oh * s->ow;
    if (check(ctx, s, "avgpool_forward"))
        return LH_BACKEND_EINVAL;
    if (total <= 0)
        return 0;
    LH_LAUNCH(avgpool_forward_kernel, lh_cuda_blocks(total), LH_CUDA_THREADS, ctx->stream)(
        *s, lh_cf(x), lh_f(y));
    LH_CUDA_LAUNCHED(ctx, "avgpool_forward");
    return 0;
}

int lh_cuda_avgpool_backward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *dy,
                             lh_dmem *dx)
{
    int64_t total = (int64_t)s->n * s->c * s->h * s->w;
    if (check(ctx, s, "avgpool_backward"))
        return LH_BACKEND_EINVAL;
    if (total <= 0)
        return 0;
    LH_LAUNCH(avgpool_backward_kernel, lh_cuda_blocks(total), LH_CUDA_THREADS, ctx->stream)(
        *s, lh_cf(dy), lh_f(dx));
    LH_CUDA_LAUNCHED(ctx, "avgpool_backward");
    return 0;
}
