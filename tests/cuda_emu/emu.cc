// tests/cuda_emu/emu.cc — the host-CPU emulation of the CUDA runtime and cuBLAS calls the CUDA
// backend makes (what it models: tests/cuda_emu/cuda_runtime.h). Linked with kernels/cuda/*.cu
// compiled as C++ into liblhost_cuda_emu.so, a drop-in for liblhost_cuda.so (LHOST_CUDA_MODULE).
// Single-threaded, like the backend context it serves.
#include "cublas_v2.h"
#include "cuda_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define LH_EMU_ASAN 1
#endif

namespace {

// ---- device memory ---------------------------------------------------------------------------

struct region {
    size_t bytes;   // as asked
    char *map;      // the whole mapping, guard page included
    size_t map_len;
};

std::map<uintptr_t, region> regions; // by user start address
cudaError_t sticky = cudaSuccess;

size_t page_size()
{
    static size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}

const region *find_region(const void *p, size_t bytes, uintptr_t *start)
{
    auto it = regions.upper_bound((uintptr_t)p);
    if (it == regions.begin())
        return nullptr;
    --it;
    uintptr_t a = (uintptr_t)p;
    if (a < it->first || a + bytes > it->first + it->second.bytes || a + bytes < a)
        return nullptr;
    *start = it->first;
    return &it->second;
}

// "cuda-emu: <what>: <message>" on stderr: the backend's own error names only the failed call.
void vcomplain(const char *what, const char *fmt, va_list ap)
{
    fprintf(stderr, "cuda-emu: %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void complain(const char *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void complain(const char *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcomplain(call, fmt, ap);
    va_end(ap);
}

// ---- fibers: one per CUDA thread of the running block ---------------------------------------

struct fiber {
    ucontext_t ctx;
    lh_emu_thread_ids ids;
    unsigned linear;
    bool done;
};

constexpr size_t kStack = 64 * 1024;
std::vector<fiber> fibers;
std::vector<char *> stacks; // each kStack usable bytes above a guard page
ucontext_t scheduler;
fiber *running;
void (*body_fn)(void *);
void *body_ctx;
uint32_t shfl_slot[1024];

// Stack switches told to AddressSanitizer, so it tracks which stack is live.
#ifdef LH_EMU_ASAN
const void *sched_stack;
size_t sched_stack_size;
#endif

// The scheduler enters fiber f (and is back when this returns).
__attribute__((noinline)) void enter(fiber &f, size_t stack)
{
#ifdef LH_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f.ctx.uc_stack.ss_sp, stack);
    swapcontext(&scheduler, &f.ctx);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    (void)stack;
    swapcontext(&scheduler, &f.ctx);
#endif
}

void fiber_main();

// A fresh start of fiber_main on `stack` (kept out of lh_emu_run: getcontext returns twice).
__attribute__((noinline)) void prepare(fiber &f, char *stack)
{
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = &scheduler;
    makecontext(&f.ctx, fiber_main, 0);
}

// The running fiber goes back to the scheduler (at a barrier: it is resumed later).
void leave()
{
#ifdef LH_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, sched_stack, sched_stack_size);
    swapcontext(&running->ctx, &scheduler);
    __sanitizer_finish_switch_fiber(fake, &sched_stack, &sched_stack_size);
#else
    swapcontext(&running->ctx, &scheduler);
#endif
}

void fiber_main()
{
#ifdef LH_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &sched_stack, &sched_stack_size);
#endif
    body_fn(body_ctx);
    running->done = true;
#ifdef LH_EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, sched_stack, sched_stack_size); // this stack ends
#endif
    // returning continues at uc_link: the scheduler
}

bool ensure_stacks(size_t n)
{
    while (stacks.size() < n) {
        size_t len = kStack + page_size();
        char *m = (char *)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);
        if (m == MAP_FAILED)
            return false;
        mprotect(m, page_size(), PROT_NONE); // overflow faults instead of corrupting
        stacks.push_back(m + page_size());
    }
    if (fibers.size() < n)
        fibers.resize(n);
    return true;
}

} // namespace

lh_emu_thread_ids *lh_emu_ids;

// Linear index i of a (x, y, z) grid or block `d` -> its coordinates, x fastest (as CUDA's).
static uint3 coords(unsigned long long i, dim3 d)
{
    unsigned long long xy = (unsigned long long)d.x * d.y;
    return {(unsigned)(i % d.x), (unsigned)(i / d.x % d.y), (unsigned)(i / xy)};
}

void __syncthreads(void)
{
    if (!running) { // a kernel run without fibers (see lh_emu_run) reached a barrier
        fprintf(stderr, "cuda-emu: a kernel that ran barrier-free before reached a barrier\n");
        abort();
    }
    leave();
}

uint32_t lh_emu_shfl_xor_bits(uint32_t bits, int lane_mask)
{
    unsigned me = running->linear;
    unsigned partner = (me & ~31u) | ((me & 31u) ^ (unsigned)(lane_mask & 31));
    uint32_t got;
    shfl_slot[me] = bits;
    __syncthreads(); // every lane has written
    got = shfl_slot[partner];
    __syncthreads(); // every lane has read before the next shuffle writes
    return got;
}

bool lh_emu_is_device(const void *p, size_t bytes)
{
    uintptr_t start;
    return find_region(p, bytes, &start) != nullptr;
}

void lh_emu_launch_error(cudaError_t e, const char *kernel, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    snprintf(what, sizeof what, "launch of %s", kernel);
    va_start(ap, fmt);
    vcomplain(what, fmt, ap);
    va_end(ap);
    sticky = e;
}

void lh_emu_run(const char *kernel, dim3 grid, dim3 block, void (*body)(void *), void *ctx)
{
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (block.x < 1 || block.y < 1 || block.z < 1 || block.x > 1024 || block.y > 1024 ||
        block.z > 64 || threads > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
        lh_emu_launch_error(cudaErrorInvalidConfiguration, kernel,
                            "grid (%u,%u,%u) block (%u,%u,%u) is outside sm_90's limits", grid.x,
                            grid.y, grid.z, block.x, block.y, block.z);
        return;
    }
    if (!ensure_stacks(threads)) {
        lh_emu_launch_error(cudaErrorMemoryAllocation, kernel, "no memory for %llu fiber stacks",
                            threads);
        return;
    }
    body_fn = body, body_ctx = ctx;
    // A kernel whose first launch never reached a barrier runs its threads as plain calls from
    // then on (fibers cost two context switches per thread); should it reach one after all,
    // __syncthreads stops the process with a message rather than run it wrong.
    static std::map<std::string, bool> barrier_free;
    auto known = barrier_free.find(kernel);
    if (known != barrier_free.end() && known->second) {
        fiber &f = fibers[0];
        running = nullptr;
        lh_emu_ids = &f.ids;
        f.ids.block_dim = block;
        f.ids.grid_dim = grid;
        for (long long b = (long long)grid.x * grid.y * grid.z - 1; b >= 0; b--) {
            f.ids.block = coords((unsigned long long)b, grid);
            for (unsigned t = 0; t < threads; t++) {
                f.ids.thread = coords(t, block);
                body(ctx);
            }
        }
        lh_emu_ids = nullptr;
        return;
    }
    bool yielded = false;
    // Blocks in reverse order: results must not depend on which block runs first.
    for (long long b = (long long)grid.x * grid.y * grid.z - 1; b >= 0; b--) {
        uint3 bid = coords((unsigned long long)b, grid);
        size_t live = threads;
        for (unsigned t = 0; t < threads; t++) {
            fiber &f = fibers[t];
            f.linear = t;
            f.done = false;
            f.ids.thread = coords(t, block);
            f.ids.block = bid;
            f.ids.block_dim = block;
            f.ids.grid_dim = grid;
            prepare(f, stacks[t]);
        }
        // Round-robin: a fiber runs until it finishes or reaches a barrier, so one round is one
        // barrier phase for the whole block.
        while (live) {
            for (unsigned t = 0; t < threads; t++) {
                fiber &f = fibers[t];
                if (f.done)
                    continue;
                running = &f;
                lh_emu_ids = &f.ids;
                enter(f, kStack);
                if (f.done)
                    live--;
                else
                    yielded = true;
            }
        }
    }
    running = nullptr;
    lh_emu_ids = nullptr;
    barrier_free[kernel] = !yielded;
}

// ---- runtime API -----------------------------------------------------------------------------

static int device_count()
{
    const char *env = getenv("LHOST_CUDA_EMU_DEVICES"); // to emulate machines without a GPU
    return env && *env ? atoi(env) : 1;
}

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = device_count();
    return *count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

static int current_device;

int lh_emu_current_device(void)
{
    return current_device;
}

cudaError_t cudaSetDevice(int device)
{
    if (device < 0 || device >= device_count())
        return cudaErrorInvalidDevice;
    current_device = device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (device < 0 || device >= device_count())
        return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CUDA emulation on the host CPU");
    prop->totalGlobalMem = (size_t)1 << 32;
    prop->major = 9, prop->minor = 0, prop->multiProcessorCount = 1;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version)
{
    *version = 13000;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version)
{
    *version = 13000;
    return cudaSuccess;
}

struct lh_emu_stream {
    int unused;
};

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags)
{
    *stream = new lh_emu_stream();
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    return stream ? cudaSuccess : cudaErrorInvalidValue; // launch errors are not sticky
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    return stream ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    size_t user = (bytes + 255) & ~(size_t)255, pages, len;
    char *m;
    *p = nullptr;
    if (bytes == 0)
        return cudaSuccess;
    pages = (user + page_size() - 1) / page_size();
    len = (pages + 1) * page_size();
    m = (char *)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return cudaErrorMemoryAllocation;
    mprotect(m + pages * page_size(), page_size(), PROT_NONE); // past the end faults
    char *u = m + pages * page_size() - user;
    memset(u, 0xff, user); // NaN floats: reading what nobody wrote shows
    regions[(uintptr_t)u] = region{bytes, m, len};
    *p = u;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    if (!p)
        return cudaSuccess;
    auto it = regions.find((uintptr_t)p);
    if (it == regions.end()) {
        complain("cudaFree", "%p is not the start of a device allocation", p);
        return cudaErrorInvalidValue;
    }
    munmap(it->second.map, it->second.map_len); // later use faults
    regions.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream)
{
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDeviceToDevice)
        return cudaErrorInvalidMemcpyDirection;
    if (!stream)
        return cudaErrorInvalidValue;
    if (bytes == 0)
        return cudaSuccess;
    if (lh_emu_is_device(dst, bytes) != dst_dev || lh_emu_is_device(src, bytes) != src_dev) {
        complain("cudaMemcpyAsync", "kind %d: dst %p (%s) src %p (%s), %zu bytes", (int)kind, dst,
                 lh_emu_is_device(dst, bytes) ? "device" : "not device", src,
                 lh_emu_is_device(src, bytes) ? "device" : "not device", bytes);
        return cudaErrorInvalidValue;
    }
    memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream)
{
    if (!stream)
        return cudaErrorInvalidValue;
    if (bytes == 0)
        return cudaSuccess;
    if (!lh_emu_is_device(p, bytes)) {
        complain("cudaMemsetAsync", "%p + %zu bytes is not device memory", p, bytes);
        return cudaErrorInvalidValue;
    }
    memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = sticky;
    sticky = cudaSuccess;
    return e;
}

// One table for both: a code's name and message cannot drift apart.
#define LH_EMU_ERRORS(X)                                                                         \
    X(cudaSuccess, "no error")                                                                   \
    X(cudaErrorInvalidValue, "invalid argument")                                                 \
    X(cudaErrorMemoryAllocation, "out of memory")                                                \
    X(cudaErrorInvalidConfiguration, "invalid configuration argument")                           \
    X(cudaErrorInvalidDevicePointer, "invalid device pointer")                                   \
    X(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy")                      \
    X(cudaErrorInsufficientDriver, "CUDA driver version is insufficient for CUDA runtime version") \
    X(cudaErrorNoDevice, "no CUDA-capable device is detected")                                   \
    X(cudaErrorInvalidDevice, "invalid device ordinal")                                      \
    X(cudaErrorNotReady, "device not ready")

const char *cudaGetErrorName(cudaError_t e)
{
#define LH_EMU_NAME(code, text) if (e == code) return #code;
    LH_EMU_ERRORS(LH_EMU_NAME)
#undef LH_EMU_NAME
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e)
{
#define LH_EMU_TEXT(code, text) if (e == code) return text;
    LH_EMU_ERRORS(LH_EMU_TEXT)
#undef LH_EMU_TEXT
    return "unknown error";
}

// ---- cuBLAS ----------------------------------------------------------------------------------

struct lh_emu_blas {
    cudaStream_t stream;
    cublasMath_t math;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
    *handle = new lh_emu_blas();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle)
{
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH) {
        complain("cublasSetMathMode", "math mode %d is not emulated", (int)mode);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int *version)
{
    *version = 130000;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    }
    return "unknown error";
}

// An operand's elements: fp32, or bf16 as its 2-byte bits.
struct operand {
    const char *name;
    const void *p;
    cudaDataType type;
};

static size_t type_size(cudaDataType t)
{
    return t == CUDA_R_16BF ? 2 : 4;
}

// Column-major operand of `rows` x `cols` with leading dimension ld: in device memory whole?
static bool operand_ok(const char *call, const operand &o, int rows, int cols, int ld)
{
    size_t n = (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
    if (rows == 0 || cols == 0 || lh_emu_is_device(o.p, n * type_size(o.type)))
        return true;
    complain(call, "%s (%p, %d x %d, ld %d) is not wholly in device memory", o.name, o.p, rows,
             cols, ld);
    return false;
}

// fp32 rounded to TF32 as tensor cores read it: 10 mantissa bits, to nearest (ties to even).
static float round_tf32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) // Inf and NaN stay as they are
        u = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
    memcpy(&f, &u, 4);
    return f;
}

// Element i of an operand, as the multiplier sees it.
static float element(const operand &o, size_t i, bool tf32)
{
    if (o.type == CUDA_R_16BF) {
        uint32_t u = (uint32_t)((const uint16_t *)o.p)[i] << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    float f = ((const float *)o.p)[i];
    return tf32 ? round_tf32(f) : f;
}

// C (m x n, fp32) = alpha op(A) op(B) + beta C, products summed in double (a reference, not
// cuBLAS's order); `call` names the entry point in complaints.
static cublasStatus_t gemm(const char *call, cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const operand &A, int lda, const operand &B, int ldb,
                           const float *beta, float *C, int ldc)
{
    int ar = transa == CUBLAS_OP_N ? m : k, ac = transa == CUBLAS_OP_N ? k : m;
    int br = transb == CUBLAS_OP_N ? k : n, bc = transb == CUBLAS_OP_N ? n : k;
    bool tf32 = handle && handle->math == CUBLAS_TF32_TENSOR_OP_MATH;
    operand oc = {"C", C, CUDA_R_32F};
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0 || lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) ||
        ldc < (m > 1 ? m : 1) || transa > CUBLAS_OP_C || transb > CUBLAS_OP_C) {
        complain(call, "invalid arguments: op %d %d, m %d n %d k %d, lda %d ldb %d ldc %d",
                 (int)transa, (int)transb, m, n, k, lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (lh_emu_is_device(alpha, 4) || lh_emu_is_device(beta, 4)) {
        complain(call, "alpha/beta in device memory with the host pointer mode");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if ((k > 0 && (!operand_ok(call, A, ar, ac, lda) || !operand_ok(call, B, br, bc, ldb))) ||
        !operand_ok(call, oc, m, n, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    // op(A) (m x k) and op(B) (k x n) packed column-major, then C column by column in double.
    std::vector<float> a((size_t)m * k), b((size_t)k * n);
    std::vector<double> acc((size_t)m);
    for (int l = 0; l < k; l++)
        for (int i = 0; i < m; i++)
            a[(size_t)l * m + i] = element(A, transa == CUBLAS_OP_N ? (size_t)l * lda + i
                                                                   : (size_t)i * lda + l, tf32);
    for (int j = 0; j < n; j++)
        for (int l = 0; l < k; l++)
            b[(size_t)j * k + l] = element(B, transb == CUBLAS_OP_N ? (size_t)j * ldb + l
                                                                   : (size_t)l * ldb + j, tf32);
    for (int j = 0; j < n; j++) {
        float *c = C + (size_t)j * ldc;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int l = 0; l < k; l++) {
            double blj = b[(size_t)j * k + l];
            const float *al = &a[(size_t)l * m];
            for (int i = 0; i < m; i++)
                acc[i] += (double)al[i] * blj;
        }
        for (int i = 0; i < m; i++) // beta == 0: C is not read (it may hold NaN)
            c[i] = (float)(*alpha * acc[i] + (*beta == 0.0f ? 0.0 : (double)*beta * c[i]));
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc)
{
    return gemm("cublasSgemm", handle, transa, transb, m, n, k, alpha, {"A", A, CUDA_R_32F},
                lda, {"B", B, CUDA_R_32F}, ldb, beta, C, ldc);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo)
{
    // What the emulation models: A and B both fp32 or both bf16, C fp32, fp32 accumulation
    // (cuBLAS's table of supported combinations has these rows), and float alpha/beta.
    if (Atype != Btype || (Atype != CUDA_R_32F && Atype != CUDA_R_16BF) || Ctype != CUDA_R_32F ||
        computeType != CUBLAS_COMPUTE_32F || (int)algo < -1 || (int)algo > 23) {
        complain("cublasGemmEx", "types A %d B %d C %d, compute %d, algo %d: not emulated",
                 (int)Atype, (int)Btype, (int)Ctype, (int)computeType, (int)algo);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return gemm("cublasGemmEx", handle, transa, transb, m, n, k, (const float *)alpha,
                {"A", A, Atype}, lda, {"B", B, Btype}, ldb, (const float *)beta, (float *)C,
                ldc);
}
