/* tests/cuda_emu/cublas_v2.h — the part of cuBLAS kernels/cuda/ uses, for the host-CPU emulation
 * (see cuda_runtime.h here). cublasSgemm (and cublasGemmEx, the same GEMM over bf16 or fp32
 * operands) is a plain column-major reference GEMM that checks its
 * arguments as cuBLAS documents them (m, n, k >= 0; lda >= max(1, rows of op(A)) ...; INVALID_VALUE
 * otherwise) and that A, B and C lie wholly in device memory for the extents the call reads and
 * writes: a wrong transpose, leading dimension or operand shows as an error, not a number. The
 * math mode is honoured: under CUBLAS_TF32_TENSOR_OP_MATH fp32 operands are rounded to TF32
 * (10-bit mantissa, to nearest even) before they are multiplied, so TF32 changes the numbers
 * here as it does on tensor cores. */
#ifndef LH_CUDA_EMU_CUBLAS_H
#define LH_CUDA_EMU_CUBLAS_H

#include "cuda_runtime.h"

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;

/* cublasGemmEx's types, with the values of CUDA 13's library_types.h and cublas_api.h. The
 * emulation takes CUDA_R_32F and CUDA_R_16BF operands (bf16 read as its 2-byte bits), a
 * CUDA_R_32F C, CUBLAS_COMPUTE_32F and any algorithm (there is only one here). */
typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;

typedef struct lh_emu_blas *cublasHandle_t;

cublasStatus_t cublasCreate(cublasHandle_t *handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasGetVersion(cublasHandle_t handle, int *version);
const char *cublasGetStatusString(cublasStatus_t status);
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc);
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo);

#endif
