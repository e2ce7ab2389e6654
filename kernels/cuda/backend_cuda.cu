/* kernels/cuda/backend_cuda.cu — the CUDA backend's ops table, context, memory and errors.
 *
 * Built into liblhost_cuda.so (a CMake MODULE), whose only exported symbol is lh_cuda_backend();
 * the host dlopens it when a GPU is asked for, so lhost itself never links the CUDA runtime.
 * Each op lives in its own file (conv2d.cu, relu.cu, ...): kernels first, then the launcher. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

int lh_cuda_fail(lh_backend_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return code;
}

/* "conv2d.cu:88: cublasSgemm(...): out of memory" trimmed to the call's name. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int call_name_len(const char *what)
{
    const char *paren = strchr(what, '(');
    return paren ? (int)(paren - what) : (int)strlen(what);
}

int lh_cuda_fail_rt(lh_backend_ctx *ctx, cudaError_t e, const char *what, const char *file,
                    int line)
{
    return lh_cuda_fail(ctx,
                        e == cudaErrorMemoryAllocation ? LH_BACKEND_ENOMEM : LH_BACKEND_EDEVICE,
                        "%s:%d: %.*s: %s (%s)", base_name(file), line, call_name_len(what), what,
                        cudaGetErrorString(e), cudaGetErrorName(e));
}

int lh_cuda_fail_blas(lh_backend_ctx *ctx, cublasStatus_t s, const char *what, const char *file,
                      int line)
{
    return lh_cuda_fail(ctx,
                        s == CUBLAS_STATUS_ALLOC_FAILED ? LH_BACKEND_ENOMEM : LH_BACKEND_EDEVICE,
                        "%s:%d: %.*s: %s", base_name(file), line, call_name_len(what), what,
                        cublasGetStatusString(s));
}

/* Grow one of the context's scratch buffers to at least `bytes`. */
static void *grow_scratch(lh_backend_ctx *ctx, void **buf, size_t *have, size_t bytes)
{
    cudaError_t e;
    if (bytes <= *have)
        return *buf;
    if (*buf) {
        /* Queued work may still read the old buffer: cudaFree waits for the device. */
        cudaFree(*buf);
        *buf = NULL, *have = 0;
    }
    e = cudaMalloc(buf, bytes);
    if (e != cudaSuccess) {
        *buf = NULL;
        lh_cuda_fail(ctx, LH_BACKEND_ENOMEM, "scratch: cudaMalloc of %zu bytes: %s", bytes,
                     cudaGetErrorString(e));
        return NULL;
    }
    *have = bytes;
    return *buf;
}

void *lh_cuda_scratch(lh_backend_ctx *ctx, size_t bytes)
{
    return grow_scratch(ctx, &ctx->scratch, &ctx->scratch_bytes, bytes);
}

void *lh_cuda_scratch_aux(lh_backend_ctx *ctx, size_t bytes)
{
    return grow_scratch(ctx, &ctx->scratch_aux, &ctx->scratch_aux_bytes, bytes);
}

/* ---- open / close / describe ----------------------------------------------------------- */

static void close_ctx(lh_backend_ctx *ctx)
{
    if (!ctx)
        return;
    cudaSetDevice(ctx->device);
    if (ctx->stream)
        cudaStreamSynchronize(ctx->stream);
    lh_cuda_comm_close(ctx);
    if (ctx->scratch)
        cudaFree(ctx->scratch);
    if (ctx->scratch_aux)
        cudaFree(ctx->scratch_aux);
    if (ctx->blas)
        cublasDestroy(ctx->blas);
    if (ctx->stream)
        cudaStreamDestroy(ctx->stream);
    free(ctx);
}

static void describe_into(lh_backend_ctx *ctx)
{
    cudaDeviceProp prop;
    int rt = 0, drv = 0, blas = 0;
    memset(&prop, 0, sizeof prop);
    cudaGetDeviceProperties(&prop, ctx->device);
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cublasGetVersion(ctx->blas, &blas);
    snprintf(ctx->desc, sizeof ctx->desc,
             "cuda:%d: %s, compute capability %d.%d, %d SMs, %.1f GiB, runtime %d.%d, "
             "driver %d.%d, "
             "cuBLAS %d.%d.%d",
             ctx->device, prop.name, prop.major, prop.minor, prop.multiProcessorCount,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), rt / 1000, rt % 1000 / 10,
             drv / 1000, drv % 1000 / 10, blas / 10000, blas / 100 % 100, blas % 100);
}

static lh_backend_ctx *open_ctx(int32_t device, int32_t threads, char *err, size_t errlen)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    lh_backend_ctx *ctx;
    cublasStatus_t s;

    if (e != cudaSuccess) {
        snprintf(err, errlen, "no usable CUDA device: cudaGetDeviceCount: %s (%s)%s",
                 cudaGetErrorString(e), cudaGetErrorName(e),
                 e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice
                     ? "; is an NVIDIA GPU and its driver installed?" : "");
        return NULL;
    }
    if (count == 0) {
        snprintf(err, errlen, "no CUDA device found");
        return NULL;
    }
    if (device < 0 || device >= count) {
        snprintf(err, errlen, "CUDA device %d requested but %d device%s found (0..%d)", device,
                 count, count == 1 ? "" : "s", count - 1);
        return NULL;
    }
    ctx = (lh_backend_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    ctx->device = device;
    if ((e = cudaSetDevice(device)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        snprintf(err, errlen, "CUDA device %d: %s (%s)", device, cudaGetErrorString(e),
                 cudaGetErrorName(e));
        close_ctx(ctx);
        return NULL;
    }
    if ((s = cublasCreate(&ctx->blas)) != CUBLAS_STATUS_SUCCESS ||
        (s = cublasSetStream(ctx->blas, ctx->stream)) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "CUDA device %d: cuBLAS: %s", device, cublasGetStatusString(s));
        close_ctx(ctx);
        return NULL;
    }
    /* Plain FP32 GEMMs (no TF32) so results match the CPU backend to 1e-4, until configure
     * asks for TF32 (trainer.float32_matmul_precision high or medium). */
    cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH);
    describe_into(ctx);
    return ctx;
}

static const char *last_error(lh_backend_ctx *ctx)
{
    return ctx->err;
}

static const char *describe(lh_backend_ctx *ctx)
{
    return ctx->desc;
}

/* ---- memory ------------------------------------------------------------------------------ */

static lh_dmem *mem_alloc(lh_backend_ctx *ctx, size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1); /* 256-byte aligned */
    if (e != cudaSuccess) {
        lh_cuda_fail(ctx, LH_BACKEND_ENOMEM, "cudaMalloc of %zu bytes: %s", bytes,
                     cudaGetErrorString(e));
        return NULL;
    }
    e = cudaMemsetAsync(p, 0, bytes, ctx->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(ctx->stream);
    if (e != cudaSuccess) {
        lh_cuda_fail(ctx, LH_BACKEND_EDEVICE, "cudaMemset of %zu bytes: %s", bytes,
                     cudaGetErrorString(e));
        cudaFree(p);
        return NULL;
    }
    return (lh_dmem *)p;
}

static void mem_free(lh_backend_ctx *ctx, lh_dmem *p)
{
    if (p)
        cudaFree(p); /* implicitly waits for work that may still use p */
}

/* The source of a pageable upload may be reused as soon as this returns (CUDA stages it). */
int lh_cuda_upload(lh_backend_ctx *ctx, lh_dmem *dst, const void *src, size_t bytes)
{
    LH_CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
    return 0;
}

int lh_cuda_download(lh_backend_ctx *ctx, void *dst, const lh_dmem *src, size_t bytes)
{
    LH_CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    LH_CUDA_TRY(ctx, cudaStreamSynchronize(ctx->stream));
    return 0;
}

int lh_cuda_copy(lh_backend_ctx *ctx, lh_dmem *dst, const lh_dmem *src, size_t bytes)
{
    LH_CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
    return 0;
}

int lh_cuda_zero(lh_backend_ctx *ctx, lh_dmem *p, size_t bytes)
{
    LH_CUDA_TRY(ctx, cudaMemsetAsync(p, 0, bytes, ctx->stream));
    return 0;
}

static int sync_ctx(lh_backend_ctx *ctx)
{
    LH_CUDA_TRY(ctx, cudaStreamSynchronize(ctx->stream));
    return 0;
}

/* ---- the table --------------------------------------------------------------------------- */

/* Every required op is lh_cuda_<op>; the optional ones the GPU has are named below (the fused
 * conv2d_relu_maxpool block, conv2d_fused.cu). Filled in a function because C++ before C++20
 * has no designated initializers. */
#define CUDA_REQUIRED_req(name) t.name = lh_cuda_##name;
#define CUDA_REQUIRED_opt(name)
#define CUDA_OP_(name, kind, params, args) CUDA_REQUIRED_##kind(name)

static lh_backend make_table(void)
{
    lh_backend t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof(lh_backend);
    t.version = LH_BACKEND_VERSION;
    t.name = "cuda";
    t.open = open_ctx;
    t.close = close_ctx;
    t.last_error = last_error;
    t.describe = describe;
    t.alloc = mem_alloc;
    t.free = mem_free;
    t.sync = sync_ctx;
    t.wrap_host = NULL; /* device memory is not host memory */
    LH_BACKEND_OPS(CUDA_OP_)
    t.conv2d_relu_maxpool_forward = lh_cuda_conv2d_relu_maxpool_forward;
    t.conv2d_relu_maxpool_backward = lh_cuda_conv2d_relu_maxpool_backward;
    lh_cuda_comm_table(&t);
    t.configure = lh_cuda_configure;
    return t;
}

extern "C" __attribute__((visibility("default"))) const lh_backend *lh_cuda_backend(void)
{
    static const lh_backend table = make_table();
    return &table;
}
