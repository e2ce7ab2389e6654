/* host/nn/backend.c — trainer.device -> an opened backend (see backend_select.h). */
#include "backend.h"
#include "paths.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LH_CUDA_MODULE_NAME "liblhost_cuda.so"
#define LH_BACKEND_MAX_TABLE 65536u /* bytes; lh_backend is a few hundred */

void lh_backend_cuda_module_path(char *path, size_t len)
{
    const char *env = secure_getenv("LHOST_CUDA_MODULE"); /* NULL in setuid/setgid processes */
    if (env && *env)
        snprintf(path, len, "%s", env);
    else {
        char dir[PATH_MAX];
        if (lh_paths_in_build_tree())
            snprintf(dir, sizeof dir, "%s", LH_MODULE_BUILD_DIR);
        else
            lh_paths_installed(LH_MODULE_INSTALL_RELDIR, LH_MODULE_INSTALL_DIR, dir, sizeof dir);
        snprintf(path, len, "%s/%s", dir, LH_CUDA_MODULE_NAME);
    }
}

/* Refuse a table that was not built from this lhost's LH_BACKEND_OPS. Reads struct_size first,
 * version only when struct_size covers it, and nothing more unless both are this lhost's:
 * members are never appended compatibly here (host and module are built together), so any
 * other version or size means the slots do not line up. */
static int check_table(const lh_backend *b, const char *path, lh_error *err)
{
    const char *missing = NULL;
    if (b->struct_size < offsetof(lh_backend, version) + sizeof b->version)
        return lh_error_set(err, "CUDA module %s: backend table of %u bytes has no version, this "
                            "lhost needs version %u (%zu bytes)", path, (unsigned)b->struct_size,
                            (unsigned)LH_BACKEND_VERSION, sizeof *b);
    /* A module from before versioned tables starts with its name pointer, whose low half
     * then reads as struct_size: far more than any table of function pointers. */
    if (b->struct_size > LH_BACKEND_MAX_TABLE)
        return lh_error_set(err, "CUDA module %s: backend table has no version (its first field "
                            "is not a size; a module from before versioned tables?), this lhost "
                            "needs version %u", path, (unsigned)LH_BACKEND_VERSION);
    if (b->version != LH_BACKEND_VERSION)
        return lh_error_set(err, "CUDA module %s: backend table version %u, this lhost needs %u",
                            path, (unsigned)b->version, (unsigned)LH_BACKEND_VERSION);
    if (b->struct_size != sizeof *b)
        return lh_error_set(err, "CUDA module %s: backend table version %u of %u bytes, this "
                            "lhost's is %zu bytes (module and lhost built from different "
                            "sources)", path, (unsigned)b->version, (unsigned)b->struct_size,
                            sizeof *b);
    if (!b->name || !b->open || !b->close || !b->last_error || !b->describe || !b->alloc ||
        !b->free || !b->sync)
        return lh_error_set(err, "CUDA module %s: %s() returned no usable ops table", path,
                            LH_CUDA_BACKEND_SYMBOL);
#define CHECK_OP(name, kind, params, args)                                                       \
    if (LH_BACKEND_REQUIRED(kind) && !b->name && !missing)                                       \
        missing = #name;
    LH_BACKEND_OPS(CHECK_OP)
#undef CHECK_OP
    if (missing)
        return lh_error_set(err, "CUDA module %s: backend table has no %s, which every backend "
                            "must have", path, missing);
    return 0;
}

int lh_backend_load_cuda(const lh_backend **be, lh_error *err)
{
    char path[PATH_MAX];
    void *h;
    lh_backend_getter get;
    const lh_backend *b;

    lh_backend_cuda_module_path(path, sizeof path);
    if (access(path, F_OK) != 0)
        return lh_error_set(err, "CUDA module %s: %s (lhost was built without nvcc, or "
                            "LHOST_CUDA_MODULE points elsewhere)", path, strerror(errno));
    /* Never closed: the CUDA runtime does not support being unloaded and reloaded. */
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return lh_error_set(err, "CUDA module %s: %s", path, dlerror());
    *(void **)&get = dlsym(h, LH_CUDA_BACKEND_SYMBOL);
    if (!get)
        return lh_error_set(err, "CUDA module %s: no symbol %s", path, LH_CUDA_BACKEND_SYMBOL);
    b = get();
    if (!b)
        return lh_error_set(err, "CUDA module %s: %s() returned no ops table", path,
                            LH_CUDA_BACKEND_SYMBOL);
    if (check_table(b, path, err))
        return -1;
    *be = b;
    return 0;
}

/* "cuda" -> 0, "cuda:N" -> N; -1 when malformed. */
static int32_t parse_cuda_ordinal(const char *device)
{
    char *end;
    long v;
    if (strcmp(device, "cuda") == 0)
        return 0;
    if (strncmp(device, "cuda:", 5) != 0 || device[5] < '0' || device[5] > '9')
        return -1;
    errno = 0;
    v = strtol(device + 5, &end, 10);
    if (errno || *end || v > INT32_MAX)
        return -1;
    return (int32_t)v;
}

static int open_cuda(const char *device, int32_t ordinal, int32_t threads, const lh_backend **be,
                     lh_backend_ctx **ctx, lh_error *err)
{
    char reason[512];
    const lh_backend *b;
    lh_backend_ctx *c;
    if (lh_backend_load_cuda(&b, err))
        return lh_error_wrap(err, "device %s", device);
    reason[0] = '\0';
    c = b->open(ordinal, threads, reason, sizeof reason);
    if (!c)
        return lh_error_set(err, "device %s: %s", device,
                            reason[0] ? reason : "the CUDA backend did not open (no reason given)");
    *be = b, *ctx = c;
    return 0;
}

static int open_cpu(int32_t threads, const lh_backend **be, lh_backend_ctx **ctx, lh_error *err)
{
    char reason[512];
    const lh_backend *b = lh_cpu_backend();
    lh_backend_ctx *c;
    reason[0] = '\0';
    c = b->open(0, threads, reason, sizeof reason);
    if (!c)
        return lh_error_set(err, "device cpu: %s", reason[0] ? reason : "did not open");
    *be = b, *ctx = c;
    return 0;
}

static int nvidia_driver_present(void)
{
    return access("/proc/driver/nvidia/version", F_OK) == 0 || access("/dev/nvidiactl", F_OK) == 0;
}

int lh_backend_select(const char *device, int32_t threads, const lh_backend **be,
                      lh_backend_ctx **ctx, lh_error *err)
{
    int32_t ordinal;
    lh_error ignored;
    if (!device || strcmp(device, "auto") == 0) {
        /* Loading the CUDA runtime and cuBLAS costs ~150 MB of memory and a few hundred ms:
         * only try when an NVIDIA driver is there at all. */
        if (nvidia_driver_present() && open_cuda("cuda", 0, threads, be, ctx, &ignored) == 0)
            return 0;
        return open_cpu(threads, be, ctx, err);
    }
    if (strcmp(device, "cpu") == 0)
        return open_cpu(threads, be, ctx, err);
    if ((ordinal = parse_cuda_ordinal(device)) >= 0)
        return open_cuda(device, ordinal, threads, be, ctx, err);
    return lh_error_set(err, "trainer.device: expected auto, cpu, cuda or cuda:N, got \"%s\"",
                        device);
}

const char *const lh_backend_conv_algorithms[] = {"gemm", "auto", "direct", "winograd", NULL};
const char *const lh_backend_precisions[] = {"32", "bf16-mixed", "32-true", NULL};
const char *const lh_backend_matmul_precisions[] = {"highest", "high", "medium", NULL};

int32_t lh_backend_precision(int32_t index)
{
    return index == 1 ? LH_PRECISION_BF16_MIXED : LH_PRECISION_32;
}

int lh_backend_takes_tf32(const lh_backend *be)
{
    /* The CPU backend has no TF32: it computes fp32 throughout and ignores the flag. */
    return be->configure && be->version >= 7 && strcmp(be->name, "cpu") != 0;
}

int lh_backend_configure(const lh_backend *be, lh_backend_ctx *ctx, int32_t conv_algorithm,
                         int32_t precision, lh_error *err)
{
    int32_t base = precision & ~LH_PRECISION_FLAG_TF32;
    if (!lh_backend_takes_tf32(be))
        precision = base;
    if (conv_algorithm < LH_CONV_ALGO_GEMM || conv_algorithm > LH_CONV_ALGO_WINOGRAD)
        return lh_error_set(err, "trainer.conv_algorithm: expected gemm, auto, direct or "
                            "winograd, got %d", (int)conv_algorithm);
    if (base != LH_PRECISION_32 && base != LH_PRECISION_BF16_MIXED)
        return lh_error_set(err, "trainer.precision: expected 32 or bf16-mixed, got %d",
                            (int)base);
    if (!be->configure && base != LH_PRECISION_32)
        return lh_error_set(err, "trainer.precision: bf16-mixed needs the cpu device (the %s "
                            "backend computes in 32 only, for now)", be->name);
    if (!be->configure)
        return conv_algorithm == LH_CONV_ALGO_GEMM
                   ? 0
                   : lh_error_set(err, "trainer.conv_algorithm: %s needs the cpu device (the %s "
                                  "backend has only gemm)",
                                  lh_backend_conv_algorithms[conv_algorithm], be->name);
    /* The CPU's bf16 is oneDNN's direct convolution (the CUDA backend's is its GEMM). */
    if (strcmp(be->name, "cpu") == 0 && base == LH_PRECISION_BF16_MIXED &&
        conv_algorithm != LH_CONV_ALGO_DIRECT && conv_algorithm != LH_CONV_ALGO_AUTO)
        return lh_error_set(err, "trainer.precision: bf16-mixed runs conv2d as oneDNN's direct "
                            "bf16 convolution: trainer.conv_algorithm must be direct or auto, "
                            "got %s", lh_backend_conv_algorithms[conv_algorithm]);
    if (be->configure(ctx, conv_algorithm, precision))
        return lh_error_set(err, "%s: %s",
                            base == LH_PRECISION_32 ? "trainer.conv_algorithm"
                                                    : "trainer.precision",
                            be->last_error(ctx));
    return 0;
}
