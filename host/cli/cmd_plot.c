/* host/cli/cmd_plot.c — `lhost plot RUN_DIR|metrics.csv -o curves.png|.svg`: the learning
 * curves of a run, drawn with cairo.
 *
 * One panel per metric base name (loss, acc, ...), epochs on x, the training curve and the
 * validation curve on shared axes: `train_loss` and `val_loss` are "loss", `acc_epoch` and
 * `val_acc` are "acc". Only per-epoch values are drawn (a key starting with train_ or val_, or
 * ending in _epoch); step values (`loss`, `acc_step`) are not. The best epoch of the monitored
 * value (--monitor, else the model_checkpoint / early_stopping monitor of the config saved beside
 * metrics.csv, else val_loss) is marked in every panel, with its value in the monitored one.
 *
 * Every curve is stroked with width CURVE_WIDTH and nothing else is, so an SVG's curves can be
 * counted by their stroke width (tests/unit/test_plot.c does). Without cairo at build time the
 * command says so and fails. */
#include "cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "error.h"
#include "logstore.h"

#ifdef LHOST_HAVE_CAIRO
#include <cairo-svg.h>
#include <cairo.h>
#endif

static const lh_arg_opt plot_opts[] = {
    {"output", 'o', LH_ARG_VALUE, "FILE", 0, "the image to write: .png or .svg"},
    {"width", 0, LH_ARG_VALUE, "PX", 0, "image width (default 1200)"},
    {"height", 0, LH_ARG_VALUE, "PX", 0, "image height (default 800)"},
    {"monitor", 0, LH_ARG_VALUE, "KEY", 0, "the value whose best epoch is marked"},
    {"mode", 0, LH_ARG_VALUE, "min|max", 0, "whether the monitored value is best low or high"},
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_args_spec plot_spec = {
    .cmd = "plot",
    .usage = "RUN_DIR|metrics.csv -o FILE.png|FILE.svg [--width PX --height PX]",
    .about = "Draw a run's learning curves: loss and every metric per epoch, training and\n"
             "validation on shared axes, the best epoch of the monitored value marked.\n",
    .opts = plot_opts,
    .max_operands = 1,
    .operand = "RUN_DIR",
};

#define CURVE_WIDTH 2.5
#define MAX_SERIES 64
#define MAX_PANELS 32

typedef struct series {
    char key[96], base[96];
    int32_t val;        /* 1: a validation curve */
    int32_t n;
    double *x, *y;      /* epoch, value (the epoch's last row that has it) */
} series;

typedef struct plot_data {
    series s[MAX_SERIES];
    int32_t n;
    char bases[MAX_PANELS][96];
    int32_t n_bases;
    int64_t max_epoch;
} plot_data;

#ifdef LHOST_HAVE_CAIRO
/* The base name of a per-epoch key into base; 0 when the key is a step value. */
static int epoch_key(const char *key, char *base, size_t cap, int32_t *val)
{
    size_t n = strlen(key);
    *val = strncmp(key, "val_", 4) == 0;
    if (*val || strncmp(key, "train_", 6) == 0) {
        snprintf(base, cap, "%s", key + (*val ? 4 : 6));
        n = strlen(base);
        if (n > 6 && strcmp(base + n - 6, "_epoch") == 0)
            base[n - 6] = '\0';
        return 1;
    }
    if (n > 6 && strcmp(key + n - 6, "_epoch") == 0) {
        snprintf(base, cap, "%.*s", (int)(n - 6), key);
        return 1;
    }
    return 0;
}

static int collect(const lh_logstore *ls, plot_data *pd)
{
    int32_t i, j, k;
    memset(pd, 0, sizeof *pd);
    for (i = 0; i < ls->n_rows; i++) {
        const lh_logrow *r = &ls->rows[i];
        if (r->epoch > pd->max_epoch)
            pd->max_epoch = r->epoch;
        for (j = 0; j < r->count; j++) {
            char base[96];
            int32_t val;
            series *s = NULL;
            if (!epoch_key(r->keys[j], base, sizeof base, &val) || !isfinite(r->values[j]))
                continue;
            for (k = 0; k < pd->n; k++)
                if (strcmp(pd->s[k].key, r->keys[j]) == 0)
                    s = &pd->s[k];
            if (!s) {
                if (pd->n == MAX_SERIES)
                    continue;
                s = &pd->s[pd->n++];
                snprintf(s->key, sizeof s->key, "%s", r->keys[j]);
                snprintf(s->base, sizeof s->base, "%s", base);
                s->val = val;
                s->x = malloc((size_t)ls->n_rows * sizeof *s->x);
                s->y = malloc((size_t)ls->n_rows * sizeof *s->y);
                if (!s->x || !s->y)
                    return -1;
                for (k = 0; k < pd->n_bases && strcmp(pd->bases[k], base); k++)
                    ;
                if (k == pd->n_bases && pd->n_bases < MAX_PANELS) {
                    /* loss first, then the metrics in the header's (sorted) order */
                    int32_t at = strcmp(base, "loss") == 0 ? 0 : pd->n_bases;
                    memmove(pd->bases[at + 1], pd->bases[at],
                            (size_t)(pd->n_bases - at) * sizeof pd->bases[0]);
                    snprintf(pd->bases[at], sizeof pd->bases[0], "%s", base);
                    pd->n_bases++;
                }
            }
            if (s->n && s->x[s->n - 1] == (double)r->epoch)
                s->y[s->n - 1] = r->values[j];
            else
                s->x[s->n] = (double)r->epoch, s->y[s->n++] = r->values[j];
        }
    }
    return 0;
}

static void free_data(plot_data *pd)
{
    for (int32_t i = 0; i < pd->n; i++) {
        free(pd->s[i].x);
        free(pd->s[i].y);
    }
}

/* The monitor of the config saved beside metrics.csv (config.yaml), if it names one. */
static void config_monitor(const char dir[4200], char *key, size_t kcap, char *mode, size_t mcap)
{
    static const char *const where[] = {"callbacks.model_checkpoint", "callbacks.early_stopping"};
    char path[4300];
    lh_config *cfg = NULL;
    lh_error err;
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (access(path, R_OK) != 0 || lh_config_load(&cfg, path, &err))
        return;
    for (int i = 0; i < 2 && !key[0]; i++) {
        const lh_config_node *cb = lh_config_get(lh_config_root(cfg), where[i]);
        const char *m = NULL, *md = NULL;
        lh_error e2;
        if (!cb || lh_config_get_string(cb, "monitor", NULL, &m, &e2) || !m)
            continue;
        snprintf(key, kcap, "%s", m);
        if (!lh_config_get_string(cb, "mode", NULL, &md, &e2) && md)
            snprintf(mode, mcap, "%s", md);
    }
    lh_config_free(cfg);
}

/* Early stopping's default mode: max for score-like keys, else min. */
static int default_max(const char *key)
{
    static const char *const up[] = {"acc", "precision", "recall", "f1", "fbeta", "specificity",
                                     "auroc", NULL};
    for (int i = 0; up[i]; i++)
        if (strstr(key, up[i]))
            return 1;
    return 0;
}

static void nice_range(double *lo, double *hi)
{
    if (*hi - *lo < 1e-12) {
        double pad = fabs(*lo) > 1e-12 ? fabs(*lo) * 0.05 : 0.5;
        *lo -= pad, *hi += pad;
    } else {
        double pad = (*hi - *lo) * 0.08;
        *lo -= pad, *hi += pad;
    }
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - te.width * ax - te.x_bearing, y - te.height * ay - te.y_bearing);
    cairo_show_text(cr, s);
}

/* One panel in the box (x0, y0, w, h). */
static void draw_panel(cairo_t *cr, const plot_data *pd, const char *base, double x0, double y0,
                       double w, double h, double fs, int64_t best_epoch, const char *best_label)
{
    static const double colors[2][3] = {{0.12, 0.47, 0.71}, {1.0, 0.50, 0.05}};
    /* epochs span [-pad, max + pad], so the first and last points sit clear of the frame */
    double lo = INFINITY, hi = -INFINITY, pad = fmax(0.25, 0.03 * (double)pd->max_epoch);
    double xmin = -pad, xmax = (double)pd->max_epoch + pad, lx;
    double L = x0 + fs * 5.0, R = x0 + w - fs * 1.2, T = y0 + fs * 2.2, B = y0 + h - fs * 3.0;
    char buf[64];
    int32_t i, k, ticks = 5;
    for (i = 0; i < pd->n; i++)
        if (strcmp(pd->s[i].base, base) == 0)
            for (k = 0; k < pd->s[i].n; k++) {
                lo = fmin(lo, pd->s[i].y[k]);
                hi = fmax(hi, pd->s[i].y[k]);
            }
    nice_range(&lo, &hi);
    /* frame, grid, ticks */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, L, T, R - L, B - T);
    cairo_fill(cr);
    cairo_set_font_size(cr, fs);
    cairo_set_line_width(cr, 1.0);
    for (k = 0; k <= ticks; k++) {
        double v = lo + (hi - lo) * k / ticks, y = B - (B - T) * k / ticks;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, L, y);
        cairo_line_to(cr, R, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(buf, sizeof buf, "%.4g", v);
        text_at(cr, L - fs * 0.4, y, buf, 1.0, 0.5);
    }
    {
        int64_t step = pd->max_epoch > 10 ? (pd->max_epoch + 9) / 10 : 1;
        for (int64_t e = 0; e <= pd->max_epoch; e += step) {
            double x = L + (R - L) * ((double)e - xmin) / (xmax - xmin);
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
            snprintf(buf, sizeof buf, "%lld", (long long)e);
            text_at(cr, x, B + fs * 0.5, buf, 0.5, 0.0);
        }
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, L, T, R - L, B - T);
    cairo_stroke(cr);
    text_at(cr, (L + R) / 2, y0 + h - fs * 0.2, "epoch", 0.5, 1.0);
    cairo_set_font_size(cr, fs * 1.25);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, L, y0 + fs * 0.4, base, 0.0, 0.0);
    cairo_set_font_size(cr, fs);
    lx = R; /* the legend goes right to left along the title's line */
    /* the best epoch: a dashed line (width 1.5) */
    if (best_epoch >= 0) {
        double x = L + (R - L) * ((double)best_epoch - xmin) / (xmax - xmin), dash[] = {6, 4};
        cairo_set_source_rgb(cr, 0.17, 0.63, 0.17);
        cairo_set_line_width(cr, 1.5);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, x, T);
        cairo_line_to(cr, x, B);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (best_label)
            text_at(cr, x + fs * 0.4 > R - fs * 12 ? x - fs * 0.4 : x + fs * 0.4, T + fs * 0.4,
                    best_label, x + fs * 0.4 > R - fs * 12 ? 1.0 : 0.0, 0.0);
    }
    /* the curves, then their points and the legend */
    for (i = 0; i < pd->n; i++) {
        const series *s = &pd->s[i];
        const double *c = colors[s->val];
        if (strcmp(s->base, base) != 0 || s->n == 0)
            continue;
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_set_line_width(cr, CURVE_WIDTH);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (k = 0; k < s->n; k++) {
            double x = L + (R - L) * (s->x[k] - xmin) / (xmax - xmin);
            double y = B - (B - T) * (s->y[k] - lo) / (hi - lo);
            if (k == 0)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        if (s->n == 1)
            cairo_rel_line_to(cr, 0.01, 0);
        cairo_stroke(cr);
        for (k = 0; k < s->n; k++) {
            double x = L + (R - L) * (s->x[k] - xmin) / (xmax - xmin);
            double y = B - (B - T) * (s->y[k] - lo) / (hi - lo);
            cairo_arc(cr, x, y, CURVE_WIDTH * 1.4, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        {
            cairo_text_extents_t te;
            double ly = y0 + fs * 1.1;
            cairo_text_extents(cr, s->key, &te);
            lx -= te.x_advance;
            cairo_rectangle(cr, lx - fs * 1.9, ly - fs * 0.15, fs * 1.4, fs * 0.3);
            cairo_fill(cr);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text_at(cr, lx, ly, s->key, 0.0, 0.5);
            lx -= fs * 3.0;
        }
    }
}

static int render(const plot_data *pd, const char *out, int32_t W, int32_t H, const char *title,
                  int64_t best_epoch, const char *monitor_base, const char *best_label)
{
    size_t n = strlen(out);
    int svg = n > 4 && strcmp(out + n - 4, ".svg") == 0;
    cairo_surface_t *sf = svg ? cairo_svg_surface_create(out, W, H)
                              : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, W, H);
    cairo_t *cr = cairo_create(sf);
    int32_t cols = 1, rows, p;
    double fs = fmax(10.0, fmin(W, H) / 55.0), top = fs * 2.6;
    int rc = 0;
    while (cols * cols < pd->n_bases)
        cols++;
    rows = (pd->n_bases + cols - 1) / cols;
    cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, fs * 1.3);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, W / 2.0, fs * 0.6, title, 0.5, 0.0);
    for (p = 0; p < pd->n_bases; p++) {
        double pw = (double)W / cols, ph = (H - top) / rows;
        double x0 = (p % cols) * pw, y0 = top + (p / cols) * ph;
        draw_panel(cr, pd, pd->bases[p], x0 + fs * 0.5, y0, pw - fs, ph - fs * 0.5, fs,
                   best_epoch, strcmp(pd->bases[p], monitor_base) == 0 ? best_label : NULL);
    }
    cairo_destroy(cr);
    if (!svg && cairo_surface_write_to_png(sf, out) != CAIRO_STATUS_SUCCESS)
        rc = -1;
    cairo_surface_finish(sf);
    if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS)
        rc = -1;
    cairo_surface_destroy(sf);
    return rc;
}
#endif

static int parse_px(lh_args *a, const char *name, int32_t dflt, int32_t *out)
{
    const char *v = lh_args_get(a, name);
    char *end;
    long n;
    if (!v) {
        *out = dflt;
        return 0;
    }
    n = strtol(v, &end, 10);
    if (*end || n < 100 || n > 10000)
        return lh_args_error(a, "--%s: expected a whole number of pixels in [100, 10000], got '%s'",
                             name, v);
    *out = (int32_t)n;
    return 0;
}

int lh_cmd_plot(int argc, char **argv)
{
    lh_args a;
    const char *in, *out, *ext;
    int32_t W = 1200, H = 800, rc;
    if ((rc = lh_args_parse(&a, &plot_spec, argc, argv)) != 0)
        return rc;
    in = lh_args_operand(&a, 0);
    out = lh_args_get(&a, "output");
    if (!in || !out) {
        rc = lh_args_error(&a, "%s", !in ? "needs a RUN_DIR or metrics.csv"
                                         : "needs -o FILE.png or -o FILE.svg");
        goto done_args;
    }
    ext = strrchr(out, '.');
    if (!ext || (strcmp(ext, ".png") && strcmp(ext, ".svg"))) {
        rc = lh_args_error(&a, "-o %s: expected a file name ending in .png or .svg", out);
        goto done_args;
    }
    if ((rc = parse_px(&a, "width", 1200, &W)) || (rc = parse_px(&a, "height", 800, &H)))
        goto done_args;
    if (lh_args_get(&a, "mode") && strcmp(lh_args_get(&a, "mode"), "min") &&
        strcmp(lh_args_get(&a, "mode"), "max")) {
        rc = lh_args_error(&a, "--mode: expected min or max, got '%s'", lh_args_get(&a, "mode"));
        goto done_args;
    }
#ifndef LHOST_HAVE_CAIRO
    fprintf(stderr, "lhost: plot: this lhost was built without cairo (Debian package "
                    "libcairo2-dev); rebuild with it installed\n");
    rc = 1;
    goto done_args;
#else
    lh_logstore ls;
    lh_error err;
    plot_data pd;
    struct stat st;
    char csv[4200], dir[4200], monitor[96] = "", mode[8] = "", base[96], label[160];
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", in);
        snprintf(csv, sizeof csv, "%s/metrics.csv", in);
    } else {
        const char *slash = strrchr(in, '/');
        snprintf(csv, sizeof csv, "%s", in);
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - in) : 1, slash ? in : ".");
    }
    lh_logstore_init(&ls);
    if (lh_logstore_read_csv(&ls, csv, &err)) {
        fprintf(stderr, "lhost: plot: %s\n", err.msg);
        lh_logstore_free(&ls);
        rc = 1;
        goto done_args;
    }
    if (collect(&ls, &pd) || pd.n == 0) {
        fprintf(stderr, "lhost: plot: %s: %s\n", csv,
                pd.n == 0 ? "no per-epoch values to draw (no train_*, val_* or *_epoch column)"
                          : "out of memory");
        rc = 1;
        goto done;
    }
    if (lh_args_get(&a, "monitor"))
        snprintf(monitor, sizeof monitor, "%s", lh_args_get(&a, "monitor"));
    else
        config_monitor(dir, monitor, sizeof monitor, mode, sizeof mode);
    if (!monitor[0])
        snprintf(monitor, sizeof monitor, "val_loss");
    if (lh_args_get(&a, "mode"))
        snprintf(mode, sizeof mode, "%s", lh_args_get(&a, "mode"));
    if (!mode[0])
        snprintf(mode, sizeof mode, "%s", default_max(monitor) ? "max" : "min");
    {
        int64_t best = -1;
        double bv = 0;
        int32_t val, i, k;
        base[0] = label[0] = '\0';
        if (!epoch_key(monitor, base, sizeof base, &val))
            snprintf(base, sizeof base, "%s", monitor);
        for (i = 0; i < pd.n; i++)
            if (strcmp(pd.s[i].key, monitor) == 0)
                for (k = 0; k < pd.s[i].n; k++)
                    if (best < 0 || (mode[1] == 'a' ? pd.s[i].y[k] > bv : pd.s[i].y[k] < bv))
                        best = (int64_t)pd.s[i].x[k], bv = pd.s[i].y[k];
        if (best >= 0)
            snprintf(label, sizeof label, "best %s=%.4g (epoch %lld)", monitor, bv,
                     (long long)best);
        if (render(&pd, out, W, H, in, best, base, best >= 0 ? label : NULL)) {
            fprintf(stderr, "lhost: plot: cannot write %s\n", out);
            rc = 1;
            goto done;
        }
    }
    printf("Wrote %s (%dx%d, %d curves in %d panels)\n", out, W, H, pd.n, pd.n_bases);
    rc = 0;
done:
    free_data(&pd);
    lh_logstore_free(&ls);
#endif
done_args:
    lh_args_free(&a);
    return rc;
}
