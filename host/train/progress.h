/* host/train/progress.h — Lightning-style progress output: a live bar on a terminal (epoch, batch
 * i/N, it/s, ETA, prog_bar values), one plain line per epoch otherwise. */
#ifndef LH_PROGRESS_H
#define LH_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "logstore.h"

typedef struct lh_progress {
    FILE *out;
    int32_t tty;
    double epoch_t0, last_draw;
    int64_t epoch, total, first_batch;
} lh_progress;

void lh_progress_init(lh_progress *p, FILE *out, int32_t tty);
/* An epoch of `total` batches starts at batch `first_batch` (> 0 when resuming mid-epoch). */
void lh_progress_epoch_start(lh_progress *p, int64_t epoch, int64_t total, int64_t first_batch);
/* `done` batches of the epoch are done; the bar shows `log`'s prog_bar values and the loss. */
void lh_progress_step(lh_progress *p, const lh_logstore *log, int64_t done);
/* The epoch's line: batches, train and validation seconds, `log`'s prog_bar values. */
void lh_progress_epoch_end(lh_progress *p, const lh_logstore *log, double train_s, double val_s);
void lh_progress_done(lh_progress *p);

#endif
