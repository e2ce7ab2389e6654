/* host/train/trainer_ckpt.h — the trainer's own checkpoint sections: what lh_trainer itself
 * holds, as opposed to the model, optimizer, logged values, metrics and callbacks, which save
 * themselves (ckpt.c composes them all).
 *
 *   hparams      "hparams" metadata: seed, data path, batch size, classes, normalisation,
 *                epoch limits (what `lhost validate` rebuilds its data from)
 *   progress     "epoch", "global_step" metadata
 *   data order   the epoch's sample order "trainer.perm" (I32, train count), its generator
 *                "trainer.rng_shuffle" (U64 [state, inc]) and the cursor: "resume_epoch",
 *                "resume_batch" (the next batch to run)
 *   run          the init generator "trainer.rng_init" (U64 [2]), "stop_requested",
 *                "stop_reason", "run_dir" (where metrics.csv goes on) */
#ifndef LH_TRAINER_CKPT_H
#define LH_TRAINER_CKPT_H

#include <stddef.h>

#include "error.h"
#include "safetensors.h"
#include "trainer.h"

int lh_trainer_ckpt_save_hparams(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
/* The data path "hparams" holds ("" if none) into buf. */
void lh_trainer_ckpt_data_path(const lh_safetensors_file *f, char *buf, size_t len);

int lh_trainer_ckpt_save_progress(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
int lh_trainer_ckpt_load_progress(lh_trainer *t, const lh_safetensors_file *f, lh_error *err);

int lh_trainer_ckpt_save_data_order(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
/* Also sets the epoch to resume at; fails when the cursor lies outside this run's batches. */
int lh_trainer_ckpt_load_data_order(lh_trainer *t, const lh_safetensors_file *f, lh_error *err);

int lh_trainer_ckpt_save_run(lh_trainer *t, lh_safetensors_writer *w, lh_error *err);
/* A run directory that no longer exists is not taken over (a fresh one is made). */
int lh_trainer_ckpt_load_run(lh_trainer *t, const lh_safetensors_file *f, lh_error *err);

#endif
