/* host/train/loop_limits.h — the trainer options that shape the fit loop, with Lightning 2.x's
 * names and meanings: how many batches run (limit_train_batches, limit_val_batches,
 * overfit_batches, fast_dev_run), when validation runs (val_check_interval,
 * check_val_every_n_epoch, num_sanity_val_steps), how batches make optimizer steps
 * (accumulate_grad_batches) and when fit ends (max_steps, min_steps, max_time).
 *
 * Where each rule comes from (lightning/pytorch, 2.x):
 * - trainer/setup.py `_init_debugging_flags`, `_determine_batch_limits`: an int is a batch
 *   count, a float in [0, 1] a fraction, a float > 1 with no fraction an int; fast_dev_run=N sets
 *   limit_train/val = N (unless overfit_batches), max_steps = N, max_epochs = 1,
 *   num_sanity_val_steps = 0, val_check_interval = 1.0, check_val_every_n_epoch = 1, no loggers;
 *   overfit_batches > 0 replaces both limits and turns shuffling off.
 * - trainer/connectors/data_connector.py `_parse_num_batches`: int -> min(len, n); fraction ->
 *   int(len * f), an error when that is 0 for f > 0.
 * - loops/fit_loop.py `setup_data`: val_check_batch = val_check_interval (an int; larger than
 *   the epoch is an error unless check_val_every_n_epoch is None or validation is off) or
 *   max(1, int(batches * f)); `done`: no batches, max_steps, max_epochs, then should_stop once
 *   `_can_stop_early` (epochs done >= min_epochs and global_step >= min_steps).
 * - loops/training_epoch_loop.py `_should_check_val_fx`: validation after batch b when the epoch
 *   validates ((epoch + 1) % check_val_every_n_epoch == 0, or it is None) and (b + 1) (with None:
 *   the batch count over all epochs) is a multiple of val_check_batch, or when a stop is due;
 *   `_should_accumulate`: an optimizer step after every K-th batch of the epoch and its last.
 * - loops/optimization/automatic.py: each batch's (mean) loss is divided by K, so K batches of B
 *   step as one batch of K*B; global_step counts optimizer steps.
 * - trainer/trainer.py `_run_sanity_check`: min(num_sanity_val_steps, batches) validation
 *   batches after on_fit_start, not when resuming, with results reset afterwards.
 * - callbacks/timer.py: max_time is a Timer(duration, interval="step"): checked after each
 *   training batch, elapsed time counted from on_train_start and kept across resume. */
#ifndef LH_LOOP_LIMITS_H
#define LH_LOOP_LIMITS_H

#include <stdint.h>

#include "safetensors.h"
#include "trainer_keys.h"

/* ---- config ---------------------------------------------------------------------------- */
/* Read trainer_keys.c's LH_KEY_CUSTOM key k (`name` of `map`, NULL when the section is absent)
 * into its field: limits and val_check_interval (an int or a float), check_val_every_n_epoch
 * (an int or null), fast_dev_run (a bool or an int), max_time (a string or a mapping). */
int lh_loop_read_key(const lh_trainer_key *k, const lh_config_node *map, const char *name,
                     lh_trainer_opts *o, lh_error *err);
/* After the keys are read: what fast_dev_run implies, and max_epochs' default (1000, or -1 when
 * max_steps or max_time is set and max_epochs is not, as Lightning's Trainer does). */
int lh_loop_opts_finish(const lh_config_node *root, lh_trainer_opts *o, lh_error *err);

/* "DD:HH:MM:SS" of a duration in seconds. */
void lh_loop_format_time(double seconds, char *buf, size_t cap);

/* ---- setup ---------------------------------------------------------------------------- */
/* The loop's batch counts from the loaders' (t->num_train_batches / num_val_batches as the
 * data gives them), val_check_batch, and the accumulation buffers. */
int lh_loop_setup(lh_trainer *t, lh_error *err);
void lh_loop_free(lh_trainer *t);

/* ---- decisions during fit ------------------------------------------------------------- */
int lh_loop_val_epoch(const lh_trainer *t);              /* this epoch validates */
int lh_loop_val_check_batch(const lh_trainer *t, int64_t b); /* validation after batch b */
/* A stop request may end fit once `epochs_done` epochs and min_steps steps are done. */
int lh_loop_can_stop_early(const lh_trainer *t, int64_t epochs_done);
int lh_loop_max_steps_reached(const lh_trainer *t);
int lh_loop_shuffles(const lh_trainer *t); /* 0 with data.shuffle: false or overfit_batches */
/* Batch b ends an accumulation window: its gradient makes the optimizer step. */
int lh_loop_steps_after(const lh_trainer *t, int64_t b);
/* After backward (and the gradient all-reduce): add this batch's gradient / K to the sum and put
 * the sum in the model's gradient, as torch's .grad holds it; a no-op for K = 1. */
int lh_loop_accumulate(lh_trainer *t, lh_error *err);
/* max_time: a stop (ending the epoch after this batch) once the training time is up. */
void lh_loop_check_time(lh_trainer *t);
/* Validation should run at the end of the epoch (its last batch was a val-check batch, or a
 * stop is due), unless it ran after that batch already. */
int lh_loop_val_at_epoch_end(const lh_trainer *t);

/* get_hparam's loop values (1 if `name` is one): "num_val_batches" (0: no validation),
 * "check_val_every_n_epoch" (0: None), "val_check_interval" (the int or the fraction),
 * "accumulate_grad_batches", "max_steps" — what Lightning's callbacks read off the trainer
 * (ModelCheckpoint's save_on_train_epoch_end default). */
int lh_loop_get_hparam(const lh_trainer *t, const char *name, double *out);

/* ---- fit's edges ---------------------------------------------------------------------- */
/* Before on_train_start: the sanity check (validation hooks run; trainer_state's
 * sanity_checking is 1; nothing it logs is kept). */
int lh_loop_sanity_check(lh_trainer *t, lh_error *err);
void lh_loop_train_start(lh_trainer *t);
/* The line fit ends with ("`Trainer.fit` stopped: `max_steps=4` reached."). */
void lh_loop_fit_message(lh_trainer *t);

/* The loop's keys into the checkpoint's hparams (a cJSON object), beside max_epochs: ints as
 * ints, fractions with their point (1.0), None as null. */
struct cJSON;
void lh_loop_hparams(const lh_trainer *t, struct cJSON *hparams);

/* ---- checkpoint section "loop": the pending accumulation and the training time ------ */
int lh_loop_ckpt_save(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
int lh_loop_ckpt_load(lh_trainer *t, const lh_safetensors_file *f, lh_error *err);

#endif
