/* plugins/metrics/ranking.c — auroc and average_precision: torchmetrics' MulticlassAUROC and
 * MulticlassAveragePrecision, one-vs-rest over num_classes, averaged macro / weighted / none.
 *
 * Scores become probabilities first: softmax (in double, after subtracting the row's maximum)
 * when the batch holds logits, as given when it holds probabilities. Then two ways to count:
 *
 * - thresholds None (exact): every probability row and target is appended to two cat states
 *   (ABI 1.1), "preds" (rows, num_classes) F64 and "target" (rows, 1) I32, which the host
 *   concatenates across batches and ranks and saves in checkpoints. compute() sorts each class's
 *   scores in descending order and walks the distinct values (torchmetrics' _binary_clf_curve,
 *   scikit-learn's too): ROC points (fps/N, tps/P) from (0, 0), AUROC by the trapezoidal rule;
 *   AP = sum over distinct thresholds of (recall_k - recall_{k-1}) * precision_k. Ties share one
 *   threshold, so they count as scikit-learn counts them.
 * - thresholds T (binned): one SUM state "confmat" of (T, num_classes, 2, 2) counts, index
 *   [threshold][class][target is class][score >= threshold], thresholds linspace(0, 1, T) as
 *   numpy computes it (k * (1 / (T - 1)), the last exactly 1). Memory is fixed; the curves are
 *   torchmetrics' binned formulas (no (0, 0) point is added; tpr, fpr and recall are 0 when
 *   their denominator is; precision is NaN then, and AP turns NaN into 0).
 *
 * A class absent from the targets (scikit-learn raises): AUROC gives it 0 and keeps it in the
 * macro mean, exact AP gives it NaN and leaves it out of macro / weighted, binned AP gives it 0
 * and keeps it, each as torchmetrics does; a warning says so once per instance. The weights of
 * `weighted` are the classes' target counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhm.h"

/* Rows of the exact state. */
#define BUF_PREDS 0
#define BUF_TARGET 1

static const char *const thresholds_help = "None (exact) or an integer >= 2";

int32_t lhm_rank_setup(lhm_metric *m, lhost_ctx *ctx, const lhost_param_values *pv)
{
    const char *t = lhost_param_string(pv, "thresholds", NULL);
    int64_t avg = lhost_param_int(pv, "average", 0);
    int64_t max_samples = lhost_param_int(pv, "max_samples", LHM_RANK_MAX_SAMPLES);
    static const int32_t avg_of[] = {LHM_AVG_MACRO, LHM_AVG_WEIGHTED, LHM_AVG_NONE};
    lhost_state_decl *d = m->decls;
    if (avg < 0 || avg > 2)
        return lhm_fail(m, ctx, "average: index outside the schema's choices");
    m->average = avg_of[avg];
    m->thresholds = 0;
    if (t && *t && strcmp(t, "None") != 0 && strcmp(t, "null") != 0 && strcmp(t, "~") != 0) {
        char *end;
        long long v = strtoll(t, &end, 10);
        if (*end || end == t || v < 2 || v > 100000)
            return lhm_fail(m, ctx, "thresholds \"%s\": expected %s (at most 100000)", t,
                            thresholds_help);
        m->thresholds = (int32_t)v;
    }
    memset(d, 0, sizeof m->decls);
    if (m->thresholds) {
        uint64_t len = (uint64_t)m->thresholds * (uint64_t)m->num_classes * 4;
        if (len > (1u << 26))
            return lhm_fail(m, ctx, "thresholds=%d with num_classes=%d: %llu counts, more "
                            "than 2^26", (int)m->thresholds, (int)m->num_classes,
                            (unsigned long long)len);
        d[0].struct_size = sizeof *d;
        d[0].name = "confmat";
        d[0].dtype = LHOST_DTYPE_I64;
        d[0].reduction = LHOST_REDUCE_SUM;
        d[0].length = len;
        m->n_decls = 1;
    } else {
        if (max_samples < 1)
            return lhm_fail(m, ctx, "max_samples=%lld: expected >= 1", (long long)max_samples);
        d[BUF_PREDS].struct_size = d[BUF_TARGET].struct_size = sizeof *d;
        d[BUF_PREDS].name = "preds";
        d[BUF_PREDS].dtype = LHOST_DTYPE_F64;
        d[BUF_PREDS].length = (uint64_t)m->num_classes;
        d[BUF_TARGET].name = "target";
        d[BUF_TARGET].dtype = LHOST_DTYPE_I32;
        d[BUF_TARGET].length = 1;
        d[BUF_PREDS].reduction = d[BUF_TARGET].reduction = LHOST_REDUCE_CAT;
        d[BUF_PREDS].max_rows = d[BUF_TARGET].max_rows = (uint64_t)max_samples;
        m->n_decls = 2;
    }
    m->n_outputs = m->average == LHM_AVG_NONE ? (uint32_t)m->num_classes : 1;
    return LHOST_OK;
}

/* Row i of the batch as probabilities into p (C doubles). */
static void probs(const lhost_metric_batch *b, int64_t i, double *p)
{
    const float *row = b->scores + i * b->num_classes;
    int32_t C = b->num_classes, j;
    double mx = row[0], sum = 0.0;
    if (b->scores_are_probs) {
        for (j = 0; j < C; j++)
            p[j] = row[j];
        return;
    }
    for (j = 1; j < C; j++)
        if (row[j] > mx)
            mx = row[j];
    for (j = 0; j < C; j++)
        sum += (p[j] = exp((double)row[j] - mx));
    for (j = 0; j < C; j++)
        p[j] /= sum;
}

/* Is sample i counted (not ignore_index)? */
static int kept(const lhm_metric *m, const lhost_metric_batch *b, int64_t i)
{
    return !(m->has_ignore && b->targets[i] == m->ignore_index);
}

/* numpy's linspace(0, 1, T)[k]. */
static double threshold(int32_t T, int32_t k)
{
    return k == T - 1 ? 1.0 : (double)k * (1.0 / (double)(T - 1));
}

static int32_t update_binned(const lhm_metric *m, const lhost_metric_state *state,
                             const lhost_metric_batch *b, double *p)
{
    int64_t *cm = state->buffers[0], i;
    int32_t C = m->num_classes, T = m->thresholds, c, k;
    for (i = 0; i < b->n; i++) {
        if (!kept(m, b, i))
            continue;
        probs(b, i, p);
        for (c = 0; c < C; c++) {
            int64_t tgt = b->targets[i] == c;
            for (k = 0; k < T; k++)
                cm[(((int64_t)k * C + c) * 2 + tgt) * 2 + (p[c] >= threshold(T, k))]++;
        }
    }
    return LHOST_OK;
}

static int32_t update_exact(const lhm_metric *m, lhost_ctx *ctx, const lhost_metric_state *state,
                            const lhost_metric_batch *b)
{
    int32_t C = m->num_classes;
    double *rows = malloc(sizeof(double) * (size_t)(b->n * C + 1));
    int32_t *tg = malloc(sizeof(int32_t) * (size_t)(b->n + 1));
    int64_t i, n = 0;
    int32_t rc = LHOST_OK;
    if (!rows || !tg) {
        free(rows);
        free(tg);
        return lhm_fail(m, ctx, "out of memory for a batch of %lld", (long long)b->n);
    }
    for (i = 0; i < b->n; i++)
        if (kept(m, b, i)) {
            probs(b, i, rows + n * C);
            tg[n++] = b->targets[i];
        }
    /* the host records why an append failed (the max_rows bound, named) */
    if (state->append(state, BUF_PREDS, rows, (uint64_t)n) != LHOST_OK ||
        state->append(state, BUF_TARGET, tg, (uint64_t)n) != LHOST_OK)
        rc = lhm_fail(m, ctx, "appending %lld rows failed (max_samples is %llu)", (long long)n,
                      (unsigned long long)m->decls[BUF_PREDS].max_rows);
    free(rows);
    free(tg);
    return rc;
}

int32_t lhm_rank_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                        const lhost_metric_batch *b)
{
    const lhm_metric *m = self;
    double *p;
    int32_t rc;
    if (state->count < m->n_decls)
        return lhm_fail(m, ctx, "host gave %u state buffers, expected %u", state->count,
                        m->n_decls);
    if ((rc = lhm_check_batch(m, ctx, b)) != LHOST_OK)
        return rc;
    if (!m->thresholds) {
        if (!LHOST_METRIC_STATE_HAS(state, append) || !LHOST_METRIC_STATE_HAS(state, rows))
            return lhm_fail(m, ctx, "thresholds=None needs a host with cat states (ABI 1.1); "
                            "set thresholds to an integer for binned counts");
        return update_exact(m, ctx, state, b);
    }
    if (!(p = malloc(sizeof(double) * (size_t)m->num_classes)))
        return lhm_fail(m, ctx, "out of memory");
    rc = update_binned(m, state, b, p);
    free(p);
    return rc;
}

/* ---- compute ------------------------------------------------------------------------------ */

typedef struct scored {
    double s;
    int32_t pos;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* One class's exact AUROC and AP from its n (score, positive) pairs, sorted here. P positives,
 * N = n - P negatives. */
static void exact_class(scored *v, int64_t n, int64_t P, double *auroc, double *ap)
{
    int64_t N = n - P, i, tps = 0, fps = 0, ptps = 0, pfps = 0;
    double area = 0.0, sum_ap = 0.0;
    qsort(v, (size_t)n, sizeof *v, by_score_desc);
    for (i = 0; i < n; i++) {
        tps += v[i].pos;
        fps += !v[i].pos;
        if (i + 1 < n && v[i + 1].s == v[i].s)
            continue; /* the threshold ends after the last tie */
        if (P > 0 && N > 0)
            area += ((double)fps / (double)N - (double)pfps / (double)N) *
                    ((double)tps / (double)P + (double)ptps / (double)P) / 2.0;
        if (P > 0)
            sum_ap += ((double)tps / (double)P - (double)ptps / (double)P) *
                      ((double)tps / (double)(tps + fps));
        ptps = tps;
        pfps = fps;
    }
    *auroc = area;            /* 0 without positives or without negatives, as torchmetrics */
    *ap = P > 0 ? sum_ap : NAN; /* recall 0/0, as torchmetrics */
}

/* Average the per-class scores `res` (NaN = left out) into out[0], or copy them (none). */
static void reduce(const lhm_metric *m, const double *res, const double *weight, double *out)
{
    int32_t C = m->num_classes, c, kept_n = 0;
    double sum = 0.0, wsum = 0.0;
    if (m->average == LHM_AVG_NONE) {
        memcpy(out, res, sizeof(double) * (size_t)C);
        return;
    }
    for (c = 0; c < C; c++)
        if (!isnan(res[c])) {
            kept_n++;
            wsum += weight[c];
        }
    for (c = 0; c < C; c++)
        if (!isnan(res[c]))
            sum += m->average == LHM_AVG_MACRO ? res[c]
                   : wsum != 0.0                ? res[c] * (weight[c] / wsum)
                                                : 0.0;
    out[0] = m->average == LHM_AVG_MACRO ? (kept_n ? sum / kept_n : NAN) : sum;
}

static void warn_absent(lhm_metric *m, lhost_ctx *ctx, int32_t c)
{
    char msg[256];
    if (m->warned || !m->host || !m->host->log)
        return;
    m->warned = 1;
    if (m->kind == LHM_AUROC)
        snprintf(msg, sizeof msg, "auroc: class %d has no positive (or no negative) samples; "
                 "its AUROC counts as 0, as torchmetrics", (int)c);
    else if (m->thresholds)
        snprintf(msg, sizeof msg, "average_precision: class %d has no positive samples; its AP "
                 "counts as 0, as torchmetrics' binned version", (int)c);
    else
        snprintf(msg, sizeof msg, "average_precision: class %d has no positive samples; its AP "
                 "is NaN and left out of the average, as torchmetrics", (int)c);
    m->host->log(ctx, LHOST_LOG_WARN, msg);
}

static int32_t compute_exact(lhm_metric *m, lhost_ctx *ctx, const lhost_metric_state *state,
                             double *res, double *weight)
{
    int64_t n = (int64_t)state->rows[BUF_TARGET], i;
    const double *preds = state->buffers[BUF_PREDS];
    const int32_t *tg = state->buffers[BUF_TARGET];
    int32_t C = m->num_classes, c;
    scored *v;
    if ((int64_t)state->rows[BUF_PREDS] != n)
        return lhm_fail(m, ctx, "state has %llu prediction rows but %lld targets",
                        (unsigned long long)state->rows[BUF_PREDS], (long long)n);
    if (!(v = malloc(sizeof *v * (size_t)(n + 1))))
        return lhm_fail(m, ctx, "out of memory for %lld samples", (long long)n);
    for (c = 0; c < C; c++)
        weight[c] = 0.0;
    for (i = 0; i < n; i++)
        if (tg[i] >= 0 && tg[i] < C)
            weight[tg[i]] += 1.0;
    for (c = 0; c < C; c++) {
        double auroc, ap;
        for (i = 0; i < n; i++) {
            v[i].s = preds[i * C + c];
            v[i].pos = tg[i] == c;
        }
        exact_class(v, n, (int64_t)weight[c], &auroc, &ap);
        res[c] = m->kind == LHM_AUROC ? auroc : ap;
        if (n && (weight[c] == 0.0 || (m->kind == LHM_AUROC && weight[c] == (double)n)))
            warn_absent(m, ctx, c);
    }
    free(v);
    return LHOST_OK;
}

static double safe(double num, double den, double zero)
{
    return den != 0.0 ? num / den : zero;
}

static void compute_binned(lhm_metric *m, lhost_ctx *ctx, const lhost_metric_state *state,
                           double *res, double *weight)
{
    const int64_t *cm = state->buffers[0];
    int32_t C = m->num_classes, T = m->thresholds, c, k;
#define CM(k, c, t, p) ((double)cm[(((int64_t)(k) * C + (c)) * 2 + (t)) * 2 + (p)])
    for (c = 0; c < C; c++) {
        double acc = 0.0;
        weight[c] = CM(0, c, 1, 0) + CM(0, c, 1, 1);
        if (m->kind == LHM_AUROC) {
            /* thresholds from 1 down to 0: fpr rises, trapezoids between neighbours */
            for (k = T - 1; k > 0; k--) {
                double x1 = safe(CM(k, c, 0, 1), CM(k, c, 0, 1) + CM(k, c, 0, 0), 0.0);
                double y1 = safe(CM(k, c, 1, 1), CM(k, c, 1, 1) + CM(k, c, 1, 0), 0.0);
                double x2 = safe(CM(k - 1, c, 0, 1), CM(k - 1, c, 0, 1) + CM(k - 1, c, 0, 0), 0.0);
                double y2 = safe(CM(k - 1, c, 1, 1), CM(k - 1, c, 1, 1) + CM(k - 1, c, 1, 0), 0.0);
                acc += (x2 - x1) * (y1 + y2) / 2.0;
            }
        } else {
            /* precision[k], recall[k] for k < T, then (1, 0); NaN (0/0) counts as 0 */
            for (k = 0; k < T; k++) {
                double tp = CM(k, c, 1, 1), fp = CM(k, c, 0, 1), fn = CM(k, c, 1, 0);
                double prec = safe(tp, tp + fp, 0.0), rec = safe(tp, tp + fn, 0.0);
                double rec_next = k + 1 < T ? safe(CM(k + 1, c, 1, 1),
                                                   CM(k + 1, c, 1, 1) + CM(k + 1, c, 1, 0), 0.0)
                                            : 0.0;
                acc -= (rec_next - rec) * prec;
            }
        }
        res[c] = acc;
        if (weight[c] == 0.0 && CM(0, c, 0, 0) + CM(0, c, 0, 1) > 0.0)
            warn_absent(m, ctx, c);
    }
#undef CM
}

int32_t lhm_rank_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                         double *out)
{
    lhm_metric *m = self;
    int32_t C = m->num_classes, rc = LHOST_OK;
    double *res, *weight;
    if (state->count < m->n_decls)
        return lhm_fail(m, ctx, "host gave %u state buffers, expected %u", state->count,
                        m->n_decls);
    if (!m->thresholds && !LHOST_METRIC_STATE_HAS(state, rows))
        return lhm_fail(m, ctx, "thresholds=None needs a host with cat states (ABI 1.1)");
    if (!m->thresholds && state->rows[BUF_TARGET] == 0) {
        uint32_t k;
        for (k = 0; k < m->n_outputs; k++)
            out[k] = NAN; /* nothing seen yet */
        return LHOST_OK;
    }
    res = malloc(sizeof(double) * (size_t)C);
    weight = malloc(sizeof(double) * (size_t)C);
    if (!res || !weight)
        rc = lhm_fail(m, ctx, "out of memory");
    else if (m->thresholds)
        compute_binned(m, ctx, state, res, weight);
    else
        rc = compute_exact(m, ctx, state, res, weight);
    if (rc == LHOST_OK)
        reduce(m, res, weight, out);
    free(res);
    free(weight);
    return rc;
}
