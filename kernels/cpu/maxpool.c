/* kernels/cpu/maxpool.c — max pooling forward/backward, one (n, c) plane per work item.
 *
 * forward:  y (N,C,OH,OW) = max over each size x size window (floor mode, no padding) and
 *           argmax = the flat index ih*W + iw of the first maximum (PyTorch's tie rule);
 *           a NaN wins the window, as in PyTorch.
 * backward: dx (N,C,H,W) = 0 except dx[argmax] += dy (overlapping windows add up). */
#include <string.h>

#include "kernels/cpu/cpu.h"

#if LH_CPU_AVX512_PATHS
#include <immintrin.h>
#endif

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
            yo[ow] = lh_cpu_pool2x2(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1],
                                    i0 + 2 * ow, i1 + 2 * ow, &ao[ow]);
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

#if LH_CPU_AVX512_PATHS
/* AVX-512 versions of the 2x2 stride-2 planes: 16 outputs (32 inputs of each row) per step,
 * even/odd columns split with permutes. Same selection rule and results as the C versions. */
__attribute__((target("avx512f"))) static void plane_fwd_2x2_avx512(const lh_pool_shape *s,
                                                                     const float *x, float *y,
                                                                     int32_t *am)
{
    const int oh_n = s->oh, ow_n = s->ow, w = s->w;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
    for (int oh = 0; oh < oh_n; oh++) {
        const int32_t i0 = 2 * oh * w, i1 = i0 + w;
        for (int ow = 0; ow < ow_n; ow += 16) {
            int cnt = ow_n - ow < 16 ? ow_n - ow : 16, in = 2 * cnt;
            __mmask16 mlo = (__mmask16)(in >= 16 ? 0xFFFF : (1u << in) - 1);
            __mmask16 mhi = (__mmask16)(in > 16 ? (1u << (in - 16)) - 1 : 0);
            __mmask16 mout = (__mmask16)((1u << cnt) - 1);
            const float *r0 = x + i0 + 2 * ow, *r1 = x + i1 + 2 * ow;
            __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0), a1 = _mm512_maskz_loadu_ps(mhi, r0 + 16);
            __m512 b0 = _mm512_maskz_loadu_ps(mlo, r1), b1 = _mm512_maskz_loadu_ps(mhi, r1 + 16);
            __m512 va = _mm512_permutex2var_ps(a0, even, a1), vb = _mm512_permutex2var_ps(a0, odd, a1);
            __m512 vc = _mm512_permutex2var_ps(b0, even, b1), vd = _mm512_permutex2var_ps(b0, odd, b1);
            __m512i ka = _mm512_add_epi32(_mm512_set1_epi32(i0 + 2 * ow), lane2);
            __m512i kc = _mm512_add_epi32(_mm512_set1_epi32(i1 + 2 * ow), lane2);
            __m512 m = va;
            __m512i k = ka;
            /* greater, or NaN: PyTorch's rule */
            __mmask16 t = _mm512_cmp_ps_mask(vb, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(vb, vb, _CMP_UNORD_Q);
            m = _mm512_mask_mov_ps(m, t, vb);
            k = _mm512_mask_add_epi32(k, t, ka, _mm512_set1_epi32(1));
            t = _mm512_cmp_ps_mask(vc, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(vc, vc, _CMP_UNORD_Q);
            m = _mm512_mask_mov_ps(m, t, vc);
            k = _mm512_mask_mov_epi32(k, t, kc);
            t = _mm512_cmp_ps_mask(vd, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(vd, vd, _CMP_UNORD_Q);
            m = _mm512_mask_mov_ps(m, t, vd);
            k = _mm512_mask_add_epi32(k, t, kc, _mm512_set1_epi32(1));
            _mm512_mask_storeu_ps(y + oh * ow_n + ow, mout, m);
            _mm512_mask_storeu_epi32(am + oh * ow_n + ow, mout, k);
        }
    }
}

__attribute__((target("avx512f"))) static void plane_bwd_2x2_avx512(const lh_pool_shape *s,
                                                                     const float *dy,
                                                                     const int32_t *am, float *dx)
{
    const int oh_n = s->oh, ow_n = s->ow, w = s->w, h = s->h;
    /* interleave lanes: lo = (e0, o0, e1, o1, ... e7, o7), hi = (e8, o8, ...) */
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
    const __m512i one = _mm512_set1_epi32(1);
    for (int oh = 0; oh < oh_n; oh++) {
        const int32_t i0 = 2 * oh * w, i1 = i0 + w;
        for (int ow = 0; ow < ow_n; ow += 16) {
            int cnt = ow_n - ow < 16 ? ow_n - ow : 16, in = 2 * cnt;
            __mmask16 mlo = (__mmask16)(in >= 16 ? 0xFFFF : (1u << in) - 1);
            __mmask16 mhi = (__mmask16)(in > 16 ? (1u << (in - 16)) - 1 : 0);
            __mmask16 mout = (__mmask16)((1u << cnt) - 1);
            __m512 g = _mm512_maskz_loadu_ps(mout, dy + oh * ow_n + ow);
            __m512i k = _mm512_maskz_loadu_epi32(mout, am + oh * ow_n + ow);
            __m512i ka = _mm512_add_epi32(_mm512_set1_epi32(i0 + 2 * ow), lane2);
            __m512i kc = _mm512_add_epi32(_mm512_set1_epi32(i1 + 2 * ow), lane2);
            __m512 va = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, ka), g);
            __m512 vb = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_add_epi32(ka, one)), g);
            __m512 vc = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, kc), g);
            __m512 vd = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_add_epi32(kc, one)), g);
            float *r0 = dx + i0 + 2 * ow, *r1 = dx + i1 + 2 * ow;
            _mm512_mask_storeu_ps(r0, mlo, _mm512_permutex2var_ps(va, lo, vb));
            _mm512_mask_storeu_ps(r0 + 16, mhi, _mm512_permutex2var_ps(va, hi, vb));
            _mm512_mask_storeu_ps(r1, mlo, _mm512_permutex2var_ps(vc, lo, vd));
            _mm512_mask_storeu_ps(r1 + 16, mhi, _mm512_permutex2var_ps(vc, hi, vd));
        }
        for (int iw = 2 * ow_n; iw < w; iw++) /* floor mode: columns no window covers */
            dx[i0 + iw] = dx[i1 + iw] = 0.0f;
    }
    for (int ih = 2 * oh_n; ih < h; ih++)
        memset(dx + (int64_t)ih * w, 0, sizeof(float) * (size_t)w);
}
#endif

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

void lh_cpu_maxpool_planes_forward(const lh_pool_shape *s, const float *x, float *y,
                                   int32_t *argmax, int64_t planes)
{
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    const int fast = s->size == 2 && s->stride == 2, simd = fast && lh_cpu_has_avx512();
    (void)simd; /* unused in LH_CPU_PORTABLE builds */
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in_sz;
        float *yp = y + p * out_sz;
        int32_t *ap = argmax + p * out_sz;
#if LH_CPU_AVX512_PATHS
        if (simd) {
            plane_fwd_2x2_avx512(s, xp, yp, ap);
            continue;
        }
#endif
        if (fast)
            plane_fwd_2x2(s, xp, yp, ap);
        else
            plane_fwd(s, xp, yp, ap);
    }
}

void lh_cpu_maxpool_planes_backward(const lh_pool_shape *s, const float *dy,
                                    const int32_t *argmax, float *dx, int64_t planes)
{
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    const int fast = s->size == 2 && s->stride == 2, simd = fast && lh_cpu_has_avx512();
    (void)simd; /* unused in LH_CPU_PORTABLE builds */
    for (int64_t p = 0; p < planes; p++) {
        float *dxp = dx + p * in_sz;
        const float *dyp = dy + p * out_sz;
        const int32_t *ap = argmax + p * out_sz;
#if LH_CPU_AVX512_PATHS
        if (simd) {
            plane_bwd_2x2_avx512(s, dyp, ap, dxp);
            continue;
        }
#endif
        if (fast) {
            plane_bwd_2x2(s, dyp, ap, dxp);
            continue;
        }
        memset(dxp, 0, sizeof(float) * (size_t)in_sz);
        for (int64_t o = 0; o < out_sz; o++)
            dxp[ap[o]] += dyp[o];
    }
}

static void forward_task(void *arg, int tid, int nt)
{
    pool_job *j = arg;
    const lh_pool_shape *s = j->s;
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    int64_t lo, hi;
    lh_cpu_split((int64_t)s->n * s->c, tid, nt, &lo, &hi);
    lh_cpu_maxpool_planes_forward(s, j->x + lo * in_sz, j->y + lo * out_sz, j->argmax + lo * out_sz,
                                  hi - lo);
}

static void backward_task(void *arg, int tid, int nt)
{
    pool_job *j = arg;
    const lh_pool_shape *s = j->s;
    const int64_t in_sz = (int64_t)s->h * s->w, out_sz = (int64_t)s->oh * s->ow;
    int64_t lo, hi;
    lh_cpu_split((int64_t)s->n * s->c, tid, nt, &lo, &hi);
    lh_cpu_maxpool_planes_backward(s, j->dy + lo * out_sz, j->cargmax + lo * out_sz,
                                   j->dx + lo * in_sz, hi - lo);
}

int lh_cpu_maxpool_check(lh_backend_ctx *ctx, const lh_pool_shape *s)
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
    int rc = lh_cpu_maxpool_check(ctx, s);
    if (rc)
        return rc;
    pool_job j = {.s = s, .x = CF(x), .y = F(y), .argmax = (int32_t *)argmax};
    lh_cpu_pool_run(ctx->pool, forward_task, &j);
    return LH_BACKEND_OK;
}

int lh_cpu_maxpool_backward(lh_backend_ctx *ctx, const lh_pool_shape *s, const lh_dmem *dy,
                            const lh_dmem *argmax, lh_dmem *dx)
{
    int rc = lh_cpu_maxpool_check(ctx, s);
    if (rc)
        return rc;
    pool_job j = {.s = s, .dy = CF(dy), .dx = F(dx), .cargmax = (const int32_t *)argmax};
    lh_cpu_pool_run(ctx->pool, backward_task, &j);
    return LH_BACKEND_OK;
}
