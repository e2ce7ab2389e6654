/* host/train/progress.h — Lightning-style progress output: a live bar on a terminal (epoch, batch i/N,
 * it/s, ETA, prog_bar values), one plain line per epoch otherwise. */
#ifndef LH_PROGRESS_H
#define LH_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct lh_trainer;

typedef struct lh_progress {
    FILE *out;
    int32_t tty;
    double epoch_t0, last_draw;
    int64_t first_batch;
} lh_progress;

void lh_progress_init(lh_progress *p, FILE *out, int32_t tty);
void lh_progress_epoch_start(lh_progress *p, const struct lh_trainer *t);
void lh_progress_step(lh_progress *p, const struct lh_trainer *t, int64_t done);
void lh_progress_epoch_end(lh_progress *p, const struct lh_trainer *t);
void lh_progress_done(lh_progress *p);

#endif
