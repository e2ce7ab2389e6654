/* kernels/cuda/linear.cu — fully connected layer on cuBLAS.
 * x (N,IN), w (OUT,IN), b (OUT) -> y (N,OUT) = x . w^T + b;
 * backward: dx (N,IN) = dy . w (skipped when dx is NULL), dw (OUT,IN) = dy^T . x,
 * db (OUT) = column sums of dy. cuBLAS is column-major: a row-major (r, c) matrix is seen as its
 * transpose with ld = c. */
#include "common.cuh"

static int check_shape(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out, const char *op)
{
    if (n < 0 || in < 1 || out < 1)
        return lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "%s: bad shape n=%d in=%d out=%d", op, n, in,
                            out);
    return 0;
}

int lh_cuda_linear_forward(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out,
                           const lh_dmem *x, const lh_dmem *w, const lh_dmem *b, lh_dmem *y)
{
    const float one = 1.0f, zero = 0.0f;
    if (check_shape(ctx, n, in, out, "linear_forward"))
        return LH_BACKEND_EINVAL;
    if (n == 0)
        return 0;
    /* y^T (OUT x N) = w (OUT x IN) . x^T (IN x N) */
    LH_BLAS_TRY(ctx, cublasSgemm(ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, lh_cf(w),
                                 in, lh_cf(x), in, &zero, lh_f(y), out));
    return lh_cuda_add_bias_rows(ctx, n, out, lh_cf(b), lh_f(y));
}

int lh_cuda_linear_backward(lh_backend_ctx *ctx, int32_t n, int32_t in, int32_t out,
                            const lh_dmem *x, const lh_dmem *w, const lh_dmem *dy, lh_dmem *dx,
                            lh_dmem *dw, lh_dmem *db)
{
    const float one = 1.0f, zero = 0.0f;
    if (check_shape(ctx, n, in, out, "linear_backward"))
        return LH_BACKEND_EINVAL;
    if (n == 0) {
        LH_CUDA_TRY(ctx, cudaMemsetAsync(dw, 0, (size_t)out * in * sizeof(float), ctx->stream));
        LH_CUDA_TRY(ctx, cudaMemsetAsync(db, 0, (size_t)out * sizeof(float), ctx->stream));
        return 0;
    }
    /* dw^T (IN x OUT) = x^T (IN x N) . dy (N x OUT) */
    LH_BLAS_TRY(ctx, cublasSgemm(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, lh_cf(x),
                                 in, lh_cf(dy), out, &zero, lh_f(dw), in));
    if (dx) /* dx^T (IN x N) = w^T (IN x OUT) . dy^T (OUT x N) */
        LH_BLAS_TRY(ctx, cublasSgemm(ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one,
                                     lh_cf(w), in, lh_cf(dy), out, &zero, lh_f(dx), in));
    return lh_cuda_sum_strided(ctx, lh_cf(dy), n, 1, out, out, 1, lh_f(db));
}
