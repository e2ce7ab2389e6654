/* kernels/backend.h — the compute ops table every backend (CPU, CUDA) implements.
 *
 * The trainer never touches tensor memory directly: it holds `lh_dmem *` handles (device memory,
 * opaque; on the CPU backend they happen to be host pointers, on CUDA device pointers), moves
 * data with upload/download, and calls ops through `lh_backend`. Offsets into a buffer are taken
 * with lh_dmem_at (pointer arithmetic on an opaque type is still valid on both backends).
 *
 * Layouts are PyTorch's: activations NCHW float32, conv weight (K, C, R, S), linear weight
 * (out, in). Every op overwrites its outputs (no accumulation) unless its comment says otherwise.
 * Ops return 0 or a negative LH_BACKEND_E*; the reason is in lh_backend.last_error(ctx).
 * Results are deterministic for a given backend, thread count and shapes. */
#ifndef LH_KERNELS_BACKEND_H
#define LH_KERNELS_BACKEND_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lh_dmem lh_dmem;       /* device memory; never dereferenced by the trainer */
typedef struct lh_backend_ctx lh_backend_ctx;

static inline lh_dmem *lh_dmem_at(lh_dmem *base, size_t byte_offset)
{
    return (lh_dmem *)((char *)base + byte_offset);
}

#define LH_BACKEND_OK 0
#define LH_BACKEND_ENOMEM (-1)
#define LH_BACKEND_EINVAL (-2)
#define LH_BACKEND_EDEVICE (-3)  /* no device, driver too old, launch failure */
#define LH_BACKEND_ETIMEDOUT (-4) /* comm_wait: the other ranks did not join in time */

/* A 2-D convolution (cross-correlation, as PyTorch) with square stride and symmetric padding. */
typedef struct lh_conv_shape {
    int32_t n, c, h, w;       /* input (N, C, H, W) */
    int32_t k, r, s;          /* K output channels, R x S kernel */
    int32_t stride, pad;
    int32_t oh, ow;           /* output H, W: (h + 2 pad - r) / stride + 1 */
} lh_conv_shape;

/* Max pooling, kernel `size`, `stride`, no padding, floor mode (PyTorch's default). */
typedef struct lh_pool_shape {
    int32_t n, c, h, w;
    int32_t size, stride;
    int32_t oh, ow;
} lh_pool_shape;

/* How conv2d (and the fused conv block) computes, set with lh_backend.configure. GEMM is
 * im2col + sgemm, every backend's default and the reference; DIRECT and WINOGRAD are oneDNN's
 * convolution primitives on the CPU (WINOGRAD, where oneDNN has none, the CPU backend's own
 * F(2x2, 3x3)); AUTO picks per shape from a one-off measurement. */
#define LH_CONV_ALGO_GEMM 0
#define LH_CONV_ALGO_AUTO 1
#define LH_CONV_ALGO_DIRECT 2
#define LH_CONV_ALGO_WINOGRAD 3

/* Compute precision, set with lh_backend.configure (Lightning's trainer.precision names).
 * BF16_MIXED: conv2d multiplies in bfloat16 (inputs and weights rounded to bf16 per call) and
 * accumulates and writes fp32; the weights, every other op, the loss and the optimizer stay
 * fp32. */
#define LH_PRECISION_32 0
#define LH_PRECISION_BF16_MIXED 1
/* OR'ed into configure's precision (since version 7): fp32 GEMMs may round their operands to
 * TF32 (10-bit mantissa) on tensor cores, torch.set_float32_matmul_precision("high") or
 * ("medium"). A backend with no TF32 (the CPU's) ignores the bit and stays fp32 throughout. */
#define LH_PRECISION_FLAG_TF32 0x100

/* Element-wise activations of act_forward / act_backward (fixed numbers: kept in configs of
 * no kind, but parity tests and kernels switch on them). */
#define LH_ACT_TANH 1
#define LH_ACT_SIGMOID 2
#define LH_ACT_GELU 3       /* exact: x * Phi(x) with erf, nn.GELU's default */
#define LH_ACT_SILU 4
#define LH_ACT_LEAKY_RELU 5 /* slope: negative_slope */

/* Batch normalisation over (N, C, HW) (HW = 1 for batchnorm1d), nn.BatchNorm's semantics:
 * training normalises with the batch's mean and biased variance and moves the running
 * statistics by `momentum` (the running variance takes the unbiased one); eval normalises
 * with the running statistics. */
typedef struct lh_bn_args {
    int32_t n, c, hw;
    int32_t training;
    float momentum, eps;
} lh_bn_args;

/* Adam / AdamW hyper-parameters (PyTorch semantics: bias correction, eps added after sqrt). */
typedef struct lh_adam_args {
    float lr, beta1, beta2, eps, weight_decay;
    int32_t decoupled; /* 1 = AdamW (decay the weights), 0 = Adam (add wd * p to the gradient) */
    int64_t step;      /* 1-based step number after this update */
    /* lr, beta1 and beta2 as the config gave them, for the scalars PyTorch computes in double
     * from Python floats: 1 - beta (then rounded to float), 1 - beta^t and lr / (1 - beta1^t).
     * (1 - 0.999f in float is 0.00099998713, PyTorch's (float)(1 - 0.999) 0.001: v would grow
     * 1.3e-5 slower.) 0: derived from the float fields instead. Appended in backend version 5. */
    double lr_exact, beta1_exact, beta2_exact;
} lh_adam_args;

/* The scalars of one Adam step as PyTorch forms them (see lh_adam_args). */
typedef struct lh_adam_scalars {
    float c1, c2;          /* 1 - beta1, 1 - beta2 */
    float step_size;       /* lr / (1 - beta1^t) */
    float bc2_sqrt;        /* sqrt(1 - beta2^t) */
} lh_adam_scalars;

static inline lh_adam_scalars lh_adam_scalars_of(const lh_adam_args *a)
{
    double lr = a->lr_exact ? a->lr_exact : a->lr;
    double b1 = a->beta1_exact ? a->beta1_exact : a->beta1;
    double b2 = a->beta2_exact ? a->beta2_exact : a->beta2;
    double bc1 = 1.0 - pow(b1, (double)a->step), bc2 = 1.0 - pow(b2, (double)a->step);
    lh_adam_scalars s = {(float)(1.0 - b1), (float)(1.0 - b2), (float)(lr / bc1),
                         (float)sqrt(bc2)};
    return s;
}

/* SGD hyper-parameters (PyTorch semantics: the first step initialises the momentum buffer). */
typedef struct lh_sgd_args {
    float lr, momentum, dampening, weight_decay;
    int32_t nesterov;
    int32_t first_step; /* 1 on the first step: buf = g instead of momentum * buf + (1-d) g */
} lh_sgd_args;

/* ---- the ops: one list, every table and wrapper generated from it --------------------------
 *
 * X(name, kind, params, args) for each op, in table order. Every op returns 0 or a negative
 * LH_BACKEND_E* and takes (lh_backend_ctx *ctx, <params>); `args` are the params' names, for
 * macros that forward a call. kind: req (every backend has it) or opt (NULL = not available,
 * the caller uses the single ops instead). From this list come the lh_backend members, the
 * kernels' declarations (lh_cpu_<name>, lh_cuda_<name>), the backends' tables (required ops;
 * a backend sets the optional ones it has by hand), lh_backend_op_name, the module check in
 * host/nn/backend.c, the profiler's wrappers and report rows, and the parity test's list of
 * ops that need a case. Adding an op: its entry here (and LH_BACKEND_VERSION + 1, with the new
 * op-list hash in tests/unit/test_backend_select.c), its CPU and CUDA kernels, its case in
 * tests/unit/test_cuda_parity.c. */
#define LH_BACKEND_OPS(X)                                                                        \
    /* Memory moves; upload's source may be reused when it returns, download waits for the */    \
    /* queue. */                                                                                 \
    X(upload, req, (lh_dmem *dst, const void *src, size_t bytes), (dst, src, bytes))             \
    X(download, req, (void *dst, const lh_dmem *src, size_t bytes), (dst, src, bytes))           \
    X(copy, req, (lh_dmem *dst, const lh_dmem *src, size_t bytes), (dst, src, bytes))            \
    X(zero, req, (lh_dmem *m, size_t bytes), (m, bytes))                                         \
    /* Data. out (n, sample) float = (images[idx[i]] / 255 - mean) / std, images (count, */      \
    /* sample) uint8; labels_out (n) int32 = labels[idx[i]]. idx (n) int32 in device memory. */  \
    X(gather_normalize, req,                                                                     \
      (const lh_dmem *images_u8, const lh_dmem *labels_u8, const lh_dmem *idx, int64_t n,        \
       int64_t sample, float mean, float std, lh_dmem *out, lh_dmem *labels_out),                \
      (images_u8, labels_u8, idx, n, sample, mean, std, out, labels_out))                        \
    /* conv2d: x (N,C,H,W), w (K,C,R,S), b (K), y (N,K,OH,OW). */                                \
    X(conv2d_forward, req,                                                                       \
      (const lh_conv_shape *s, const lh_dmem *x, const lh_dmem *w, const lh_dmem *b,             \
       lh_dmem *y),                                                                              \
      (s, x, w, b, y))                                                                           \
    /* dy (N,K,OH,OW) -> dx (may be NULL: not needed for the first layer), dw, db. */            \
    X(conv2d_backward, req,                                                                      \
      (const lh_conv_shape *s, const lh_dmem *x, const lh_dmem *w, const lh_dmem *dy,            \
       lh_dmem *dx, lh_dmem *dw, lh_dmem *db),                                                   \
      (s, x, w, dy, dx, dw, db))                                                                 \
    /* relu over n elements; y may equal x. backward: dx = dy * (y > 0); dx may equal dy. */     \
    X(relu_forward, req, (int64_t n, const lh_dmem *x, lh_dmem *y), (n, x, y))                   \
    X(relu_backward, req, (int64_t n, const lh_dmem *y, const lh_dmem *dy, lh_dmem *dx),         \
      (n, y, dy, dx))                                                                            \
    /* maxpool: x (N,C,H,W) -> y (N,C,OH,OW), argmax (N,C,OH,OW) int32 index within the */       \
    /* (H,W) plane (first maximum wins, as PyTorch). backward writes all of dx (zeros */         \
    /* elsewhere). */                                                                            \
    X(maxpool_forward, req,                                                                      \
      (const lh_pool_shape *s, const lh_dmem *x, lh_dmem *y, lh_dmem *argmax),                   \
      (s, x, y, argmax))                                                                         \
    X(maxpool_backward, req,                                                                     \
      (const lh_pool_shape *s, const lh_dmem *dy, const lh_dmem *argmax, lh_dmem *dx),           \
      (s, dy, argmax, dx))                                                                       \
    /* linear: x (N,IN), w (OUT,IN), b (OUT) -> y (N,OUT); backward dx may be NULL. */           \
    X(linear_forward, req,                                                                       \
      (int32_t n, int32_t in, int32_t out, const lh_dmem *x, const lh_dmem *w,                   \
       const lh_dmem *b, lh_dmem *y),                                                            \
      (n, in, out, x, w, b, y))                                                                  \
    X(linear_backward, req,                                                                      \
      (int32_t n, int32_t in, int32_t out, const lh_dmem *x, const lh_dmem *w,                   \
       const lh_dmem *dy, lh_dmem *dx, lh_dmem *dw, lh_dmem *db),                                \
      (n, in, out, x, w, dy, dx, dw, db))                                                        \
    /* dropout with keep-probability 1-p: mask (n) float holds 0 or 1/(1-p), drawn from a */     \
    /* counter-based hash of (seed, i) so every backend draws the same mask. y = x * mask. */    \
    X(dropout_forward, req,                                                                      \
      (int64_t n, float p, uint64_t seed, const lh_dmem *x, lh_dmem *y, lh_dmem *mask),          \
      (n, p, seed, x, y, mask))                                                                  \
    X(dropout_backward, req,                                                                     \
      (int64_t n, const lh_dmem *dy, const lh_dmem *mask, lh_dmem *dx), (n, dy, mask, dx))       \
    /* Mean softmax cross-entropy over n rows of c logits with int32 targets. Writes loss (1 */  \
    /* float, device) and dlogits (n, c) = (softmax - onehot) / n; dlogits may be NULL */        \
    /* (validation). */                                                                          \
    X(softmax_xent, req,                                                                         \
      (int32_t n, int32_t c, const lh_dmem *logits, const lh_dmem *targets, lh_dmem *loss,       \
       lh_dmem *dlogits),                                                                        \
      (n, c, logits, targets, loss, dlogits))                                                    \
    /* Optimizer updates over n parameters; m, v, buf are the optimizer's state. */              \
    X(adam_step, req,                                                                            \
      (int64_t n, const lh_adam_args *a, lh_dmem *param, const lh_dmem *grad, lh_dmem *m,        \
       lh_dmem *v),                                                                              \
      (n, a, param, grad, m, v))                                                                 \
    X(sgd_step, req,                                                                             \
      (int64_t n, const lh_sgd_args *a, lh_dmem *param, const lh_dmem *grad, lh_dmem *buf),      \
      (n, a, param, grad, buf))                                                                  \
    /* Element-wise activation `kind` (LH_ACT_*, slope for leaky_relu) over n elements; y */   \
    /* may not equal x. backward: dx = dy * f'(x) from x alone (an in-place layer after it */ \
    /* may have overwritten y); dx may equal dy. */                                              \
    X(act_forward, req, (int32_t kind, float slope, int64_t n, const lh_dmem *x, lh_dmem *y),   \
      (kind, slope, n, x, y))                                                                    \
    X(act_backward, req,                                                                         \
      (int32_t kind, float slope, int64_t n, const lh_dmem *x, const lh_dmem *dy, lh_dmem *dx),  \
      (kind, slope, n, x, dy, dx))                                                               \
    /* Average pooling x (N,C,H,W) -> y (N,C,OH,OW), no padding. size > 0: windows of size */   \
    /* x size at `stride` (nn.AvgPool2d); size 0: adaptive windows [floor(o H / OH), */         \
    /* ceil((o + 1) H / OH)) (nn.AdaptiveAvgPool2d). backward writes all of dx. */               \
    X(avgpool_forward, req, (const lh_pool_shape *s, const lh_dmem *x, lh_dmem *y), (s, x, y))   \
    X(avgpool_backward, req, (const lh_pool_shape *s, const lh_dmem *dy, lh_dmem *dx),           \
      (s, dy, dx))                                                                               \
    /* Batch norm: x, y (N,C,HW), gamma, beta, running_mean, running_var (C) (updated in */     \
    /* place while training), save_mean and save_invstd (C): the mean and 1/sqrt(var + eps) */  \
    /* forward normalised with, for backward. backward: dx (may be NULL), dgamma, dbeta. */      \
    X(batchnorm_forward, req,                                                                    \
      (const lh_bn_args *a, const lh_dmem *x, const lh_dmem *gamma, const lh_dmem *beta,         \
       lh_dmem *running_mean, lh_dmem *running_var, lh_dmem *save_mean, lh_dmem *save_invstd,    \
       lh_dmem *y),                                                                              \
      (a, x, gamma, beta, running_mean, running_var, save_mean, save_invstd, y))                 \
    X(batchnorm_backward, req,                                                                   \
      (const lh_bn_args *a, const lh_dmem *x, const lh_dmem *gamma, const lh_dmem *save_mean,    \
       const lh_dmem *save_invstd, const lh_dmem *dy, lh_dmem *dx, lh_dmem *dgamma,              \
       lh_dmem *dbeta),                                                                          \
      (a, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta))                              \
    /* y = a + b over n elements; y may equal a or b (residual blocks, gradient sums). */       \
    X(add, req, (int64_t n, const lh_dmem *a, const lh_dmem *b, lh_dmem *y), (n, a, b, y))       \
    /* conv2d + bias + relu + maxpool in one pass: p (N,K,POH,POW) = maxpool(relu(conv2d(x))) */ \
    /* and argmax (N,K,POH,POW) int32, without storing the conv output. ps is the pool over */   \
    /* the conv output (ps->n = s->n, ps->c = s->k, ps->h = s->oh, ps->w = s->ow). Equal to */   \
    /* conv2d_forward, relu_forward, maxpool_forward in p; argmax may differ only where p */     \
    /* is 0. */                                                                                  \
    X(conv2d_relu_maxpool_forward, opt,                                                          \
      (const lh_conv_shape *s, const lh_pool_shape *ps, const lh_dmem *x, const lh_dmem *w,      \
       const lh_dmem *b, lh_dmem *p, lh_dmem *argmax),                                           \
      (s, ps, x, w, b, p, argmax))                                                               \
    /* Its backward from dp (N,K,POH,POW), given forward's p and argmax: dx (may be NULL), */    \
    /* dw, db, equal to maxpool_backward, relu_backward, conv2d_backward. */                     \
    X(conv2d_relu_maxpool_backward, opt,                                                         \
      (const lh_conv_shape *s, const lh_pool_shape *ps, const lh_dmem *x, const lh_dmem *w,      \
       const lh_dmem *p, const lh_dmem *argmax, const lh_dmem *dp, lh_dmem *dx, lh_dmem *dw,     \
       lh_dmem *db),                                                                             \
      (s, ps, x, w, p, argmax, dp, dx, dw, db))                                               \
    /* Gradient norms and clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_) on the */ \
    /* device. For each of `count` segments [bounds[i], bounds[i+1]) of x (floats), out[i] = */  \
    /* the sum of |x|^p, accumulated in double (p = INFINITY: max |x|); bounds (count + 1, */    \
    /* ascending) and out (count) are host memory, and only those scalars cross: it waits for */ \
    /* the device. NaN in a segment makes its out NaN. */                                        \
    X(norm_partials, req,                                                                        \
      (int32_t count, const int64_t *bounds, const lh_dmem *x, double p, double *out),           \
      (count, bounds, x, p, out))                                                                \
    /* x *= factor over n floats, in place. */                                                   \
    X(scale, req, (int64_t n, float factor, lh_dmem *x), (n, factor, x))                         \
    /* x = min(max(x, lo), hi) over n floats, in place; NaN stays NaN (torch.clamp_). */         \
    /* (norm_partials, scale, clamp: since version 4.) */                                       \
    X(clamp, req, (int64_t n, float lo, float hi, lh_dmem *x), (n, lo, hi, x))

/* (a, b, c) -> a, b, c: an entry's params or args inside another list. */
#define LH_BACKEND_UNPAREN(...) __VA_ARGS__
/* 1 for req, 0 for opt: LH_BACKEND_REQUIRED(kind). */
#define LH_BACKEND_REQUIRED(kind) LH_BACKEND_REQUIRED_##kind
#define LH_BACKEND_REQUIRED_req 1
#define LH_BACKEND_REQUIRED_opt 0

/* The ops by number (LH_BACKEND_OP_conv2d_forward, ...) and by name. */
#define LH_BACKEND_OP_ENUM_(name, kind, params, args) LH_BACKEND_OP_##name,
enum lh_backend_op { LH_BACKEND_OPS(LH_BACKEND_OP_ENUM_) LH_BACKEND_OP_COUNT };
#undef LH_BACKEND_OP_ENUM_

/* "conv2d_forward" for LH_BACKEND_OP_conv2d_forward; "?" out of range. */
static inline const char *lh_backend_op_name(int op)
{
#define LH_BACKEND_OP_NAME_(name, kind, params, args) #name,
    static const char *const names[] = {LH_BACKEND_OPS(LH_BACKEND_OP_NAME_)};
#undef LH_BACKEND_OP_NAME_
    return op >= 0 && op < LH_BACKEND_OP_COUNT ? names[op] : "?";
}

/* The table's layout version: + 1 whenever a member is added, removed, moved or changes its
 * arguments. The host refuses a module whose version or struct_size differs from its own, so a
 * stale liblhost_cuda.so is a clear error instead of a call through the wrong slot. */
#define LH_BACKEND_VERSION 7 /* 7: configure's precision takes LH_PRECISION_FLAG_TF32 */

/* The bytes of a communicator id (NCCL's ncclUniqueId) that one rank makes and the others
 * receive through the host's broadcast before lh_backend.comm_init. */
#define LH_COMM_ID_BYTES 128

#define LH_BACKEND_MEMBER_(name, kind, params, args)                                             \
    int (*name)(lh_backend_ctx *ctx, LH_BACKEND_UNPAREN params);

typedef struct lh_backend {
    uint32_t struct_size; /* sizeof(lh_backend) as the backend was built */
    uint32_t version;     /* LH_BACKEND_VERSION as the backend was built */
    const char *name;     /* "cpu", "cuda"; static */

    /* Open the backend on `device` (CUDA ordinal; ignored on the CPU) with `threads` worker
     * threads (CPU; 0 = all cores). On failure returns NULL and writes a one-line reason. */
    lh_backend_ctx *(*open)(int32_t device, int32_t threads, char *err, size_t errlen);
    void (*close)(lh_backend_ctx *ctx);
    const char *(*last_error)(lh_backend_ctx *ctx);
    /* One-line description of the device and library, e.g.
     * "cpu: 2 threads, oneDNN 2.6 (avx512)". */
    const char *(*describe)(lh_backend_ctx *ctx);

    /* Memory. alloc returns 64-byte aligned, zeroed memory or NULL. */
    lh_dmem *(*alloc)(lh_backend_ctx *ctx, size_t bytes);
    void (*free)(lh_backend_ctx *ctx, lh_dmem *p);
    int (*sync)(lh_backend_ctx *ctx); /* wait for queued work */
    /* A device handle for host memory the caller keeps alive and unchanged until it stops
     * using the handle (never passed to free). Lets a backend whose device memory is host
     * memory use a dataset in place instead of copying it. NULL = not available: upload. */
    lh_dmem *(*wrap_host)(lh_backend_ctx *ctx, const void *host, size_t bytes);

    /* The ops (see LH_BACKEND_OPS above for each one's arguments and contract). */
    LH_BACKEND_OPS(LH_BACKEND_MEMBER_)

    /* Collectives between the ranks of a data-parallel job on the devices themselves (NCCL on
     * CUDA; since version 3). All four are NULL on a backend without them (the CPU's, a CUDA
     * module built without NCCL): the host then moves gradients through host memory and MPI.
     * The host only bootstraps: rank 0's comm_id bytes reach every rank by its broadcast, then
     * every rank calls comm_init (which waits for all of them). Each returns 0 or a negative
     * LH_BACKEND_E*, the reason in last_error. */
    int (*comm_id)(lh_backend_ctx *ctx, void *id); /* LH_COMM_ID_BYTES bytes out */
    int (*comm_init)(lh_backend_ctx *ctx, const void *id, int32_t rank, int32_t world);
    /* buf (n) float = its sum over the ranks, in place; queued after the work queued so far
     * (every rank must queue the same all-reduces in the same order). */
    int (*comm_allreduce_sum)(lh_backend_ctx *ctx, lh_dmem *buf, int64_t n);
    /* Wait for the queued all-reduces at most timeout_s seconds (0: no limit); past it the
     * communicator is aborted and LH_BACKEND_ETIMEDOUT returned. */
    int (*comm_wait)(lh_backend_ctx *ctx, double timeout_s);
    /* Since version 6. Choose how conv2d computes from now on: LH_CONV_ALGO_* and
     * LH_PRECISION_*, the latter OR'ed with LH_PRECISION_FLAG_TF32 since version 7 (the host
     * passes the bit to version 7 tables only). NULL = the backend has only LH_CONV_ALGO_GEMM
     * in LH_PRECISION_32. Returns 0 or LH_BACKEND_EINVAL (with last_error) for a choice it does
     * not know or this machine cannot run. [main-thread] */
    int (*configure)(lh_backend_ctx *ctx, int32_t conv_algorithm, int32_t precision);
} lh_backend;

#undef LH_BACKEND_MEMBER_

/* The CPU backend (always built). */
const lh_backend *lh_cpu_backend(void);

/* The CUDA backend lives in its own shared object (liblhost_cuda.so) exporting this symbol;
 * the host dlopens it only when a GPU is asked for. */
#define LH_CUDA_BACKEND_SYMBOL "lh_cuda_backend"
typedef const lh_backend *(*lh_backend_getter)(void);

#ifdef __cplusplus
}
#endif

#endif
