/* kernels/cpu/avgpool.c — average pooling (fixed and adaptive windows, kernels/pool_window.h),
 * forward and backward, one (H, W) plane at a time. The divisor is the window's element count
 * (no padding, so PyTorch's count_include_pad does not arise). */
#include "kernels/cpu/cpu.h"
#include "kernels/pool_window.h"

static int check(lh_backend_ctx *ctx, const lh_pool_shape *s, const char *op)
{
    if (s->n < 0 || s->c < 0 || s->h < 1 || s->w < 1 || s->oh < 1 || s->ow < 1 ||
        s->size < 0 || (s->size > 0 && (s->stride < 1 ||
                                        (s->oh - 1) * s->stride + s->size > s->h ||
                                        (s->ow - 1) * s->stride + s->size > s->w)) ||
        (s->size == 0 && (s->oh > s->h || s->ow > s->w)))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: inconsistent shape %dx%d -> %dx%d "
                           "(size %d, stride %d)", op, s->h, s->w, s->oh, s->ow, s->size,
                           s->stride);
    return LH_BACKEND_OK;
}

int lh_cpu_avgpool_forward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *x,
                           lh_dmem *y)
{
    const float *xp = CF(x);
    float *yp = F(y);
    int64_t planes = (int64_t)s->n * s->c, pl;
    if (check(ctx, s, "avgpool_forward"))
        return LH_BACKEND_EINVAL;
    for (pl = 0; pl < planes; pl++) {
        const float *xi = xp + pl * s->h * s->w;
        float *yi = yp + pl * s->oh * s->ow;
        for (int32_t oy = 0; oy < s->oh; oy++) {
            int32_t y0, y1;
            lh_pool_window(s->size, s->stride, s->h, s->oh, oy, &y0, &y1);
            for (int32_t ox = 0; ox < s->ow; ox++) {
                int32_t x0, x1;
                float acc = 0.0f;
                lh_pool_window(s->size, s->stride, s->w, s->ow, ox, &x0, &x1);
                for (int32_t r = y0; r < y1; r++)
                    for (int32_t c = x0; c < x1; c++)
                        acc += xi[r * s->w + c];
                yi[oy * s->ow + ox] = acc / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
    return LH_BACKEND_OK;
}

int lh_cpu_avgpool_backward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *dy,
                            lh_dmem *dx)
{
    const float *gp = CF(dy);
    float *dp = F(dx);
    int64_t planes = (int64_t)s->n * s->c, pl;
    if (check(ctx, s, "avgpool_backward"))
        return LH_BACKEND_EINVAL;
    for (pl = 0; pl < planes; pl++) {
        const float *gi = gp + pl * s->oh * s->ow;
        float *di = dp + pl * s->h * s->w;
        for (int64_t k = 0; k < (int64_t)s->h * s->w; k++)
            di[k] = 0.0f;
        for (int32_t oy = 0; oy < s->oh; oy++) {
            int32_t y0, y1;
            lh_pool_window(s->size, s->stride, s->h, s->oh, oy, &y0, &y1);
            for (int32_t ox = 0; ox < s->ow; ox++) {
                int32_t x0, x1;
                float g;
                lh_pool_window(s->size, s->stride, s->w, s->ow, ox, &x0, &x1);
                g = gi[oy * s->ow + ox] / (float)((y1 - y0) * (x1 - x0));
                for (int32_t r = y0; r < y1; r++)
                    for (int32_t c = x0; c < x1; c++)
                        di[r * s->w + c] += g;
            }
        }
    }
    return LH_BACKEND_OK;
}
