/* plugins/metrics/confusion_matrix.c — update() and compute() of confusion_matrix: counts in
 * one (C, C) buffer, row = target, column = argmax prediction (torchmetrics'
 * MulticlassConfusionMatrix). compute() writes the C*C cells row-major, optionally normalised
 * over rows (true), columns (pred) or everything (all); a 0/0 cell becomes 0, as torchmetrics
 * and scikit-learn both do. */
#include "lhm.h"

int32_t lhm_confmat_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                           const lhost_metric_batch *batch)
{
    const lhm_metric *m = self;
    const int32_t C = m->num_classes;
    int64_t *cm, i; /* (C, C) */
    int32_t rc = lhm_check_batch(m, ctx, batch);
    if (rc != LHOST_OK)
        return rc;
    if (state->count < 1)
        return lhm_fail(m, ctx, "host gave no state buffer, expected 1");
    cm = state->buffers[0];
    for (i = 0; i < batch->n; i++) {
        int32_t t = batch->targets[i];
        if (m->has_ignore && t == m->ignore_index)
            continue;
        cm[(int64_t)t * C + lhm_argmax(batch->scores + i * C, C)]++;
    }
    return LHOST_OK;
}

int32_t lhm_confmat_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                            double *out)
{
    const lhm_metric *m = self;
    const int32_t C = m->num_classes;
    const int64_t *cm;
    double all = 0;
    int32_t r, c;
    if (state->count < 1)
        return lhm_fail(m, ctx, "host gave no state buffer, expected 1");
    cm = state->buffers[0];
    for (r = 0; r < C * C; r++) {
        out[r] = (double)cm[r];
        all += out[r];
    }
    if (m->normalize == LHM_NORM_NONE)
        return LHOST_OK;
    /* Line r of the normalised direction: a row (true) or a column (pred); O(C^2) in all. */
    for (r = 0; r < C; r++) {
        int64_t step = m->normalize == LHM_NORM_PRED ? C : 1;
        int64_t first = m->normalize == LHM_NORM_PRED ? r : (int64_t)r * C;
        double den = 0;
        if (m->normalize == LHM_NORM_ALL) {
            den = all;
            step = 1;
            first = (int64_t)r * C;
        } else {
            for (c = 0; c < C; c++)
                den += (double)cm[first + c * step];
        }
        for (c = 0; c < C; c++)
            out[first + c * step] = den != 0.0 ? (double)cm[first + c * step] / den : 0.0;
    }
    return LHOST_OK;
}
