/* host/train/progress.h — Lightning-style progress output (TQDMProgressBar).
 *
 * On a terminal: one live bar per epoch, "Epoch 0:  45%|#########           | 9/20 [00:01<00:01,
 * 8.50it/s, v_num=3, loss=0.123, val_acc=0.9]", redrawn in place at most every 0.1 s and left on
 * its own line when the epoch ends (its last state: 100%, the epoch's values); below it, while
 * validation runs, a "Validation DataLoader 0" bar that is erased when validation ends. The line
 * never passes the terminal's width (TIOCGWINSZ, asked again after a SIGWINCH; COLUMNS or 80
 * when the output is no terminal): the bar narrows first, then the values that do not fit are
 * left out of the line, never wrapped. Values show as tqdm shows them (3 significant digits
 * unless the exact text is shorter); v_num is the run's version, as Lightning's logger gives it.
 * Messages printed while a bar is up (plugin log lines, warnings) go through
 * lh_progress_message: the bar line is cleared, the message printed on its own line, the bar
 * drawn again below it. lhost prints no colour, so NO_COLOR has nothing to turn off.
 *
 * Otherwise (output redirected): one plain line per epoch, values in their shortest exact form
 * (host/util/fmt.h). */
#ifndef LH_PROGRESS_H
#define LH_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "logstore.h"

typedef struct lh_progress {
    FILE *out;
    int32_t tty, width;          /* width: the terminal's columns */
    char v_num[24];              /* the run's version ("3"), "" when unknown */
    double epoch_t0, last_draw;
    int64_t epoch, total, first_batch, done;
    const lh_logstore *log;      /* the values the bar shows (the trainer's), NULL before a step */
    int32_t drawn;               /* a train bar is on the cursor's line (or the one above) */
    int32_t in_val;              /* a validation bar is drawn on the line below the train bar */
    double val_t0, val_last;
    int64_t val_total, val_done;
} lh_progress;

/* `tty`: draw bars (a terminal, or progress_bar forced on). The bar becomes the process's
 * active one (lh_progress_active) until lh_progress_done. */
void lh_progress_init(lh_progress *p, FILE *out, int32_t tty);
/* The run folder (".../version_3"): its number is the bar's v_num. */
void lh_progress_set_run(lh_progress *p, const char *run_dir);
/* An epoch of `total` batches starts at batch `first_batch` (> 0 when resuming mid-epoch). */
void lh_progress_epoch_start(lh_progress *p, int64_t epoch, int64_t total, int64_t first_batch);
/* `done` batches of the epoch are done; the bar shows `log`'s prog_bar values and the loss. */
void lh_progress_step(lh_progress *p, const lh_logstore *log, int64_t done);
/* The validation bar, under the train bar: `total` batches, `done` of them done. Each does
 * nothing when p is NULL (no active bar: `lhost validate`) or bars are off. */
void lh_progress_val_start(lh_progress *p, int64_t total);
void lh_progress_val_step(lh_progress *p, int64_t done);
void lh_progress_val_end(lh_progress *p);
/* The epoch's line: on a terminal the train bar's final state; otherwise batches, train and
 * validation seconds and `log`'s prog_bar values. */
void lh_progress_epoch_end(lh_progress *p, const lh_logstore *log, double train_s, double val_s);
void lh_progress_done(lh_progress *p);

/* The bar being drawn in this process, or NULL. */
lh_progress *lh_progress_active(void);
/* Print `line` (no newline needed) to `f` on a line of its own, above the active bar if one is
 * drawn on a terminal (the bar is cleared first and drawn again after). */
void lh_progress_message(FILE *f, const char *line);

/* Lay out one bar line of at most `width - 1` columns into buf (cap >= width): exposed for
 * tests. `log` may be NULL; `vnum` "" for none. */
void lh_progress_format(char *buf, size_t cap, int32_t width, const char *label, int64_t done,
                        int64_t total, double elapsed, double rate, const char *vnum,
                        const lh_logstore *log);

#endif
