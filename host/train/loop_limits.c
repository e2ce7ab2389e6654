/* host/train/loop_limits.c — the fit loop's limits and schedules (see loop_limits.h for the
 * rules and the Lightning sources they follow). */
#include "loop_limits.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "progress.h"

/* ---- config ----------------------------------------------------------------------------- */

static void *field(const lh_trainer_key *k, lh_trainer_opts *o)
{
    return (char *)o + k->offset;
}

/* The scalar's text as a whole decimal integer (1 if so), else 0. */
static int scalar_int(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s || s[0] == ' ' || s[0] == '\t')
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

static int scalar_float(const char *s, double *out)
{
    char *end;
    if (!s || !*s || s[0] == ' ' || s[0] == '\t')
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return !*end && errno != ERANGE && isfinite(*out);
}

/* _determine_batch_limits: an int >= 0 is batches; a float in [0, 1] a fraction; a float > 1
 * with no fractional part the int it is (5.0: 5 batches). */
static int loop_read_limit(const lh_trainer_key *k, const lh_config_node *map, const char *name,
                           lh_trainer_opts *o, lh_error *err)
{
    const lh_config_node *n = lh_config_get(map, name);
    const char *s = n && !lh_config_is_null(n) ? lh_config_scalar(n) : k->dflt;
    lh_batch_limit v = {NAN, 0};
    double f;
    if (n && lh_config_type(n) != LH_CFG_SCALAR)
        s = NULL;
    if (scalar_int(s, &v.n) && v.n >= 0)
        ;
    else if (scalar_float(s, &f) && f >= 0 && f <= 1)
        v.frac = f;
    else if (s && scalar_float(s, &f) && f > 1 && f == floor(f) && f < 9e15)
        v.n = (int64_t)f;
    else
        return lh_config_error(n, err, "expected an int (batches) >= 0 or a float in [0.0, 1.0] "
                               "(a fraction of the batches), got %s%s%s", s ? "\"" : "",
                               s ? s : "a mapping or a list", s ? "\"" : "");
    memcpy(field(k, o), &v, sizeof v);
    return 0;
}

/* check_val_every_n_epoch: an int >= 1, or null (Lightning's None) stored as 0. */
static int loop_read_every_n_epoch(const lh_trainer_key *k, const lh_config_node *map,
                                   const char *name, lh_trainer_opts *o, lh_error *err)
{
    const lh_config_node *n = lh_config_get(map, name);
    int64_t v = 0;
    if (n && lh_config_is_null(n)) {
        memcpy(field(k, o), &v, sizeof v);
        return 0;
    }
    if (lh_config_get_int(map, name, 1, 1, INT32_MAX, &v, err))
        return lh_error_wrap(err, "(or null: count val_check_interval's batches across epochs)");
    memcpy(field(k, o), &v, sizeof v);
    return 0;
}

/* fast_dev_run: true/false, or an int >= 0 (1 is true). */
static int loop_read_fast_dev_run(const lh_trainer_key *k, const lh_config_node *map,
                                  const char *name, lh_trainer_opts *o, lh_error *err)
{
    const lh_config_node *n = lh_config_get(map, name);
    int64_t v = 0;
    int b;
    if (n && !lh_config_is_null(n) && lh_config_type(n) == LH_CFG_SCALAR &&
        scalar_int(lh_config_scalar(n), &v)) {
        if (v < 0)
            return lh_config_error(n, err, "expected true, false or an int >= 0 (batches), got "
                                   "\"%s\"", lh_config_scalar(n));
    } else if (n && !lh_config_is_null(n)) {
        if (lh_config_get_bool(map, name, 0, &b, err))
            return lh_error_wrap(err, "(or an int >= 0: batches)");
        v = b;
    }
    memcpy(field(k, o), &v, sizeof v);
    return 0;
}

/* Timer's duration: "DD:HH:MM:SS" (four integers), or a mapping of timedelta's keywords. */
static int loop_read_max_time(const lh_trainer_key *k, const lh_config_node *map,
                              const char *name, lh_trainer_opts *o, lh_error *err)
{
    static const char *const units[] = {"weeks", "days", "hours", "minutes", "seconds",
                                        "milliseconds", "microseconds", NULL};
    static const double unit_s[] = {604800, 86400, 3600, 60, 1, 1e-3, 1e-6};
    const lh_config_node *n = lh_config_get(map, name);
    double v = NAN;
    if (n && !lh_config_is_null(n) && lh_config_type(n) == LH_CFG_SCALAR) {
        const char *s = lh_config_scalar(n);
        long long d, h, m, sec;
        int used = 0;
        if (sscanf(s, "%lld:%lld:%lld:%lld%n", &d, &h, &m, &sec, &used) != 4 || s[used] ||
            d < 0 || h < 0 || m < 0 || sec < 0 || strchr(s, '+') || strchr(s, ' '))
            return lh_config_error(n, err, "expected \"DD:HH:MM:SS\" (days, hours, minutes, "
                                   "seconds) or a mapping such as {hours: 1, minutes: 30}, got "
                                   "\"%s\"", s);
        v = (double)d * 86400 + (double)h * 3600 + (double)m * 60 + (double)sec;
    } else if (n && lh_config_type(n) == LH_CFG_MAP) {
        if (lh_config_check_keys(n, units, err))
            return -1;
        v = 0;
        for (int32_t i = 0; units[i]; i++) {
            double x;
            if (lh_config_get_float(n, units[i], 0, 0, 1e12, &x, err))
                return -1;
            v += x * unit_s[i];
        }
    } else if (n && !lh_config_is_null(n)) {
        return lh_config_error(n, err, "expected \"DD:HH:MM:SS\" or a mapping such as "
                               "{hours: 1, minutes: 30}, got a list");
    }
    memcpy(field(k, o), &v, sizeof v);
    return 0;
}

int lh_loop_read_key(const lh_trainer_key *k, const lh_config_node *map, const char *name,
                     lh_trainer_opts *o, lh_error *err)
{
    static const struct {
        const char *name;
        int (*read)(const lh_trainer_key *, const lh_config_node *, const char *,
                    lh_trainer_opts *, lh_error *);
    } readers[] = {
        {"check_val_every_n_epoch", loop_read_every_n_epoch},
        {"fast_dev_run", loop_read_fast_dev_run},
        {"max_time", loop_read_max_time},
    };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (strcmp(name, readers[i].name) == 0)
            return readers[i].read(k, map, name, o, err);
    return loop_read_limit(k, map, name, o, err); /* the int-or-fraction keys */
}

int lh_loop_opts_finish(const lh_config_node *root, lh_trainer_opts *o, lh_error *err)
{
    const lh_config_node *me = lh_config_get(root, "trainer.max_epochs");
    (void)err;
    if ((!me || lh_config_is_null(me)) && (o->max_steps != -1 || !isnan(o->max_time)))
        o->max_epochs = -1;
    if (o->fast_dev_run) {
        lh_batch_limit n = {NAN, o->fast_dev_run};
        if (!(o->overfit_batches.frac > 0 || o->overfit_batches.n > 0))
            o->limit_train_batches = o->limit_val_batches = n;
        o->limit_test_batches = o->limit_predict_batches = n;
        o->max_steps = o->fast_dev_run;
        o->num_sanity_val_steps = 0;
        o->max_epochs = 1;
        o->val_check_interval = (lh_batch_limit){1.0, 0};
        o->check_val_every_n_epoch = 1;
        o->max_time = NAN; /* not applicable in fast_dev_run, as in Lightning */
    }
    return 0;
}

void lh_loop_format_time(double seconds, char *buf, size_t cap)
{
    int64_t s = (int64_t)seconds;
    snprintf(buf, cap, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ":%02" PRId64, s / 86400,
             s / 3600 % 24, s / 60 % 60, s % 60);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int overfitting(const lh_trainer_opts *o)
{
    return o->overfit_batches.frac > 0 || (isnan(o->overfit_batches.frac) && o->overfit_batches.n);
}

/* _parse_num_batches: the loader's `len` batches under `lim`. */
static int limit_batches(const char *key, lh_batch_limit lim, int64_t len, int64_t *out,
                         lh_error *err)
{
    if (len == 0 || isnan(lim.frac)) {
        *out = len == 0 ? 0 : lim.n < len ? lim.n : len;
        return 0;
    }
    *out = (int64_t)((double)len * lim.frac);
    if (*out == 0 && lim.frac > 0)
        return lh_error_set(err, "trainer.%s: %g of %lld batches is less than one batch; "
                            "expected at least %g (1 / %lld)", key, lim.frac, (long long)len,
                            1.0 / (double)len, (long long)len);
    return 0;
}

int lh_loop_setup(lh_trainer *t, lh_error *err)
{
    const lh_trainer_opts *o = &t->opts;
    lh_batch_limit lt = o->limit_train_batches, lv = o->limit_val_batches;
    int fit = t->stage == LHOST_STAGE_FIT;
    const char *lt_key = "limit_train_batches", *lv_key = "limit_val_batches";
    if (overfitting(o))
        lt = lv = o->overfit_batches, lt_key = lv_key = "overfit_batches";
    /* Lightning's evaluation loops each have their own limit: trainer.test reads
     * limit_test_batches and trainer.predict limit_predict_batches (over all the batches:
     * rank 0 writes every prediction), neither limit_val_batches nor overfit_batches. */
    if (o->eval_test)
        lv = o->limit_test_batches, lv_key = "limit_test_batches";
    if (t->stage == LHOST_STAGE_PREDICT &&
        limit_batches("limit_predict_batches", o->limit_predict_batches,
                      (t->val.count + o->batch_size - 1) / o->batch_size, &t->num_predict_batches,
                      err))
        return -1;
    if ((fit && limit_batches(lt_key, lt, t->num_train_batches, &t->num_train_batches, err)) ||
        limit_batches(lv_key, lv, t->num_val_batches, &t->num_val_batches, err))
        return -1;
    t->val_enabled = t->num_val_batches > 0;
    t->last_batch = -1;
    t->resume_rows = -1;
    if (!fit)
        return 0;
    if (o->fast_dev_run)
        t->n_loggers = 0; /* Lightning's DummyLogger: nothing is logged */
    if (isnan(o->val_check_interval.frac)) {
        t->val_check_batch = o->val_check_interval.n;
        if (t->val_check_batch < 1)
            return lh_error_set(err, "trainer.val_check_interval: expected an int >= 1 "
                                "(batches) or a float in [0.0, 1.0], got 0");
        if (t->val_check_batch > t->num_train_batches && o->check_val_every_n_epoch &&
            t->val_enabled && t->num_train_batches > 0)
            return lh_error_set(err, "trainer.val_check_interval: %lld is more than the epoch's "
                                "%lld training batches; expected at most %lld, or "
                                "check_val_every_n_epoch: null to count batches across epochs",
                                (long long)t->val_check_batch, (long long)t->num_train_batches,
                                (long long)t->num_train_batches);
    } else {
        t->val_check_batch = (int64_t)((double)t->num_train_batches * o->val_check_interval.frac);
        if (t->val_check_batch < 1)
            t->val_check_batch = 1;
    }
    if (o->accumulate_grad_batches > 1) {
        size_t bytes = (size_t)t->model.total_params * sizeof(float);
        if (!(t->accum = calloc(1, bytes)) || !(t->accum_tmp = malloc(bytes)))
            return lh_error_set(err, "out of memory for accumulate_grad_batches' gradient sum");
    }
    return 0;
}

void lh_loop_free(lh_trainer *t)
{
    free(t->accum);
    free(t->accum_tmp);
    t->accum = t->accum_tmp = NULL;
}

/* ---- decisions ----------------------------------------------------------------------------- */

int lh_loop_val_epoch(const lh_trainer *t)
{
    int64_t n = t->opts.check_val_every_n_epoch;
    return t->val_enabled && (n == 0 || (t->epoch + 1) % n == 0);
}

int lh_loop_val_check_batch(const lh_trainer *t, int64_t b)
{
    /* check_val_every_n_epoch None: Lightning's total_batch_idx, batches over all epochs */
    int64_t i = t->opts.check_val_every_n_epoch ? b : t->epoch * t->num_train_batches + b;
    return b >= 0 && t->val_check_batch > 0 && (i + 1) % t->val_check_batch == 0;
}

int lh_loop_can_stop_early(const lh_trainer *t, int64_t epochs_done)
{
    return epochs_done >= t->opts.min_epochs && t->global_step >= t->opts.min_steps;
}

int lh_loop_max_steps_reached(const lh_trainer *t)
{
    return t->opts.max_steps >= 0 && t->global_step >= t->opts.max_steps;
}

int lh_loop_shuffles(const lh_trainer *t)
{
    return t->opts.shuffle && !overfitting(&t->opts);
}

int lh_loop_steps_after(const lh_trainer *t, int64_t b)
{
    int64_t k = t->opts.accumulate_grad_batches;
    return k <= 1 || (b + 1) % k == 0 || b + 1 >= t->num_train_batches;
}

int lh_loop_accumulate(lh_trainer *t, lh_error *err)
{
    int64_t i, n = t->model.total_params;
    size_t bytes = (size_t)n * sizeof(float);
    float inv = 1.0f / (float)t->opts.accumulate_grad_batches;
    if (!t->accum)
        return 0;
    if (t->be->download(t->bctx, t->accum_tmp, t->model.grad, bytes))
        return lh_error_set(err, "%s backend: download: %s", t->be->name,
                            t->be->last_error(t->bctx));
    /* torch adds each backward's gradient of loss / K into .grad */
    if (t->accum_n == 0)
        for (i = 0; i < n; i++)
            t->accum[i] = t->accum_tmp[i] * inv;
    else
        for (i = 0; i < n; i++)
            t->accum[i] += t->accum_tmp[i] * inv;
    t->accum_n++;
    if (t->be->upload(t->bctx, t->model.grad, t->accum, bytes))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

void lh_loop_check_time(lh_trainer *t)
{
    double elapsed = t->train_offset + (lh_clock_now() - t->train_t0);
    char d[32];
    if (isnan(t->opts.max_time) || elapsed < t->opts.max_time || t->stop_now)
        return;
    lh_loop_format_time(t->opts.max_time, d, sizeof d);
    if (!t->stop_requested) /* a callback's earlier reason stays */
        snprintf(t->stop_reason, sizeof t->stop_reason,
                 "`max_time=%s` reached (%.1f s of training)", d, elapsed);
    t->stop_requested = t->stop_now = 1;
}

int lh_loop_val_at_epoch_end(const lh_trainer *t)
{
    if (!lh_loop_val_epoch(t) || t->val_after_last)
        return 0;
    return lh_loop_val_check_batch(t, t->last_batch) ||
           (t->stop_requested && lh_loop_can_stop_early(t, t->epoch));
}

int lh_loop_get_hparam(const lh_trainer *t, const char *name, double *out)
{
    const lh_trainer_opts *o = &t->opts;
    if (strcmp(name, "num_val_batches") == 0)
        *out = t->val_enabled ? (double)t->num_val_batches : 0;
    else if (strcmp(name, "check_val_every_n_epoch") == 0)
        *out = (double)o->check_val_every_n_epoch;
    else if (strcmp(name, "val_check_interval") == 0)
        *out = isnan(o->val_check_interval.frac) ? (double)o->val_check_interval.n
                                                 : o->val_check_interval.frac;
    else if (strcmp(name, "accumulate_grad_batches") == 0)
        *out = (double)o->accumulate_grad_batches;
    else if (strcmp(name, "max_steps") == 0)
        *out = (double)o->max_steps;
    else
        return 0;
    return 1;
}

/* ---- fit's edges --------------------------------------------------------------------------- */

int lh_loop_sanity_check(lh_trainer *t, lh_error *err)
{
    int64_t n = t->opts.num_sanity_val_steps, saved_batches = t->num_val_batches;
    int32_t saved_n = t->log.n, saved_row = t->log.pending.count, rc;
    lh_logvalue *vals = NULL;
    if (!t->val_enabled || n == 0 || t->resume_epoch || t->resume_batch || t->global_step)
        return 0;
    if (saved_n && !(vals = malloc((size_t)saved_n * sizeof *vals)))
        return lh_error_set(err, "out of memory for the sanity check");
    if (saved_n)
        memcpy(vals, t->log.vals, (size_t)saved_n * sizeof *vals);
    if (n > 0 && n < t->num_val_batches)
        t->num_val_batches = n;
    t->sanity_checking = 1;
    t->batch_idx = -1;
    rc = lh_trainer_validate(t, 0, err);
    t->sanity_checking = 0;
    t->num_val_batches = saved_batches;
    /* Lightning resets the results: what the check logged is neither kept nor written. */
    t->log.n = saved_n;
    if (saved_n)
        memcpy(t->log.vals, vals, (size_t)saved_n * sizeof *vals);
    t->log.pending.count = saved_row;
    for (int32_t i = 0; i < t->n_metrics; i++)
        lh_metric_run_reset(&t->val_metrics[i]);
    free(vals);
    return rc;
}

void lh_loop_train_start(lh_trainer *t)
{
    t->train_t0 = lh_clock_now();
}

void lh_loop_fit_message(lh_trainer *t)
{
    if (t->num_train_batches == 0)
        fprintf(t->out, "`Trainer.fit` stopped: No training batches.\n");
    else if (t->stop_requested)
        fprintf(t->out, "Stopped after epoch %lld: %s\n", (long long)t->epoch - 1, t->stop_reason);
    else if (lh_loop_max_steps_reached(t))
        fprintf(t->out, "`Trainer.fit` stopped: `max_steps=%lld` reached.\n",
                (long long)t->opts.max_steps);
    else
        fprintf(t->out, "`Trainer.fit` stopped: `max_epochs=%lld` reached.\n",
                (long long)t->opts.max_epochs);
}

static void add_limit(cJSON *o, const char *key, lh_batch_limit v)
{
    char buf[40];
    if (isnan(v.frac))
        snprintf(buf, sizeof buf, "%lld", (long long)v.n);
    else /* a JSON number that keeps its point, so 1.0 (all) stays apart from 1 (one batch) */
        snprintf(buf, sizeof buf, "%.17g%s", v.frac, v.frac == floor(v.frac) ? ".0" : "");
    cJSON_AddRawToObject(o, key, buf);
}

void lh_loop_hparams(const lh_trainer *t, cJSON *o)
{
    const lh_trainer_opts *p = &t->opts;
    char d[32];
    add_limit(o, "limit_train_batches", p->limit_train_batches);
    add_limit(o, "limit_val_batches", p->limit_val_batches);
    add_limit(o, "limit_test_batches", p->limit_test_batches);
    add_limit(o, "limit_predict_batches", p->limit_predict_batches);
    add_limit(o, "val_check_interval", p->val_check_interval);
    add_limit(o, "overfit_batches", p->overfit_batches);
    if (p->check_val_every_n_epoch)
        cJSON_AddNumberToObject(o, "check_val_every_n_epoch", (double)p->check_val_every_n_epoch);
    else
        cJSON_AddNullToObject(o, "check_val_every_n_epoch");
    cJSON_AddNumberToObject(o, "accumulate_grad_batches", (double)p->accumulate_grad_batches);
    cJSON_AddNumberToObject(o, "max_steps", (double)p->max_steps);
    cJSON_AddNumberToObject(o, "min_steps", (double)p->min_steps);
    if (isnan(p->max_time)) {
        cJSON_AddNullToObject(o, "max_time");
    } else {
        lh_loop_format_time(p->max_time, d, sizeof d);
        cJSON_AddStringToObject(o, "max_time", d);
    }
    cJSON_AddNumberToObject(o, "fast_dev_run", (double)p->fast_dev_run);
    cJSON_AddNumberToObject(o, "num_sanity_val_steps", (double)p->num_sanity_val_steps);
}

/* ---- checkpoint ---------------------------------------------------------------------------- */

int lh_loop_ckpt_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    char buf[64];
    int64_t n = t->model.total_params;
    /* After the epoch's end no window is open (its last batch stepped). */
    int32_t pending = t->epoch_validated ? 0 : t->accum_n;
    snprintf(buf, sizeof buf, "%d", (int)pending);
    if (lh_safetensors_meta(w, "accum_batches", buf, err))
        return -1;
    /* metrics.csv's rows before the resume point: the pending row too (a hook that saves runs
     * before its batch's or epoch's row is committed) */
    snprintf(buf, sizeof buf, "%d", (int)t->log.n_rows + (t->log.pending.count > 0));
    if (lh_safetensors_meta(w, "log_rows", buf, err))
        return -1;
    /* only with max_time, as Timer is only there then: a wall time makes no two saves equal */
    if (t->stage == LHOST_STAGE_FIT && t->train_t0 > 0 && !isnan(t->opts.max_time)) {
        snprintf(buf, sizeof buf, "%.6f", t->train_offset + (lh_clock_now() - t->train_t0));
        if (lh_safetensors_meta(w, "train_time_elapsed", buf, err))
            return -1;
    }
    return pending ? lh_safetensors_add(w, "trainer.accum_grad", "F32", 1, &n, t->accum,
                                        (uint64_t)n * 4, err)
                   : 0;
}

int lh_loop_ckpt_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    const char *s = lh_safetensors_meta_get(f, "accum_batches");
    const float *g;
    int64_t k = 0;
    double el;
    if (s && (!scalar_int(s, &k) || k < 0 || k >= 1 << 30))
        return lh_error_set(err, "metadata `accum_batches`: expected an integer >= 0, got "
                            "\"%.64s\"", s);
    if (k > 0) {
        if (k >= t->opts.accumulate_grad_batches || !t->accum)
            return lh_error_set(err, "metadata `accum_batches`: the checkpoint stopped %lld "
                                "batches into an accumulation window, expected fewer than this "
                                "run's trainer.accumulate_grad_batches (%lld)", (long long)k,
                                (long long)t->opts.accumulate_grad_batches);
        if (!(g = lh_safetensors_find_1d(f, "trainer.accum_grad", "F32", t->model.total_params,
                                         err)))
            return -1;
        memcpy(t->accum, g, (size_t)t->model.total_params * sizeof(float));
    }
    t->accum_n = (int32_t)k;
    s = lh_safetensors_meta_get(f, "log_rows");
    if (s && (!scalar_int(s, &t->resume_rows) || t->resume_rows < 0))
        return lh_error_set(err, "metadata `log_rows`: expected an integer >= 0, got \"%.64s\"",
                            s);
    s = lh_safetensors_meta_get(f, "train_time_elapsed");
    if (s && (!scalar_float(s, &el) || el < 0))
        return lh_error_set(err, "metadata `train_time_elapsed`: expected seconds >= 0, got "
                            "\"%.64s\"", s);
    t->train_offset = s ? el : 0;
    return 0;
}
