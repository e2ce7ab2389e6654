/* kernels/dropout_hash.h — the counter-based hash every backend draws dropout masks from.
 *
 * Element i of a mask drawn with `seed` is kept when the top 24 bits of
 * splitmix64(seed ^ (i * 0x9E3779B97F4A7C15)), read as a fraction in [0, 1), are >= p; a kept
 * element is scaled by 1 / (1 - p) (computed in float), a dropped one is 0. Being a pure
 * function of (seed, i, p) the CPU and CUDA backends draw bit-identical masks whatever the thread
 * count or launch shape. Usable from C11 and from CUDA device code. */
#ifndef LH_KERNELS_DROPOUT_HASH_H
#define LH_KERNELS_DROPOUT_HASH_H

#include <stdint.h>

#ifdef __CUDACC__
#define LH_HOST_DEVICE __host__ __device__
#else
#define LH_HOST_DEVICE
#endif

/* splitmix64's output function (Steele, Lea, Flood 2014). */
static inline LH_HOST_DEVICE uint64_t lh_dropout_hash(uint64_t seed, uint64_t i)
{
    uint64_t z = seed ^ (i * UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The scale a kept element gets: 1 / (1 - p) in float; 0 when p >= 1 (everything dropped). */
static inline LH_HOST_DEVICE float lh_dropout_scale(float p)
{
    return p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
}

/* Mask value of element i: `scale` (from lh_dropout_scale(p)) if kept, else 0. */
static inline LH_HOST_DEVICE float lh_dropout_mask(uint64_t seed, uint64_t i, float p, float scale)
{
    float u = (float)(lh_dropout_hash(seed, i) >> 40) * (1.0f / 16777216.0f); /* exact, [0,1) */
    return u >= p ? scale : 0.0f;
}

#endif
