/* host/nn/rng.h — PCG32 (O'Neill's pcg32, XSH-RR output, 64-bit LCG state).
 *
 * The trainer's only source of randomness (epoch shuffles, dropout masks, initialisation), so a
 * run is reproducible from its seed. The generator is a plain struct: copying it or writing its
 * two words into a checkpoint is the whole of saving its state. */
#ifndef LH_RNG_H
#define LH_RNG_H

#include <stdint.h>

typedef struct lh_rng {
    uint64_t state; /* LCG state */
    uint64_t inc;   /* stream selector, always odd */
} lh_rng;

/* Seed as pcg32_srandom_r(seed, stream) does; (42, 54) reproduces the reference demo. */
void lh_rng_seed(lh_rng *r, uint64_t seed, uint64_t stream);

/* Next 32 random bits. */
uint32_t lh_rng_next(lh_rng *r);

/* Uniform integer in [0, bound) with no modulo bias (rejection). bound 0 returns 0. */
uint32_t lh_rng_bounded(lh_rng *r, uint32_t bound);

/* Uniform double in [0, 1) with 53 random bits taken from two draws. */
double lh_rng_uniform(lh_rng *r);

/* Fisher-Yates shuffle of perm[0..n) in place (perm already filled, e.g. 0..n-1). Uses the
 * same draws as the reference demo's card shuffle: for i = n-1 .. 1, j = bounded(i + 1). */
void lh_rng_shuffle(lh_rng *r, int32_t *perm, int64_t n);

#endif
