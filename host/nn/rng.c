/* host/nn/rng.c — PCG32, following the reference pcg-c-basic (see rng.h). */
#include "rng.h"

#define LH_PCG32_MULT 6364136223846793005ULL

uint32_t lh_rng_next(lh_rng *r)
{
    uint64_t old = r->state;
    r->state = old * LH_PCG32_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void lh_rng_seed(lh_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    lh_rng_next(r);
    r->state += seed;
    lh_rng_next(r);
}

uint32_t lh_rng_bounded(lh_rng *r, uint32_t bound)
{
    if (bound == 0)
        return 0;
    /* Values below 2^32 mod bound would make the low residues more likely: draw again. */
    uint32_t threshold = (0u - bound) % bound;
    for (;;) {
        uint32_t v = lh_rng_next(r);
        if (v >= threshold)
            return v % bound;
    }
}

/* Uniform in [0, bound) for bounds past 2^32 (datasets that large only). */
static uint64_t bounded64(lh_rng *r, uint64_t bound)
{
    uint64_t threshold = (0u - bound) % bound;
    for (;;) {
        uint64_t hi = lh_rng_next(r);
        uint64_t v = (hi << 32) | lh_rng_next(r);
        if (v >= threshold)
            return v % bound;
    }
}

double lh_rng_uniform(lh_rng *r)
{
    uint64_t a = lh_rng_next(r) >> 5; /* 27 bits */
    uint64_t b = lh_rng_next(r) >> 6; /* 26 bits */
    return (double)((a << 26) | b) * (1.0 / 9007199254740992.0); /* / 2^53 */
}

void lh_rng_shuffle(lh_rng *r, int32_t *perm, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t bound = (uint64_t)i + 1;
        int64_t j = bound <= UINT32_MAX ? (int64_t)lh_rng_bounded(r, (uint32_t)bound)
                                        : (int64_t)bounded64(r, bound);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
