/* kernels/cpu/gemm.c — the CPU backend's matrix multiply: oneDNN's dnnl_sgemm.
 *
 * Chosen by measurement (bench/README.md, "CPU library choice"): on the conv2 shapes oneDNN's
 * JIT sgemm ran ~190 GFLOP/s on one core where Debian's OpenBLAS 0.3.21 ran ~100 without
 * OPENBLAS_CORETYPE and BLIS 0.9 ~30. oneDNN picks its kernels from CPUID at run time.
 * Debian builds oneDNN with OpenMP; the pool calls lh_cpu_gemm_thread_init on each of its
 * threads so every sgemm runs on the calling thread only (two independent streams scale ~2x,
 * a threaded GEMM on these small shapes far less). */
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

#include "kernels/cpu/cpu.h"

void lh_cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
               ldc);
}

void lh_cpu_gemm_thread_init(void)
{
    omp_set_num_threads(1);
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_core: return "avx512";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_amx";
    default: return "generic";
    }
}

void lh_cpu_gemm_describe(char *buf, size_t len)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "oneDNN %d.%d.%d sgemm (%s)", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
}
