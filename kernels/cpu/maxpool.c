/* kernels/cpu/maxpool.c — max pooling forward/backward, one (n, c) plane per work item.
 *
 * forward:  y (N,C,OH,OW) = max over each size x size window (floor mode, no padding) and
 *           argmax = the flat index ih*W + iw of the first maximum (PyTorch's tie rule);
 *           a NaN wins the window, as in PyTorch.
 * backward: dx (N,C,H,W) = 0 except dx[argmax] += dy (overlapping windows add up). */
#include <string.h>

#include "kernels/cpu/cpu.h"

typedef struct pool_job {
    const lh_pool_shape *s;
    const float *x, *dy;
    float *y, *dx;
    int32_t *argmax;
    const int32_t *cargmax;
} pool_job;

/* PyTorch's rule: a later element wins if it is greater or NaN. */
static inline void take(float v, int32_t idx, float *m, int32_t *a)
{
    if (v > *m || v != v) {
        *m = v;
        *a = idx;
    }
}

/* The common 2x2 stride-2 case, written with selects so it vectorises. */
LH_CPU_CLONES
static void plane_fwd_2x2(const lh_pool_shape *s, const float *x, float *y, int32_t *am)
{
    const int oh_n = s->oh, ow_n = s->ow, w = s->w; /* locals: the stores cannot alias them */
    for (int oh = 0; oh < oh_n; oh++) {
        const int32_t i0 = 2 * oh * w, i1 = i0 + w;
        const float *r0 = x + i0, *r1 = x + i1;
        float *yo = y + oh * ow_n;
        int32_t *ao = am + oh * ow_n;
        for (int ow = 0; ow < ow_n; ow++) {
            float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
            int bw = !(b <= a); /* greater or NaN */
            float m = bw ? b : a;
            int32_t k = bw ? i0 + 2 * ow + 1 : i0 + 2 * ow;
            int cw = !(c <= m);
            m = cw ? c : m;
            k = cw ? i1 + 2 * ow : k;
            int dw = !(d <= m);
            m = dw ? d : m;
            k = dw ? i1 + 2 * ow + 1 : k;
            yo[ow] = m;
            ao[ow] = k;
        }
    }
}

/* 2x2 stride 2 backward: each window is written once (no separate clearing pass). */
LH_CPU_CLONES
static void plane_bwd_2x2(const lh_pool_shape *s, const float *dy, const int32_t *am, float *dx)
{
    const int oh_n = s->oh, ow_n = s->ow, w = s->w, h = s->h;
    for (int oh = 0; oh < oh_n; oh++) {
        const int32_t i0 = 2 * oh * w, i1 = i0 + w;
        float *r0 = dx + i0, *r1 = dx + i1;
        const float *g = dy + oh * ow_n;
        const int32_t *ao = am + oh * ow_n;
        for (int ow = 0; ow < ow_n; ow++) {
            int32_t k = ao[ow];
            r0[2 * ow] = k == i0 + 2 * ow ? g[ow] : 0.0f;
            r0[2 * ow + 1] = k == i0 + 2 * ow + 1 ? g[ow] : 0.0f;
            r1[2 * ow] = k == i1 + 2 * ow ? g[ow] : 0.0f;
            r1[2 * ow + 1] = k == i1 + 2 * ow + 1 ? g[ow] : 0.0f;
        }
        for (int iw = 2 * ow_n; iw < w; iw++) /* floor mode: columns no window covers */
            r0[iw] = r1[iw] = 0.0f;
    }
    for (int ih = 2 * oh_n; ih < h; ih++)
        memset(dx + (int64_t)ih * w, 0, sizeof(float) * (size_t)w);
}

static void plane_fwd(const lh_pool_shape *s, const float *x, float *y, int32_t *am)
{
    for (int oh = 0; oh < s->oh; oh++)
        for (int ow = 0; ow < s->ow; ow++) {
            int h0 = oh * s->stride, w0 = ow * s->stride;
            float m = x[(int64_t)h0 * s->w + w0];
            int32_t a = h0 * s->w + w0;
            for (int i = 0; i < s->size; i++)
                for (int j = 0; j < s->size; j++) {
                    int32_t idx = (h0 + i) * s->w + w0 + j;
                    take(x[idx], idx, &m, &a);
                }
            y[oh * s->ow + ow] = m;
            am[oh * s->ow + ow] = a;
        }
}

static void forward_task(void *arg, int tid, int nt)
{
    pool_job *j = arg;
    const lh_pool_shape *s = j->s;
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    int64_t lo, hi;
    lh_cpu_split((int64_t)s->n * s->c, tid, nt, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        if (s->size == 2 && s->stride == 2)
            plane_fwd_2x2(s, j->x + p * in_sz, j->y + p * out_sz, j->argmax + p * out_sz);
        else
            plane_fwd(s, j->x + p * in_sz, j->y + p * out_sz, j->argmax + p * out_sz);
    }
}

static void backward_task(void *arg, int tid, int nt)
{
    pool_job *j = arg;
    const lh_pool_shape *s = j->s;
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    int64_t lo, hi;
    lh_cpu_split((int64_t)s->n * s->c, tid, nt, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        float *dx = j->dx + p * in_sz;
        const float *dy = j->dy + p * out_sz;
        const int32_t *am = j->cargmax + p * out_sz;
        if (s->size == 2 && s->stride == 2) {
            plane_bwd_2x2(s, dy, am, dx);
            continue;
        }
        memset(dx, 0, sizeof(float) * (size_t)in_sz);
        for (int64_t o = 0; o < out_sz; o++)
            dx[am[o]] += dy[o];
    }
}

static int check_shape(lh_backend_ctx *ctx, const lh_pool_shape *s)
{
    if (s->n < 0 || s->c <= 0 || s->size <= 0 || s->stride <= 0 || s->h < s->size ||
        s->w < s->size || s->oh != (s->h - s->size) / s->stride + 1 ||
        s->ow != (s->w - s->size) / s->stride + 1)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: maxpool: bad shape n=%d c=%d h=%d w=%d "
                           "size=%d stride=%d -> %dx%d", s->n, s->c, s->h, s->w, s->size,
                           s->stride, s->oh, s->ow);
    return LH_BACKEND_OK;
}

int lh_cpu_maxpool_forward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *x,
                           lh_dmem *y, lh_dmem *argmax)
{
    int rc = check_shape(ctx, s);
    if (rc)
        return rc;
    pool_job j = {.s = s, .x = CF(x), .y = F(y), .argmax = (int32_t *)argmax};
    lh_cpu_pool_run(ctx->pool, forward_task, &j);
    return LH_BACKEND_OK;
}

int lh_cpu_maxpool_backward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *dy,
                            const lh_dmem *argmax, lh_dmem *dx)
{
    int rc = check_shape(ctx, s);
    if (rc)
        return rc;
    pool_job j = {.s = s, .dy = CF(dy), .dx = F(dx), .cargmax = (const int32_t *)argmax};
    lh_cpu_pool_run(ctx->pool, backward_task, &j);
    return LH_BACKEND_OK;
}
