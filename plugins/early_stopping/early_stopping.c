/* plugins/early_stopping/early_stopping.c — the EarlyStopping callback plugin
 * (org.lhost.early_stopping): Lightning's EarlyStopping plus Keras' baseline, start_from_epoch
 * and restore_best_weights. Built against the SDK alone. See README.md for the parameters.
 *
 * The check runs in on_validation_end, once per validation run, in Lightning's order
 * (_evaluate_stopping_criteria): non-finite value, stopping_threshold, divergence_threshold,
 * improvement by more than min_delta, else wait_count++ and stop when wait_count >= patience. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

#include "../common/fmt.h"
#include "../common/monitor.h"
#include "../common/state_bytes.h"

#define ES_STATE_VERSION 1u
#define ES_SNAPSHOT_SLOT 0

/* Why the run stopped; the values are stored in the state, so never renumber them. Names as
 * Lightning's EarlyStoppingReason. */
#define ES_NOT_STOPPED 0
#define ES_STOPPING_THRESHOLD 1
#define ES_DIVERGENCE_THRESHOLD 2
#define ES_PATIENCE_EXHAUSTED 3
#define ES_NON_FINITE_METRIC 4

static const char *const es_reason_names[] = {"not stopped", "stopping threshold",
                                              "divergence threshold", "patience exhausted",
                                              "non-finite metric"};

typedef struct es {
    const lhost_host *host;
    /* parameters */
    char *monitor;
    int mode_max;     /* 1: larger is better */
    double min_delta; /* >= 0 as given; applied with the sign of the mode */
    int64_t patience;
    int strict, check_finite, verbose, restore_best;
    int has_stop_thr, has_div_thr, has_baseline;
    double stop_thr, div_thr, baseline;
    int64_t start_from_epoch;
    /* state (saved) */
    int64_t wait_count;
    double best_score;
    int64_t stopped_epoch; /* -1 while not stopped */
    int32_t reason;        /* ES_* */
    char reason_msg[512];
    /* run-time only */
    int have_snapshot; /* host memory, not in checkpoints */
    int warned_missing;
    lhp_wbuf saved;
} es;

static const char *const es_modes[] = {"min", "max", NULL};

static const lhost_param es_params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "logged value to watch, e.g. val_loss",
     NULL, NULL, 0, 0, LHOST_PARAM_REQUIRED | LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "min_delta",
     "smallest change of the monitored value that counts as an improvement", "0", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience",
     "validation checks with no improvement before stopping", "3", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode",
     "min or max; omitted: max for acc/precision/recall/f1/fbeta/specificity keys, else min",
     NULL, es_modes, 0, 0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "strict",
     "fail when the monitored value is missing (else warn and skip the check)", "true", NULL, 0,
     0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "check_finite",
     "stop when the monitored value becomes NaN or infinite", "true", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "stopping_threshold",
     "stop as soon as the monitored value is better than this", NULL, NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "divergence_threshold",
     "stop as soon as the monitored value is worse than this", NULL, NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "verbose", "log every improvement", "false", NULL, 0,
     0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "baseline",
     "starting best score: only values better than it count as improvements", NULL, NULL, 0, 0,
     0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "start_from_epoch",
     "skip the check while the epoch (0-based) is below this", "0", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "restore_best_weights",
     "put the weights of the best check back into the model when the fit ends", "false", NULL,
     0, 0, 0},
};

/* Is a better than b in this mode? (NaN is never better: both comparisons are false.) */
static int es_better(const es *s, double a, double b)
{
    return s->mode_max ? a > b : a < b;
}

static int32_t es_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    const char *monitor = lhost_param_string(pv, "monitor", NULL);
    es *s;
    if (!monitor || !*monitor) {
        LHP_ERROR(host, ctx, "monitor: required (the logged value to watch, e.g. val_loss)");
        return LHOST_ERROR;
    }
    s = (es *)calloc(1, sizeof *s);
    if (!s || !(s->monitor = strdup(monitor))) {
        free(s);
        LHP_ERROR(host, ctx, "out of memory");
        return LHOST_ERROR;
    }
    s->host = host;
    s->mode_max = lhost_param_is_set(pv, "mode") ? strcmp(lhost_param_string(pv, "mode", "min"),
                                                          "max") == 0
                                                 : lhp_mode_infer_max(host, ctx, monitor);
    s->min_delta = fabs(lhost_param_float(pv, "min_delta", 0.0));
    s->patience = lhost_param_int(pv, "patience", 3);
    s->strict = (int)lhost_param_int(pv, "strict", 1);
    s->check_finite = (int)lhost_param_int(pv, "check_finite", 1);
    s->verbose = (int)lhost_param_int(pv, "verbose", 0);
    s->restore_best = (int)lhost_param_int(pv, "restore_best_weights", 0);
    s->has_stop_thr = lhost_param_is_set(pv, "stopping_threshold");
    s->stop_thr = lhost_param_float(pv, "stopping_threshold", 0.0);
    s->has_div_thr = lhost_param_is_set(pv, "divergence_threshold");
    s->div_thr = lhost_param_float(pv, "divergence_threshold", 0.0);
    s->has_baseline = lhost_param_is_set(pv, "baseline");
    s->baseline = lhost_param_float(pv, "baseline", 0.0);
    s->start_from_epoch = lhost_param_int(pv, "start_from_epoch", 0);
    if (s->patience < 0 || s->start_from_epoch < 0) {
        LHP_ERROR(host, ctx, "patience and start_from_epoch: expected >= 0");
        free(s->monitor);
        free(s);
        return LHOST_ERROR;
    }

    s->wait_count = 0;
    s->best_score = s->has_baseline ? s->baseline : (s->mode_max ? -INFINITY : INFINITY);
    s->stopped_epoch = -1;
    s->reason = ES_NOT_STOPPED;
    *self = s;
    return LHOST_OK;
}

static void es_destroy(void *self)
{
    es *s = (es *)self;
    if (!s)
        return;
    free(s->monitor);
    free(s->saved.data);
    free(s);
}

/* Fill ts from the host; returns 0 when the host gave it. */
static int es_trainer_state(const es *s, lhost_ctx *ctx, lhost_trainer_state *ts)
{
    memset(ts, 0, sizeof *ts);
    ts->struct_size = sizeof *ts;
    ts->stage = LHOST_STAGE_FIT;
    if (!LHOST_HOST_HAS(s->host, trainer_state))
        return -1;
    return s->host->trainer_state(ctx, ts) == LHOST_OK ? 0 : -1;
}

/* Lightning's _evaluate_stopping_criteria. Returns 1 to stop (reason and message set), 0 to go
 * on; *improved tells whether current became the new best. */
static int es_evaluate(es *s, lhost_ctx *ctx, double current, int *improved)
{
    const char *op = s->mode_max ? ">" : "<";
    char cur[LHP_FMT_CAP], thr[LHP_FMT_CAP];
    *improved = 0;
    if (s->check_finite && !isfinite(current)) {
        s->reason = ES_NON_FINITE_METRIC;
        snprintf(s->reason_msg, sizeof s->reason_msg,
                 "Monitored metric %s = %s is not finite. Previous best value was %.3f. "
                 "Signaling Trainer to stop.",
                 s->monitor, lhp_fmt_double(cur, current), s->best_score);
        return 1;
    }
    if (s->has_stop_thr && es_better(s, current, s->stop_thr)) {
        s->reason = ES_STOPPING_THRESHOLD;
        snprintf(s->reason_msg, sizeof s->reason_msg,
                 "Stopping threshold reached: %s = %s %s %s. Signaling Trainer to stop.",
                 s->monitor, lhp_fmt_double(cur, current), op, lhp_fmt_double(thr, s->stop_thr));
        return 1;
    }
    /* Lightning writes it monitor_op(-current, -divergence_threshold): worse than the bound. */
    if (s->has_div_thr && es_better(s, -current, -s->div_thr)) {
        s->reason = ES_DIVERGENCE_THRESHOLD;
        snprintf(s->reason_msg, sizeof s->reason_msg,
                 "Divergence threshold reached: %s = %s %s %s. Signaling Trainer to stop.",
                 s->monitor, lhp_fmt_double(cur, current), s->mode_max ? "<" : ">",
                 lhp_fmt_double(thr, s->div_thr));
        return 1;
    }
    /* current - min_delta > best (max) or current + min_delta < best (min). */
    if (es_better(s, s->mode_max ? current - s->min_delta : current + s->min_delta,
                  s->best_score)) {
        if (s->verbose) {
            if (isfinite(s->best_score))
                LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                        "Metric %s improved by %.3f >= min_delta = %s. New best score: %.3f",
                        s->monitor, fabs(s->best_score - current),
                        lhp_fmt_double(thr, s->min_delta), current);
            else
                LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                        "Metric %s improved. New best score: %.3f", s->monitor, current);
        }
        s->best_score = current;
        s->wait_count = 0;
        *improved = 1;
        return 0;
    }
    s->wait_count++;
    if (s->wait_count >= s->patience) {
        s->reason = ES_PATIENCE_EXHAUSTED;
        snprintf(s->reason_msg, sizeof s->reason_msg,
                 "Monitored metric %s did not improve in the last %lld records. Best score: "
                 "%.3f. Signaling Trainer to stop.",
                 s->monitor, (long long)s->wait_count, s->best_score);
        return 1;
    }
    return 0;
}

static int32_t es_on_validation_end(void *self, lhost_ctx *ctx)
{
    es *s = (es *)self;
    lhost_trainer_state ts;
    double current;
    int improved;

    es_trainer_state(s, ctx, &ts);
    if (ts.stage != LHOST_STAGE_FIT)
        return LHOST_OK; /* lhost validate: nothing to stop */

    if (!LHOST_HOST_HAS(s->host, get_value) ||
        s->host->get_value(ctx, s->monitor, &current) != LHOST_OK) {
        char keys[1024];
        lhp_list_keys(s->host, ctx, keys, sizeof keys);
        if (s->strict) {
            LHP_ERROR(s->host, ctx,
                      "monitor: early stopping conditioned on metric \"%s\" which is not "
                      "available; pass monitor= one of: %s",
                      s->monitor, keys);
            return LHOST_ERROR;
        }
        if (s->verbose || !s->warned_missing)
            LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                    "monitor \"%s\" is not available (strict=false: check skipped); "
                    "available: %s",
                    s->monitor, keys);
        s->warned_missing = 1;
        return LHOST_OK;
    }
    if (ts.epoch < s->start_from_epoch)
        return LHOST_OK;

    if (!es_evaluate(s, ctx, current, &improved)) {
        if (improved && s->restore_best && LHOST_HOST_HAS(s->host, snapshot_weights)) {
            int32_t rc = s->host->snapshot_weights(ctx, ES_SNAPSHOT_SLOT);
            if (rc == LHOST_OK)
                s->have_snapshot = 1;
            else
                LHP_LOG(s->host, ctx, LHOST_LOG_WARN,
                        "restore_best_weights: the host could not snapshot the weights (%d)",
                        (int)rc);
        }
        return LHOST_OK;
    }
    s->stopped_epoch = ts.epoch;
    LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "%s", s->reason_msg);
    if (LHOST_HOST_HAS(s->host, request_stop))
        s->host->request_stop(ctx, s->reason_msg);
    return LHOST_STOP;
}

static int32_t es_on_fit_end(void *self, lhost_ctx *ctx)
{
    es *s = (es *)self;
    char best[LHP_FMT_CAP];
    lhp_fmt_double(best, s->best_score);
    if (s->reason != ES_NOT_STOPPED)
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "stopped at epoch %lld (%s); best %s = %s",
                (long long)s->stopped_epoch, es_reason_names[s->reason], s->monitor, best);
    else if (s->verbose)
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "not stopped; best %s = %s", s->monitor, best);
    if (s->restore_best && s->have_snapshot && LHOST_HOST_HAS(s->host, restore_weights)) {
        int32_t rc = s->host->restore_weights(ctx, ES_SNAPSHOT_SLOT);
        if (rc != LHOST_OK) {
            LHP_ERROR(s->host, ctx, "restore_best_weights: the host could not restore (%d)",
                      (int)rc);
            return LHOST_ERROR;
        }
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO, "restored the weights of the best check (%s = %s)",
                s->monitor, best);
    }
    return LHOST_OK;
}

/* State v1: i64 wait_count, f64 best_score, i64 stopped_epoch, i64 reason, i64 patience,
 * str monitor, i64 mode_max, str reason_msg. */
static int32_t es_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    es *s = (es *)self;
    s->saved.size = 0;
    s->saved.failed = 0;
    lhp_put_i64(&s->saved, s->wait_count);
    lhp_put_f64(&s->saved, s->best_score);
    lhp_put_i64(&s->saved, s->stopped_epoch);
    lhp_put_i64(&s->saved, s->reason);
    lhp_put_i64(&s->saved, s->patience);
    lhp_put_str(&s->saved, s->monitor);
    lhp_put_i64(&s->saved, s->mode_max);
    lhp_put_str(&s->saved, s->reason_msg);
    if (s->saved.failed) {
        LHP_ERROR(s->host, ctx, "state_save: out of memory");
        return LHOST_ERROR;
    }
    *data = s->saved.data;
    *size = s->saved.size;
    return LHOST_OK;
}

static int32_t es_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    es *s = (es *)self;
    lhp_rbuf r = {(const unsigned char *)data, size, 0, 0};
    int64_t wait, stopped, reason, patience, mode_max;
    double best;
    char *monitor, *msg;

    if (version != ES_STATE_VERSION) {
        LHP_ERROR(s->host, ctx, "state_restore: state version %u, expected %u", version,
                  ES_STATE_VERSION);
        return LHOST_ERROR;
    }
    wait = lhp_get_i64(&r);
    best = lhp_get_f64(&r);
    stopped = lhp_get_i64(&r);
    reason = lhp_get_i64(&r);
    patience = lhp_get_i64(&r);
    monitor = lhp_get_str(&r);
    mode_max = lhp_get_i64(&r);
    msg = lhp_get_str(&r);
    if (r.failed || r.pos != size || reason < ES_NOT_STOPPED || reason > ES_NON_FINITE_METRIC ||
        wait < 0 || !monitor || strcmp(monitor, s->monitor) != 0 || mode_max != s->mode_max) {
        LHP_ERROR(s->host, ctx,
                  "state_restore: %llu bytes are not an early_stopping v1 state for monitor "
                  "\"%s\" mode %s",
                  (unsigned long long)size, s->monitor, s->mode_max ? "max" : "min");
        free(monitor);
        free(msg);
        return LHOST_ERROR;
    }
    s->wait_count = wait;
    s->best_score = best;
    s->stopped_epoch = stopped;
    s->reason = (int32_t)reason;
    snprintf(s->reason_msg, sizeof s->reason_msg, "%s", msg ? msg : "");
    if (patience != s->patience)
        LHP_LOG(s->host, ctx, LHOST_LOG_INFO,
                "patience %lld from the configuration replaces %lld from the checkpoint",
                (long long)s->patience, (long long)patience);
    free(monitor);
    free(msg);
    return LHOST_OK;
}

static const lhost_callback_vtable es_vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = ES_STATE_VERSION,
    .create = es_create,
    .destroy = es_destroy,
    .on_validation_end = es_on_validation_end,
    .on_fit_end = es_on_fit_end,
    .state_save = es_state_save,
    .state_restore = es_state_restore,
};

static const lhost_plugin_desc es_desc = {
    .struct_size = sizeof(lhost_plugin_desc),
    .kind = LHOST_KIND_CALLBACK,
    .id = "org.lhost.early_stopping",
    .name = "early_stopping",
    .version = "1.0.0",
    .description = "stop training when a monitored value stops improving (Lightning's "
                   "EarlyStopping)",
    .params = es_params,
    .n_params = sizeof es_params / sizeof es_params[0],
    .priority = LHOST_PRIORITY_DEFAULT,
    .vtable = &es_vtable,
};

LHOST_PLUGIN_LIBRARY(&es_desc);
