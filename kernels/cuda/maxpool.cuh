/* kernels/cuda/maxpool.cuh — one max-pooling window forward and one element's gradient
 * backward, as device functions shared by maxpool.cu and the fused conv block
 * (conv2d_fused.cu), so both pick the same argmax and sum the same gradients in the same order.
 * A plane is (H, W) row-major; argmax is h * W + w within it. */
#ifndef LH_KERNELS_CUDA_MAXPOOL_CUH
#define LH_KERNELS_CUDA_MAXPOOL_CUH

#include "common.cuh"

/* The value as pooled: the plane's element itself (maxpool). */
struct lh_pool_plain {
    __device__ float operator()(float v) const { return v; }
};

/* The maximum of f(plane) over the window of `size` x `size` at (h0, w0) and where it is: the first
 * maximum in row-major window order wins, NaN counts as the maximum (PyTorch). */
template <typename F>
static __device__ __forceinline__ float lh_pool_window_max(const float *xp, int w, int size, int h0,
                                                           int w0, F f, int *at)
{
    int best_i = h0 * w + w0;
    float best = f(xp[best_i]);
    for (int r = 0; r < size; r++)
        for (int q = 0; q < size; q++) {
            int i = (h0 + r) * w + w0 + q;
            float v = f(xp[i]);
            if (v > best || (isnan(v) && !isnan(best)))
                best = v, best_i = i;
        }
    *at = best_i;
    return best;
}

/* The sum of dy over the outputs of one plane (dyp, ap: (OH, OW)) whose argmax is element (h, w),
 * in a fixed order (gather form: no atomics); *last: the last such output's index within the plane,
 * -1 for none. */
static __device__ __forceinline__ float lh_pool_gather(const lh_pool_shape &s, const float *dyp,
                                                       const int32_t *ap, int h, int w, int *last)
{
    int i = h * s.w + w;
    /* outputs whose window [o*stride, o*stride+size) holds h (resp. w) */
    int oh_lo = h < s.size ? 0 : (h - s.size) / s.stride + 1, oh_hi = h / s.stride;
    int ow_lo = w < s.size ? 0 : (w - s.size) / s.stride + 1, ow_hi = w / s.stride;
    float acc = 0.0f;
    *last = -1;
    oh_hi = oh_hi < s.oh - 1 ? oh_hi : s.oh - 1;
    ow_hi = ow_hi < s.ow - 1 ? ow_hi : s.ow - 1;
    for (int oh = oh_lo; oh <= oh_hi; oh++)
        for (int ow = ow_lo; ow <= ow_hi; ow++)
            if (ap[oh * s.ow + ow] == i) {
                acc += dyp[oh * s.ow + ow];
                *last = oh * s.ow + ow;
            }
    return acc;
}

/* 0, or LH_BACKEND_EINVAL with the reason for op's bad pool shape. */
int lh_cuda_pool_check_shape(lh_backend_ctx *ctx, const lh_pool_shape *s, const char *op);

#endif
