/* bench/cpu_libs/gemm_libs.c — the measurement behind the CPU backend's choice of library:
 * conv2's three per-image GEMMs (forward 128x196x576, weight-grad 128x576x196, input-grad
 * 576x196x128, row-major) for 64 images on one thread, median of 15 repeats, in GFLOP/s.
 *
 * Built three times by bench/cpu_libs.cmake (when the libraries are installed):
 *   gemm_openblas (Debian libopenblas-dev), gemm_dnnl (libdnnl-dev), gemm_blis (libblis-dev)
 * Run:  for l in openblas dnnl blis; do ./build/bench/gemm_$l; done
 * No environment variable is set: each library picks its kernels as it would for a user. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(USE_DNNL)
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#define LIB "oneDNN dnnl_sgemm"
#elif defined(USE_BLIS)
#include <blis.h>
#define LIB "BLIS bli_sgemm"
#else
#include <cblas.h>
#define LIB "OpenBLAS cblas_sgemm"
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Row-major C (M x N) = op(A) op(B) + beta C. */
static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc)
{
#if defined(USE_DNNL)
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
#elif defined(USE_BLIS)
    float one = 1.f;
    bli_sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m,
              n, k, &one, (float *)a, lda, 1, (float *)b, ldb, 1, &beta, c, ldc, 1);
#else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
#endif
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
#if defined(USE_DNNL)
    omp_set_num_threads(1);
#elif defined(USE_BLIS)
    bli_thread_set_num_threads(1);
#else
    openblas_set_num_threads(1);
#endif
    float *w = aligned_alloc(64, 128 * 576 * 4), *col = aligned_alloc(64, 576 * 196 * 4),
          *y = aligned_alloc(64, 128 * 196 * 4), *dw = aligned_alloc(64, 128 * 576 * 4),
          *dcol = aligned_alloc(64, 576 * 196 * 4);
    for (int i = 0; i < 128 * 576; i++)
        w[i] = dw[i] = (float)(i % 17) * 0.01f;
    for (int i = 0; i < 576 * 196; i++)
        col[i] = (float)(i % 13) * 0.01f;
    for (int i = 0; i < 128 * 196; i++)
        y[i] = (float)(i % 7) * 0.01f;
    const char *name[3] = {"forward   y = w . col      128x196x576",
                           "weight    dw += dy . col^T 128x576x196",
                           "input     dcol = w^T . dy  576x196x128"};
    printf("%s, 1 thread, 64 images per repeat\n", LIB);
    for (int s = 0; s < 3; s++) {
        double t[15];
        for (int r = 0; r < 15; r++) {
            double t0 = now();
            for (int i = 0; i < 64; i++) {
                if (s == 0)
                    gemm(0, 0, 128, 196, 576, w, 576, col, 196, 0.f, y, 196);
                else if (s == 1)
                    gemm(0, 1, 128, 576, 196, y, 196, col, 196, 1.f, dw, 576);
                else
                    gemm(1, 0, 576, 196, 128, w, 576, y, 196, 0.f, dcol, 196);
            }
            t[r] = now() - t0;
        }
        qsort(t, 15, sizeof t[0], cmp);
        double flop = 2.0 * 128 * 196 * 576 * 64;
        printf("  %s: median %6.2f ms (min %6.2f, max %6.2f) = %4.0f GFLOP/s\n", name[s],
               t[7] * 1e3, t[0] * 1e3, t[14] * 1e3, flop / t[7] * 1e-9);
    }
    return 0;
}
