/* kernels/cpu/loss.c — mean softmax cross-entropy over (N, C) logits and its gradient.
 *
 *   loss     = mean over rows of  logsumexp(z) - z[target]      (max-shifted, sum in double)
 *   dlogits  = (softmax(z) - onehot(target)) / N
 * Small (N x 10 for the tutorial), so it runs on the calling thread. */
#include <math.h>

#include "kernels/cpu/cpu.h"

int lh_cpu_softmax_xent(lh_backend_ctx *ctx, int32_t n, int32_t c, const lh_dmem *logits,
                        const lh_dmem *targets, lh_dmem *loss, lh_dmem *dlogits)
{
    if (n <= 0 || c <= 0)
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: softmax_xent: bad shape n=%d c=%d",
                           (int)n, (int)c);
    const float *z = CF(logits);
    const int32_t *t = (const int32_t *)targets;
    float *g = F(dlogits);
    for (int32_t i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= c)
            return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: softmax_xent: target %d of row %d: "
                               "expected 0 to %d", (int)t[i], (int)i, (int)c - 1);
    double total = 0.0;
    const float inv_n = 1.0f / (float)n;
    for (int32_t i = 0; i < n; i++) {
        const float *zi = z + (int64_t)i * c;
        float mx = zi[0];
        for (int32_t j = 1; j < c; j++)
            mx = zi[j] > mx ? zi[j] : mx;
        float sum = 0.0f;
        for (int32_t j = 0; j < c; j++)
            sum += expf(zi[j] - mx);
        float lse = mx + logf(sum);
        total += (double)(lse - zi[t[i]]);
        if (g) {
            float *gi = g + (int64_t)i * c;
            float inv_sum = 1.0f / sum;
            for (int32_t j = 0; j < c; j++)
                gi[j] = (expf(zi[j] - mx) * inv_sum - (j == t[i] ? 1.0f : 0.0f)) * inv_n;
        }
    }
    *F(loss) = (float)(total / n);
    return LH_BACKEND_OK;
}
