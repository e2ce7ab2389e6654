/* host/train/trainer_ckpt.c — the trainer's own checkpoint sections (see trainer_ckpt.h) and the
 * accessors through which ckpt.c reaches the subsystems that save themselves. */
#include "trainer_ckpt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist.h"
#include "loop_limits.h"

lh_model *lh_trainer_model(lh_trainer *t)
{
    return &t->model;
}

lh_optim *lh_trainer_optim(lh_trainer *t)
{
    return &t->optim;
}

lh_logstore *lh_trainer_log(lh_trainer *t)
{
    return &t->log;
}

lh_metric_run *lh_trainer_metrics(lh_trainer *t, int32_t *n)
{
    *n = t->n_metrics;
    return t->metrics;
}

lh_dispatch *lh_trainer_dispatch(lh_trainer *t)
{
    return t->dispatch;
}

int32_t lh_trainer_stage(const lh_trainer *t)
{
    return t->stage;
}

FILE *lh_trainer_out(lh_trainer *t)
{
    return t->out;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int meta_i64(lh_safetensors_writer *w, const char *key, int64_t v, lh_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return lh_safetensors_meta(w, key, buf, err);
}

/* Counters beyond 2^53 are far past any real run and no longer exact as the JSON numbers
 * the optimizer entry holds; capping there also keeps every `++` on them defined. */
#define COUNT_MAX (INT64_C(1) << 53)

/* Metadata `key` as a whole decimal integer in [lo, hi]: a sign, digits and nothing else, and
 * no saturation ("99999999999999999999" is refused, not read as INT64_MAX). */
static int meta_int(const lh_safetensors_file *f, const char *key, int64_t lo, int64_t hi,
                    int64_t *out, lh_error *err)
{
    const char *s = lh_safetensors_meta_get(f, key);
    char *end;
    long long v;
    if (!s)
        return lh_error_set(err, "metadata `%s` missing", key);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi || isspace((unsigned char)*s))
        return lh_error_set(err, "metadata `%s`: expected an integer from %lld to %lld, got "
                            "\"%.64s\"", key, (long long)lo, (long long)hi, s);
    *out = v;
    return 0;
}

static int save_rng(lh_safetensors_writer *w, const char *name, const lh_rng *r, lh_error *err)
{
    uint64_t s[2] = {r->state, r->inc};
    int64_t two = 2;
    return lh_safetensors_add(w, name, "U64", 1, &two, s, sizeof s, err);
}

static int load_rng(const lh_safetensors_file *f, const char *name, lh_rng *r, lh_error *err)
{
    const uint64_t *s = lh_safetensors_find_1d(f, name, "U64", 2, err);
    if (!s)
        return -1;
    r->state = s[0], r->inc = s[1];
    return 0;
}

/* ---- hparams ----------------------------------------------------------------------------- */

int lh_trainer_ckpt_save_hparams(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    cJSON *o = cJSON_CreateObject();
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, t->opts.seed);
    cJSON_AddStringToObject(o, "seed", buf);
    cJSON_AddStringToObject(o, "data_path", t->opts.data_dir);
    cJSON_AddNumberToObject(o, "batch_size", (double)t->opts.batch_size);
    cJSON_AddNumberToObject(o, "num_classes", (double)t->opts.num_classes);
    cJSON_AddNumberToObject(o, "mean", t->mean);
    cJSON_AddNumberToObject(o, "std", t->std);
    /* The data keys a validate or test from this checkpoint alone needs (ckpt_config.c). */
    {
        static const char *const fmts[] = {"auto", "idx", "npy", "npz", "csv"};
        const lh_trainer_opts *p = &t->opts;
        const char *const files[][2] = {
            {"train", p->data_train},         {"val", p->data_val},
            {"test", p->data_test},           {"train_labels", p->train_labels},
            {"val_labels", p->val_labels},    {"test_labels", p->test_labels},
            {"label_column", p->label_column},
        };
        const lh_config_node *fc =
            t->cfg ? lh_config_get(lh_config_root(t->cfg), "data.feature_columns") : NULL;
        if (p->data_format > 0 && p->data_format < 5)
            cJSON_AddStringToObject(o, "format", fmts[p->data_format]);
        for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
            if (files[k][1][0] && strcmp(files[k][0], "label_column") != 0)
                cJSON_AddStringToObject(o, files[k][0], files[k][1]);
        if (strcmp(p->label_column, "label") != 0)
            cJSON_AddStringToObject(o, "label_column", p->label_column);
        if (!isnan(p->val_split))
            cJSON_AddNumberToObject(o, "val_split", p->val_split);
        if (fc && lh_config_type(fc) == LH_CFG_SEQ && lh_config_len(fc) > 0) {
            cJSON *a = cJSON_AddArrayToObject(o, "feature_columns");
            for (int32_t i = 0; i < lh_config_len(fc); i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(lh_config_scalar(lh_config_at(fc, i))));
        }
    }
    cJSON_AddNumberToObject(o, "max_epochs", (double)t->opts.max_epochs);
    cJSON_AddNumberToObject(o, "min_epochs", (double)t->opts.min_epochs);
    lh_loop_hparams(t, o);
    return lh_safetensors_meta_json(w, "hparams", o, "hparams", err);
}

void lh_trainer_ckpt_data_path(const lh_safetensors_file *f, char *buf, size_t len)
{
    const char *hp = lh_safetensors_meta_get(f, "hparams");
    cJSON *o = hp ? cJSON_Parse(hp) : NULL;
    const cJSON *d = cJSON_GetObjectItem(o, "data_path");
    snprintf(buf, len, "%s", cJSON_IsString(d) ? d->valuestring : "");
    cJSON_Delete(o);
}

/* ---- progress ---------------------------------------------------------------------------- */

int lh_trainer_ckpt_save_progress(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return meta_i64(w, "epoch", t->epoch, err) || meta_i64(w, "global_step", t->global_step, err)
               ? -1
               : 0;
}

int lh_trainer_ckpt_load_progress(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    return meta_int(f, "global_step", 0, COUNT_MAX, &t->global_step, err);
}

/* ---- data order -------------------------------------------------------------------------- */

/* Where the epoch resumes in samples of the shared order: batches of this run times its global
 * batch (ranks x batch_size), so a run with another world size resumes at the same sample. */
static int64_t resume_sample(const lh_trainer *t)
{
    int64_t s = t->resume_batch * lh_dist_world() * t->opts.batch_size;
    return t->epoch_validated ? 0 : s < t->train.count ? s : t->train.count;
}

int lh_trainer_ckpt_save_data_order(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    int64_t n = t->train.count;
    /* After this epoch's validation the next thing to run is the next epoch's first batch. */
    return lh_safetensors_add(w, "trainer.perm", "I32", 1, &n, t->perm, (uint64_t)n * 4, err) ||
                   save_rng(w, "trainer.rng_shuffle", &t->rng_shuffle, err) ||
                   meta_i64(w, "resume_epoch", t->epoch_validated ? t->epoch + 1 : t->epoch,
                            err) ||
                   meta_i64(w, "resume_batch", t->epoch_validated ? 0 : t->resume_batch, err) ||
                   meta_i64(w, "resume_sample", resume_sample(t), err) ||
                   meta_i64(w, "global_batch", lh_dist_world() * t->opts.batch_size, err)
               ? -1
               : 0;
}

/* The batch gather indexes the training set with perm's values, so each must be a sample
 * index, and each sample must come once (a repeated one would silently skip others). */
static int check_perm(const int32_t *perm, int64_t n, lh_error *err)
{
    uint8_t *seen = calloc((size_t)n + 1, 1);
    int64_t i;
    int rc = 0;
    if (!seen)
        return lh_error_set(err, "out of memory checking tensor \"trainer.perm\"");
    for (i = 0; i < n && rc == 0; i++) {
        if (perm[i] < 0 || perm[i] >= n)
            rc = lh_error_set(err, "tensor \"trainer.perm\"[%lld]: %d is not a training sample "
                              "index (expected 0 to %lld)", (long long)i, perm[i],
                              (long long)n - 1);
        else if (seen[perm[i]]++)
            rc = lh_error_set(err, "tensor \"trainer.perm\"[%lld]: sample %d comes twice; the "
                              "data order is not a permutation of 0 to %lld", (long long)i,
                              perm[i], (long long)n - 1);
    }
    free(seen);
    return rc;
}

int lh_trainer_ckpt_load_data_order(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    const int32_t *perm = lh_safetensors_find_1d(f, "trainer.perm", "I32", t->train.count, err);
    if (!perm || check_perm(perm, t->train.count, err) ||
        load_rng(f, "trainer.rng_shuffle", &t->rng_shuffle, err) ||
        meta_int(f, "resume_epoch", 0, COUNT_MAX, &t->resume_epoch, err) ||
        meta_int(f, "resume_batch", 0, COUNT_MAX, &t->resume_batch, err))
        return -1;
    /* The data cursor is global: a checkpoint written with another global batch (ranks x
     * data.batch_size) resumes at its sample of the shared order, resume_sample; one with
     * this run's (or from before resume_sample) at its batch. */
    if (lh_safetensors_meta_get(f, "resume_sample") && lh_safetensors_meta_get(f, "global_batch")) {
        int64_t s, was, g = lh_dist_world() * t->opts.batch_size;
        if (meta_int(f, "global_batch", 1, COUNT_MAX, &was, err) ||
            meta_int(f, "resume_sample", 0, t->train.count, &s, err))
            return -1;
        if (was != g && s % g && s < t->train.count)
            return lh_error_set(err, "metadata `resume_sample`: the checkpoint stopped %lld "
                                "samples into the epoch, not a whole number of this run's "
                                "global batches of %lld (ranks x data.batch_size)",
                                (long long)s, (long long)g);
        if (was != g)
            t->resume_batch = (s + g - 1) / g < t->num_train_batches ? (s + g - 1) / g
                                                                      : t->num_train_batches;
    }
    if (t->resume_batch < 0 || t->resume_batch > t->num_train_batches)
        return lh_error_set(err, "metadata `resume_batch`: %lld outside this run's %lld batches "
                            "(batch size or limit_train_batches changed?)",
                            (long long)t->resume_batch, (long long)t->num_train_batches);
    memcpy(t->perm, perm, (size_t)t->train.count * 4);
    t->epoch = t->resume_epoch;
    return 0;
}

/* ---- run --------------------------------------------------------------------------------- */

int lh_trainer_ckpt_save_run(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return save_rng(w, "trainer.rng_init", &t->rng_init, err) ||
                   meta_i64(w, "stop_requested", t->stop_requested, err) ||
                   lh_safetensors_meta(w, "stop_reason", t->stop_reason, err) ||
                   lh_safetensors_meta(w, "run_dir", t->run_dir, err)
               ? -1
               : 0;
}

/* The checkpoint's run folder is where metrics.csv and every logger's files go on, so a
 * crafted one could send them anywhere: it must lie inside this run's
 * <default_root_dir>/lightning_logs, compared as real paths (no "..", no symlink out). */
static int check_run_dir(const lh_trainer *t, const char *dir, lh_error *err)
{
    char logs[4200], real_logs[PATH_MAX], real_dir[PATH_MAX];
    size_t n;
    snprintf(logs, sizeof logs, "%s/lightning_logs", t->opts.root_dir);
    if (realpath(dir, real_dir) && realpath(logs, real_logs)) {
        n = strlen(real_logs);
        if (strncmp(real_dir, real_logs, n) == 0 && real_dir[n] == '/' && real_dir[n + 1])
            return 0;
    }
    return lh_error_set(err, "metadata `run_dir`: \"%.512s\" is not inside this run's %.512s "
                        "(trainer.default_root_dir/lightning_logs); expected a version folder "
                        "there", dir, logs);
}

int lh_trainer_ckpt_load_run(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    const char *s;
    int64_t stop = 0;
    struct stat st;
    if (load_rng(f, "trainer.rng_init", &t->rng_init, err) ||
        meta_int(f, "stop_requested", 0, 1, &stop, err))
        return -1;
    if (stop) {
        s = lh_safetensors_meta_get(f, "stop_reason");
        fprintf(t->out, "Note: the checkpoint's run had been asked to stop (%s); "
                "training continues.\n", s ? s : "");
    }
    s = lh_safetensors_meta_get(f, "run_dir");
    if (s && s[0] && stat(s, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (check_run_dir(t, s, err))
            return -1;
        snprintf(t->run_dir, sizeof t->run_dir, "%s", s);
    }
    return 0;
}
