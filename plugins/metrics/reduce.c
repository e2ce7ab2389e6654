/* plugins/metrics/reduce.c — compute() for the stat-score metrics: per-class scores from the
 * (rank-reduced) tp / fp / fn / total buffers, then torchmetrics' averaging.
 *
 *   accuracy, recall  tp / (tp + fn)          precision  tp / (tp + fp)
 *   fbeta             (1+b²)tp / ((1+b²)tp + b²fn + fp)   (f1: b = 1)
 *   specificity       tn / (tn + fp),  tn = total - tp - fp - fn
 * A 0/0 score is zero_division. micro applies the formula to counts summed over classes;
 * weighted averages with weights tp + fn (support); macro averages with weight 1, except that
 * classes with tp + fp + fn == 0 get weight 0 (for top_k > 1 with accuracy / precision /
 * recall: classes with tp + fn == 0), as torchmetrics' _adjust_weights_safe_divide; a zero
 * weight sum gives 0. none writes one score per class. */
#include "lhm.h"

static double safe_div(double num, double den, double zero_division)
{
    return den != 0.0 ? num / den : zero_division;
}

static double score(const lhm_metric *m, double tp, double fp, double fn, double tn)
{
    double b2;
    switch (m->kind) {
    case LHM_PRECISION:
        return safe_div(tp, tp + fp, m->zero_division);
    case LHM_F1:
    case LHM_FBETA:
        b2 = m->beta * m->beta;
        return safe_div((1.0 + b2) * tp, (1.0 + b2) * tp + b2 * fn + fp, m->zero_division);
    case LHM_SPECIFICITY:
        return safe_div(tn, tn + fp, m->zero_division);
    default: /* accuracy, recall */
        return safe_div(tp, tp + fn, m->zero_division);
    }
}

int32_t lhm_stat_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                         double *out)
{
    const lhm_metric *m = self;
    const int64_t *tp, *fp, *fn;
    double total, sum_tp = 0, sum_fp = 0, sum_fn = 0, sum_tn = 0, wsum = 0, acc = 0;
    int exclude_absent_targets;
    int32_t c;
    if (state->count < LHM_N_STAT_BUFS)
        return lhm_fail(m, ctx, "host gave %u state buffers, expected %d", state->count,
                        LHM_N_STAT_BUFS);
    tp = state->buffers[LHM_BUF_TP];
    fp = state->buffers[LHM_BUF_FP];
    fn = state->buffers[LHM_BUF_FN];
    total = (double)*(const int64_t *)state->buffers[LHM_BUF_TOTAL];
    /* torchmetrics passes top_k to the macro weighting for accuracy, precision and recall. */
    exclude_absent_targets = m->top_k > 1 && (m->kind == LHM_ACCURACY ||
                                              m->kind == LHM_PRECISION || m->kind == LHM_RECALL);

    for (c = 0; c < m->num_classes; c++) {
        double tpc = (double)tp[c], fpc = (double)fp[c], fnc = (double)fn[c];
        double tnc = total - tpc - fpc - fnc, s, w;
        if (m->average == LHM_AVG_MICRO) {
            sum_tp += tpc;
            sum_fp += fpc;
            sum_fn += fnc;
            sum_tn += tnc;
            continue;
        }
        s = score(m, tpc, fpc, fnc, tnc);
        if (m->average == LHM_AVG_NONE) {
            out[c] = s;
            continue;
        }
        if (m->average == LHM_AVG_WEIGHTED)
            w = tpc + fnc;
        else if (exclude_absent_targets)
            w = (tpc + fnc == 0) ? 0.0 : 1.0;
        else
            w = (tpc + fpc + fnc == 0) ? 0.0 : 1.0;
        wsum += w;
        acc += w * s;
    }
    if (m->average == LHM_AVG_MICRO)
        out[0] = score(m, sum_tp, sum_fp, sum_fn, sum_tn);
    else if (m->average != LHM_AVG_NONE)
        out[0] = safe_div(acc, wsum, 0.0);
    return LHOST_OK;
}
