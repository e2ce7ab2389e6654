/* kernels/cuda/conv2d.cuh — conv2d.cu's chunked im2col + GEMM loops, shared by conv2d_forward /
 * conv2d_backward and the fused conv + relu + maxpool block (conv2d_fused.cu): each brings the
 * step that differs (what becomes of yt, how dyt is made); the GEMMs, their precision, col2im
 * and db are the same code. Shapes as in conv2d.cu: P = OH*OW, Q = C*R*S, yt/dyt (K, nb*P). */
#ifndef LH_KERNELS_CUDA_CONV2D_CUH
#define LH_KERNELS_CUDA_CONV2D_CUH

#include "common.cuh"

/* 0, or LH_BACKEND_EINVAL with the reason for op's bad shape. */
int lh_cuda_conv_check_shape(lh_backend_ctx *ctx, const lh_conv_shape *s, const char *op);

/* What forward does with a chunk's yt (K, nb*P) of images n0 .. n0+nb-1 (queued work). */
typedef int (*lh_cuda_conv_epilogue)(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb,
                                     const float *yt, const void *arg);
/* For each chunk: col = im2col(x), yt = w . col in the configured precision, epilogue. */
int lh_cuda_conv_forward_chunks(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                                const lh_dmem *w, lh_cuda_conv_epilogue epilogue, const void *arg);

/* Writes a chunk's dyt (K, nb*P), the gradient at the conv's output, images n0 ... */
typedef int (*lh_cuda_conv_dyt)(lh_backend_ctx *ctx, const lh_conv_shape *s, int n0, int nb,
                                const void *arg, float *dyt);
/* Whether backward with dy at hand takes the small-Q dW path (conv_dw_direct) for this shape and
 * precision; that path reads dy (N,K,P) itself. */
int lh_cuda_conv_dw_direct(const lh_backend_ctx *ctx, const lh_conv_shape *s);
/* dx (may be NULL), dw, db from the gradient at the conv's output. dy (N,K,P) may be NULL: then the
 * small-Q path is not taken and db is summed from each chunk's dyt (in dy's order: the same bits
 * for a single chunk). `fill` makes each chunk's dyt. */
int lh_cuda_conv_backward_chunks(lh_backend_ctx *ctx, const lh_conv_shape *s, const lh_dmem *x,
                                 const lh_dmem *w, const lh_dmem *dy, lh_cuda_conv_dyt fill,
                                 const void *arg, lh_dmem *dx, lh_dmem *dw, lh_dmem *db);

#endif
