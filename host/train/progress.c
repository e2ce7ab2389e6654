/* host/train/progress.c — the progress bar and per-epoch lines (see progress.h). */
#include "progress.h"

#include <string.h>

#include "clock.h"
#include "lhost/host.h"

void lh_progress_init(lh_progress *p, FILE *out, int32_t tty)
{
    memset(p, 0, sizeof *p);
    p->out = out, p->tty = tty;
}

void lh_progress_epoch_start(lh_progress *p, int64_t epoch, int64_t total, int64_t first_batch)
{
    p->epoch_t0 = lh_clock_now();
    p->last_draw = 0;
    p->epoch = epoch, p->total = total, p->first_batch = first_batch;
}

/* key=value for every prog_bar value, Lightning's order (as logged). */
static void values(FILE *f, const lh_logstore *log)
{
    int32_t i;
    for (i = 0; i < log->n; i++) {
        const lh_logvalue *v = &log->vals[i];
        if ((v->flags & LHOST_LOGF_PROG_BAR) || strcmp(v->key, "loss") == 0)
            fprintf(f, ", %s=%.4g", v->key, v->value);
    }
}

void lh_progress_step(lh_progress *p, const lh_logstore *log, int64_t done)
{
    double now = lh_clock_now(), el = now - p->epoch_t0, rate;
    int64_t total = p->total, k, fill;
    if (!p->tty || (now - p->last_draw < 0.1 && done < total))
        return;
    p->last_draw = now;
    rate = el > 0 ? (double)(done - p->first_batch) / el : 0;
    fill = total ? done * 20 / total : 0;
    fprintf(p->out, "\rEpoch %lld: %3d%%|", (long long)p->epoch,
            (int)(total ? done * 100 / total : 0));
    for (k = 0; k < 20; k++)
        fputc(k < fill ? '#' : ' ', p->out);
    fprintf(p->out, "| %lld/%lld [%02d:%02d<%02d:%02d, %.2fit/s", (long long)done,
            (long long)total, (int)el / 60, (int)el % 60,
            rate > 0 ? (int)((total - done) / rate) / 60 : 0,
            rate > 0 ? (int)((total - done) / rate) % 60 : 0, rate);
    values(p->out, log);
    fputs("]\033[K", p->out);
    fflush(p->out);
}

void lh_progress_epoch_end(lh_progress *p, const lh_logstore *log, double train_s, double val_s)
{
    if (p->tty)
        fputs("\r\033[K", p->out);
    fprintf(p->out, "Epoch %lld: %lld/%lld batches in %.2fs, validation %.2fs", (long long)p->epoch,
            (long long)(p->total - p->first_batch), (long long)p->total, train_s, val_s);
    values(p->out, log);
    fputc('\n', p->out);
    fflush(p->out);
}

void lh_progress_done(lh_progress *p)
{
    fflush(p->out);
}
