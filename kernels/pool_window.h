/* kernels/pool_window.h — the input window of one average-pooling output, shared by every
 * backend: fixed windows (nn.AvgPool2d, size > 0: [o stride, o stride + size)) or adaptive
 * ones (nn.AdaptiveAvgPool2d, size 0: [floor(o in / out), ceil((o + 1) in / out))), PyTorch's
 * start and end indices. Plain C, usable from CUDA device code. */
#ifndef LH_KERNELS_POOL_WINDOW_H
#define LH_KERNELS_POOL_WINDOW_H

#include <stdint.h>

#include "kernels/dropout_hash.h" /* LH_HD */

static inline LH_HD void lh_pool_window(int32_t size, int32_t stride, int32_t in, int32_t out,
                                        int32_t o, int32_t *lo, int32_t *hi)
{
    if (size > 0) {
        *lo = o * stride;
        *hi = *lo + size;
    } else {
        *lo = (int32_t)((int64_t)o * in / out);
        *hi = (int32_t)(((int64_t)(o + 1) * in + out - 1) / out);
    }
}

#endif
