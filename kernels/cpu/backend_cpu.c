/* kernels/cpu/backend_cpu.c — the CPU backend's ops table, context, memory and workspaces.
 *
 * Device memory is host memory here (64-byte aligned, zeroed); upload/download are memcpy.
 * The kernels live in one file per idea (conv.c, maxpool.c, linear.c, act.c, loss.c, optim.c,
 * data.c) and share the thread pool (threads.c) and GEMM (gemm.c). */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/cpu.h"

/* 64-byte aligned, zeroed memory. calloc gives large blocks straight from mmap without
 * writing them, so a big buffer costs no page faults until it is used; the block's own address
 * is kept just before the aligned one for free_aligned. */
static void *alloc_aligned(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    char *raw, *p;
    if (rounded == 0)
        rounded = 64;
    raw = calloc(1, rounded + 64);
    if (!raw)
        return NULL;
    p = (char *)(((uintptr_t)raw + 64) & ~(uintptr_t)63);
    ((void **)p)[-1] = raw;
    return p;
}

static void free_aligned(void *p)
{
    if (p)
        free(((void **)p)[-1]);
}

int lh_cpu_fail(lh_backend_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return code;
}

int lh_cpu_reserve(lh_backend_ctx *ctx, size_t per_thread, size_t shared)
{
    if (per_thread > ctx->scratch_floats) {
        for (int t = 0; t < ctx->nthreads; t++) {
            free_aligned(ctx->scratch[t]);
            ctx->scratch[t] = alloc_aligned(per_thread * sizeof(float));
            if (!ctx->scratch[t]) {
                ctx->scratch_floats = 0;
                return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory for %zu-byte workspace",
                                   per_thread * sizeof(float));
            }
        }
        ctx->scratch_floats = per_thread;
    }
    if (shared > ctx->shared_floats) {
        free_aligned(ctx->shared);
        ctx->shared = alloc_aligned(shared * sizeof(float));
        if (!ctx->shared) {
            ctx->shared_floats = 0;
            return lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory for %zu-byte workspace",
                               shared * sizeof(float));
        }
        ctx->shared_floats = shared;
    }
    return LH_BACKEND_OK;
}

LH_CPU_CLONES
void lh_cpu_sum_parts(float *dst, const float *parts, int nparts, size_t stride, int64_t lo,
                      int64_t hi)
{
    for (int64_t i = lo; i < hi; i++)
        dst[i] = parts[i];
    for (int t = 1; t < nparts; t++) {
        const float *p = parts + (size_t)t * stride;
        for (int64_t i = lo; i < hi; i++)
            dst[i] += p[i];
    }
}

int lh_cpu_has_avx512(void)
{
#if LH_CPU_AVX512_PATHS
    static int cached = -1;
    if (cached < 0)
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return cached;
#else
    return 0;
#endif
}

static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static lh_backend_ctx *cpu_open(int32_t device, int32_t threads, char *err, size_t errlen)
{
    if (threads < 0 || threads > LH_CPU_MAX_THREADS) {
        snprintf(err, errlen, "cpu: threads: expected 0 (all cores) to %d, got %d",
                 LH_CPU_MAX_THREADS, (int)threads);
        return NULL;
    }
    int nt = threads ? threads : usable_cores();
    if (nt > LH_CPU_MAX_THREADS)
        nt = LH_CPU_MAX_THREADS;
    lh_backend_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "cpu: out of memory");
        return NULL;
    }
    ctx->nthreads = nt;
    lh_cpu_gemm_thread_init();
    ctx->pool = lh_cpu_pool_create(nt);
    if (!ctx->pool) {
        snprintf(err, errlen, "cpu: cannot start %d threads", nt);
        free(ctx);
        return NULL;
    }
    char lib[96];
    lh_cpu_gemm_describe(lib, sizeof lib);
    snprintf(ctx->desc, sizeof ctx->desc, "cpu: %d thread%s, %s", nt, nt == 1 ? "" : "s", lib);
    return ctx;
}

static void cpu_close(lh_backend_ctx *ctx)
{
    if (!ctx)
        return;
    lh_cpu_conv_release(ctx);
    lh_cpu_pool_destroy(ctx->pool);
    for (int t = 0; t < ctx->nthreads; t++)
        free_aligned(ctx->scratch[t]);
    free_aligned(ctx->shared);
    free(ctx);
}

static const char *cpu_last_error(lh_backend_ctx *ctx)
{
    return ctx->err;
}

static const char *cpu_describe(lh_backend_ctx *ctx)
{
    return ctx->desc;
}

static lh_dmem *cpu_alloc(lh_backend_ctx *ctx, size_t bytes)
{
    lh_dmem *p = alloc_aligned(bytes);
    if (!p)
        lh_cpu_fail(ctx, LH_BACKEND_ENOMEM, "cpu: out of memory allocating %zu bytes", bytes);
    return p;
}

/* The CPU's device memory is host memory: use it where it is. */
static lh_dmem *cpu_wrap_host(lh_backend_ctx *ctx, const void *host, size_t bytes)
{
    return (lh_dmem *)(uintptr_t)host;
}

static void cpu_free(lh_backend_ctx *ctx, lh_dmem *p)
{
    free_aligned(p);
}

int lh_cpu_upload(lh_backend_ctx *ctx, lh_dmem *dst, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return LH_BACKEND_OK;
}

int lh_cpu_download(lh_backend_ctx *ctx, void *dst, const lh_dmem *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return LH_BACKEND_OK;
}

int lh_cpu_copy(lh_backend_ctx *ctx, lh_dmem *dst, const lh_dmem *src, size_t bytes)
{
    if (bytes && dst != src)
        memmove(dst, src, bytes);
    return LH_BACKEND_OK;
}

int lh_cpu_zero(lh_backend_ctx *ctx, lh_dmem *p, size_t bytes)
{
    if (bytes)
        memset(p, 0, bytes);
    return LH_BACKEND_OK;
}

static int cpu_sync(lh_backend_ctx *ctx)
{
    return LH_BACKEND_OK; /* every op has finished when it returns */
}

/* Every required op is lh_cpu_<op>; the optional ones the CPU has are named below. */
#define CPU_REQUIRED_req(name) .name = lh_cpu_##name,
#define CPU_REQUIRED_opt(name)
#define CPU_OP_(name, kind, params, args) CPU_REQUIRED_##kind(name)

static const lh_backend cpu_backend = {
    .struct_size = sizeof(lh_backend),
    .version = LH_BACKEND_VERSION,
    .name = "cpu",
    .open = cpu_open,
    .close = cpu_close,
    .last_error = cpu_last_error,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .sync = cpu_sync,
    .wrap_host = cpu_wrap_host,
    LH_BACKEND_OPS(CPU_OP_)
    .conv2d_relu_maxpool_forward = lh_cpu_conv2d_relu_maxpool_forward,
    .conv2d_relu_maxpool_backward = lh_cpu_conv2d_relu_maxpool_backward,
    .configure = lh_cpu_configure,
};

const lh_backend *lh_cpu_backend(void)
{
    return &cpu_backend;
}
