/* host/train/trainer.h — the training loop (Lightning's Trainer.fit / validate / predict).
 *
 * lh_trainer_setup builds everything from a config (data, backend, model, optimizer, metric and
 * callback plugin instances, the run directory); lh_trainer_fit runs epochs with hooks in
 * Lightning's order (see sdk/include/lhost/callback.h); checkpoints (ckpt.c) capture the whole
 * trainer so --resume continues exactly. */
#ifndef LH_TRAINER_H
#define LH_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "data.h"
#include "dispatch.h"
#include "error.h"
#include "instance.h"
#include "logstore.h"
#include "metric_run.h"
#include "model.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"
#include "trainer_data.h"

#define LH_MAX_PLUGIN_INSTANCES 64

/* A batch count as Lightning's limit_* keys take one (loop_limits.h): `n` batches when frac is
 * NAN (an int in the config), else the fraction `frac` in [0, 1] of the loader's batches. */
typedef struct lh_batch_limit {
    double frac;
    int64_t n;
} lh_batch_limit;
#define LH_MAX_SNAPSHOTS 4

typedef struct lh_trainer_opts {
    uint64_t seed;
    char data_dir[4096];
    int64_t batch_size;
    int64_t num_classes;
    double mean, std;            /* NAN = the dataset's default */
    int64_t max_epochs;          /* -1 = unlimited */
    int64_t min_epochs;
    char device[32];             /* auto | cpu | cuda[:N] */
    int64_t threads;             /* 0 = all cores */
    int32_t conv_algorithm;      /* LH_CONV_ALGO_* (trainer.conv_algorithm) */
    int32_t precision;           /* index into lh_backend_precisions (trainer.precision) */
    int32_t matmul_precision;    /* index into lh_backend_matmul_precisions
                                  * (trainer.float32_matmul_precision) */
    int64_t log_every_n_steps;
    char root_dir[4096];         /* default_root_dir */
    lh_batch_limit limit_train_batches, limit_val_batches; /* 0 batches: none (no validation) */
    lh_batch_limit limit_test_batches, limit_predict_batches; /* lhost test / lhost predict */
    int32_t progress_bar;        /* -1 auto (TTY), 0 off, 1 on */
    int32_t summary;             /* print the model summary */
    int32_t profiler;            /* 1: time every backend op, report at the end (profiler.h) */
    double t_start;              /* lh_clock_now() when the command started (0: at setup) */
    double gradient_clip_val;    /* NAN or 0: no clipping */
    int32_t gradient_clip_algorithm; /* LH_CLIP_NORM or LH_CLIP_VALUE */
    /* Data files (trainer_data.h); "" = not given. */
    int32_t data_format;         /* LH_DATA_FMT_* (data.format) */
    char data_train[4096], data_val[4096], data_test[4096];
    char train_labels[4096], val_labels[4096], test_labels[4096];
    char label_column[256];      /* CSV */
    double val_split;            /* NAN = none, else in (0, 1) */
    char split_ckpt[4096];       /* a checkpoint whose saved val split to reuse ("" = none) */
    int32_t eval_test;           /* 1: evaluate the test split and log test_* (lhost test) */
    double dist_timeout;         /* seconds a collective may wait for other ranks; 0: forever */
    /* How the loops run, with Lightning's names and meanings (loop_limits.h). */
    lh_batch_limit val_check_interval, overfit_batches;
    int64_t accumulate_grad_batches; /* >= 1: batches whose gradients make one optimizer step */
    int64_t check_val_every_n_epoch; /* 0: None (val_check_interval counts across epochs) */
    int64_t fast_dev_run;        /* 0: off, else N batches, no checkpoints, no loggers */
    int64_t max_steps;           /* optimizer steps; -1: no limit */
    int64_t min_steps;           /* a stop request waits for this many steps; 0: none */
    double max_time;             /* seconds of training (Lightning's Timer); NAN: none */
    int64_t num_sanity_val_steps; /* validation batches before training; -1: all */
    int32_t shuffle;             /* data.shuffle: 1 a fresh seeded order per epoch, 0 data order */
    char init_weights[4096];     /* model.init_weights ("" = the seeded init; model_weights.h) */
    int32_t init_strict;         /* model.init_strict */
} lh_trainer_opts;

#define LH_CLIP_NORM 0
#define LH_CLIP_VALUE 1
#define LH_MAX_CKPT_META 64

typedef struct lh_trainer {
    lh_trainer_opts opts;
    lh_config *cfg;                 /* borrowed: the merged config, for hparams */
    lh_registry *reg;
    const lh_backend *be;
    lh_backend_ctx *bctx;
    lh_dataset train, val;       /* val: the split validate / test / predict evaluate */
    float mean, std;             /* uint8 pixels' normalisation (0 / 1 for float data) */
    lh_trainer_data data;
    lh_dmem *train_images, *train_labels, *val_images, *val_labels;
    /* Sample indices on the device, so a batch is gathered there from an offset into them:
     * perm_dev (train.count) is `perm`, uploaded once per epoch; seq_dev (val.count) is `seq`,
     * 0, 1, 2, ... for validation and prediction, uploaded once. */
    lh_dmem *perm_dev, *seq_dev;
    int32_t *seq;                /* (val.count) */
    float *logits_host;          /* (batch, classes) */
    int32_t *targets_host;       /* (batch) */
    lh_model model;
    lh_optim optim;
    lh_rng rng_init, rng_shuffle;
    int32_t *perm;               /* (train.count) this epoch's order */

    int64_t epoch, global_step, batch_idx, num_train_batches, num_val_batches;
    int64_t num_predict_batches; /* lhost predict: rank 0 writes them all, not a shard */
    int64_t resume_epoch, resume_batch; /* where fit starts */
    int32_t stage;               /* LHOST_STAGE_* */
    int32_t epoch_validated;     /* 1 once this epoch's validation ran (for checkpoints) */

    lh_logstore log;
    lh_instance *instances[LH_MAX_PLUGIN_INSTANCES];
    int32_t n_instances;
    lh_metric_run metrics[LH_MAX_PLUGIN_INSTANCES];
    lh_metric_run val_metrics[LH_MAX_PLUGIN_INSTANCES];
    int32_t n_metrics;
    lh_dispatch *dispatch;
    lh_instance *loggers[LH_MAX_PLUGIN_INSTANCES];
    int32_t n_loggers;
    int32_t loggers_finished;
    lh_host_env env;

    int32_t stop_requested;
    char stop_reason[512];
    int32_t interrupted;         /* the signal (SIGINT, SIGTERM) that stopped fit, 0 if none */
    int32_t in_exception;        /* 1 while on_exception runs: saves are noted in exception_saves */
    char exception_saves[1024];  /* ", "-separated paths saved by on_exception hooks */
    float *snapshots[LH_MAX_SNAPSHOTS];

    /* Windows in which host services may touch the model (trainer_services.c). */
    int32_t grads_valid;         /* 1 from after backward until the optimizer step */
    int32_t batch_rows;          /* > 0 in a batch hook after forward: rows of logits to copy */
    int32_t stop_now;            /* a stop with LHOST_STOP_NOW: end the epoch after the batch */
    int32_t in_train_end;        /* 1 while on_train_end runs: update_bn's window */
    char buffer_names[LH_MAX_PARAMS + LH_MAX_LAYERS][80]; /* buffer_info: valid till the end */
    /* Checkpoint metadata from on_save_checkpoint (owned "callback.<state_key>.<key>" and its
     * value), and the file on_load_checkpoint reads its entries from (borrowed, or NULL). */
    int32_t ckpt_hook;           /* LH_HOOK_SAVE_CHECKPOINT or _LOAD_ while that hook runs */
    int32_t n_ckpt_meta;
    char *ckpt_meta[LH_MAX_CKPT_META][2];
    const void *ckpt_loading;    /* const lh_safetensors_file * during on_load_checkpoint */

    /* The loop's own state (loop_limits.c). */
    int64_t val_check_batch;     /* validation after every val_check_batch-th batch; 0: never */
    int32_t val_enabled;         /* 0 when limit_val_batches leaves no validation batch */
    int32_t sanity_checking;     /* 1 while the sanity check's validation runs */
    int32_t mid_accumulation;    /* 1 after a batch whose gradient waits for the next batch's */
    int32_t accum_n;             /* batches summed in accum since the last optimizer step */
    float *accum, *accum_tmp;    /* (total_params) host: the sum of gradients / K, one batch's */
    int32_t val_after_last;      /* 1 when validation ran after the epoch's last batch so far */
    int64_t last_batch;          /* the last batch this epoch ran (-1: none) */
    double train_t0, train_offset; /* max_time: when training began; seconds of a resumed run */
    int64_t resume_rows;         /* metrics.csv rows the checkpoint came after (-1: by step) */

    char run_dir[4096];
    char csv_path[4200];
    double t_start;              /* lh_clock_now() when the command started */
    double last_train_s, last_val_s;
    int32_t first_batch_seen;
    FILE *out;                   /* progress and summaries (stdout) */
    int32_t tty;
} lh_trainer;

/* Fill opts from the config's seed/data/trainer sections (validated; errors name file:line). */
int lh_trainer_opts_from_cfg(const lh_config *cfg, lh_trainer_opts *o, lh_error *err);

/* Build everything for `stage` (fit also loads the training split and the optimizer). When
 * `model_spec` is non-NULL it replaces the config's model (validate/predict from a checkpoint). */
int lh_trainer_setup(lh_trainer *t, const lh_trainer_opts *o, lh_config *cfg, lh_registry *reg,
                     int32_t stage, const lh_model_spec *model_spec, lh_error *err);
void lh_trainer_free(lh_trainer *t);

/* lh_trainer_setup on the heap (the struct is large): *out is NULL on failure, everything
 * released. lh_trainer_destroy frees what create made (NULL is fine). */
int lh_trainer_create(lh_trainer **out, const lh_trainer_opts *o, lh_config *cfg,
                      lh_registry *reg, int32_t stage, const lh_model_spec *model_spec,
                      lh_error *err);
void lh_trainer_destroy(lh_trainer *t);

/* Before lh_trainer_fit: restore `resume` (a checkpoint, or NULL), make the run directory
 * (reloading its metrics.csv when resuming) and print the summary and where logs go. */
int lh_trainer_prepare_fit(lh_trainer *t, const char *resume, lh_error *err);

/* <default_root_dir>/lightning_logs/version_N with the first free N (unless resuming into the
 * checkpoint's run directory). */
int lh_trainer_make_run_dir(lh_trainer *t, lh_error *err);
/* After a resume: load the run's metrics.csv rows up to the checkpoint so new rows append. */
int lh_trainer_reload_csv(lh_trainer *t, lh_error *err);

int lh_trainer_fit(lh_trainer *t, lh_error *err);
/* The batch hooks' view of the n samples idx[first ..] in t->model.input, their targets in
 * t->targets_host (nothing copied). */
void lh_trainer_batch_info(const lh_trainer *t, int32_t stage, int64_t b, int32_t n,
                           const int32_t *idx, int64_t first, double loss, lhost_batch_info *bi);
/* One validation pass: logs val_loss and val_<metric>; prints them when `print` is set. */
int lh_trainer_validate(lh_trainer *t, int32_t print, lh_error *err);
/* torch.optim.swa_utils.update_bn over the training set (the update_bn host service). */
int lh_trainer_update_bn(lh_trainer *t, lh_error *err);
/* Write one CSV row per validation sample: index,target,pred,logit_0..logit_{C-1}. */
int lh_trainer_predict(lh_trainer *t, const char *out_path, lh_error *err);

/* Point t->env at this trainer (host services for its plugin instances). */
void lh_trainer_env_init(lh_trainer *t);
/* Run callback hook `h` (LH_HOOK_*): -1 with err on a hook error; a LHOST_STOP answer becomes
 * a stop request. No-op without a dispatch. */
int lh_trainer_hook(lh_trainer *t, int32_t h, const lhost_batch_info *bi, lh_error *err);
/* Free the metadata entries on_save_checkpoint added (after the checkpoint is written). */
void lh_trainer_ckpt_meta_clear(lh_trainer *t);

/* The subsystems, for code that works on one of them through its own API (checkpoint sections,
 * ckpt.c) rather than reaching into the trainer (trainer_ckpt.c). */
lh_model *lh_trainer_model(lh_trainer *t);
lh_optim *lh_trainer_optim(lh_trainer *t);
lh_logstore *lh_trainer_log(lh_trainer *t);
lh_metric_run *lh_trainer_metrics(lh_trainer *t, int32_t *n); /* the training runs, n of them */
lh_dispatch *lh_trainer_dispatch(lh_trainer *t);
int32_t lh_trainer_stage(const lh_trainer *t);                 /* LHOST_STAGE_* */
FILE *lh_trainer_out(lh_trainer *t);                           /* progress and notes */

#endif
