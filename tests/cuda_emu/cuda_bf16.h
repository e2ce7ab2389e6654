/* tests/cuda_emu/cuda_bf16.h — the part of CUDA's bfloat16 header kernels/cuda/ uses, for the
 * host-CPU emulation (see cuda_runtime.h here): the 2-byte type and its conversions, with
 * CUDA's rounding (float -> bf16 round-to-nearest-even; NaN stays a quiet NaN). */
#ifndef LH_CUDA_EMU_BF16_H
#define LH_CUDA_EMU_BF16_H

#include <stdint.h>
#include <string.h>

#include "cuda_runtime.h"

/* The raw bits, as __nv_bfloat16_raw holds them: the top half of a float. */
struct __nv_bfloat16 {
    uint16_t x;
};

static inline __nv_bfloat16 __float2bfloat16_rn(float f)
{
    uint32_t u;
    __nv_bfloat16 h;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep the sign, make it quiet */
        h.x = (uint16_t)((u >> 16) | 0x0040u);
    else /* ties to even: add 0x7fff plus the lowest kept bit, then drop the low
            half */
        h.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return h;
}

static inline float __bfloat162float(__nv_bfloat16 h)
{
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#endif
