/* host/train/ckpt.c — a checkpoint is the sum of its sections; this file only composes them.
 *
 * Each subsystem writes and reads its own part of one safetensors file through the store
 * (safetensors.h): the model its weights under PyTorch state_dict names (model_ckpt.h), the
 * optimizer its state under PyTorch's names (optim.h), the logged values (logstore.h), the
 * metrics and callbacks their states (metric_run.h, callback_ckpt.h), the trainer its counters,
 * generators and data order (trainer_ckpt.h), the data its validation split and feature
 * statistics (trainer_data.h). Every section is one row of `sections` below, with
 * the checkpoints it goes into: EVERY one (weights-only ones too, and what validate/predict
 * read back) or only RESUMABLE ones (written during fit unless save_weights_only, read by
 * --resume). Adding a section is one row and its two functions.
 *
 * This file itself writes the container's metadata ("format", "format_version",
 * "lhost_version", "weights_only") and checks it on reading. Sections are saved and loaded in
 * table order. Written atomically by the safetensors layer.
 *
 * Format versions: 1 kept SGD's momentum as "optimizer.exp_avg.*" (with an unused
 * "optimizer.exp_avg_sq.*"); 2 names it "optimizer.momentum_buffer.*". Both load. */
#include "ckpt.h"

#include "loop_limits.h"

#include <stdio.h>
#include <string.h>

#include "callback_ckpt.h"
#include "model_ckpt.h"
#include "safetensors.h"
#include "trainer.h"
#include "trainer_ckpt.h"

#define CKPT_FORMAT "lhost-checkpoint"
#define CKPT_FORMAT_VERSION "2"

/* Sections whose state lives in a subsystem: each reaches it through the trainer's accessor and
 * hands it to the subsystem's own save or load. */
static int model_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return lh_model_ckpt_save(lh_trainer_model(t), w, err);
}

static int model_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    return lh_model_ckpt_load(lh_trainer_model(t), f, err);
}

static int optim_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return lh_optim_ckpt_save(lh_trainer_optim(t), lh_trainer_model(t), w, err);
}

static int optim_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    return lh_optim_ckpt_load(lh_trainer_optim(t), lh_trainer_model(t), f, err);
}

static int logged_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return lh_logstore_ckpt_save(lh_trainer_log(t), w, err);
}

static int logged_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    return lh_logstore_ckpt_load(lh_trainer_log(t), f, err);
}

static int metric_specs_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    int32_t n;
    const lh_metric_run *r = lh_trainer_metrics(t, &n);
    return lh_metric_run_ckpt_save_specs(r, n, w, err);
}

static int metric_states_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    int32_t n;
    const lh_metric_run *r = lh_trainer_metrics(t, &n);
    return lh_metric_run_ckpt_save(r, n, w, err);
}

static int metric_states_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    int32_t n;
    lh_metric_run *r = lh_trainer_metrics(t, &n);
    return lh_metric_run_ckpt_load(r, n, f, err);
}

static int callbacks_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    return lh_callback_ckpt_save(lh_trainer_dispatch(t), w, err);
}

static int callbacks_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    return lh_callback_ckpt_load(lh_trainer_dispatch(t), f, lh_trainer_out(t), err);
}

enum { EVERY, RESUMABLE };

typedef struct ckpt_section {
    const char *name;       /* in error messages */
    int32_t save_in;        /* EVERY or RESUMABLE checkpoint */
    int32_t load_in;        /* EVERY load or only a resume; load NULL: read by no load */
    int (*save)(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
    int (*load)(lh_trainer *t, const lh_safetensors_file *f, lh_error *err);
} ckpt_section;

/* on_save_checkpoint runs before any section is written (lh_ckpt_save), as callback.h says:
 * a callback may change what the sections hold (ema puts its averaged weights in the model, as
 * Lightning's WeightAveraging does for the checkpoint's state_dict) and adds metadata entries
 * (host->checkpoint_put), written here with the rest; on_load_checkpoint (resume) runs after
 * every state is restored and reads them back (host->checkpoint_get). */
static int save_hook(lh_trainer *t, lh_error *err)
{
    int rc;
    if (t->ckpt_hook)
        return lh_error_set(err, "a checkpoint cannot be saved inside %s",
                            lh_dispatch_hook_name(t->ckpt_hook));
    t->ckpt_hook = LH_HOOK_SAVE_CHECKPOINT;
    rc = lh_trainer_hook(t, LH_HOOK_SAVE_CHECKPOINT, NULL, err);
    t->ckpt_hook = 0;
    return rc;
}

static int callback_meta_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    int32_t i;
    int rc = 0;
    for (i = 0; i < t->n_ckpt_meta && !rc; i++)
        rc = lh_safetensors_meta(w, t->ckpt_meta[i][0], t->ckpt_meta[i][1], err);
    lh_trainer_ckpt_meta_clear(t);
    return rc;
}

static int callback_meta_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    int rc;
    t->ckpt_hook = LH_HOOK_LOAD_CHECKPOINT;
    t->ckpt_loading = f;
    rc = lh_trainer_hook(t, LH_HOOK_LOAD_CHECKPOINT, NULL, err);
    t->ckpt_hook = 0;
    t->ckpt_loading = NULL;
    return rc;
}

/* Loading in this order matters once: the data order checks its cursor against this run's
 * batches before anything after it is restored, and the notes print in this order. */
static const ckpt_section sections[] = {
    {"model", EVERY, EVERY, model_save, model_load},
    {"hparams", EVERY, EVERY, lh_trainer_ckpt_save_hparams, NULL},
    {"data", EVERY, EVERY, lh_trainer_ckpt_save_data, lh_trainer_ckpt_load_data},
    {"metric specs", EVERY, EVERY, metric_specs_save, NULL},
    {"progress", EVERY, RESUMABLE, lh_trainer_ckpt_save_progress, lh_trainer_ckpt_load_progress},
    {"optimizer", RESUMABLE, RESUMABLE, optim_save, optim_load},
    {"data order", RESUMABLE, RESUMABLE, lh_trainer_ckpt_save_data_order,
     lh_trainer_ckpt_load_data_order},
    {"run", RESUMABLE, RESUMABLE, lh_trainer_ckpt_save_run, lh_trainer_ckpt_load_run},
    {"logged values", RESUMABLE, RESUMABLE, logged_save, logged_load},
    {"metric states", RESUMABLE, RESUMABLE, metric_states_save, metric_states_load},
    {"callbacks", RESUMABLE, RESUMABLE, callbacks_save, callbacks_load},
    {"callback metadata", EVERY, RESUMABLE, callback_meta_save, callback_meta_load},
    {"loop", RESUMABLE, RESUMABLE, lh_loop_ckpt_save, lh_loop_ckpt_load},
};
#define N_SECTIONS ((int32_t)(sizeof sections / sizeof sections[0]))

/* "checkpoint PATH: section: message", unless the store already named the file (a tensor it
 * could not find), so the path appears once. */
static int section_failed(const char *path, const ckpt_section *s, lh_error *err)
{
    char own[1100];
    snprintf(own, sizeof own, "checkpoint %s:", path);
    if (strncmp(err->msg, own, strlen(own)) == 0)
        return -1;
    return lh_error_wrap(err, "checkpoint %s: %s", path, s->name);
}

int lh_ckpt_save(lh_trainer *t, const char *path, uint32_t flags, lh_error *err)
{
    int32_t resumable = !(flags & LHOST_CKPT_WEIGHTS_ONLY) &&
                        lh_trainer_stage(t) == LHOST_STAGE_FIT,
            i;
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    int rc = -1;
    if (!w)
        return lh_error_set(err, "checkpoint %s: out of memory", path);
    if (save_hook(t, err))
        goto done;
    if (lh_safetensors_meta(w, "format", CKPT_FORMAT, err) ||
        lh_safetensors_meta(w, "format_version", CKPT_FORMAT_VERSION, err) ||
        lh_safetensors_meta(w, "lhost_version", LH_VERSION, err) ||
        lh_safetensors_meta(w, "weights_only", resumable ? "false" : "true", err)) {
        lh_error_wrap(err, "checkpoint %s", path);
        goto done;
    }
    for (i = 0; i < N_SECTIONS; i++) {
        const ckpt_section *s = &sections[i];
        if ((s->save_in == EVERY || resumable) && s->save(t, w, err)) {
            section_failed(path, s, err);
            goto done;
        }
    }
    if (lh_safetensors_write_atomic(w, path, err))
        goto done;
    rc = 0;
done:
    lh_trainer_ckpt_meta_clear(t); /* entries a failed save did not write */
    lh_safetensors_writer_free(w);
    return rc;
}

static int open_checked(const char *path, lh_safetensors_file **f, lh_error *err)
{
    const char *fmt;
    if (lh_safetensors_read(path, f, err))
        return -1;
    fmt = lh_safetensors_meta_get(*f, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        /* fmt lives in the file: the message is made before the file is closed. */
        if (fmt)
            lh_error_set(err, "checkpoint %s: format \"%.64s\" is not an lhost checkpoint "
                         "(expected " CKPT_FORMAT ")", path, fmt);
        else
            lh_error_set(err, "checkpoint %s: metadata `format` missing; not an lhost checkpoint "
                         "(expected " CKPT_FORMAT ")", path);
        lh_safetensors_close(*f);
        *f = NULL;
        return -1;
    }
    /* Every reader of a checkpoint (validate, predict, resume) refuses wrong-typed hparams. */
    if (lh_ckpt_hparams_check(path, *f, err)) {
        lh_safetensors_close(*f);
        *f = NULL;
        return -1;
    }
    return 0;
}

int lh_ckpt_read_spec(const char *path, lh_model_spec *spec, char *data_dir, size_t len,
                      lh_error *err)
{
    lh_safetensors_file *f;
    int rc = 0;
    if (open_checked(path, &f, err))
        return -1;
    if (lh_model_ckpt_read_spec(f, spec, err))
        rc = lh_error_wrap(err, "checkpoint %s", path);
    else if (data_dir && len)
        lh_trainer_ckpt_data_path(f, data_dir, len);
    lh_safetensors_close(f);
    return rc;
}

int lh_ckpt_load(lh_trainer *t, const char *path, int32_t full, lh_error *err)
{
    lh_safetensors_file *f = NULL;
    const char *wo;
    int32_t i;
    int rc = -1;
    if (open_checked(path, &f, err))
        return -1;
    wo = lh_safetensors_meta_get(f, "weights_only");
    if (full && (!wo || strcmp(wo, "false") != 0)) {
        lh_error_set(err, "checkpoint %s: holds weights only (save_weights_only); it can be "
                     "validated but not resumed", path);
        goto done;
    }
    for (i = 0; i < N_SECTIONS; i++) {
        const ckpt_section *s = &sections[i];
        if (s->load && (s->load_in == EVERY || full) && s->load(t, f, err)) {
            section_failed(path, s, err);
            goto done;
        }
    }
    rc = 0;
done:
    lh_safetensors_close(f);
    return rc;
}
