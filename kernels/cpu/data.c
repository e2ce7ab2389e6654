/* kernels/cpu/data.c — batch assembly: gather uint8 images by index and normalise.
 *
 *   out[i, j] = (images[idx[i], j] / 255 - mean) / std     out (n, sample) float
 *   labels_out[i] = labels[idx[i]]                         int32 (skipped when labels is NULL)
 * Threads split the batch rows. */
#include "kernels/cpu/cpu.h"

typedef struct data_job {
    const uint8_t *img, *lab;
    const int32_t *idx;
    int64_t n, sample;
    float mean, std;
    float *out;
    int32_t *lab_out;
} data_job;

LH_CPU_CLONES
static void norm_row(const uint8_t *src, float *dst, int64_t len, float mean, float std)
{
    for (int64_t j = 0; j < len; j++)
        dst[j] = ((float)src[j] / 255.0f - mean) / std;
}

static void gather_task(void *arg, int tid, int nt)
{
    data_job *j = arg;
    int64_t lo, hi;
    lh_cpu_split(j->n, tid, nt, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        int64_t k = j->idx[i];
        norm_row(j->img + k * j->sample, j->out + i * j->sample, j->sample, j->mean, j->std);
        if (j->lab && j->lab_out)
            j->lab_out[i] = j->lab[k];
    }
}

int lh_cpu_gather_normalize(lh_backend_ctx *ctx, const lh_dmem *images_u8,
                            const lh_dmem *labels_u8, const lh_dmem *idx, int64_t n,
                            int64_t sample, float mean, float std, lh_dmem *out,
                            lh_dmem *labels_out)
{
    if (n < 0 || sample <= 0 || !(std != 0.0f))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: gather_normalize: expected n >= 0, "
                           "sample > 0, std != 0, got n=%lld sample=%lld std=%g", (long long)n,
                           (long long)sample, (double)std);
    const int32_t *ix = (const int32_t *)idx;
    for (int64_t i = 0; i < n; i++)
        if (ix[i] < 0)
            return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: gather_normalize: negative index %d "
                               "at %lld", (int)ix[i], (long long)i);
    data_job j = {.img = (const uint8_t *)images_u8, .lab = (const uint8_t *)labels_u8,
                  .idx = ix, .n = n, .sample = sample, .mean = mean, .std = std,
                  .out = F(out), .lab_out = (int32_t *)labels_out};
    if (n * sample < (1 << 18)) /* a batch of 64 MNIST images: faster on one thread */
        gather_task(&j, 0, 1);
    else
        lh_cpu_pool_run(ctx->pool, gather_task, &j);
    return LH_BACKEND_OK;
}
