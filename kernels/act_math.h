/* kernels/act_math.h — the element-wise activations every backend shares (LH_ACT_* of
 * kernels/backend.h): f(x) and f'(x) as PyTorch computes them in float32.
 *
 *   tanh        y = tanh x                 f' = 1 - y^2
 *   sigmoid     y = 1 / (1 + e^-x)         f' = y (1 - y)
 * (f' recomputes y from x: backward never needs forward's output)
 *   gelu        y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2  (nn.GELU(approximate='none'))
 *                                          f' = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)
 *   silu        y = x sigmoid(x)           f' = s (1 + x (1 - s)), s = sigmoid(x)
 *   leaky_relu  y = x > 0 ? x : slope x    f' = x > 0 ? 1 : slope (PyTorch: x > 0, not >=)
 *
 * Plain C, usable from CUDA device code (LH_HD adds __host__ __device__ there). */
#ifndef LH_KERNELS_ACT_MATH_H
#define LH_KERNELS_ACT_MATH_H

#include <math.h>
#include <stdint.h>

#include "kernels/dropout_hash.h" /* LH_HD */

static inline LH_HD float lh_act_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static inline LH_HD float lh_act_f(int32_t kind, float slope, float x)
{
    switch (kind) {
    case 1: return tanhf(x);
    case 2: return lh_act_sigmoid(x);
    case 3: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case 4: return x * lh_act_sigmoid(x);
    default: return x > 0.0f ? x : x * slope;
    }
}

/* dy * f'(x). */
static inline LH_HD float lh_act_df(int32_t kind, float slope, float x, float dy)
{
    float y;
    switch (kind) {
    case 1: y = tanhf(x); return dy * (1.0f - y * y);
    case 2: y = lh_act_sigmoid(x); return dy * y * (1.0f - y);
    case 3: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = expf(-0.5f * x * x) * 0.39894228040143268f;
        return dy * (cdf + x * pdf);
    }
    case 4: {
        float s = lh_act_sigmoid(x);
        return dy * s * (1.0f + x * (1.0f - s));
    }
    default: return x > 0.0f ? dy : dy * slope;
    }
}

#endif
