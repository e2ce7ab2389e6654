/* kernels/cpu/cpu.h — internals shared by the CPU backend's files (not part of backend.h).
 *
 * The CPU backend runs every op on a small persistent thread pool (threads.c); ops split the
 * batch (or an element range) into one contiguous slice per thread, so results depend only on
 * the thread count. Heavy math goes through oneDNN's sgemm (gemm.c), which JIT-compiles its
 * kernels for the CPU it finds (AVX-512, AVX2, ...) with no environment variable to set. */
#ifndef LH_KERNELS_CPU_H
#define LH_KERNELS_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

#define LH_CPU_MAX_THREADS 64

/* Hot element-wise loops get an AVX-512 and an AVX2 clone chosen at load time (ifunc), and a
 * few kernels have AVX-512 intrinsic versions chosen at run time (lh_cpu_has_avx512). Building
 * with LH_CPU_PORTABLE (the library the portable test links) keeps only the baseline code, so
 * the paths a CPU without AVX-512 takes are tested too. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(LH_CPU_PORTABLE)
#define LH_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LH_CPU_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(LH_CPU_PORTABLE)
#define LH_CPU_AVX512_PATHS 1
#else
#define LH_CPU_AVX512_PATHS 0
#endif
/* 1 when the intrinsic AVX-512 paths may run on this CPU (cached CPUID check). */
int lh_cpu_has_avx512(void);

/* ---- thread pool (threads.c) --------------------------------------------------------------- */
typedef struct lh_cpu_pool lh_cpu_pool;
/* A task runs once on each of the pool's `nthreads` threads, tid 0 being the caller. */
typedef void (*lh_cpu_task)(void *arg, int tid, int nthreads);

lh_cpu_pool *lh_cpu_pool_create(int nthreads); /* NULL on failure */
void lh_cpu_pool_destroy(lh_cpu_pool *p);
/* Runs fn on every thread and returns when all are done. Called from one thread at a time. */
void lh_cpu_pool_run(lh_cpu_pool *p, lh_cpu_task fn, void *arg);

/* [lo, hi) of n items for thread tid of nt, contiguous, deterministic. */
static inline void lh_cpu_split(int64_t n, int tid, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * tid / nt;
    *hi = n * (tid + 1) / nt;
}

/* ---- GEMM (gemm.c) ------------------------------------------------------------------------- */
/* Row-major C (M x N) = alpha op(A) op(B) + beta C on the calling thread only. */
void lh_cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);
/* Make GEMMs called from this thread single-threaded (the pool supplies the parallelism). */
void lh_cpu_gemm_thread_init(void);
/* "oneDNN 2.6.3 sgemm (avx512_core)" into buf. */
void lh_cpu_gemm_describe(char *buf, size_t len);

/* ---- context (backend_cpu.c) --------------------------------------------------------------- */
struct lh_backend_ctx {
    int nthreads;
    lh_cpu_pool *pool;
    float *scratch[LH_CPU_MAX_THREADS]; /* per-thread workspace, 64-byte aligned */
    size_t scratch_floats;              /* size of each scratch[t] */
    float *shared;                      /* workspace all threads see (partial sums) */
    size_t shared_floats;
    int32_t conv_algorithm;             /* LH_CONV_ALGO_*, from configure (0: GEMM) */
    int32_t precision;                  /* LH_PRECISION_*, from configure (0: fp32) */
    struct lh_cpu_dnn *dnn;             /* oneDNN primitives and their cache (conv_dnn.c) */
    struct lh_cpu_conv_choice *conv_choices; /* auto's verdict per shape (conv_pick.c) */
    int32_t wino_tile;                  /* lhost's Winograd output tile, 2 or 4; 0: per shape
                                         * (conv_wino.c). Set only by tests and bench_conv */
    char err[256];
    char desc[192];
};

/* Grow the workspaces to at least per_thread floats per thread and `shared` floats. */
int lh_cpu_reserve(lh_backend_ctx *ctx, size_t per_thread, size_t shared);
/* Record a one-line error and return code. */
int lh_cpu_fail(lh_backend_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* dst[i] = sum over t of parts[t * stride + i], t in order 0..nparts-1, for i in [lo, hi). */
void lh_cpu_sum_parts(float *dst, const float *parts, int nparts, size_t stride, int64_t lo,
                      int64_t hi);

/* ---- column matrices for conv2d (im2col.c) ------------------------------------------------ */
/* 1 when the conv is 1x1, stride 1, unpadded: x itself is the column matrix. */
int lh_cpu_conv_is_pointwise(const lh_conv_shape *s);
/* Floats of the zero-bordered image copy stride-1 convs use: C * (H + 2 pad) * (W + 2 pad). */
int64_t lh_cpu_conv_padded_floats(const lh_conv_shape *s);
/* The column matrix (C*R*S, OH*OW) of image xi (C, H, W): xi itself for pointwise convs,
 * else built in col (xp: lh_cpu_conv_padded_floats of workspace). */
const float *lh_cpu_conv_columns(const lh_conv_shape *s, const float *xi, float *col, float *xp);
/* dx (C, H, W) = every entry of col added back to its pixel (dx is overwritten; xp workspace). */
void lh_cpu_conv_col2im(const lh_conv_shape *s, const float *col, float *xp, float *dx);

/* ---- shared pieces of kernels (maxpool.c), used by the fused conv block in conv.c --------- */
/* Pool `planes` consecutive (H, W) planes of x into y/argmax (maxpool_forward's rules). */
/* A 2x2 pooling window a b / c d, a at flat index ia and c at ic: its maximum, *k its index;
 * the first maximum wins, a later element if greater or NaN (maxpool_forward's rule). Inline, so
 * loops over windows still vectorise (maxpool.c and the Winograd fused block share it). */
static inline float lh_cpu_pool2x2(float a, float b, float c, float d, int32_t ia, int32_t ic,
                                   int32_t *k)
{
    int bw = b > a || b != b;
    float m = bw ? b : a;
    int32_t i = bw ? ia + 1 : ia;
    int cw = c > m || c != c;
    m = cw ? c : m;
    i = cw ? ic : i;
    int dw = d > m || d != d;
    *k = dw ? ic + 1 : i;
    return dw ? d : m;
}
void lh_cpu_maxpool_planes_forward(const lh_pool_shape *s, const float *x, float *y,
                                   int32_t *argmax, int64_t planes);
/* Scatter dy back through argmax into `planes` whole (H, W) planes of dx. */
void lh_cpu_maxpool_planes_backward(const lh_pool_shape *s, const float *dy,
                                    const int32_t *argmax, float *dx, int64_t planes);
/* 0, or LH_BACKEND_EINVAL with last_error set when the shape is inconsistent. */
int lh_cpu_maxpool_check(lh_backend_ctx *ctx, const lh_pool_shape *s);

/* ---- conv2d: GEMM (conv.c), oneDNN primitives (conv_dnn.c), the choice (conv_pick.c) --- */
/* 0, or LH_BACKEND_EINVAL with last_error set when the shape is inconsistent. */
int lh_cpu_conv_check(lh_backend_ctx *ctx, const lh_conv_shape *s);
/* As lh_cpu_conv_check, and the pool must read the conv output. */
int lh_cpu_conv_block_check(lh_backend_ctx *ctx, const lh_conv_shape *s,
                            const lh_pool_shape *ps);
/* The tensors of one conv2d op for lhost's own algorithms, plain or the fused block (ps set):
 * forward reads x, w, b and writes y, or under ps p and argmax; backward reads x, w and dy, or
 * under ps the forward's p (cp) and argmax (cargmax) and dp, and writes dx (NULL: not asked),
 * dw and db. What an op does not use is NULL. */
typedef struct lh_cpu_conv_io {
    const lh_conv_shape *s;
    const lh_pool_shape *ps;
    const float *x, *w, *b, *dy, *cp, *dp;
    const int32_t *cargmax;
    float *y, *p, *dx, *dw, *db;
    int32_t *argmax;
} lh_cpu_conv_io;

/* One of lhost's own conv2d algorithms, with the ops' contracts exactly (kernels/backend.h) on
 * shapes the caller has checked (lh_cpu_conv_check, lh_cpu_conv_block_check): GEMM (conv.c)
 * and Winograd (conv_wino.c). */
typedef struct lh_cpu_conv_impl {
    int (*forward)(lh_backend_ctx *ctx, const lh_cpu_conv_io *io);
    int (*backward)(lh_backend_ctx *ctx, const lh_cpu_conv_io *io);
} lh_cpu_conv_impl;
extern const lh_cpu_conv_impl lh_cpu_conv_gemm, lh_cpu_conv_wino;

/* Pieces of the fused block both conv.c and conv_wino.c run. Forward: p, argmax = relu(maxpool(
 * y)) over k planes. Backward: dy (k planes of the conv output) = maxpool_backward of dp masked
 * by p > 0 (dpm: workspace of p's size). db[i] (+)= sum of row i of dy (k, p): first overwrites. */
void lh_cpu_conv_block_pool(const lh_pool_shape *ps, const float *y, float *p, int32_t *argmax,
                            int k);
void lh_cpu_conv_block_dy(const lh_pool_shape *ps, const float *dp, const float *p,
                          const int32_t *argmax, float *dpm, float *dy, int k);
void lh_cpu_conv_row_sums(float *db, const float *dy, int k, int64_t p, int first);

/* lhost's Winograd F(2x2, 3x3) and F(4x4, 3x3) (conv_wino.c, lh_cpu_conv_wino), where oneDNN
 * has none: 1 when the shape is one it runs (3x3, stride 1, pad 0 to 2). */
int lh_cpu_wino_fits(const lh_conv_shape *s);
/* What lh_cpu_conv_algorithm_for returns when lhost's own Winograd runs (never configured). */
#define LH_CPU_CONV_ALGO_WINO_OWN 100

/* oneDNN primitives. A plan is one pool thread's primitives for its slice of the batch under
 * one algorithm (DIRECT or WINOGRAD; ps non-NULL: the fused conv+relu+maxpool block) in
 * ctx->precision (BF16_MIXED: bf16 inputs, fp32 accumulation and outputs), created
 * on first use and cached in ctx->dnn for the life of the context. lh_cpu_dnn_plans fills
 * pl[nthreads] (NULL for a thread with an empty slice) and returns 1, or 0 where oneDNN has no
 * optimised kernel for the shape (the caller then runs GEMM), or < 0 on error. */
typedef struct lh_cpu_dnn_plan lh_cpu_dnn_plan;
typedef struct lh_cpu_dnn lh_cpu_dnn;
int lh_cpu_dnn_plans(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t algorithm, lh_cpu_dnn_plan **pl);
/* The ops' contracts (kernels/backend.h) on those plans. Plain (ps NULL): y is the conv
 * output, dy its gradient, p and argmax unused. Fused: y / p is the pooled output, dy its
 * gradient. dx may be NULL; db may be NULL. */
int lh_cpu_dnn_forward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                       lh_cpu_dnn_plan **pl, const float *x, const float *w, const float *b,
                       float *y, int32_t *argmax);
int lh_cpu_dnn_backward(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                        lh_cpu_dnn_plan **pl, const float *x, const float *w, const float *p,
                        const int32_t *argmax, const float *dy, float *dx, float *dw,
                        float *db);
/* Free the plans of one shape and algorithm (auto's losers) in ctx->precision. */
void lh_cpu_dnn_drop(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_pool_shape *ps,
                     int32_t algorithm);
void lh_cpu_dnn_release(lh_backend_ctx *ctx);
/* Free auto's verdicts and the plans (cpu_close). */
void lh_cpu_conv_release(lh_backend_ctx *ctx);
/* The algorithm conv2d runs for this shape under ctx->conv_algorithm, AUTO and the fallback
 * resolved: LH_CONV_ALGO_GEMM, LH_CPU_CONV_ALGO_WINO_OWN, or _DIRECT / _WINOGRAD with its plans
 * in pl[nthreads]; < 0 on error. */
int lh_cpu_conv_algorithm_for(lh_backend_ctx *ctx, const lh_conv_shape *s,
                              const lh_pool_shape *ps, lh_cpu_dnn_plan **pl);
int lh_cpu_configure(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision);

#define F(p) ((float *)(p))
#define CF(p) ((const float *)(p))

/* ---- kernels (one file per idea): lh_cpu_<op> for every op in LH_BACKEND_OPS ------------- */
#define LH_CPU_DECLARE_(name, kind, params, args)                                                \
    int lh_cpu_##name(lh_backend_ctx *ctx, LH_BACKEND_UNPAREN params);
LH_BACKEND_OPS(LH_CPU_DECLARE_)
#undef LH_CPU_DECLARE_

#endif
