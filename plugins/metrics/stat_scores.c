/* plugins/metrics/stat_scores.c — update() for the stat-score metrics: fold a batch of scores
 * (n, C) and targets (n) into the per-class tp / fp / fn counts and the sample total, as
 * torchmetrics' _multiclass_stat_scores_update does for multidim_average="global".
 *
 * top_k = 1: the prediction is the argmax; a hit counts tp[t], a miss fn[t] and fp[pred].
 * top_k > 1: all k best classes are predicted; the target counts tp if among them, else fn, and
 * every other predicted class counts fp. Samples whose target is ignore_index count nothing. */
#include "lhm.h"

/* Is score a (class ia) ranked above score b (class ib)? NaN ranks highest (as torch.topk
 * and torch.argmax); equal scores rank the lower class first. */
static int ranks_above(float a, int32_t ia, float b, int32_t ib)
{
    int na = a != a, nb = b != b;
    if (na != nb)
        return na;
    if (!na && a != b)
        return a > b;
    return ia < ib;
}

/* Fold one row's top-k set: k passes, each picking the best class ranked below the previous
 * pick. O(C * k), no scratch memory. */
static void fold_top_k(const float *row, int32_t C, int32_t k, int32_t t, int64_t *tp,
                       int64_t *fp, int64_t *fn)
{
    int32_t pass, j, prev = -1, hit = 0;
    for (pass = 0; pass < k; pass++) {
        int32_t pick = -1;
        for (j = 0; j < C; j++) {
            if (prev >= 0 && !ranks_above(row[prev], prev, row[j], j))
                continue; /* already picked (ranked at or above prev) */
            if (pick < 0 || ranks_above(row[j], j, row[pick], pick))
                pick = j;
        }
        prev = pick;
        if (pick == t)
            hit = 1;
        else
            fp[pick]++;
    }
    if (hit)
        tp[t]++;
    else
        fn[t]++;
}

int32_t lhm_stat_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                        const lhost_metric_batch *batch)
{
    const lhm_metric *m = self;
    const int32_t C = m->num_classes;
    int64_t *tp, *fp, *fn, *total, i, counted = 0;
    int32_t rc = lhm_check_batch(m, ctx, batch);
    if (rc != LHOST_OK)
        return rc;
    if (state->count < LHM_N_STAT_BUFS)
        return lhm_fail(m, ctx, "host gave %u state buffers, expected %d", state->count,
                        LHM_N_STAT_BUFS);
    tp = state->buffers[LHM_BUF_TP];
    fp = state->buffers[LHM_BUF_FP];
    fn = state->buffers[LHM_BUF_FN];
    total = state->buffers[LHM_BUF_TOTAL];

    for (i = 0; i < batch->n; i++) {
        const float *row = batch->scores + i * C; /* (C) */
        int32_t t = batch->targets[i];
        if (m->has_ignore && t == m->ignore_index)
            continue;
        counted++;
        if (m->top_k == 1) {
            int32_t p = lhm_argmax(row, C);
            if (p == t) {
                tp[t]++;
            } else {
                fp[p]++;
                fn[t]++;
            }
        } else {
            fold_top_k(row, C, m->top_k, t, tp, fp, fn);
        }
    }
    *total += counted;
    return LHOST_OK;
}
