/* tests/cuda_emu/cuda_runtime.h — the part of the CUDA runtime API kernels/cuda/ uses, run on
 * the host CPU, so the CUDA backend's own sources (compiled as C++) can be tested on machines
 * without a GPU: index arithmetic, cuBLAS arguments, host/device pointer discipline, block
 * barriers and warp shuffles.
 *
 * What it models:
 *   - device memory: cudaMalloc maps fresh pages with an inaccessible page after the (256-byte
 *     rounded) end, fills them with 0xFF (NaN floats: reading memory nobody wrote shows), and
 *     registers the range. Copies, memsets, cuBLAS operands and every pointer argument of a
 *     kernel launch must lie in a registered range (a host pointer where a device one belongs is
 *     an error naming the call), and host-side pointers of copies must not.
 *   - launches: every CUDA thread is a fiber (ucontext); a block's fibers run round-robin on one
 *     OS thread, __syncthreads() and __shfl_xor_sync() are barriers between rounds, __shared__
 *     is block-wide storage. Blocks run one after another in reverse order (an ordering no
 *     real GPU promises either: kernels that depend on block order show up). Grid and block
 *     limits are checked as on sm_90 (cudaErrorInvalidConfiguration).
 *   - streams are synchronous; errors from launches are sticky until cudaGetLastError.
 * What it does not: timing, memory coalescing, races between blocks, real cuBLAS numerics
 * (tests/cuda_emu/cublas_v2.h is a plain reference GEMM), or anything the sources do not call. */
#ifndef LH_CUDA_EMU_RUNTIME_H
#define LH_CUDA_EMU_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static /* one block runs at a time: static storage is that block's */

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorNotReady = 600,
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
};

#define cudaStreamNonBlocking 0x01

typedef struct lh_emu_stream *cudaStream_t;

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor, multiProcessorCount;
};

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream); /* streams are synchronous: always done */
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);

/* ---- emulation internals the macros below use -------------------------------------------- */

struct lh_emu_thread_ids {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};
extern lh_emu_thread_ids *lh_emu_ids; /* the running fiber's */

#define threadIdx (lh_emu_ids->thread)
#define blockIdx (lh_emu_ids->block)
#define blockDim (lh_emu_ids->block_dim)
#define gridDim (lh_emu_ids->grid_dim)

void __syncthreads(void);
/* Exchange 4 bytes with lane (this lane ^ lane_mask) of the same warp. */
uint32_t lh_emu_shfl_xor_bits(uint32_t bits, int lane_mask);

template <typename T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask)
{
    static_assert(sizeof(T) == 4, "the emulation shuffles 4-byte values");
    uint32_t bits;
    (void)mask;
    __builtin_memcpy(&bits, &v, 4);
    bits = lh_emu_shfl_xor_bits(bits, lane_mask);
    __builtin_memcpy(&v, &bits, 4);
    return v;
}

/* The device the last successful cudaSetDevice chose (0 before any). */
int lh_emu_current_device(void);
/* Whether [p, p + bytes) lies inside one cudaMalloc'd range. */
bool lh_emu_is_device(const void *p, size_t bytes);
/* Record a launch error (sticky until cudaGetLastError), printing why on stderr. */
void lh_emu_launch_error(cudaError_t e, const char *kernel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Run body(ctx) once per thread of the grid (see the top of this file). */
void lh_emu_run(const char *kernel, dim3 grid, dim3 block, void (*body)(void *), void *ctx);

template <typename A> static inline bool lh_emu_arg_ok(const char *kernel, int i, const A &a)
{
    if constexpr (std::is_pointer_v<A>) {
        if (a && !lh_emu_is_device((const void *)a, 1)) {
            lh_emu_launch_error(cudaErrorInvalidDevicePointer, kernel,
                                "argument %d (%p) is not device memory", i, (const void *)a);
            return false;
        }
    }
    return true;
}

template <typename... P> struct lh_emu_launcher {
    void (*kernel)(P...);
    const char *name;
    dim3 grid, block;

    template <typename... A> void operator()(A &&...args) const
    {
        /* Converted to the kernel's parameter types first, as a launch does. */
        std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
        struct call {
            void (*kernel)(P...);
            std::tuple<std::decay_t<P>...> *params;
        } c = {kernel, &params};
        bool ok = std::apply(
            [this](const auto &...p) {
                int i = 0;
                return (lh_emu_arg_ok(name, i++, p) && ...);
            },
            params);
        if (!ok)
            return;
        lh_emu_run(name, grid, block,
                   [](void *v) {
                       call *cc = (call *)v;
                       std::apply(cc->kernel, *cc->params);
                   },
                   &c);
    }
};

template <typename... P>
static inline lh_emu_launcher<P...> lh_emu_launch(void (*kernel)(P...), const char *name,
                                                  dim3 grid, dim3 block)
{
    return lh_emu_launcher<P...>{kernel, name, grid, block};
}

#define LH_LAUNCH(kernel, grid, block, stream) lh_emu_launch(kernel, #kernel, (grid), (block))

#endif
