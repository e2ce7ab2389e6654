/* kernels/cuda/gather_normalize.cu — build a batch from the device-resident uint8 dataset:
 * out (n, sample) = (images[idx[i]] / 255 - mean) / std, labels_out (n) int32 = labels[idx[i]].
 * The dataset is uploaded once; idx points into the epoch's order, also on the device. */
#include "common.cuh"

/* One row (grid y) per sample i, its pixels j along x: no index division. */
__global__ void gather_normalize_kernel(const uint8_t *images, const uint8_t *labels,
                                        const int32_t *idx, int64_t n, int64_t sample, float mean,
                                        float std, float *out, int32_t *labels_out)
{
    for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
        int64_t src = idx[i];
        const uint8_t *img = images + src * sample;
        float *o = out + i * sample;
        for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < sample;
             j += (int64_t)gridDim.x * blockDim.x)
            o[j] = ((float)img[j] / 255.0f - mean) / std;
        if (blockIdx.x == 0 && threadIdx.x == 0)
            labels_out[i] = labels[src];
    }
}

int lh_cuda_gather_normalize(lh_backend_ctx *ctx, const lh_dmem *images_u8,
                             const lh_dmem *labels_u8, const lh_dmem *idx, int64_t n,
                             int64_t sample, float mean, float std, lh_dmem *out,
                             lh_dmem *labels_out)
{
    if (n <= 0 || sample <= 0)
        return n == 0 ? 0 : lh_cuda_fail(ctx, LH_BACKEND_EINVAL, "gather_normalize: n=%lld "
                                         "sample=%lld", (long long)n, (long long)sample);
    LH_LAUNCH(gather_normalize_kernel, lh_cuda_grid2(sample, n), LH_CUDA_THREADS, ctx->stream)(
        (const uint8_t *)images_u8, (const uint8_t *)labels_u8, (const int32_t *)idx, n, sample,
        mean, std, lh_f(out), (int32_t *)labels_out);
    LH_CUDA_LAUNCHED(ctx, "gather_normalize");
    return 0;
}
