/* kernels/dropout_hash.h — the dropout mask formula every backend shares.
 *
 * Element i of a dropout call with `seed` keeps its value when u(seed, i) >= p, where
 *   u = (splitmix64(seed ^ splitmix64(i)) >> 40) * 2^-24      (a float in [0, 1), 24 bits)
 * and splitmix64 is Steele/Lea/Flood's finaliser with the golden-ratio increment. The mask
 * holds 1/(1-p) for kept elements and 0 otherwise (0 everywhere when p >= 1). Being a pure
 * function of (seed, i), the mask is the same on every backend and thread count.
 * Plain C, usable from CUDA device code (the macro adds __host__ __device__ there). */
#ifndef LH_KERNELS_DROPOUT_HASH_H
#define LH_KERNELS_DROPOUT_HASH_H

#include <stdint.h>

#ifdef __CUDACC__
#define LH_HD __host__ __device__
#else
#define LH_HD
#endif

static inline LH_HD uint64_t lh_splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) for element i. */
static inline LH_HD float lh_dropout_uniform(uint64_t seed, uint64_t i)
{
    return (float)(lh_splitmix64(seed ^ lh_splitmix64(i)) >> 40) * (1.0f / 16777216.0f);
}

/* The mask value of element i: 0 or 1/(1-p). */
static inline LH_HD float lh_dropout_mask(uint64_t seed, uint64_t i, float p)
{
    if (p >= 1.0f)
        return 0.0f;
    return lh_dropout_uniform(seed, i) >= p ? 1.0f / (1.0f - p) : 0.0f;
}

#endif
