/* tests/unit/backend_each.h — run a check against the CPU backend, and against the CUDA one
 * where a module loads (the real one, or the emulation under LHOST_CUDA_MODULE) (header-only). */
#ifndef LH_TEST_BACKEND_EACH_H
#define LH_TEST_BACKEND_EACH_H

#include <check.h>
#include <stdio.h>

#include "backend.h"

typedef void (*backend_check_fn)(const lh_backend *be, lh_backend_ctx *ctx);

/* fn on the CPU backend with one thread. */
static inline void on_cpu_backend(backend_check_fn fn)
{
    const lh_backend *be = lh_cpu_backend();
    char why[256];
    lh_backend_ctx *ctx = be->open(0, 1, why, sizeof why);
    ck_assert_msg(ctx != NULL, "%s", why);
    fn(be, ctx);
    be->close(ctx);
}

/* fn on the CUDA backend's device 0; without one, says so under the test's name and passes. */
static inline void on_cuda_backend(const char *test, backend_check_fn fn)
{
    const lh_backend *be;
    lh_backend_ctx *ctx;
    lh_error err;
    char why[256];
    if (lh_backend_load_cuda(&be, &err) || !(ctx = be->open(0, 1, why, sizeof why))) {
        printf("%s: no CUDA backend here; checked on the CPU only\n", test);
        return;
    }
    fn(be, ctx);
    be->close(ctx);
}

#endif
