/* host/train/trainer_dist.h — data-parallel training's part of the trainer (trainer_dist.c):
 * which samples this process takes, the gradient all-reduce, global values and stop flags.
 *
 * With N processes and data.batch_size B, training batch b of an epoch is the global batch
 * perm[b*N*B ...] of N*B samples (the epoch's order is the same everywhere: same seed); each
 * process takes its contiguous share, rank order. Gradients are averaged weighted by the shares
 * before on_after_backward, so N x B trains as 1 x N*B. Validation is split into the
 * single-process batches of B, dealt to the ranks in turn (rank r takes batches r, r+N, ...):
 * every sample once, no padding, each batch's loss computed exactly as alone. Metric states
 * are reduced every batch (lh_metric_run_reduce, each buffer's declared reduction), so epoch
 * states, logged values and what callbacks see are the same on every rank. In one process all
 * of this reduces to the plain loop. */
#ifndef LH_TRAINER_DIST_H
#define LH_TRAINER_DIST_H

#include "trainer.h"

/* After setup: batch counts for the world, rank 0 alone writes (progress, loggers), metric
 * runs synced. No-op in one process. */
int lh_trainer_dist_setup(lh_trainer *t, lh_error *err);
/* This rank's share of training batch b: samples perm[*start .. *start + *n), of *n_global. */
void lh_trainer_dist_train_share(const lh_trainer *t, int64_t b, int64_t *start, int32_t *n,
                                 int64_t *n_global);
/* This rank's validation batch in round b: seq[*start .. *start + *n); *n is 0 when the
 * batches ran out before this rank's turn. */
void lh_trainer_dist_val_share(const lh_trainer *t, int64_t b, int64_t *start, int32_t *n);
/* Average the gradient (this rank's n of n_global samples) over all ranks: one all-reduce of
 * the flat gradient. */
int lh_trainer_dist_grads(lh_trainer *t, int32_t n, int64_t n_global, lh_error *err);
/* Sum the n values of v over all ranks, in place (sums of per-sample values and counts). */
int lh_trainer_dist_sum(double *v, int32_t n, const char *what, lh_error *err);
/* A stop (or LHOST_STOP_NOW) asked on any rank holds on all; a signal caught on another rank
 * fails this one too. Every rank calls it at the same points. */
int lh_trainer_dist_sync_stop(lh_trainer *t, lh_error *err);
/* lh_trainer_make_run_dir on rank 0, its choice sent to the others. */
int lh_trainer_dist_run_dir(lh_trainer *t, lh_error *err);

#endif
