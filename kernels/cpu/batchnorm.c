/* kernels/cpu/batchnorm.c — batch normalisation over (N, C, HW), forward (train and eval) and
 * backward, nn.BatchNorm1d/2d's arithmetic (see lh_bn_args in kernels/backend.h):
 *
 *   train: mean, var = the batch's per-channel mean and biased variance over N * HW values;
 *          running_mean += momentum (mean - running_mean),
 *          running_var  += momentum (var * M / (M - 1) - running_var)   (M = N * HW);
 *   eval:  mean, var = running_mean, running_var;
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta.
 *
 * Backward (train): with xhat = (x - mean) invstd, dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd / M (M dy - dbeta - xhat dgamma); (eval) dx = gamma invstd dy.
 * Sums run in double, one channel at a time. */
#include <math.h>

#include "kernels/cpu/cpu.h"

static int check(lh_backend_ctx *ctx, const lh_bn_args *a, const char *op)
{
    if (a->n < 1 || a->c < 1 || a->hw < 1 || (a->training && (int64_t)a->n * a->hw < 2))
        return lh_cpu_fail(ctx, LH_BACKEND_EINVAL, "cpu: %s: expected more than 1 value per "
                           "channel while training (n %d, c %d, hw %d)", op, a->n, a->c, a->hw);
    return LH_BACKEND_OK;
}

int lh_cpu_batchnorm_forward(lh_backend_ctx *ctx, const lh_bn_args *a, const lh_dmem *x,
                             const lh_dmem *gamma, const lh_dmem *beta, lh_dmem *running_mean,
                             lh_dmem *running_var, lh_dmem *save_mean, lh_dmem *save_invstd,
                             lh_dmem *y)
{
    const float *xp = CF(x), *g = CF(gamma), *b = CF(beta);
    float *rm = F(running_mean), *rv = F(running_var), *yp = F(y);
    int64_t M = (int64_t)a->n * a->hw, cs = (int64_t)a->c * a->hw;
    if (check(ctx, a, "batchnorm_forward"))
        return LH_BACKEND_EINVAL;
    for (int32_t c = 0; c < a->c; c++) {
        double mean, var, sum = 0.0, sq = 0.0;
        float fm, inv;
        for (int32_t i = 0; i < a->n; i++)
            for (int32_t k = 0; k < a->hw; k++)
                sum += xp[i * cs + (int64_t)c * a->hw + k];
        mean = sum / (double)M;
        for (int32_t i = 0; i < a->n; i++)
            for (int32_t k = 0; k < a->hw; k++) {
                double d = xp[i * cs + (int64_t)c * a->hw + k] - mean;
                sq += d * d;
            }
        var = sq / (double)M;
        if (a->training) {
            rm[c] = (float)((1.0 - a->momentum) * rm[c] + a->momentum * mean);
            rv[c] = (float)((1.0 - a->momentum) * rv[c] + a->momentum * var * M / (M - 1));
        } else {
            mean = rm[c], var = rv[c];
        }
        fm = (float)mean;
        inv = (float)(1.0 / sqrt(var + a->eps));
        if (save_mean)
            F(save_mean)[c] = fm;
        if (save_invstd)
            F(save_invstd)[c] = inv;
        for (int32_t i = 0; i < a->n; i++)
            for (int32_t k = 0; k < a->hw; k++) {
                int64_t at = i * cs + (int64_t)c * a->hw + k;
                yp[at] = (xp[at] - fm) * inv * g[c] + b[c];
            }
    }
    return LH_BACKEND_OK;
}

int lh_cpu_batchnorm_backward(lh_backend_ctx *ctx, const lh_bn_args *a, const lh_dmem *x,
                              const lh_dmem *gamma, const lh_dmem *save_mean,
                              const lh_dmem *save_invstd, const lh_dmem *dy, lh_dmem *dx,
                              lh_dmem *dgamma, lh_dmem *dbeta)
{
    const float *xp = CF(x), *g = CF(gamma), *mu = CF(save_mean), *is = CF(save_invstd);
    const float *gp = CF(dy);
    int64_t M = (int64_t)a->n * a->hw, cs = (int64_t)a->c * a->hw;
    if (check(ctx, a, "batchnorm_backward"))
        return LH_BACKEND_EINVAL;
    for (int32_t c = 0; c < a->c; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int32_t i = 0; i < a->n; i++)
            for (int32_t k = 0; k < a->hw; k++) {
                int64_t at = i * cs + (int64_t)c * a->hw + k;
                sdy += gp[at];
                sdyx += gp[at] * (double)((xp[at] - mu[c]) * is[c]);
            }
        F(dbeta)[c] = (float)sdy;
        F(dgamma)[c] = (float)sdyx;
        if (!dx)
            continue;
        for (int32_t i = 0; i < a->n; i++)
            for (int32_t k = 0; k < a->hw; k++) {
                int64_t at = i * cs + (int64_t)c * a->hw + k;
                double xhat = (xp[at] - mu[c]) * is[c];
                F(dx)[at] = a->training
                                ? (float)(g[c] * is[c] / M * (M * gp[at] - sdy - xhat * sdyx))
                                : g[c] * is[c] * gp[at];
            }
    }
    return LH_BACKEND_OK;
}
