/* host/train/trainer.c — the fit loop, validation and prediction, in Lightning's order of hooks
 * (the host services plugins reach through lhost_host are trainer_services.c). */
#include "ckpt.h"
#include "loop_limits.h"
#include "trainer.h"
#include "trainer_dist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "clock.h"
#include "dist.h"
#include "progress.h"
#include "signals.h"

/* ---- batches ------------------------------------------------------------------------------ */

/* Load the n samples idx[first .. first+n) into the model's input and targets: gathered on the
 * device from idx_dev (the same indices there), the targets also kept on the host for the
 * metrics. No transfer: the indices went to the device once per epoch. */
static int load_batch(lh_trainer *t, const lh_dmem *images, const lh_dmem *labels,
                      const uint8_t *host_labels, const int32_t *idx, const lh_dmem *idx_dev,
                      int64_t first, int32_t n, lh_error *err)
{
    int64_t sample = (int64_t)t->model.spec.in_c * t->model.spec.in_h * t->model.spec.in_w;
    int32_t i;
    if (!images) /* float features: gathered and standardised on the host (trainer_data.c) */
        return lh_trainer_data_batch(t, host_labels == t->train.labels ? &t->train : &t->val,
                                     idx + first, n, err);
    for (i = 0; i < n; i++)
        t->targets_host[i] = host_labels[idx[first + i]];
    if (t->be->gather_normalize(t->bctx, images, labels,
                                lh_dmem_at((lh_dmem *)idx_dev, (size_t)first * 4), n, sample,
                                t->mean, t->std, t->model.input, t->model.targets))
        return lh_error_set(err, "%s backend: batch load: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

void lh_trainer_batch_info(const lh_trainer *t, int32_t stage, int64_t b, int32_t n,
                           const int32_t *idx, int64_t first, double loss, lhost_batch_info *bi)
{
    memset(bi, 0, sizeof *bi);
    bi->struct_size = sizeof *bi;
    bi->batch_idx = b;
    bi->batch_size = n;
    bi->loss = loss;
    bi->stage = stage;
    bi->num_classes = t->model.num_outputs;
    bi->input_ndim = 4;
    bi->input_shape[0] = n;
    bi->input_shape[1] = t->model.spec.in_c;
    bi->input_shape[2] = t->model.spec.in_h;
    bi->input_shape[3] = t->model.spec.in_w;
    bi->targets = t->targets_host;
    bi->sample_index = idx + first;
}

static int hook(lh_trainer *t, int32_t h, const lhost_batch_info *bi, lh_error *err);

/* A batch-end hook: the batch's bi->batch_size rows of logits may be copied by
 * host->batch_logits while it runs (trainer_services.c). */
static int batch_end_hook(lh_trainer *t, int32_t h, const lhost_batch_info *bi, lh_error *err)
{
    int rc;
    t->batch_rows = (int32_t)bi->batch_size;
    rc = hook(t, h, bi, err);
    t->batch_rows = 0;
    return rc;
}

/* Download logits and the loss; feed the metrics. */
static int batch_outputs(lh_trainer *t, lh_metric_run *runs, int32_t n, int32_t batch_value,
                         float *loss, lh_error *err)
{
    lhost_metric_batch mb;
    int32_t i;
    if (t->be->download(t->bctx, loss, t->model.loss, 4) ||
        (t->n_metrics && t->be->download(t->bctx, t->logits_host, lh_model_logits(&t->model),
                                         (size_t)n * t->model.num_outputs * 4)))
        return lh_error_set(err, "%s backend: download: %s", t->be->name,
                            t->be->last_error(t->bctx));
    memset(&mb, 0, sizeof mb);
    mb.struct_size = sizeof mb;
    mb.n = n;
    mb.num_classes = t->model.num_outputs;
    mb.scores = t->logits_host;
    mb.targets = t->targets_host;
    for (i = 0; i < t->n_metrics; i++)
        if (lh_metric_run_update(&runs[i], &mb, batch_value, err))
            return -1;
    return 0;
}

/* Log every output of every metric run under prefix, from r->out; to the row too when
 * row_suffix is non-NULL, under the key + row_suffix. Training metrics are logged on step and
 * on epoch, so their rows name them as Lightning's logger connector does: `acc_step` in step
 * rows, `acc_epoch` in epoch rows (callbacks still read `acc`). */
static void log_metric_outputs(lh_trainer *t, lh_metric_run *runs, const char *prefix,
                               uint32_t flags, const char *row_suffix)
{
    int32_t i;
    uint32_t k;
    char key[128], row_key[140];
    for (i = 0; i < t->n_metrics; i++)
        for (k = 0; k < runs[i].n_outputs; k++) {
            lh_metric_run_name(&runs[i], prefix, k, key, sizeof key);
            lh_logstore_put(&t->log, key, runs[i].out[k], 1.0, flags);
            if (row_suffix) {
                snprintf(row_key, sizeof row_key, "%s%s", key, row_suffix);
                lh_logstore_row_add(&t->log, row_key, runs[i].out[k]);
            }
        }
}

/* ---- loggers ------------------------------------------------------------------------------ */

static int logger_failed(lh_trainer *t, lh_instance *inst, const char *what, lh_error *err)
{
    const char *msg = lh_instance_error(inst);
    return lh_error_set(err, "plugin %s: %s: %s", lh_instance_desc(inst)->id, what,
                        msg[0] ? msg : "failed without a message");
}

/* Append the pending row to metrics.csv's rows and hand it to every logger plugin. */
static int commit_row(lh_trainer *t, lh_error *err)
{
    const lh_logrow *r;
    lhost_log_row row;
    const char **keys;
    int32_t i, k, rc = 0;
    if (t->log.pending.count == 0)
        return 0;
    /* the step of the batch's optimizer step, also for the batches accumulated into it */
    if (lh_logstore_commit_row(&t->log, t->epoch, t->global_step - 1 + t->mid_accumulation))
        return lh_error_set(err, "out of memory for logged rows");
    r = &t->log.rows[t->log.n_rows - 1];
    if (!t->n_loggers)
        return 0;
    if (!(keys = malloc((size_t)r->count * sizeof *keys + 1)))
        return lh_error_set(err, "out of memory for a logged row of %d keys", (int)r->count);
    memset(&row, 0, sizeof row);
    row.struct_size = sizeof row;
    row.epoch = r->epoch;
    row.step = r->step;
    row.count = (uint32_t)r->count;
    for (k = 0; k < r->count; k++)
        keys[k] = r->keys[k];
    row.keys = keys;
    row.values = r->values;
    for (i = 0; i < t->n_loggers && !rc; i++) {
        const lhost_logger_vtable *vt = lh_instance_logger(t->loggers[i]);
        if (vt->log_row && vt->log_row(lh_instance_self(t->loggers[i]), t->loggers[i], &row))
            rc = logger_failed(t, t->loggers[i], "log_row", err);
    }
    free(keys);
    return rc;
}

/* The merged config beside metrics.csv, under both names Lightning uses there: hparams.yaml
 * (CSVLogger's save_hparams_to_yaml) and config.yaml (LightningCLI's SaveConfigCallback). */
static int save_config(lh_trainer *t, lh_error *err)
{
    static const char *const names[] = {"hparams.yaml", "config.yaml"};
    char path[sizeof t->run_dir + 16], *text;
    int32_t i, rc = 0;
    if (!t->cfg || !t->run_dir[0])
        return 0;
    if (!(text = lh_config_to_yaml(lh_config_root(t->cfg), err)))
        return lh_error_wrap(err, "hparams.yaml");
    for (i = 0; i < 2 && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s", t->run_dir, names[i]);
        rc = lh_atomic_write(path, text, strlen(text), err);
    }
    free(text);
    return rc;
}

/* Hyper-parameters as text, once before training. */
static int loggers_start(lh_trainer *t, lh_error *err)
{
    char v[8][64];
    const char *keys[8] = {"seed", "data.path", "data.batch_size", "optimizer.name",
                           "optimizer.lr", "trainer.max_epochs", "trainer.device", "model.params"};
    const char *vals[8];
    int32_t i;
    snprintf(v[0], sizeof v[0], "%llu", (unsigned long long)t->opts.seed);
    snprintf(v[2], sizeof v[2], "%lld", (long long)t->opts.batch_size);
    snprintf(v[3], sizeof v[3], "%s", lh_optim_name(&t->optim));
    snprintf(v[4], sizeof v[4], "%g", t->optim.lr);
    snprintf(v[5], sizeof v[5], "%lld", (long long)t->opts.max_epochs);
    snprintf(v[6], sizeof v[6], "%s", t->be->name);
    snprintf(v[7], sizeof v[7], "%lld", (long long)t->model.total_params);
    for (i = 0; i < 8; i++)
        vals[i] = v[i];
    vals[1] = t->opts.data_dir; /* whole: a path has no length a logger should not see */
    for (i = 0; i < t->n_loggers; i++) {
        const lhost_logger_vtable *vt = lh_instance_logger(t->loggers[i]);
        if (vt->log_hparams &&
            vt->log_hparams(lh_instance_self(t->loggers[i]), t->loggers[i], t->run_dir, 8, keys,
                            vals))
            return logger_failed(t, t->loggers[i], "log_hparams", err);
    }
    return 0;
}

static int loggers_finish(lh_trainer *t, const char *status, lh_error *err)
{
    int32_t i, rc = 0;
    if (t->loggers_finished)
        return 0;
    t->loggers_finished = 1;
    for (i = 0; i < t->n_loggers; i++) {
        const lhost_logger_vtable *vt = lh_instance_logger(t->loggers[i]);
        if (vt->finalize && vt->finalize(lh_instance_self(t->loggers[i]), t->loggers[i], status) &&
            !rc)
            rc = err ? logger_failed(t, t->loggers[i], "finalize", err) : -1;
    }
    return rc;
}

/* ---- validation --------------------------------------------------------------------------- */

/* A SIGINT or SIGTERM caught since the command began (host/util/signals.c) stops fit at the
 * next batch boundary, as a failure whose message on_exception hears. */
static int check_interrupt(lh_trainer *t, lh_error *err)
{
    int sig = lh_signals_pending();
    if (!sig)
        return 0;
    t->interrupted = sig;
    return lh_error_set(err, "interrupted by %s", lh_signals_name(sig));
}

int lh_trainer_validate(lh_trainer *t, int32_t print, lh_error *err)
{
    int32_t i;
    int64_t b, seen = 0;
    double loss_sum = 0;
    lhost_batch_info bi;
    /* `lhost test` runs this pass on the test split and logs Lightning's test_* keys. */
    const char *pre = t->opts.eval_test ? "test_" : "val_";
    char loss_key[16];
    snprintf(loss_key, sizeof loss_key, "%sloss", pre);
    for (i = 0; i < t->n_metrics; i++)
        lh_metric_run_reset(&t->val_metrics[i]);
    if (hook(t, LH_HOOK_VALIDATION_START, NULL, err))
        return -1;
    lh_progress_val_start(lh_progress_active(), t->num_val_batches);
    for (b = 0; b < t->num_val_batches; b++) {
        int64_t start;
        int32_t n;
        float loss = 0;
        /* Under mpirun this rank's batch of the round (trainer_dist.h); 0 samples when the
         * batches ran out first: it still takes part in the metric sync. `lhost validate`
         * stops at a batch on Ctrl-C; fit looks after the epoch's validation, so that a
         * checkpoint saved then holds a whole epoch. */
        lh_trainer_dist_val_share(t, b, &start, &n);
        if ((t->stage != LHOST_STAGE_FIT && check_interrupt(t, err)) ||
            (n > 0 && (load_batch(t, t->val_images, t->val_labels, t->val.labels, t->seq,
                                  t->seq_dev, start, n, err) ||
                       lh_model_forward(&t->model, n, 0, 0, err) ||
                       lh_model_loss(&t->model, n, 0, err))))
            return -1;
        if (batch_outputs(t, t->val_metrics, n, 0, &loss, err))
            return -1;
        if (n == 0)
            continue;
        loss_sum += (double)loss * n;
        seen += n;
        lh_trainer_batch_info(t, LHOST_STAGE_VALIDATE, b, n, t->seq, start, loss, &bi);
        if (batch_end_hook(t, LH_HOOK_VALIDATION_BATCH_END, &bi, err))
            return -1;
        lh_progress_val_step(lh_progress_active(), b + 1);
    }
    lh_progress_val_end(lh_progress_active());
    {
        double v[2] = {loss_sum, (double)seen}; /* over all ranks' samples */
        if (lh_trainer_dist_sum(v, 2, "val_loss", err))
            return -1;
        loss_sum = v[0], seen = (int64_t)v[1];
    }
    lh_logstore_put(&t->log, loss_key, loss_sum / (double)seen, 1.0,
               LHOST_LOGF_PROG_BAR | LHOST_LOGF_ON_EPOCH);
    lh_logstore_row_add(&t->log, loss_key, loss_sum / (double)seen);
    for (i = 0; i < t->n_metrics; i++)
        if (lh_metric_run_compute(&t->val_metrics[i], err))
            return -1;
    log_metric_outputs(t, t->val_metrics, pre, LHOST_LOGF_PROG_BAR | LHOST_LOGF_ON_EPOCH, "");
    if (hook(t, LH_HOOK_VALIDATION_EPOCH_END, NULL, err))
        return -1;
    /* In fit, on_validation_end runs at the epoch's end, after the training values are logged
     * (epoch_end); `lhost validate` ends here. */
    if (t->stage != LHOST_STAGE_FIT && hook(t, LH_HOOK_VALIDATION_END, NULL, err))
        return -1;
    if (print) {
        uint32_t k;
        char key[128];
        fprintf(t->out, "%-24s %s\n", t->opts.eval_test ? "Test metric" : "Validate metric",
                "value");
        fprintf(t->out, "%-24s %.6f\n", loss_key, loss_sum / (double)seen);
        for (i = 0; i < t->n_metrics; i++)
            for (k = 0; k < t->val_metrics[i].n_outputs; k++) {
                lh_metric_run_name(&t->val_metrics[i], pre, k, key, sizeof key);
                fprintf(t->out, "%-24s %.6f\n", key, t->val_metrics[i].out[k]);
            }
    }
    return 0;
}

/* ---- fit ---------------------------------------------------------------------------------- */

static int hook(lh_trainer *t, int32_t h, const lhost_batch_info *bi, lh_error *err)
{
    return lh_trainer_hook(t, h, bi, err);
}

int lh_trainer_hook(lh_trainer *t, int32_t h, const lhost_batch_info *bi, lh_error *err)
{
    int32_t rc;
    if (!t->dispatch)
        return 0;
    rc = lh_dispatch_hook(t->dispatch, h, bi, err);
    if (rc == LHOST_ERROR)
        return -1;
    if (rc == LHOST_STOP && !t->stop_requested) {
        t->stop_requested = 1;
        snprintf(t->stop_reason, sizeof t->stop_reason, "a callback asked to stop");
    }
    return 0;
}

static int write_csv(lh_trainer *t, lh_error *err)
{
    if (lh_dist_rank() != 0 || !t->csv_path[0]) /* rank 0 writes the job's metrics.csv */
        return 0;
    return lh_logstore_write_csv(&t->log, t->csv_path, err);
}

/* Dropout masks depend on the seed and the step only (and the batch's place in an
 * accumulation window), so a resumed run draws the same ones. */
static uint64_t dropout_seed(const lh_trainer *t)
{
    return t->opts.seed * 0x9E3779B97F4A7C15ull + (uint64_t)t->global_step +
           ((uint64_t)t->accum_n << 48);
}


/* Between backward and the optimizer step, in Lightning's order: on_after_backward (after
 * every batch, seeing the gradient accumulated so far), then, when this batch steps,
 * on_before_optimizer_step and trainer.gradient_clip_val on the accumulated gradient.
 * Gradients are valid for host services only inside this window. */
static int grads_ready(lh_trainer *t, int32_t step, lh_error *err)
{
    double clip = t->opts.gradient_clip_val;
    int rc;
    t->grads_valid = 1;
    rc = hook(t, LH_HOOK_AFTER_BACKWARD, NULL, err) ||
         (step && hook(t, LH_HOOK_BEFORE_OPTIMIZER_STEP, NULL, err));
    if (!rc && step && clip > 0)
        rc = t->opts.gradient_clip_algorithm == LH_CLIP_VALUE
                 ? lh_model_clip_grad_value(&t->model, clip, err)
                 : lh_model_clip_grad_norm(&t->model, clip, 2.0, NULL, err);
    t->grads_valid = 0;
    return rc ? -1 : 0;
}

/* Validation inside an epoch (val_check_interval): its row at this batch's step, then
 * on_validation_end, as Lightning's epoch loop runs it after on_train_batch_end. */
static int validate_in_epoch(lh_trainer *t, lh_error *err)
{
    int64_t b = t->batch_idx;
    double v0 = lh_clock_now();
    t->batch_idx = -1;
    if (lh_trainer_validate(t, 0, err) || commit_row(t, err) ||
        hook(t, LH_HOOK_VALIDATION_END, NULL, err))
        return -1;
    t->last_val_s = lh_clock_now() - v0;
    t->batch_idx = b;
    t->val_after_last = 1;
    return write_csv(t, err);
}

static int train_epoch(lh_trainer *t, lh_progress *pb, lh_error *err)
{
    int64_t b;
    t->last_batch = t->resume_batch - 1;
    t->val_after_last = 0;
    for (b = t->resume_batch; b < t->num_train_batches; b++) {
        int64_t start, n_global;
        int32_t n, log_now, step = lh_loop_steps_after(t, b), ending;
        float loss;
        double sums[2];
        lhost_batch_info bi;
        /* This rank's share of the global batch (all of it in one process). */
        lh_trainer_dist_train_share(t, b, &start, &n, &n_global);
        t->batch_idx = b;
        if (!t->first_batch_seen) {
            t->first_batch_seen = 1;
            fprintf(t->out, "first batch after %.1f ms\n", (lh_clock_now() - t->t_start) * 1e3);
        }
        if (n > 0 && load_batch(t, t->train_images, t->train_labels, t->train.labels, t->perm,
                                t->perm_dev, start, n, err))
            return -1;
        lh_trainer_batch_info(t, LHOST_STAGE_FIT, b, n, t->perm, start, NAN, &bi);
        if (hook(t, LH_HOOK_TRAIN_BATCH_START, &bi, err) ||
            (n > 0 && (lh_model_forward(&t->model, n, 1, dropout_seed(t), err) ||
                       lh_model_loss(&t->model, n, 1, err) ||
                       lh_model_backward(&t->model, n, err))) ||
            lh_trainer_dist_grads(t, n, n_global, err) || lh_loop_accumulate(t, err) ||
            grads_ready(t, step, err) ||
            (step && lh_optim_step(&t->optim, t->model.param, t->model.grad, err)))
            return -1;
        /* global_step counts optimizer steps; a batch accumulated into the next one's step
         * logs (log_every_n_steps) and writes its row at that step, as Lightning's
         * _batches_that_stepped does. */
        t->global_step += step;
        t->mid_accumulation = !step;
        if (step)
            t->accum_n = 0;
        t->last_batch = b;
        t->val_after_last = 0;
        log_now = ((t->global_step + t->mid_accumulation) % t->opts.log_every_n_steps) == 0;
        if (batch_outputs(t, t->metrics, n, 1, &loss, err))
            return -1;
        /* The step's loss over the global batch, the same on every rank. */
        sums[0] = n > 0 ? (double)loss * n : 0, sums[1] = n;
        if (lh_trainer_dist_sum(sums, 2, "the loss", err))
            return -1;
        loss = (float)(sums[0] / sums[1]);
        lh_logstore_put(&t->log, "loss", loss, sums[1], LHOST_LOGF_ON_STEP | LHOST_LOGF_ON_EPOCH);
        log_metric_outputs(t, t->metrics, "", LHOST_LOGF_PROG_BAR | LHOST_LOGF_ON_STEP,
                           log_now ? "_step" : NULL);
        if (log_now)
            lh_logstore_row_add(&t->log, "loss", loss);
        bi.loss = loss;
        t->resume_batch = b + 1; /* a checkpoint taken in the hook resumes after this batch */
        if (batch_end_hook(t, LH_HOOK_TRAIN_BATCH_END, &bi, err) || commit_row(t, err))
            return -1;
        lh_progress_step(pb, &t->log, b + 1);
        lh_loop_check_time(t);
        if (lh_trainer_dist_sync_stop(t, err) || check_interrupt(t, err))
            return -1;
        /* Lightning's should_stop from a batch hook: the epoch ends here (its validation and
         * epoch-end hooks still run), once min_epochs and min_steps are done. So does
         * max_steps. A val-check batch before the end validates here (val_check_interval). */
        ending = b + 1 == t->num_train_batches || lh_loop_max_steps_reached(t) ||
                 (t->stop_now && lh_loop_can_stop_early(t, t->epoch));
        if (!ending && lh_loop_val_epoch(t) && lh_loop_val_check_batch(t, b)) {
            if (validate_in_epoch(t, err))
                return -1;
            /* a stop asked in on_validation_end ends the epoch, as should_stop does */
            ending = t->stop_requested && lh_loop_can_stop_early(t, t->epoch);
        }
        if (ending)
            break;
    }
    t->resume_batch = 0;
    t->mid_accumulation = 0;
    return 0;
}

/* torch.optim.swa_utils.update_bn, for the update_bn service (StochasticWeightAveraging with
 * batch norm): fresh running statistics from one train-mode forward pass over this rank's
 * share of every training batch, in the last epoch's order, with momentum None. */
int lh_trainer_update_bn(lh_trainer *t, lh_error *err)
{
    int64_t b, start, n_global;
    int32_t n;
    int rc = 0;
    if (lh_model_buffer_count(&t->model) == 0)
        return 0;
    if (t->be->upload(t->bctx, t->perm_dev, t->perm, (size_t)t->train.count * 4))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    if (lh_model_update_bn(&t->model, 1, err))
        return -1;
    for (b = 0; b < t->num_train_batches && !rc; b++) {
        lh_trainer_dist_train_share(t, b, &start, &n, &n_global);
        if (n > 0)
            rc = load_batch(t, t->train_images, t->train_labels, t->train.labels, t->perm,
                            t->perm_dev, start, n, err) ||
                 lh_model_forward(&t->model, n, 1, dropout_seed(t) + (uint64_t)b, err);
    }
    lh_model_update_bn(&t->model, 0, err);
    return rc ? -1 : 0;
}

/* on_train_end, the one hook in which the update_bn service runs. */
static int train_end_hook(lh_trainer *t, lh_error *err)
{
    int rc;
    t->in_train_end = 1;
    rc = hook(t, LH_HOOK_TRAIN_END, NULL, err);
    t->in_train_end = 0;
    return rc;
}

/* Before an epoch's batches: a fresh order and fresh epoch accumulators (unless resuming
 * mid-epoch, which restored both), and the order on the device, once. */
static int epoch_begin(lh_trainer *t, lh_error *err)
{
    int32_t i;
    t->epoch_validated = 0;
    if (t->resume_batch == 0) {
        t->accum_n = 0;
        if (lh_loop_shuffles(t)) /* data.shuffle, not overfit_batches */
            lh_rng_shuffle(&t->rng_shuffle, t->perm, t->train.count);
        lh_logstore_reset_epoch(&t->log);
        for (i = 0; i < t->n_metrics; i++)
            lh_metric_run_reset(&t->metrics[i]);
    }
    if (t->be->upload(t->bctx, t->perm_dev, t->perm, (size_t)t->train.count * 4))
        return lh_error_set(err, "%s backend: upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

/* After an epoch's batches, in Lightning's order: the epoch's training metrics, validation
 * (when this epoch's last batch is a val-check batch or a stop is due: loop_limits.h), the
 * epoch values logged, on_validation_end, on_train_epoch_end, then the epoch's row. */
static int epoch_end(lh_trainer *t, lh_progress *pb, lh_error *err)
{
    double v0;
    int32_t i, val = lh_loop_val_at_epoch_end(t);
    t->last_train_s = lh_clock_now() - pb->epoch_t0;
    for (i = 0; i < t->n_metrics; i++)
        if (lh_metric_run_compute(&t->metrics[i], err))
            return -1;
    t->batch_idx = -1;
    v0 = lh_clock_now();
    if (val && lh_trainer_validate(t, 0, err))
        return -1;
    if (val)
        t->last_val_s = lh_clock_now() - v0;
    /* Lightning logs validation's values and the training epoch's as two rows at one step */
    if (commit_row(t, err))
        return -1;
    lh_logstore_row_add(&t->log, "train_loss", lh_logstore_epoch_mean(&t->log, "loss"));
    lh_logstore_put(&t->log, "train_loss", lh_logstore_epoch_mean(&t->log, "loss"), 1.0, 0);
    log_metric_outputs(t, t->metrics, "", LHOST_LOGF_PROG_BAR | LHOST_LOGF_ON_EPOCH, "_epoch");
    t->epoch_validated = 1;
    if ((val && hook(t, LH_HOOK_VALIDATION_END, NULL, err)) ||
        hook(t, LH_HOOK_TRAIN_EPOCH_END, NULL, err) || commit_row(t, err))
        return -1;
    lh_progress_epoch_end(pb, &t->log, t->last_train_s, t->last_val_s);
    return write_csv(t, err);
}

/* A failed fit: callbacks hear on_exception, what was logged is kept, loggers close "failed"
 * ("interrupted" after a signal). An interrupted fit's message then says where it stopped and
 * what on_exception saved (model_checkpoint writes last.ckpt there), for the CLI to print. */
static void fit_failed(lh_trainer *t, lh_error *err)
{
    char msg[sizeof err->msg], where[96];
    snprintf(msg, sizeof msg, "%s", err->msg);
    t->in_exception = 1;
    t->exception_saves[0] = '\0';
    lh_dispatch_exception(t->dispatch, msg);
    t->in_exception = 0;
    if (t->csv_path[0]) {
        lh_error ignored;
        commit_row(t, &ignored);
        write_csv(t, &ignored);
    }
    loggers_finish(t, t->interrupted ? "interrupted" : "failed", NULL);
    if (!t->interrupted)
        return;
    if (t->batch_idx >= 0)
        snprintf(where, sizeof where, "after epoch %lld, batch %lld", (long long)t->epoch,
                 (long long)t->batch_idx);
    else
        snprintf(where, sizeof where, "at the end of epoch %lld", (long long)t->epoch);
    lh_error_set(err, "%s %s; %s%s", msg, where,
                 t->exception_saves[0] ? "saved " : "no checkpoint saved", t->exception_saves);
}

int lh_trainer_fit(lh_trainer *t, lh_error *err)
{
    lh_progress pb;
    int rc = -1;
    lh_progress_init(&pb, t->out, t->tty);
    lh_progress_set_run(&pb, t->run_dir);
    if (save_config(t, err) || loggers_start(t, err) || hook(t, LH_HOOK_FIT_START, NULL, err) ||
        lh_loop_sanity_check(t, err))
        goto done;
    /* limit_train_batches: 0 skips training (Lightning's fit_loop.skip: no on_train_*) */
    if (t->num_train_batches > 0 && hook(t, LH_HOOK_TRAIN_START, NULL, err))
        goto done;
    lh_loop_train_start(t);
    for (t->epoch = t->resume_epoch;
         t->num_train_batches > 0 && !lh_loop_max_steps_reached(t) &&
         (t->opts.max_epochs < 0 || t->epoch < t->opts.max_epochs); t->epoch++) {
        if (epoch_begin(t, err))
            goto done;
        lh_progress_epoch_start(&pb, t->epoch, t->num_train_batches, t->resume_batch);
        if (hook(t, LH_HOOK_TRAIN_EPOCH_START, NULL, err) || train_epoch(t, &pb, err) ||
            epoch_end(t, &pb, err) || lh_trainer_dist_sync_stop(t, err) ||
            check_interrupt(t, err))
            goto done;
        if (t->stop_requested && lh_loop_can_stop_early(t, t->epoch + 1)) {
            t->epoch++;
            break;
        }
    }
    if ((t->num_train_batches > 0 && train_end_hook(t, err)) ||
        hook(t, LH_HOOK_FIT_END, NULL, err) || loggers_finish(t, "success", err))
        goto done;
    lh_loop_fit_message(t);
    rc = 0;
done:
    if (rc)
        fit_failed(t, err);
    lh_progress_done(&pb);
    return rc;
}

/* ---- predict ------------------------------------------------------------------------------ */

/* One batch's rows of the predictions CSV: index, target, predicted class, the logits. */
static int predict_rows(lh_trainer *t, lh_atomic_file *f, int64_t first, int32_t n,
                        lh_error *err)
{
    int32_t C = t->model.num_outputs, k, c;
    size_t cap = 64 + 24 * (size_t)C; /* three integers, then C numbers of at most 16 bytes */
    char *line = malloc(cap);
    if (!line)
        return lh_error_set(err, "predict: out of memory");
    for (k = 0; k < n; k++) {
        const float *row = t->logits_host + (size_t)k * C;
        int32_t best = 0, len;
        for (c = 1; c < C; c++)
            if (row[c] > row[best])
                best = c;
        len = snprintf(line, cap, "%lld,%d,%d", (long long)(first + k), t->targets_host[k],
                       best);
        for (c = 0; c < C; c++)
            len += snprintf(line + len, cap - (size_t)len, ",%.9g", row[c]);
        line[len++] = '\n';
        if (lh_atomic_put(f, line, (size_t)len, err)) {
            free(line);
            return -1;
        }
    }
    free(line);
    return 0;
}

/* The CSV goes through the atomic writer: a failure or a Ctrl-C leaves whatever file was at
 * out_path before, never half of a new one. */
int lh_trainer_predict(lh_trainer *t, const char *out_path, lh_error *err)
{
    int32_t B = (int32_t)t->opts.batch_size, C = t->model.num_outputs, c;
    int64_t b, nb = t->num_predict_batches; /* limit_predict_batches: lh_loop_setup */
    char name[32];
    lh_atomic_file f;
    lhost_batch_info bi;
    if (lh_dist_rank() != 0) /* predictions are not sharded: rank 0 writes them all */
        return 0;
    if (lh_atomic_open_output(&f, out_path, err))
        return lh_error_set(err, "predict: cannot write %s: %s", out_path, strerror(f.errnum));
    if (lh_atomic_put(&f, "index,target,pred", 17, err))
        goto fail;
    for (c = 0; c < C; c++) {
        int len = snprintf(name, sizeof name, ",logit_%d", c);
        if (lh_atomic_put(&f, name, (size_t)len, err))
            goto fail;
    }
    if (lh_atomic_put(&f, "\n", 1, err) || hook(t, LH_HOOK_PREDICT_START, NULL, err))
        goto fail;
    for (b = 0; b < nb; b++) {
        int32_t n = (int32_t)((t->val.count - b * B) < B ? (t->val.count - b * B) : B);
        if (check_interrupt(t, err) ||
            load_batch(t, t->val_images, t->val_labels, t->val.labels, t->seq, t->seq_dev, b * B,
                       n, err) ||
            lh_model_forward(&t->model, n, 0, 0, err))
            goto fail;
        if (t->be->download(t->bctx, t->logits_host, lh_model_logits(&t->model),
                            (size_t)n * C * 4)) {
            lh_error_set(err, "%s backend: download: %s", t->be->name, t->be->last_error(t->bctx));
            goto fail;
        }
        if (predict_rows(t, &f, b * B, n, err))
            goto fail;
        lh_trainer_batch_info(t, LHOST_STAGE_PREDICT, b, n, t->seq, b * B, NAN, &bi);
        if (batch_end_hook(t, LH_HOOK_PREDICT_BATCH_END, &bi, err))
            goto fail;
    }
    if (hook(t, LH_HOOK_PREDICT_END, NULL, err) || lh_atomic_commit(&f, err))
        goto fail;
    return 0;
fail:
    if (f.errnum) /* an I/O failure, in the words the other commands use */
        lh_error_set(err, "predict: writing %s failed: %s", out_path, strerror(f.errnum));
    lh_atomic_abort(&f);
    return -1;
}
