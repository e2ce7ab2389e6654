/* kernels/cuda/common.cuh — what every CUDA op file shares: the backend context, error
 * recording, launch geometry, scratch memory and the launcher declarations the ops table
 * (backend_cuda.cu) points at. Only .cu files include this header. */
#ifndef LH_KERNELS_CUDA_COMMON_CUH
#define LH_KERNELS_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/backend.h"

/* One context per opened device. All work is queued on `stream`; cuBLAS runs on it too. The
 * context is single-threaded: the trainer calls it from one thread. */
struct lh_backend_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *scratch;        /* grows on demand; im2col columns, transposed gradients, row losses */
    size_t scratch_bytes;
    void *scratch_aux;    /* a second one, alive while an op also uses `scratch` (fused dy) */
    size_t scratch_aux_bytes;
    int bf16;             /* configure: conv2d's GEMMs in bfloat16 (LH_PRECISION_BF16_MIXED) */
    int tf32;             /* configure: fp32 GEMMs on TF32 tensor cores (LH_PRECISION_FLAG_TF32) */
    void *comm;           /* ncclComm_t after comm_init (comm.cu), else NULL */
    char err[512];
    char desc[448];
};

/* Record an error (printf format) and return `code`. */
int lh_cuda_fail(lh_backend_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lh_cuda_fail_rt(lh_backend_ctx *ctx, cudaError_t e, const char *what, const char *file,
                    int line);
int lh_cuda_fail_blas(lh_backend_ctx *ctx, cublasStatus_t s, const char *what, const char *file,
                      int line);

/* Return from the launcher on a failed runtime or cuBLAS call, recording file:line and the call. */
#define LH_CUDA_TRY(ctx, call)                                                                   \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess)                                                                   \
            return lh_cuda_fail_rt((ctx), e_, #call, __FILE__, __LINE__);                        \
    } while (0)
#define LH_BLAS_TRY(ctx, call)                                                                   \
    do {                                                                                         \
        cublasStatus_t s_ = (call);                                                              \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                         \
            return lh_cuda_fail_blas((ctx), s_, #call, __FILE__, __LINE__);                      \
    } while (0)
/* After a <<<>>> launch: catch bad configurations and sticky errors from earlier work. */
#define LH_CUDA_LAUNCHED(ctx, name) LH_CUDA_TRY(ctx, cudaGetLastError())

/* Launch `kernel` on `stream`: LH_LAUNCH(k, grid, block, stream)(args...). A macro rather than
 * the <<<>>> syntax so the same sources also build for the host-CPU emulation the tests use
 * (tests/cuda_emu/), whose cuda_runtime.h defines LH_LAUNCH first. */
#ifndef LH_LAUNCH
#define LH_LAUNCH(kernel, grid, block, stream) kernel<<<(grid), (block), 0, (stream)>>>
#endif

/* Full unrolling of a loop with a constant trip count (a register array indexed by its
 * counter stays in registers); gcc's spelling where the emulation compiles the kernels as C++. */
#ifdef __CUDACC__
#define LH_UNROLL _Pragma("unroll")
#else
#define LH_UNROLL _Pragma("GCC unroll 64")
#endif

/* A grid of 256-thread blocks covering n elements (grid-stride loops cover the rest). */
#define LH_CUDA_THREADS 256
static inline unsigned lh_cuda_blocks(int64_t n)
{
    int64_t b = (n + LH_CUDA_THREADS - 1) / LH_CUDA_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

/* Whether a grid-stride loop over `total` elements can count in 32 bits (64-bit division is a
 * long instruction sequence on the GPU): the index plus the widest grid's stride stays below
 * INT32_MAX. */
static inline bool lh_cuda_index32(int64_t total)
{
    return total < INT32_MAX - (int64_t)65535 * 8 * LH_CUDA_THREADS;
}

/* A 2-D grid for kernels that take one row per grid y and positions within it along x: enough
 * 256-thread blocks to cover `cols`, one block row per row (capped at the hardware's 65535; the
 * kernels loop over rows and positions with grid strides). */
static inline dim3 lh_cuda_grid2(int64_t cols, int64_t rows)
{
    int64_t bx = (cols + LH_CUDA_THREADS - 1) / LH_CUDA_THREADS;
    bx = bx < 1 ? 1 : bx > 65535 ? 65535 : bx;
    rows = rows < 1 ? 1 : rows > 65535 ? 65535 : rows;
    return dim3((unsigned)bx, (unsigned)rows, 1);
}

/* Scratch memory of at least `bytes`, valid until the next call (work on the stream is ordered,
 * so reuse across ops is safe). NULL on failure with the error recorded. */
void *lh_cuda_scratch(lh_backend_ctx *ctx, size_t bytes);
/* The same for ctx->scratch_aux: an op that keeps a buffer while calling code that takes
 * lh_cuda_scratch (the fused conv block's dy) keeps it here. */
void *lh_cuda_scratch_aux(lh_backend_ctx *ctx, size_t bytes);

/* configure (conv2d.cu): conv algorithm and precision, see lh_backend.configure. */
int lh_cuda_configure(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision);

/* The collectives (comm.cu): fill the table's comm members (none without NCCL); destroy the
 * context's communicator. */
void lh_cuda_comm_table(lh_backend *t);
void lh_cuda_comm_close(lh_backend_ctx *ctx);

/* Typed views of opaque device handles. */
static inline float *lh_f(lh_dmem *p) { return (float *)p; }
static inline const float *lh_cf(const lh_dmem *p) { return (const float *)p; }

/* out[j] = sum_{a<A} sum_{b<B} in[a * stride_a + j * stride_j + b] for j < J, in a fixed order
 * (deterministic). Used for biases' gradients: linear (A=N, B=1), conv (A=N, B=OH*OW). */
int lh_cuda_sum_strided(lh_backend_ctx *ctx, const float *in, int64_t A, int64_t B, int64_t J,
                        int64_t stride_a, int64_t stride_j, float *out);

/* y (rows, cols) += b (cols) broadcast over rows; nothing when b is NULL. */
int lh_cuda_add_bias_rows(lh_backend_ctx *ctx, int64_t rows, int64_t cols, const float *b,
                          float *y);

/* ---- launchers: lh_cuda_<op> for every op in LH_BACKEND_OPS (same arguments, in the same
 * order, as the ops table and the CPU backend) ------------------------------------------------ */
#define LH_CUDA_DECLARE_(name, kind, params, args)                                               \
    int lh_cuda_##name(lh_backend_ctx *ctx, LH_BACKEND_UNPAREN params);
LH_BACKEND_OPS(LH_CUDA_DECLARE_)
#undef LH_CUDA_DECLARE_

#endif
