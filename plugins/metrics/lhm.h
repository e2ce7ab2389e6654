/* plugins/metrics/lhm.h — what the files of metrics.so share. Everything here is internal
 * (the plugin is built with hidden visibility; only lhost_plugin_entry is exported) and is
 * prefixed lhm_.
 *
 * An instance holds its parsed parameters and the state declarations derived from them, never
 * running totals: those live in the host-allocated buffers declared by lhm_state_layout (for
 * auroc / average_precision with thresholds=None, host-owned cat states). */
#ifndef LHM_H
#define LHM_H

#include <stdint.h>

#include "lhost/lhost.h"

/* Metric kinds, also the index of each descriptor in the library. */
#define LHM_ACCURACY 0
#define LHM_PRECISION 1
#define LHM_RECALL 2
#define LHM_F1 3
#define LHM_FBETA 4
#define LHM_SPECIFICITY 5
#define LHM_CONFUSION_MATRIX 6
#define LHM_AUROC 7
#define LHM_AVERAGE_PRECISION 8
#define LHM_COUNT 9

/* Default max_samples of auroc / average_precision with thresholds=None: the most samples an
 * epoch may hold (the host's bound on their cat states). */
#define LHM_RANK_MAX_SAMPLES 4194304

/* `average` choices, in schema order (lhost_value.i). */
#define LHM_AVG_MICRO 0
#define LHM_AVG_MACRO 1
#define LHM_AVG_WEIGHTED 2
#define LHM_AVG_NONE 3

/* `normalize` choices (confusion_matrix), in schema order. */
#define LHM_NORM_NONE 0
#define LHM_NORM_TRUE 1
#define LHM_NORM_PRED 2
#define LHM_NORM_ALL 3

/* Stat-score buffers, in declaration order: tp, fp, fn (each num_classes) and total (1: samples
 * counted). tn is not stored: every counted (sample, class) pair is exactly one of tp, fp, fn,
 * tn, so tn[c] = total - tp[c] - fp[c] - fn[c]. */
#define LHM_BUF_TP 0
#define LHM_BUF_FP 1
#define LHM_BUF_FN 2
#define LHM_BUF_TOTAL 3
#define LHM_N_STAT_BUFS 4

typedef struct lhm_metric {
    int32_t kind;            /* LHM_* */
    const lhost_host *host;  /* for set_error; host-owned, outlives the instance */
    int32_t num_classes;
    int32_t average;         /* LHM_AVG_* */
    int32_t top_k;
    int32_t has_ignore;      /* 1: samples whose target == ignore_index are skipped */
    int64_t ignore_index;
    double zero_division;    /* 0 or 1: the value of a 0/0 score */
    double beta;             /* fbeta (1 for f1) */
    int32_t normalize;       /* LHM_NORM_*; confusion_matrix */
    int32_t thresholds;      /* auroc / average_precision: 0 = exact (cat states), else bins */
    int32_t warned;          /* auroc / average_precision: the absent-class warning was given */
    lhost_state_decl decls[LHM_N_STAT_BUFS]; /* derived from num_classes */
    uint32_t n_decls;
    uint32_t n_outputs;
} lhm_metric;

/* The library's descriptors (entry.c). */
extern const lhost_plugin_desc *const lhm_plugins[LHM_COUNT];

/* instance.c: vtable members shared by every kind. */
int32_t lhm_create(int32_t kind, const lhost_host *host, lhost_ctx *ctx,
                   const lhost_param_values *params, void **self);
void lhm_destroy(void *self);
int32_t lhm_state_layout(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                         uint32_t *n_outputs);
/* Record a formatted error for the current call and return LHOST_ERROR. */
int32_t lhm_fail(const lhm_metric *m, lhost_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Check a batch's shape and targets before anything is counted, so a bad batch leaves the
 * buffers untouched. */
int32_t lhm_check_batch(const lhm_metric *m, lhost_ctx *ctx, const lhost_metric_batch *b);
/* Index of the largest score in row (C); NaN counts as largest and ties go to the lower index,
 * as torch.argmax. */
int32_t lhm_argmax(const float *row, int32_t C);

/* stat_scores.c / reduce.c: every kind but confusion_matrix. */
int32_t lhm_stat_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                        const lhost_metric_batch *batch);
int32_t lhm_stat_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                         double *out);

/* confusion_matrix.c */
int32_t lhm_confmat_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                           const lhost_metric_batch *batch);
int32_t lhm_confmat_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                            double *out);

/* ranking.c: auroc and average_precision. lhm_rank_setup reads thresholds / average /
 * max_samples and declares the state (m->num_classes, has_ignore and ignore_index set). */
int32_t lhm_rank_setup(lhm_metric *m, lhost_ctx *ctx, const lhost_param_values *pv);
int32_t lhm_rank_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                        const lhost_metric_batch *batch);
int32_t lhm_rank_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                         double *out);

#endif
