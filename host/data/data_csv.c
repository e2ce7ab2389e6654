/* host/data/data_csv.c — CSV tables: a header row naming the columns, then one sample per row.
 *
 * data.label_column names the label column (class indices 0..num_classes-1); the features are
 * data.feature_columns in that order, or every other column in file order. Each feature is a
 * float32, so a row is a sample of shape (F, 1, 1). Fields are separated by commas; a header
 * name may be quoted; blank lines and a final line without newline are fine; CRLF too. Every
 * refusal names the line (1 is the header) and the column. */
#include "data_npy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CSV_MAX_COLS 65536

typedef struct csv_field {
    const char *p;
    int32_t len;
} csv_field;

/* Split the line [p, end) into fields (trimmed of blanks and surrounding quotes). Returns the
 * number of fields (up to cap; more are counted but not stored). */
static int32_t split_line(const char *p, const char *end, csv_field *f, int32_t cap)
{
    int32_t n = 0;
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        const char *a = p, *b = q;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"')
            a++, b--;
        if (n < cap)
            f[n].p = a, f[n].len = (int32_t)(b - a);
        n++;
        if (q >= end)
            return n;
        p = q + 1;
    }
}

static const char *line_end(const char *p, const char *end)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

static int blank(const char *p, const char *e)
{
    for (; p < e; p++)
        if (!isspace((unsigned char)*p))
            return 0;
    return 1;
}

/* Find each feature column and the label column by name in the header. */
static int map_columns(const lh_data_source *s, const csv_field *hdr, int32_t nh, int32_t *cols,
                       int32_t *nf, int32_t *label, lh_error *err)
{
    const char *lc = s->label_column && *s->label_column ? s->label_column : "label";
    int32_t i, j;
    *label = -1;
    for (i = 0; i < nh; i++)
        if ((int32_t)strlen(lc) == hdr[i].len && strncmp(hdr[i].p, lc, (size_t)hdr[i].len) == 0)
            *label = i;
    if (*label < 0)
        return lh_error_set(err, "data %s:1: no column '%s' in the header (data.label_column "
                            "names the label column)", s->path, lc);
    *nf = 0;
    if (s->n_feature_columns > 0) {
        for (j = 0; j < s->n_feature_columns; j++) {
            const char *want = s->feature_columns[j];
            for (i = 0; i < nh; i++)
                if ((int32_t)strlen(want) == hdr[i].len &&
                    strncmp(hdr[i].p, want, (size_t)hdr[i].len) == 0)
                    break;
            if (i == nh)
                return lh_error_set(err, "data %s:1: data.feature_columns names '%s', which is "
                                    "not in the header", s->path, want);
            if (i == *label)
                return lh_error_set(err, "data %s:1: data.feature_columns names the label "
                                    "column '%s'", s->path, want);
            cols[(*nf)++] = i;
        }
    } else {
        for (i = 0; i < nh; i++)
            if (i != *label)
                cols[(*nf)++] = i;
    }
    if (*nf == 0)
        return lh_error_set(err, "data %s:1: no feature columns besides the label '%s'", s->path,
                            lc);
    return 0;
}

/* One field as a finite number, or a message naming line and column. */
static int number(const lh_data_source *s, int64_t line, const csv_field *hdr, int32_t col,
                  const csv_field *f, double *v, lh_error *err)
{
    char buf[64], *end;
    if (f->len > 0 && f->len < (int32_t)sizeof buf) {
        memcpy(buf, f->p, (size_t)f->len);
        buf[f->len] = '\0';
        *v = strtod(buf, &end);
        if (!*end && isfinite(*v))
            return 0;
    }
    return lh_error_set(err, "data %s:%lld: column '%.*s' (%d): \"%.*s\" is not a number",
                        s->path, (long long)line, (int)hdr[col].len, hdr[col].p, (int)col + 1,
                        f->len > 40 ? 40 : (int)f->len, f->p);
}

static int parse_rows(const lh_data_source *s, const char *p, const char *end,
                      const csv_field *hdr, int32_t nh, const int32_t *cols, int32_t nf,
                      int32_t label, lh_dataset *out, csv_field *f, lh_error *err)
{
    float *x = (float *)out->images;
    int64_t line = 1, row = 0;
    while (p < end) {
        const char *e = line_end(p, end);
        line++;
        if (!blank(p, e)) {
            int32_t n = split_line(p, e, f, nh);
            double v;
            if (n != nh)
                return lh_error_set(err, "data %s:%lld: %d fields but the header has %d "
                                    "(a ragged row)", s->path, (long long)line, (int)n, (int)nh);
            for (int32_t j = 0; j < nf; j++) {
                if (number(s, line, hdr, cols[j], &f[cols[j]], &v, err))
                    return -1;
                x[row * nf + j] = (float)v;
            }
            if (number(s, line, hdr, label, &f[label], &v, err))
                return -1;
            if (v != floor(v) || v < 0 || v >= s->num_classes)
                return lh_error_set(err, "data %s:%lld: label %g in column '%.*s' is outside "
                                    "0..%d (data.num_classes is %d)", s->path, (long long)line,
                                    v, (int)hdr[label].len, hdr[label].p,
                                    (int)s->num_classes - 1, (int)s->num_classes);
            out->labels[row++] = (uint8_t)v;
        }
        p = e + 1;
    }
    return 0;
}

int lh_data_load_csv(const lh_data_source *s, lh_dataset *out, lh_error *err)
{
    void *base;
    int64_t len, rows = 0;
    const char *p, *end, *e;
    csv_field *hdr = NULL, *f = NULL;
    int32_t *cols = NULL, nh, nf, label;
    int rc = -1;
    memset(out, 0, sizeof *out);
    out->num_classes = s->num_classes;
    out->dtype = LH_DATA_F32;
    snprintf(out->image_path, sizeof out->image_path, "%s", s->path);
    snprintf(out->label_path, sizeof out->label_path, "%s", s->path);
    if (lh_data_map_file(s->path, &base, &len, err))
        return -1;
    p = base, end = p + len;
    while (p < end && blank(p, line_end(p, end))) /* leading blank lines */
        p = line_end(p, end) + 1;
    if (p >= end) {
        lh_error_set(err, "data %s: empty file: expected a header row naming the columns",
                     s->path);
        goto done;
    }
    e = line_end(p, end);
    nh = split_line(p, e, NULL, 0);
    if (nh > CSV_MAX_COLS) {
        lh_error_set(err, "data %s:1: %d columns: at most %d", s->path, (int)nh, CSV_MAX_COLS);
        goto done;
    }
    hdr = calloc((size_t)nh, sizeof *hdr), f = calloc((size_t)nh, sizeof *f);
    cols = calloc((size_t)nh, sizeof *cols);
    if (!hdr || !f || !cols) {
        lh_error_set(err, "data %s: out of memory", s->path);
        goto done;
    }
    split_line(p, e, hdr, nh);
    if (map_columns(s, hdr, nh, cols, &nf, &label, err))
        goto done;
    for (const char *q = e + 1; q < end; q = line_end(q, end) + 1)
        rows += !blank(q, line_end(q, end));
    if (rows == 0) {
        lh_error_set(err, "data %s: no rows after the header", s->path);
        goto done;
    }
    out->count = rows, out->channels = nf, out->height = out->width = 1;
    out->images = malloc((size_t)rows * (size_t)nf * sizeof(float));
    out->labels = malloc((size_t)rows);
    if (!out->images || !out->labels) {
        lh_error_set(err, "data %s: out of memory for %lld rows", s->path, (long long)rows);
        goto done;
    }
    rc = parse_rows(s, e + 1, end, hdr, nh, cols, nf, label, out, f, err);
done:
    free(hdr);
    free(f);
    free(cols);
    if (base)
        munmap(base, (size_t)len);
    if (rc)
        lh_data_free(out);
    return rc;
}
