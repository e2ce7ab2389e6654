/* plugins/prediction_writer/prediction_writer.c — a BasePredictionWriter for `lhost predict`:
 * one row per sample, in the prediction's order,
 *
 *   index, target, pred, prob_0 .. prob_{C-1}
 *
 * (the sample's index in its split, its class, the arg-max class — the first on ties, as
 * `lhost predict` picks it — and the softmax of the logits, float32 values), as CSV or as a
 * NumPy .npy (float64, shape (rows, 3 + C)). write_interval "batch" writes
 * <output_dir>/predictions_batch_<k>.<ext> at each on_predict_batch_end, "epoch" one
 * <output_dir>/predictions.<ext> at on_predict_end, "batch_and_epoch" both, as Lightning's
 * write_on_batch_end / write_on_epoch_end. Runs in the predict stage only. Config (or
 * `--callbacks.prediction_writer.output_dir=out`):
 *   callbacks: {prediction_writer: {output_dir: preds, write_interval: epoch, format: npy}} */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lhost/lhost.h>

#define WI_BATCH 0x1
#define WI_EPOCH 0x2

typedef struct pwriter {
    const lhost_host *host;
    char dir[1024];
    int32_t interval; /* WI_* */
    int32_t npy;
    int32_t cols;     /* 3 + classes, set at the first batch */
    float *logits;
    uint64_t logits_cap;
    double *rows;     /* the epoch's rows (or the batch's), cols doubles each */
    uint64_t n_rows, rows_cap;
} pwriter;

static int32_t fail(pwriter *w, lhost_ctx *ctx, const char *what, const char *path)
{
    char msg[1400];
    snprintf(msg, sizeof msg, "%s %s: %s", what, path, strerror(errno));
    w->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

static int32_t pw_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    static const int32_t intervals[] = {WI_BATCH, WI_EPOCH, WI_BATCH | WI_EPOCH};
    pwriter *w;
    if (!LHOST_HOST_HAS(host, batch_logits)) {
        host->set_error(ctx, "this host has no batch views (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(w = host->alloc(sizeof *w)))
        return LHOST_ENOMEM;
    memset(w, 0, sizeof *w);
    w->host = host;
    snprintf(w->dir, sizeof w->dir, "%s", lhost_param_string(p, "output_dir", "predictions"));
    w->interval = intervals[lhost_param_int(p, "write_interval", 0)];
    w->npy = lhost_param_int(p, "format", 0) == 1;
    *self = w;
    return LHOST_OK;
}

static void pw_destroy(void *self)
{
    pwriter *w = self;
    w->host->free(w->logits);
    free(w->rows);
    w->host->free(w);
}

/* rows [from, n_rows) into path, as CSV or .npy. */
static int32_t write_rows(pwriter *w, lhost_ctx *ctx, const char *path, uint64_t from)
{
    FILE *f = fopen(path, "wb");
    uint64_t r;
    int32_t c, classes = w->cols - 3;
    if (!f)
        return fail(w, ctx, "cannot write", path);
    errno = 0;
    if (w->npy) {
        char hdr[256];
        int n = snprintf(hdr + 10, sizeof hdr - 10,
                         "{'descr': '<f8', 'fortran_order': False, 'shape': (%llu, %d), }",
                         (unsigned long long)(w->n_rows - from), (int)w->cols);
        int total = 10 + n + 1;
        int pad = (64 - total % 64) % 64;
        memcpy(hdr, "\x93NUMPY\x01\x00", 8);
        hdr[8] = (char)((n + pad + 1) & 0xff);
        hdr[9] = (char)((n + pad + 1) >> 8);
        memset(hdr + 10 + n, ' ', (size_t)pad);
        hdr[10 + n + pad] = '\n';
        fwrite(hdr, 1, (size_t)(10 + n + pad + 1), f);
        fwrite(w->rows + from * (uint64_t)w->cols, sizeof(double),
               (size_t)((w->n_rows - from) * (uint64_t)w->cols), f);
    } else {
        fputs("index,target,pred", f);
        for (c = 0; c < classes; c++)
            fprintf(f, ",prob_%d", (int)c);
        fputc('\n', f);
        for (r = from; r < w->n_rows; r++) {
            const double *row = w->rows + r * (uint64_t)w->cols;
            fprintf(f, "%.0f,%.0f,%.0f", row[0], row[1], row[2]);
            for (c = 0; c < classes; c++)
                fprintf(f, ",%.9g", row[3 + c]);
            fputc('\n', f);
        }
    }
    if (ferror(f) | fclose(f)) { /* both: fclose must run either way */
        if (!errno)
            errno = EIO;
        return fail(w, ctx, "writing failed:", path);
    }
    return LHOST_OK;
}

static int32_t pw_predict_start(void *self, lhost_ctx *ctx)
{
    pwriter *w = self;
    w->n_rows = 0;
    if (mkdir(w->dir, 0777) != 0 && errno != EEXIST)
        return fail(w, ctx, "cannot create output_dir", w->dir);
    return LHOST_OK;
}

static int32_t pw_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    pwriter *w = self;
    uint64_t need = (uint64_t)b->batch_size * (uint64_t)b->num_classes, first;
    int64_t k;
    int32_t c, rc, C = b->num_classes;
    if (w->cols == 0)
        w->cols = 3 + C;
    if (need > w->logits_cap) {
        w->host->free(w->logits);
        if (!(w->logits = w->host->alloc(need * 4)))
            return LHOST_ENOMEM;
        w->logits_cap = need;
    }
    /* an empty batch (a rank's share can be) has no logits to copy, only its file to write */
    if (need > 0 && (rc = w->host->batch_logits(ctx, w->logits, need)) != LHOST_OK)
        return rc;
    if (!(w->interval & WI_EPOCH))
        w->n_rows = 0; /* batch files only: keep one batch */
    first = w->n_rows;
    if (w->n_rows + (uint64_t)b->batch_size > w->rows_cap) {
        uint64_t cap = w->rows_cap ? w->rows_cap : 256;
        double *rows;
        while (cap < w->n_rows + (uint64_t)b->batch_size)
            cap *= 2;
        if (!(rows = realloc(w->rows, (size_t)(cap * (uint64_t)w->cols * sizeof(double)))))
            return LHOST_ENOMEM;
        w->rows = rows;
        w->rows_cap = cap;
    }
    for (k = 0; k < b->batch_size; k++) {
        const float *l = w->logits + k * C;
        double *row = w->rows + (w->n_rows++) * (uint64_t)w->cols, sum = 0;
        int32_t best = 0;
        for (c = 1; c < C; c++)
            if (l[c] > l[best])
                best = c;
        row[0] = (double)b->sample_index[k];
        row[1] = (double)b->targets[k];
        row[2] = (double)best;
        for (c = 0; c < C; c++)
            sum += (row[3 + c] = exp((double)l[c] - (double)l[best]));
        for (c = 0; c < C; c++)
            row[3 + c] = (double)(float)(row[3 + c] / sum);
    }
    if (w->interval & WI_BATCH) {
        char path[1200];
        snprintf(path, sizeof path, "%s/predictions_batch_%lld.%s", w->dir,
                 (long long)b->batch_idx, w->npy ? "npy" : "csv");
        return write_rows(w, ctx, path, first);
    }
    return LHOST_OK;
}

static int32_t pw_predict_end(void *self, lhost_ctx *ctx)
{
    pwriter *w = self;
    char path[1200];
    if (!(w->interval & WI_EPOCH))
        return LHOST_OK;
    snprintf(path, sizeof path, "%s/predictions.%s", w->dir, w->npy ? "npy" : "csv");
    return write_rows(w, ctx, path, 0);
}

static const char *const intervals[] = {"batch", "epoch", "batch_and_epoch", NULL};
static const char *const formats[] = {"csv", "npy", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "output_dir", "the folder the files go to",
     "predictions", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "write_interval",
     "batch: a file per batch; epoch: one file at the end; batch_and_epoch: both", "batch",
     intervals, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "format", "csv or npy (float64, rows x (3 + C))",
     "csv", formats, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = pw_create,
    .destroy = pw_destroy,
    .stages = LHOST_STAGEF_PREDICT,
    .on_predict_start = pw_predict_start,
    .on_predict_batch_end = pw_batch_end,
    .on_predict_end = pw_predict_end,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.prediction_writer",
    "prediction_writer", "1.0.0",
    "write each sample's index, target, class and probabilities in lhost predict "
    "(BasePredictionWriter)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
