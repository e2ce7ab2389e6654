/* host/train/progress.c — the progress bars and per-epoch lines (see progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "fmt.h"
#include "lhost/host.h"
#include "signals.h"

#define BAR_CELLS 20   /* the bar's width when the line has room for it */
#define BAR_MIN 10     /* the narrowest bar kept when values compete for the line */
#define LINE_CAP 1024  /* the widest line drawn; wider terminals get a line this wide */

/* One terminal per process: the bar that messages must step around. */
static lh_progress *active;

/* The terminal's columns: TIOCGWINSZ on the output, else COLUMNS, else 80. */
static int32_t query_width(FILE *out)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");
    int32_t w = 80;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        w = ws.ws_col;
    else if (env && atoi(env) > 0)
        w = atoi(env);
    return w < LINE_CAP ? w : LINE_CAP;
}

void lh_progress_init(lh_progress *p, FILE *out, int32_t tty)
{
    memset(p, 0, sizeof *p);
    p->out = out, p->tty = tty;
    if (tty) {
        p->width = query_width(out);
        lh_signals_watch_winch(); /* without it the bar keeps its width: no reason to fail */
    }
    active = p;
}

void lh_progress_set_run(lh_progress *p, const char *run_dir)
{
    const char *base = run_dir ? strrchr(run_dir, '/') : NULL;
    base = base ? base + 1 : run_dir;
    p->v_num[0] = '\0';
    if (base && strncmp(base, "version_", 8) == 0 && base[8])
        snprintf(p->v_num, sizeof p->v_num, "%.20s", base + 8);
}

lh_progress *lh_progress_active(void)
{
    return active;
}

/* tqdm's format_num, which Lightning's bar uses: 3 significant digits ("+0"/"-0" in the
 * exponent shortened), unless the exact text is shorter. */
static void bar_num(char *buf, size_t cap, double v)
{
    char f[LH_FMT_CAP], *e;
    snprintf(f, sizeof f, "%.3g", v);
    if ((e = strstr(f, "e+0")) || (e = strstr(f, "e-0")))
        memmove(e + 2, e + 3, strlen(e + 3) + 1);
    lh_fmt_value(buf, cap, v);
    if (strlen(f) < strlen(buf))
        snprintf(buf, cap, "%s", f);
}

/* Is `v` one the bar and the epoch line show: prog_bar values and the loss (Lightning's). */
static int shown(const lh_logvalue *v)
{
    return (v->flags & LHOST_LOGF_PROG_BAR) || strcmp(v->key, "loss") == 0;
}

void lh_progress_format(char *buf, size_t cap, int32_t width, const char *label, int64_t done,
                        int64_t total, double elapsed, double rate, const char *vnum,
                        const lh_logstore *log)
{
    char left[128], right[128], items[LINE_CAP + 1] = "", item[160], num[LH_FMT_CAP];
    size_t max = width > 1 ? (size_t)width - 1 : 1, fixed, budget, n_items = 0, cells, k;
    int64_t fill;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    int32_t i;
    if (max >= cap)
        max = cap - 1;
    if (max > LINE_CAP)
        max = LINE_CAP;
    snprintf(left, sizeof left, "%s: %3d%%|", label, (int)(total ? done * 100 / total : 0));
    snprintf(right, sizeof right, "| %lld/%lld [%02d:%02d<%02d:%02d, %.2fit/s",
             (long long)done, (long long)total, (int)elapsed / 60, (int)elapsed % 60,
             (int)eta / 60, (int)eta % 60, rate);
    /* The values get what is left once the bar has BAR_MIN cells; each that does not fit is
     * left out (the next, shorter one may still fit); the bar then takes the rest, up to
     * BAR_CELLS. The closing "]" always has its column. */
    fixed = strlen(left) + strlen(right) + 1;
    budget = fixed + BAR_MIN < max ? max - fixed - BAR_MIN : 0;
    for (i = -1; i < (log ? log->n : 0); i++) {
        if (i < 0 && !(vnum && vnum[0]))
            continue;
        if (i < 0)
            snprintf(item, sizeof item, ", v_num=%s", vnum);
        else if (!shown(&log->vals[i]))
            continue;
        else {
            bar_num(num, sizeof num, log->vals[i].value);
            snprintf(item, sizeof item, ", %s=%s", log->vals[i].key, num);
        }
        if (n_items + strlen(item) <= budget) {
            memcpy(items + n_items, item, strlen(item) + 1);
            n_items += strlen(item);
        }
    }
    cells = fixed + n_items < max ? max - fixed - n_items : 0;
    if (cells > BAR_CELLS)
        cells = BAR_CELLS;
    fill = total ? done * (int64_t)cells / total : 0;
    snprintf(buf, cap, "%s", left);
    k = strlen(buf);
    for (size_t c = 0; c < cells; c++)
        buf[k++] = (int64_t)c < fill ? '#' : ' ';
    snprintf(buf + k, cap - k, "%s%s]", right, items);
    if (strlen(buf) > max) /* a label or counts wider than the terminal: cut, never wrap */
        buf[max] = '\0';
}

/* The train bar at p->done, on the cursor's line. */
static void draw_train(lh_progress *p)
{
    char line[LINE_CAP + 1], label[48];
    double el = lh_clock_now() - p->epoch_t0;
    double rate = el > 0 ? (double)(p->done - p->first_batch) / el : 0;
    snprintf(label, sizeof label, "Epoch %lld", (long long)p->epoch);
    lh_progress_format(line, sizeof line, p->width, label, p->done, p->total, el, rate, p->v_num,
                       p->log);
    fprintf(p->out, "\r%s\033[K", line);
    p->drawn = 1;
}

static void draw_val(lh_progress *p)
{
    char line[LINE_CAP + 1];
    double el = lh_clock_now() - p->val_t0;
    lh_progress_format(line, sizeof line, p->width, "Validation DataLoader 0", p->val_done,
                       p->val_total, el, el > 0 ? (double)p->val_done / el : 0, NULL, NULL);
    fprintf(p->out, "\r%s\033[K", line);
}

/* After a SIGWINCH: the new width, and the lines drawn again at it. Old lines that the
 * terminal rewrapped when it narrowed are its own doing; the next lines fit. */
static void check_resize(lh_progress *p)
{
    if (lh_signals_winch_take())
        p->width = query_width(p->out);
}

void lh_progress_epoch_start(lh_progress *p, int64_t epoch, int64_t total, int64_t first_batch)
{
    p->epoch_t0 = lh_clock_now();
    p->last_draw = 0;
    p->epoch = epoch, p->total = total, p->first_batch = first_batch, p->done = first_batch;
}

void lh_progress_step(lh_progress *p, const lh_logstore *log, int64_t done)
{
    double now = lh_clock_now();
    p->log = log, p->done = done;
    if (!p->tty)
        return;
    check_resize(p);
    if (now - p->last_draw < 0.1 && done < p->total)
        return;
    p->last_draw = now;
    draw_train(p);
    fflush(p->out);
}

void lh_progress_val_start(lh_progress *p, int64_t total)
{
    if (!p || !p->tty || !p->drawn)
        return;
    p->val_t0 = lh_clock_now(), p->val_last = 0;
    p->val_total = total, p->val_done = 0;
    p->in_val = 1;
    fputc('\n', p->out);
    draw_val(p);
    fflush(p->out);
}

void lh_progress_val_step(lh_progress *p, int64_t done)
{
    double now = lh_clock_now();
    if (!p || !p->in_val)
        return;
    p->val_done = done;
    check_resize(p);
    if (now - p->val_last < 0.1 && done < p->val_total)
        return;
    p->val_last = now;
    draw_val(p);
    fflush(p->out);
}

void lh_progress_val_end(lh_progress *p)
{
    if (!p || !p->in_val)
        return;
    /* leave=False, as Lightning's: the line goes, the cursor returns to the train bar */
    fputs("\r\033[K\033[A", p->out);
    p->in_val = 0;
    draw_train(p);
    fflush(p->out);
}

/* `line` on `f`, broken at spaces into pieces of at most `cols` columns (a word longer than
 * that is cut), so the terminal never wraps it: each piece is a line of its own. */
static void put_folded(FILE *f, const char *line, size_t cols)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    while (n > cols) {
        size_t cut = cols;
        while (cut > cols / 2 && line[cut] != ' ')
            cut--;
        if (line[cut] != ' ')
            cut = cols;
        fprintf(f, "%.*s\n", (int)cut, line);
        line += cut, n -= cut;
        while (n && *line == ' ')
            line++, n--;
    }
    fprintf(f, "%.*s\n", (int)n, line);
}

void lh_progress_message(FILE *f, const char *line)
{
    lh_progress *p = active;
    int bar = p && p->tty && p->drawn;
    if (bar) {
        if (p->in_val)
            fputs("\r\033[K\033[A", p->out);
        fputs("\r\033[K", p->out);
        fflush(p->out);
        check_resize(p);
    }
    if (p && p->tty && isatty(fileno(f)))
        put_folded(f, line, p->width > 1 ? (size_t)p->width - 1 : 1);
    else
        put_folded(f, line, (size_t)-1);
    fflush(f);
    if (bar) {
        draw_train(p);
        if (p->in_val) {
            fputc('\n', p->out);
            draw_val(p);
        }
        fflush(p->out);
    }
}

void lh_progress_epoch_end(lh_progress *p, const lh_logstore *log, double train_s, double val_s)
{
    char num[LH_FMT_CAP];
    int32_t i;
    p->log = log;
    if (p->tty) {
        /* The epoch's bar stays, in its last state: one line per epoch, as Lightning's. */
        lh_progress_val_end(p);
        check_resize(p);
        draw_train(p);
        fputc('\n', p->out);
        p->drawn = 0;
        fflush(p->out);
        return;
    }
    fprintf(p->out, "Epoch %lld: %lld/%lld batches in %.2fs, validation %.2fs", (long long)p->epoch,
            (long long)(p->total - p->first_batch), (long long)p->total, train_s, val_s);
    for (i = 0; i < log->n; i++)
        if (shown(&log->vals[i]))
            fprintf(p->out, ", %s=%s", log->vals[i].key,
                    lh_fmt_value(num, sizeof num, log->vals[i].value));
    fputc('\n', p->out);
    fflush(p->out);
}

void lh_progress_done(lh_progress *p)
{
    if (p->tty && p->drawn) {
        if (p->in_val)
            fputs("\r\033[K\033[A", p->out);
        fputc('\n', p->out); /* a bar cut short (an error, a signal) keeps its line */
        p->drawn = 0, p->in_val = 0;
    }
    if (p->tty)
        lh_signals_unwatch_winch();
    if (active == p)
        active = NULL;
    fflush(p->out);
}
