/* tests/unit/rel_error.h — the element-wise error the CUDA tests judge by (header-only):
 * |a - b| / max(|b|, rms(b)) per element, the RMS floor keeping sums that cancel to ~0 from
 * failing on rounding alone; NaN on one side only is an infinite error, on both none. */
#ifndef LH_TEST_REL_ERROR_H
#define LH_TEST_REL_ERROR_H

#include <math.h>
#include <stddef.h>

/* The worst error over n elements (b the reference), its index in *wi, and in *bad (may be
 * NULL) how many exceed tol. */
static inline double rel_error_worst(const float *a, const float *b, size_t n, double tol,
                                     size_t *wi, size_t *bad)
{
    double ss = 0, worst = -1, rms;
    *wi = 0;
    if (bad)
        *bad = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)b[i] * b[i];
    rms = sqrt(ss / (double)(n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        double ref = fabs(b[i]) > rms ? fabs(b[i]) : rms;
        double rel = fabs((double)a[i] - b[i]) / (ref > 0 ? ref : 1e-30);
        if (isnan(a[i]) != isnan(b[i]))
            rel = INFINITY;
        else if (isnan(a[i]))
            rel = 0;
        if (rel > worst)
            worst = rel, *wi = i;
        if (bad && rel > tol)
            (*bad)++;
    }
    return worst;
}

#endif
