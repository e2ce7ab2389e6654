/* host/train/trainer_setup.c — building a trainer from the config: options, data, backend, model,
 * optimizer, plugin instances, run directory. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "ckpt.h"
#include "clock.h"
#include "dist.h"
#include "loop_limits.h"
#include "paths.h"
#include "profiler.h"
#include "trainer.h"
#include "trainer_dist.h"
#include "trainer_keys.h"
#include "model_weights.h"

/* The keys, their defaults and ranges are the table in trainer_keys.c (also --help's). */
int lh_trainer_opts_from_cfg(const lh_config *cfg, lh_trainer_opts *o, lh_error *err)
{
    memset(o, 0, sizeof *o);
    if (lh_trainer_keys_read(lh_config_root(cfg), o, err) ||
        lh_loop_opts_finish(lh_config_root(cfg), o, err))
        return -1;
    if (o->max_epochs == 0)
        return lh_error_set(err, "config %s: trainer.max_epochs: expected -1 (unlimited) or >= 1",
                            lh_config_where(lh_config_get(lh_config_root(cfg),
                                                          "trainer.max_epochs")));
    if (!isnan(o->val_split) && !(o->val_split > 0 && o->val_split < 1))
        return lh_error_set(err, "config %s: data.val_split: expected a fraction between 0 and 1 "
                            "(exclusive), got %g",
                            lh_config_where(lh_config_get(lh_config_root(cfg), "data.val_split")),
                            o->val_split);
    if (!isnan(o->val_split) && o->data_val[0])
        return lh_error_set(err, "config %s: data.val_split: data.val (%s) is the validation "
                            "split already; expected one of the two",
                            lh_config_where(lh_config_get(lh_config_root(cfg), "data.val_split")),
                            o->data_val);
    return 0;
}

/* One instance of `section` (kind) under config key `key` with parameters `p` (a map or null).
 * `kvs` has room for every parameter plus one (the metric's default `name`). */
static int make_instance(lh_trainer *t, const char *section, int32_t kind, const char *key,
                         const lh_config_node *p, lh_kv *kvs, lh_error *err)
{
    const char *plugin = key;
    const lh_plugin_row *row;
    int32_t n = 0, has_name = 0, j;
    lh_instance *inst;
    if (t->n_instances >= LH_MAX_PLUGIN_INSTANCES)
        return lh_error_set(err, "config %s: %s: at most %d plugin instances",
                            lh_config_where(p), section, LH_MAX_PLUGIN_INSTANCES);
    if (!lh_config_is_null(p) && lh_config_type(p) != LH_CFG_MAP)
        return lh_error_set(err, "config %s: %s.%s: expected a map of parameters",
                            lh_config_where(p), section, key);
    for (j = 0; !lh_config_is_null(p) && j < lh_config_len(p); j++) {
        const lh_config_node *v = lh_config_at(p, j);
        const char *k = lh_config_key_at(p, j);
        if (strcmp(k, "plugin") == 0) {
            if (!(plugin = lh_config_scalar(v)) || !plugin[0])
                return lh_error_set(err, "config %s: %s.%s.plugin: expected a plugin name",
                                    lh_config_where(v), section, key);
            continue;
        }
        if (lh_config_type(v) != LH_CFG_SCALAR)
            return lh_error_set(err, "config %s: %s.%s.%s: expected a single value",
                                lh_config_where(v), section, key, k);
        if (strcmp(k, "name") == 0)
            has_name = 1;
        kvs[n].key = k, kvs[n].value = lh_config_scalar(v), kvs[n].where = lh_config_where(v);
        n++;
    }
    row = lh_registry_use(t->reg, plugin, kind, err); /* loaded now if only scanned */
    if (!row)
        return lh_error_wrap(err, "config %s: %s.%s", lh_config_where(p), section, key);
    /* A metric logs under its config key unless `name` says otherwise. */
    if (kind == LHOST_KIND_METRIC && !has_name) {
        const lhost_plugin_desc *d = row->desc;
        uint32_t q;
        for (q = 0; q < d->n_params; q++)
            if (strcmp(d->params[q].name, "name") == 0) {
                kvs[n].key = "name", kvs[n].value = key, kvs[n].where = lh_config_where(p);
                n++;
                break;
            }
    }
    if (lh_instance_create(row, key, kvs, n, &t->env, &inst, err))
        return lh_error_wrap(err, "config %s: %s.%s", lh_config_where(p), section, key);
    t->instances[t->n_instances++] = inst;
    if (kind == LHOST_KIND_METRIC) {
        lh_instance *vinst;
        if (lh_metric_run_init(&t->metrics[t->n_metrics], inst, err))
            return -1;
        /* Validation keeps its own instance so train and val states never mix. */
        if (lh_instance_create(row, key, kvs, n, &t->env, &vinst, err))
            return lh_error_wrap(err, "config %s: %s.%s", lh_config_where(p), section, key);
        t->instances[t->n_instances++] = vinst;
        if (lh_metric_run_init(&t->val_metrics[t->n_metrics], vinst, err))
            return -1;
        t->n_metrics++;
    } else if (kind == LHOST_KIND_LOGGER) {
        t->loggers[t->n_loggers++] = inst;
    }
    return 0;
}

/* Plugin sections: `metrics:`, `callbacks:`, `loggers:` map an instance key to its parameters
 * (or null); `plugin:` picks the plugin when it differs from the key. */
static int make_instances(lh_trainer *t, const char *section, int32_t kind, lh_error *err)
{
    const lh_config_node *sec = lh_config_get(lh_config_root(t->cfg), section);
    int32_t i;
    if (!sec || lh_config_is_null(sec))
        return 0;
    if (lh_config_type(sec) != LH_CFG_MAP)
        return lh_error_set(err, "config %s: %s: expected a map of name: {parameters}",
                            lh_config_where(sec), section);
    for (i = 0; i < lh_config_len(sec); i++) {
        const lh_config_node *p = lh_config_at(sec, i);
        int32_t cap = (lh_config_is_null(p) ? 0 : lh_config_len(p)) + 1, rc;
        lh_kv *kvs = malloc((size_t)cap * sizeof *kvs);
        if (!kvs)
            return lh_error_set(err, "out of memory");
        rc = make_instance(t, section, kind, lh_config_key_at(sec, i), p, kvs, err);
        free(kvs);
        if (rc)
            return rc;
    }
    return 0;
}

/* Callbacks that bind arguments by name: every name must be a trainer field or a value this
 * run logs, checked before training starts. */
static int check_bindings(lh_trainer *t, lh_error *err)
{
    char (*keys)[128];
    const char **ptrs;
    int32_t n = 0, i, cap = 3, rc = 0;
    uint32_t k;
    for (i = 0; i < t->n_metrics; i++)
        cap += 2 * (int32_t)t->metrics[i].n_outputs;
    keys = malloc((size_t)cap * sizeof *keys);
    ptrs = malloc((size_t)cap * sizeof *ptrs);
    if (!keys || !ptrs) {
        free(keys);
        free(ptrs);
        return lh_error_set(err, "out of memory");
    }
    snprintf(keys[n++], sizeof keys[0], "loss");
    snprintf(keys[n++], sizeof keys[0], "train_loss");
    snprintf(keys[n++], sizeof keys[0], "val_loss");
    for (i = 0; i < t->n_metrics; i++)
        for (k = 0; k < t->metrics[i].n_outputs; k++) {
            lh_metric_run_name(&t->metrics[i], "", k, keys[n++], sizeof keys[0]);
            lh_metric_run_name(&t->metrics[i], "val_", k, keys[n++], sizeof keys[0]);
        }
    for (i = 0; i < n; i++)
        ptrs[i] = keys[i];
    for (i = 0; i < t->n_instances && !rc; i++) {
        const lhost_plugin_desc *d = lh_instance_desc(t->instances[i]);
        if (d->kind != LHOST_KIND_CALLBACK)
            continue;
        if (lh_registry_check_bindings(t->reg, d->id, ptrs, n, d->name, err))
            rc = lh_error_wrap(err, "config: callbacks.%s", lh_instance_key(t->instances[i]));
    }
    free(keys);
    free(ptrs);
    return rc;
}

int lh_trainer_make_run_dir(lh_trainer *t, lh_error *err)
{
    char base[4200];
    int n;
    if (t->opts.fast_dev_run) /* Lightning's DummyLogger: no run folder, no metrics.csv */
        return 0;
    if (t->run_dir[0]) { /* resuming into the checkpoint's run */
        snprintf(t->csv_path, sizeof t->csv_path, "%s/metrics.csv", t->run_dir);
        return 0;
    }
    if (strlen(t->opts.root_dir) + 40 > sizeof t->run_dir)
        return lh_error_set(err, "trainer.default_root_dir: path too long (at most %d characters)",
                            (int)sizeof t->run_dir - 40);
    snprintf(base, sizeof base, "%s/lightning_logs", t->opts.root_dir);
    if (lh_paths_mkdir_p(base, 0, err))
        return lh_error_wrap(err, "trainer.default_root_dir");
    /* max existing + 1, as Lightning does; mkdir then takes the next free one if another run
     * created it meanwhile */
    for (n = lh_logstore_next_version(base); n < 1000100000; n++) {
        if (snprintf(t->run_dir, sizeof t->run_dir, "%s/version_%d", base, n) >=
            (int)sizeof t->run_dir)
            return lh_error_set(err, "trainer.default_root_dir: path too long");
        if (mkdir(t->run_dir, 0755) == 0)
            break;
        if (errno != EEXIST)
            return lh_error_set(err, "cannot create %s: %s", t->run_dir, strerror(errno));
    }
    snprintf(t->csv_path, sizeof t->csv_path, "%s/metrics.csv", t->run_dir);
    return 0;
}

/* model.init_weights over the seeded init (the config's model only: a checkpoint's model
 * takes the checkpoint's weights), with a line saying what it took. */
static int init_weights(lh_trainer *t, lh_error *err)
{
    lh_model_weights_report rep;
    if (!t->opts.init_weights[0])
        return 0;
    if (lh_model_load_weights(&t->model, t->opts.init_weights, t->opts.init_strict, &rep, err))
        return lh_error_wrap(err, "config: model.init_weights");
    if (lh_dist_rank() != 0)
        return 0;
    fprintf(t->out, "Initial weights: %d tensors from %s\n", (int)rep.loaded,
            t->opts.init_weights);
    if (rep.n_missing)
        fprintf(t->out, "  kept the seeded init (not in the file): %s\n", rep.missing);
    if (rep.n_unexpected)
        fprintf(t->out, "  skipped (no key of the model): %s\n", rep.unexpected);
    return 0;
}

/* The model: `model_spec` (from a checkpoint) or the config's, planned for the data's image
 * shape, allocated for batches of B and initialised from rng_init. */
static int setup_model(lh_trainer *t, const lh_model_spec *model_spec, lh_error *err)
{
    const lh_dataset *src = t->stage == LHOST_STAGE_FIT ? &t->train : &t->val;
    lh_model_spec spec;
    if (model_spec) {
        spec = *model_spec;
        if (spec.in_c != src->channels || spec.in_h != src->height || spec.in_w != src->width)
            return lh_error_set(err, "model expects (%d, %d, %d) inputs but %s has (%d, %d, %d)",
                                spec.in_c, spec.in_h, spec.in_w, src->image_path,
                                src->channels, src->height, src->width);
    } else if (lh_model_spec_from_cfg(lh_config_get(lh_config_root(t->cfg), "model"),
                                      src->channels, src->height, src->width, &spec, err)) {
        return -1;
    }
    if (lh_model_plan(&t->model, &spec, err))
        return lh_error_wrap(err, "config: model");
    if (t->model.num_outputs != t->opts.num_classes)
        return lh_error_set(err, "config: model: the last layer has %d outputs but "
                            "data.num_classes is %lld; expected %lld", t->model.num_outputs,
                            (long long)t->opts.num_classes, (long long)t->opts.num_classes);
    if (lh_model_alloc(&t->model, t->be, t->bctx, (int32_t)t->opts.batch_size, err) ||
        lh_model_init(&t->model, &t->rng_init, err))
        return -1;
    return model_spec ? 0 : init_weights(t, err);
}

/* Batch counts, the data order (fit: the identity until the first shuffle, and the
 * optimizer), the validation order on the device and the host copies of a batch. */
static int setup_loop(lh_trainer *t, lh_error *err)
{
    const lh_trainer_opts *o = &t->opts;
    int32_t B = (int32_t)o->batch_size, fit = t->stage == LHOST_STAGE_FIT;
    int64_t i;
    if (fit) {
        t->perm = malloc((size_t)t->train.count * sizeof *t->perm);
        if (!t->perm)
            return lh_error_set(err, "out of memory");
        for (i = 0; i < t->train.count; i++)
            t->perm[i] = (int32_t)i;
        t->num_train_batches = (t->train.count + B - 1) / B; /* limits: lh_loop_setup */
        if (lh_optim_from_cfg(lh_config_get(lh_config_root(t->cfg), "optimizer"), &t->optim,
                              err) ||
            lh_optim_alloc(&t->optim, t->be, t->bctx, t->model.total_params, err))
            return -1;
    }
    t->num_val_batches = (t->val.count + B - 1) / B;

    t->seq = malloc((size_t)t->val.count * sizeof *t->seq);
    t->seq_dev = t->be->alloc(t->bctx, (size_t)t->val.count * 4);
    if (fit)
        t->perm_dev = t->be->alloc(t->bctx, (size_t)t->train.count * 4);
    t->targets_host = malloc((size_t)B * sizeof *t->targets_host);
    t->logits_host = malloc((size_t)B * t->model.num_outputs * sizeof *t->logits_host);
    if (!t->seq || !t->seq_dev || (fit && !t->perm_dev) || !t->targets_host || !t->logits_host)
        return lh_error_set(err, "out of memory for batch buffers");
    for (i = 0; i < t->val.count; i++)
        t->seq[i] = (int32_t)i;
    if (t->be->upload(t->bctx, t->seq_dev, t->seq, (size_t)t->val.count * 4))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

/* Does a callback run in `stage`? Its `stages` (ABI 1.1; the host's copy of a 1.0 vtable has
 * 0 there) name them; 0 means fit only, as every callback before stages existed. */
static int runs_in_stage(const lhost_callback_vtable *vt, int32_t stage)
{
    uint32_t want = stage == LHOST_STAGE_VALIDATE  ? LHOST_STAGEF_VALIDATE
                    : stage == LHOST_STAGE_PREDICT ? LHOST_STAGEF_PREDICT
                                                   : LHOST_STAGEF_FIT;
    return ((vt->stages ? vt->stages : LHOST_STAGEF_FIT) & want) != 0;
}

/* Metric, callback and logger instances from the config, their name bindings checked, and the
 * callbacks of this stage in dispatch order. */
static int setup_plugins(lh_trainer *t, lh_error *err)
{
    lh_instance *cbs[LH_MAX_PLUGIN_INSTANCES];
    int32_t i, n = 0;
    if (make_instances(t, "metrics", LHOST_KIND_METRIC, err) ||
        make_instances(t, "callbacks", LHOST_KIND_CALLBACK, err) ||
        make_instances(t, "loggers", LHOST_KIND_LOGGER, err) || check_bindings(t, err))
        return -1;
    for (i = 0; i < t->n_instances; i++)
        if (lh_instance_desc(t->instances[i])->kind == LHOST_KIND_CALLBACK &&
            runs_in_stage(lh_instance_callback(t->instances[i]), t->stage))
            cbs[n++] = t->instances[i];
    return lh_dispatch_create(&t->dispatch, cbs, n, err);
}

int lh_trainer_setup(lh_trainer *t, const lh_trainer_opts *o, lh_config *cfg, lh_registry *reg,
                     int32_t stage, const lh_model_spec *model_spec, lh_error *err)
{
    memset(t, 0, sizeof *t);
    t->opts = *o, t->cfg = cfg, t->reg = reg, t->stage = stage;
    t->t_start = o->t_start ? o->t_start : lh_clock_now();
    t->out = stdout;
    t->tty = o->progress_bar < 0 ? isatty(STDOUT_FILENO) : o->progress_bar;
    lh_logstore_init(&t->log);
    lh_trainer_env_init(t);
    lh_rng_seed(&t->rng_init, o->seed, 1);
    lh_rng_seed(&t->rng_shuffle, o->seed, 2);

    /* Under mpirun one rank per GPU: plain `cuda` is this machine's local_rank-th device, or
     * the only one the launcher left this rank (srun --gpus-per-task=1: CUDA_VISIBLE_DEVICES
     * names one device per rank). */
    if (strcmp(o->device, "cuda") == 0 && lh_dist_world() > 1) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        int own = vis && vis[0] && !strchr(vis, ',');
        snprintf(t->opts.device, sizeof t->opts.device, "cuda:%d",
                 own ? 0 : (int)lh_dist_local_rank());
    }
    if (lh_backend_select(t->opts.device, (int32_t)t->opts.threads, &t->be, &t->bctx, err)) {
        const lh_config_node *dev =
            cfg ? lh_config_get(lh_config_root(cfg), "trainer.device") : NULL;
        return dev ? lh_error_wrap(err, "config %s", lh_config_where(dev)) : -1;
    }
    if (o->matmul_precision > 0 && !lh_backend_takes_tf32(t->be) && lh_dist_rank() == 0)
        /* as torch on a CPU: a setting with nothing to set, said once, not an error */
        fprintf(stderr, "lhost: warning: trainer.float32_matmul_precision: %s has no effect on "
                "the %s backend (float32 throughout)\n",
                lh_backend_matmul_precisions[o->matmul_precision], t->be->name);
    /* `precision: bf16-mixed` alone works on the CPU as on CUDA: where the config leaves
     * conv_algorithm unset, the CPU takes direct, the algorithm its bf16 convolution is. */
    if (lh_backend_precision(o->precision) == LH_PRECISION_BF16_MIXED &&
        strcmp(t->be->name, "cpu") == 0 &&
        !(cfg && lh_config_get(lh_config_root(cfg), "trainer.conv_algorithm")))
        t->opts.conv_algorithm = LH_CONV_ALGO_DIRECT;
    if (lh_backend_configure(t->be, t->bctx, t->opts.conv_algorithm,
                             lh_backend_precision(o->precision) |
                                 (o->matmul_precision > 0 ? LH_PRECISION_FLAG_TF32 : 0),
                             err))
        return -1;
    if (o->profiler && lh_profiler_wrap(&t->be, &t->bctx, err))
        return -1;
    return lh_trainer_data_setup(t, err) || setup_model(t, model_spec, err) || setup_loop(t, err) ||
                   setup_plugins(t, err) || lh_trainer_dist_setup(t, err) ||
                   lh_loop_setup(t, err)
               ? -1
               : 0;
}

int lh_trainer_create(lh_trainer **out, const lh_trainer_opts *o, lh_config *cfg,
                      lh_registry *reg, int32_t stage, const lh_model_spec *model_spec,
                      lh_error *err)
{
    lh_trainer *t = malloc(sizeof *t);
    *out = NULL;
    if (!t)
        return lh_error_set(err, "out of memory for the trainer");
    if (lh_trainer_setup(t, o, cfg, reg, stage, model_spec, err)) {
        lh_trainer_free(t);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void lh_trainer_destroy(lh_trainer *t)
{
    if (t) {
        lh_trainer_free(t);
        free(t);
    }
}

int lh_trainer_prepare_fit(lh_trainer *t, const char *resume, lh_error *err)
{
    if (resume && lh_ckpt_load(t, resume, 1, err))
        return -1;
    if (lh_trainer_dist_run_dir(t, err) || (resume && lh_trainer_reload_csv(t, err)))
        return -1;
    if (t->opts.summary) {
        fprintf(t->out, "Device: %s\n", t->be->describe(t->bctx));
        lh_model_summary(&t->model, t->out);
    }
    if (t->opts.fast_dev_run)
        fprintf(t->out, "Running in `fast_dev_run` mode: will run the requested loop using %lld "
                "batch(es). Logging and checkpointing is suppressed. (setup %.0f ms)\n",
                (long long)t->opts.fast_dev_run, (lh_clock_now() - t->t_start) * 1e3);
    else
        fprintf(t->out, "Logging to %s (setup %.0f ms)\n", t->csv_path,
                (lh_clock_now() - t->t_start) * 1e3);
    if (resume)
        fprintf(t->out, "Resumed from %s at epoch %lld, batch %lld (global step %lld)\n", resume,
                (long long)t->resume_epoch, (long long)t->resume_batch,
                (long long)t->global_step);
    return 0;
}

int lh_trainer_reload_csv(lh_trainer *t, lh_error *err)
{
    int32_t i, kept = 0;
    if (access(t->csv_path, F_OK) != 0)
        return 0;
    if (lh_logstore_read_csv(&t->log, t->csv_path, err))
        return -1;
    /* Rows after the checkpoint belong to a future this run replaces. */
    for (i = 0; i < t->log.n_rows; i++) {
        /* the row count the checkpoint saved (rows of an accumulation window share a step),
         * else by step */
        if (t->resume_rows >= 0 ? i < t->resume_rows : t->log.rows[i].step < t->global_step)
            t->log.rows[kept++] = t->log.rows[i];
        else {
            free(t->log.rows[i].keys);
            free(t->log.rows[i].values);
        }
    }
    t->log.n_rows = kept;
    return 0;
}

void lh_trainer_free(lh_trainer *t)
{
    int32_t i;
    lh_dmem **bufs[] = {&t->train_images, &t->train_labels, &t->val_images, &t->val_labels,
                        &t->perm_dev, &t->seq_dev};
    for (i = 0; i < t->n_metrics; i++) {
        lh_metric_run_free(&t->metrics[i]);
        lh_metric_run_free(&t->val_metrics[i]);
    }
    if (t->dispatch)
        lh_dispatch_destroy(t->dispatch);
    for (i = t->n_instances - 1; i >= 0; i--)
        lh_instance_destroy(t->instances[i]);
    lh_optim_free(&t->optim);
    lh_model_free(&t->model);
    for (i = 0; t->be && i < (int32_t)(sizeof bufs / sizeof bufs[0]); i++)
        if (*bufs[i] && !(t->be->wrap_host && i < 4)) /* wrapped datasets are not the backend's */
            t->be->free(t->bctx, *bufs[i]);
    if (t->be && t->bctx) {
        static const char *const stage[] = {"", "FIT", "VALIDATE", "PREDICT"};
        char title[64];
        snprintf(title, sizeof title, "%s Profiler Report",
                 t->stage >= 1 && t->stage <= 3 ? stage[t->stage] : "");
        lh_profiler_report(t->be, t->bctx, title, t->out);
        t->be->close(t->bctx);
    }
    lh_data_free(&t->train);
    lh_data_free(&t->val);
    lh_trainer_data_free(&t->data);
    for (i = 0; i < LH_MAX_SNAPSHOTS; i++)
        free(t->snapshots[i]);
    lh_trainer_ckpt_meta_clear(t); /* empty after every save already; frees what a freed-mid-save
                                    * trainer held */
    free(t->perm);
    free(t->seq);
    free(t->targets_host);
    free(t->logits_host);
    lh_logstore_free(&t->log);
    lh_loop_free(t);
    memset(t, 0, sizeof *t);
}
