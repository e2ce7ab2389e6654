/* host/nn/backend.h — pick and open the compute backend named by trainer.device.
 *
 *   auto     CUDA device 0 when the CUDA module loads and a device opens, else the CPU (never
 *            an error)
 *   cpu      the CPU backend, linked into lhost
 *   cuda     CUDA device 0; cuda:N device N. The backend lives in liblhost_cuda.so, dlopened
 *            from $LHOST_CUDA_MODULE if set, else from the build tree when lhost runs from it,
 *            else from the installed module directory. lhost itself never links CUDA. */
#ifndef LH_BACKEND_SELECT_H
#define LH_BACKEND_SELECT_H

#include <stdint.h>

#include "error.h"
#include "kernels/backend.h"

/* Open the backend for `device` with `threads` CPU threads (0 = all cores). On success *be and
 * *ctx are set (close with (*be)->close(*ctx)); on failure returns -1 with one line in err:
 *   trainer.device: expected auto, cpu, cuda or cuda:N, got "xyz"
 *   device cuda: no usable CUDA device: cudaGetDeviceCount: ... */
int lh_backend_select(const char *device, int32_t threads, const lh_backend **be,
                      lh_backend_ctx **ctx, lh_error *err);

/* The names of trainer.conv_algorithm in LH_CONV_ALGO_* order, NULL-terminated. */
extern const char *const lh_backend_conv_algorithms[];

/* The names of trainer.precision, NULL-terminated: "32", "bf16-mixed", "32-true" (Lightning's
 * long name of "32"); lh_backend_precision maps an index into it to LH_PRECISION_*. */
extern const char *const lh_backend_precisions[];
int32_t lh_backend_precision(int32_t index);

/* The names of trainer.float32_matmul_precision (torch.set_float32_matmul_precision's),
 * NULL-terminated: "highest" (fp32 GEMMs), "high" and "medium" (TF32 where the backend has
 * it: LH_PRECISION_FLAG_TF32). */
extern const char *const lh_backend_matmul_precisions[];
/* Whether the backend takes LH_PRECISION_FLAG_TF32 (a version 7+ table with configure that
 * has TF32: the CUDA one, not the CPU's); lh_backend_configure drops the flag elsewhere. */
int lh_backend_takes_tf32(const lh_backend *be);

/* Tell an opened backend how to run conv2d (LH_CONV_ALGO_*, LH_PRECISION_*). A backend without
 * configure has only gemm in fp32: any other choice is refused, naming the backend:
 *   trainer.conv_algorithm: winograd needs the cpu device (the cuda backend has only gemm)
 * On the cpu, bf16-mixed runs conv2d as oneDNN's direct bf16 convolution (auto: that or fp32
 * gemm), so it takes conv_algorithm direct or auto only; the backend refuses it on a CPU
 * without avx512_bf16 or AMX. The cuda backend runs bf16-mixed in its gemm (cuBLAS bf16 with
 * fp32 accumulation), its only algorithm. `precision` may carry LH_PRECISION_FLAG_TF32; it
 * reaches only a backend that takes it (lh_backend_takes_tf32). */
int lh_backend_configure(const lh_backend *be, lh_backend_ctx *ctx, int32_t conv_algorithm,
                         int32_t precision, lh_error *err);

/* Load the CUDA module and return its ops table (not opened). The module stays loaded for the
 * life of the process. -1 with the path and the reason in err: dlerror's, or a table of
 * another LH_BACKEND_VERSION or struct_size than this lhost's ("CUDA module <path>: backend
 * table version 2, this lhost needs 1"), or one missing a required op. */
int lh_backend_load_cuda(const lh_backend **be, lh_error *err);

/* The path the CUDA module is loaded from (see above); writes at most `len` bytes. */
void lh_backend_cuda_module_path(char *path, size_t len);

#endif
