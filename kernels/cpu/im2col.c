/* kernels/cpu/im2col.c — column matrices for conv2d as GEMM, and their scatter back.
 *
 * col (C*R*S, OH*OW) holds, in row (c, r, s) and column (oh, ow), the input pixel
 * x[c, oh*stride - pad + r, ow*stride - pad + s] (0 outside the image). Stride 1, the common
 * case, goes through a zero-bordered copy of the image so each row is OH branch-free copies of
 * OW floats (AVX-512 masked copies when the CPU has them; conv2's rows are 14 floats). col2im
 * adds every entry back to its pixel in a fixed order, so results are deterministic. */
#include <string.h>

#include "kernels/cpu/cpu.h"

#if LH_CPU_AVX512_PATHS
#include <immintrin.h>
#endif

static int64_t conv_p(const lh_conv_shape *s) { return (int64_t)s->oh * s->ow; }

/* A 1x1, stride 1, unpadded conv reads x directly as its column matrix. */
int lh_cpu_conv_is_pointwise(const lh_conv_shape *s)
{
    return s->r == 1 && s->s == 1 && s->stride == 1 && s->pad == 0;
}

/* Output columns [lo, hi) of row q whose input column ow*stride - pad + q lies in [0, w). */
static void valid_cols(const lh_conv_shape *s, int q, int *lo, int *hi)
{
    int off = q - s->pad;
    int a = off >= 0 ? 0 : (-off + s->stride - 1) / s->stride;
    int b = (s->w - 1 - off) >= 0 ? (s->w - 1 - off) / s->stride + 1 : 0;
    if (b > s->ow)
        b = s->ow;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* col (CRS, P) from one image x (C, H, W). */
LH_CPU_CLONES
static void im2col(const lh_conv_shape *s, const float *x, float *col)
{
    const int64_t p = conv_p(s);
    for (int c = 0; c < s->c; c++)
        for (int r = 0; r < s->r; r++)
            for (int q = 0; q < s->s; q++) {
                float *row = col + ((int64_t)(c * s->r + r) * s->s + q) * p;
                const float *xc = x + (int64_t)c * s->h * s->w;
                int lo, hi;
                valid_cols(s, q, &lo, &hi);
                for (int oh = 0; oh < s->oh; oh++) {
                    float *o = row + (int64_t)oh * s->ow;
                    int ih = oh * s->stride - s->pad + r;
                    if (ih < 0 || ih >= s->h) {
                        for (int ow = 0; ow < s->ow; ow++)
                            o[ow] = 0.0f;
                        continue;
                    }
                    const float *xr = xc + (int64_t)ih * s->w + (q - s->pad);
                    for (int ow = 0; ow < lo; ow++)
                        o[ow] = 0.0f;
                    if (s->stride == 1)
                        for (int ow = lo; ow < hi; ow++)
                            o[ow] = xr[ow];
                    else
                        for (int ow = lo; ow < hi; ow++)
                            o[ow] = xr[(int64_t)ow * s->stride];
                    for (int ow = hi; ow < s->ow; ow++)
                        o[ow] = 0.0f;
                }
            }
}

/* dx (C, H, W) = col2im(col): zeroes dx then adds every column entry back to its pixel.
 * The loop order is fixed, so overlapping windows sum in the same order every run. */
LH_CPU_CLONES
static void col2im(const lh_conv_shape *s, const float *col, float *dx)
{
    const int64_t p = conv_p(s);
    memset(dx, 0, sizeof(float) * (size_t)s->c * s->h * s->w);
    for (int c = 0; c < s->c; c++)
        for (int r = 0; r < s->r; r++)
            for (int q = 0; q < s->s; q++) {
                const float *row = col + ((int64_t)(c * s->r + r) * s->s + q) * p;
                float *xc = dx + (int64_t)c * s->h * s->w;
                int lo, hi;
                valid_cols(s, q, &lo, &hi);
                for (int oh = 0; oh < s->oh; oh++) {
                    int ih = oh * s->stride - s->pad + r;
                    if (ih < 0 || ih >= s->h)
                        continue;
                    const float *o = row + (int64_t)oh * s->ow;
                    float *xr = xc + (int64_t)ih * s->w + (q - s->pad);
                    if (s->stride == 1)
                        for (int ow = lo; ow < hi; ow++)
                            xr[ow] += o[ow];
                    else
                        for (int ow = lo; ow < hi; ow++)
                            xr[(int64_t)ow * s->stride] += o[ow];
                }
            }
}

/* Stride 1: copy x (C, H, W) into a zero-bordered xp (C, H + 2 pad, W + 2 pad) so every
 * column row is OH branch-free copies of OW floats. */
int64_t lh_cpu_conv_padded_floats(const lh_conv_shape *s)
{
    return (int64_t)s->c * (s->h + 2 * s->pad) * (s->w + 2 * s->pad);
}

LH_CPU_CLONES
static void pad_image(const lh_conv_shape *s, const float *x, float *xp)
{
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad;
    memset(xp, 0, sizeof(float) * (size_t)lh_cpu_conv_padded_floats(s));
    for (int c = 0; c < s->c; c++)
        for (int ih = 0; ih < s->h; ih++) {
            const float *src = x + ((int64_t)c * s->h + ih) * s->w;
            float *dst = xp + ((int64_t)c * hp + ih + s->pad) * wp + s->pad;
            for (int iw = 0; iw < s->w; iw++)
                dst[iw] = src[iw];
        }
}

LH_CPU_CLONES
static void im2col_s1(const lh_conv_shape *s, const float *xp, float *col)
{
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, ow_n = s->ow;
    float *o = col;
    for (int c = 0; c < s->c; c++)
        for (int r = 0; r < s->r; r++)
            for (int q = 0; q < s->s; q++) {
                const float *src = xp + ((int64_t)c * hp + r) * wp + q;
                for (int oh = 0; oh < s->oh; oh++, o += ow_n, src += wp)
                    for (int ow = 0; ow < ow_n; ow++)
                        o[ow] = src[ow];
            }
}

#if LH_CPU_AVX512_PATHS
/* The same two loops with one masked 16-lane load/store per (short) row segment: conv2's
 * segments are 14 floats, too short for the compiler's vector loop. */
__attribute__((target("avx512f"))) static void im2col_s1_avx512(const lh_conv_shape *s,
                                                                 const float *xp, float *col)
{
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, ow_n = s->ow;
    const __mmask16 tail = (__mmask16)((1u << (ow_n % 16)) - 1);
    float *o = col;
    for (int c = 0; c < s->c; c++)
        for (int r = 0; r < s->r; r++)
            for (int q = 0; q < s->s; q++) {
                const float *src = xp + ((int64_t)c * hp + r) * wp + q;
                for (int oh = 0; oh < s->oh; oh++, o += ow_n, src += wp) {
                    int ow = 0;
                    for (; ow + 16 <= ow_n; ow += 16)
                        _mm512_storeu_ps(o + ow, _mm512_loadu_ps(src + ow));
                    if (tail)
                        _mm512_mask_storeu_ps(o + ow, tail, _mm512_maskz_loadu_ps(tail, src + ow));
                }
            }
}

__attribute__((target("avx512f"))) static void col2im_s1_add_avx512(const lh_conv_shape *s,
                                                                    const float *col, float *xp)
{
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, ow_n = s->ow;
    const __mmask16 tail = (__mmask16)((1u << (ow_n % 16)) - 1);
    const float *o = col;
    for (int c = 0; c < s->c; c++)
        for (int r = 0; r < s->r; r++)
            for (int q = 0; q < s->s; q++) {
                float *dst = xp + ((int64_t)c * hp + r) * wp + q;
                for (int oh = 0; oh < s->oh; oh++, o += ow_n, dst += wp) {
                    int ow = 0;
                    for (; ow + 16 <= ow_n; ow += 16)
                        _mm512_storeu_ps(dst + ow, _mm512_add_ps(_mm512_loadu_ps(dst + ow),
                                                                 _mm512_loadu_ps(o + ow)));
                    if (tail)
                        _mm512_mask_storeu_ps(dst + ow, tail,
                                              _mm512_add_ps(_mm512_maskz_loadu_ps(tail, dst + ow),
                                                            _mm512_maskz_loadu_ps(tail, o + ow)));
                }
            }
}
#endif


/* dx (C, H, W) = col2im(col) for stride 1, accumulating in the padded buffer xp. */
LH_CPU_CLONES
static void col2im_s1(const lh_conv_shape *s, const float *col, float *xp, float *dx)
{
    const int hp = s->h + 2 * s->pad, wp = s->w + 2 * s->pad, ow_n = s->ow;
    memset(xp, 0, sizeof(float) * (size_t)lh_cpu_conv_padded_floats(s));
#if LH_CPU_AVX512_PATHS
    if (lh_cpu_has_avx512())
        col2im_s1_add_avx512(s, col, xp);
    else
#endif
    {
        const float *o = col;
        for (int c = 0; c < s->c; c++)
            for (int r = 0; r < s->r; r++)
                for (int q = 0; q < s->s; q++) {
                    float *dst = xp + ((int64_t)c * hp + r) * wp + q;
                    for (int oh = 0; oh < s->oh; oh++, o += ow_n, dst += wp)
                        for (int ow = 0; ow < ow_n; ow++)
                            dst[ow] += o[ow];
                }
    }
    for (int c = 0; c < s->c; c++)
        for (int ih = 0; ih < s->h; ih++) {
            const float *src = xp + ((int64_t)c * hp + ih + s->pad) * wp + s->pad;
            float *d = dx + ((int64_t)c * s->h + ih) * s->w;
            for (int iw = 0; iw < s->w; iw++)
                d[iw] = src[iw];
        }
}

/* The column matrix of image xi: xi itself (1x1), or built in col (using xp for stride 1). */
const float *lh_cpu_conv_columns(const lh_conv_shape *s, const float *xi, float *col, float *xp)
{
    if (lh_cpu_conv_is_pointwise(s))
        return xi;
    if (s->stride == 1) {
        pad_image(s, xi, xp);
#if LH_CPU_AVX512_PATHS
        if (lh_cpu_has_avx512()) {
            im2col_s1_avx512(s, xp, col);
            return col;
        }
#endif
        im2col_s1(s, xp, col);
    } else {
        im2col(s, xi, col);
    }
    return col;
}

void lh_cpu_conv_col2im(const lh_conv_shape *s, const float *col, float *xp, float *dx)
{
    if (s->stride == 1)
        col2im_s1(s, col, xp, dx);
    else
        col2im(s, col, dx);
}
