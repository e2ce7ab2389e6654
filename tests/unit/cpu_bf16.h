/* tests/unit/cpu_bf16.h — whether this CPU runs trainer.precision bf16-mixed (header-only).
 * The CPU backend refuses it without avx512_bf16 or AMX; a test of bf16-mixed then leaves its
 * bf16 cases out and says so once, with the backend's reason (test_conv_algorithms'
 * choices_are_checked holds that refusal's wording, test_cuda_precision the host's). */
#ifndef LH_TEST_CPU_BF16_H
#define LH_TEST_CPU_BF16_H

#include <stdio.h>

#include "kernels/backend.h"

static inline int cpu_runs_bf16(const char *test)
{
    static int known = -1;
    if (known < 0) {
        const lh_backend *be = lh_cpu_backend();
        char err[256];
        lh_backend_ctx *ctx = be->open(0, 1, err, sizeof err);
        /* no ck_assert here: test_parity asks before any test runs */
        known = ctx && be->configure(ctx, LH_CONV_ALGO_DIRECT, LH_PRECISION_BF16_MIXED) == 0;
        if (!known)
            printf("%s: bf16-mixed left out: %s\n", test, ctx ? be->last_error(ctx) : err);
        if (ctx)
            be->close(ctx);
    }
    return known;
}

#endif
