/* host/data/data_open.c — one door to every format (lh_data_open picks the reader for a file)
 * and what works on any dataset: row subsets, the stratified validation split, per-feature
 * statistics, label checks. */
#include "data_npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The split's generator: splitmix64, kept here because the data room depends on util alone
 * (the trainer's PCG lives in host/nn). Any fixed generator serves: what matters is that a seed
 * always gives the same split. */
static uint64_t split_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void split_shuffle(uint64_t *s, int32_t *a, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(split_next(s) % (uint64_t)(i + 1));
        int32_t t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

int32_t lh_data_sniff(const char *path, lh_error *err)
{
    struct stat st;
    unsigned char b[8] = {0};
    size_t n, len = strlen(path);
    FILE *f;
    if (stat(path, &st) != 0)
        return lh_error_set(err, "data %s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return LH_DATA_FMT_IDX;
    if (!(f = fopen(path, "rb")))
        return lh_error_set(err, "data %s: cannot open: %s", path, strerror(errno));
    n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        return LH_DATA_FMT_NPY;
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return LH_DATA_FMT_NPZ;
    if ((n >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (n >= 4 && !b[0] && !b[1] && b[2] == 8))
        return LH_DATA_FMT_IDX; /* gzip (an IDX .gz) or an IDX magic 0x0000 08 0N */
    if (len >= 4 && strcmp(path + len - 4, ".csv") == 0)
        return LH_DATA_FMT_CSV;
    if (len >= 4 && strcmp(path + len - 4, ".npz") == 0)
        return LH_DATA_FMT_NPZ; /* e.g. an empty or cut .npz: its reader says what is wrong */
    if (len >= 4 && strcmp(path + len - 4, ".npy") == 0)
        return LH_DATA_FMT_NPY;
    return LH_DATA_FMT_CSV; /* text, presumably; the CSV reader names what it cannot read */
}

int lh_data_open(const lh_data_source *s, lh_dataset *out, lh_error *err)
{
    struct stat st;
    int32_t fmt = s->format;
    memset(out, 0, sizeof *out);
    if (s->num_classes < 1 || s->num_classes > 256)
        return lh_error_set(err, "data %s: num_classes %d: expected 1..256 (labels are bytes)",
                            s->path, (int)s->num_classes);
    if (fmt == LH_DATA_FMT_AUTO && (fmt = lh_data_sniff(s->path, err)) < 0)
        return -1;
    switch (fmt) {
    case LH_DATA_FMT_IDX:
        if (stat(s->path, &st) == 0 && S_ISDIR(st.st_mode))
            return lh_data_load(s->path, s->train == 1, s->num_classes, out, err);
        return lh_data_load_idx(s->path, s->labels, s->num_classes, out, err);
    case LH_DATA_FMT_NPY:
        return lh_data_load_npy(s->path, s->labels, s->num_classes, out, err);
    case LH_DATA_FMT_NPZ:
        return lh_data_load_npz(s->path, s->train, s->num_classes, out, err);
    case LH_DATA_FMT_CSV:
        return lh_data_load_csv(s, out, err);
    }
    return lh_error_set(err, "data %s: unknown format %d", s->path, (int)fmt);
}

int64_t lh_data_elem_size(const lh_dataset *d)
{
    return d->dtype == LH_DATA_F32 ? 4 : 1;
}

int64_t lh_data_sample_size(const lh_dataset *d)
{
    return (int64_t)d->channels * d->height * d->width;
}

int lh_data_labels_from(const void *src, int64_t count, int32_t bytes, int32_t is_signed,
                        int32_t num_classes, const char *what, uint8_t *out, lh_error *err)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < count; i++, p += bytes) {
        uint64_t u = 0;
        int64_t v;
        for (int32_t b = 0; b < bytes; b++)
            u |= (uint64_t)p[b] << (8 * b);
        if (is_signed && bytes < 8 && (u >> (8 * bytes - 1)) & 1)
            u |= ~UINT64_C(0) << (8 * bytes); /* sign-extend */
        v = (int64_t)u;
        if ((!is_signed && u >= (uint64_t)num_classes) ||
            (is_signed && (v < 0 || v >= num_classes)))
            return lh_error_set(err, "data %s: label %lld at item %lld is outside 0..%d "
                                "(data.num_classes is %d)", what,
                                is_signed ? (long long)v : (long long)u, (long long)i,
                                (int)num_classes - 1, (int)num_classes);
        out[i] = (uint8_t)v;
    }
    return 0;
}

int lh_data_subset(const lh_dataset *src, const int32_t *idx, int64_t n, lh_dataset *out,
                   lh_error *err)
{
    int64_t row = lh_data_sample_size(src) * lh_data_elem_size(src);
    memset(out, 0, sizeof *out);
    *out = *src;
    out->map_base = NULL, out->map_len = 0;
    out->count = n;
    out->images = malloc(n * row > 0 ? (size_t)(n * row) : 1);
    out->labels = malloc(n > 0 ? (size_t)n : 1);
    if (!out->images || !out->labels) {
        free(out->images);
        free(out->labels);
        memset(out, 0, sizeof *out);
        return lh_error_set(err, "data %s: out of memory for a split of %lld rows",
                            src->image_path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        memcpy(out->images + i * row, src->images + (int64_t)idx[i] * row, (size_t)row);
        out->labels[i] = src->labels[idx[i]];
    }
    return 0;
}

int lh_data_split(const lh_dataset *d, double fraction, uint64_t seed, int32_t **val,
                  int64_t *n_val, int32_t **train, lh_error *err)
{
    int64_t per[256] = {0}, take[256], start[256], i, nv = 0, nt = 0;
    int32_t *byclass = malloc((size_t)(d->count ? d->count : 1) * sizeof *byclass);
    uint8_t *held = calloc((size_t)(d->count ? d->count : 1), 1);
    uint64_t rng = seed ^ 0x5eed5eedull;
    *val = *train = NULL;
    *n_val = 0;
    if (!byclass || !held) {
        free(byclass);
        free(held);
        return lh_error_set(err, "out of memory for data.val_split");
    }
    for (i = 0; i < d->count; i++)
        per[d->labels[i]]++;
    for (int c = 0, s = 0; c < 256; s += (int)per[c], c++) {
        start[c] = s;
        take[c] = (int64_t)llround(fraction * (double)per[c]);
        if (take[c] == 0 && per[c] >= 2)
            take[c] = 1;
        if (take[c] >= per[c] && per[c] > 0)
            take[c] = per[c] - 1; /* every class keeps a training row */
    }
    {
        int64_t fill[256];
        memcpy(fill, start, sizeof fill);
        for (i = 0; i < d->count; i++)
            byclass[fill[d->labels[i]]++] = (int32_t)i;
    }
    /* Per class, a seeded shuffle of its rows; the first take[c] are held out. */
    for (int c = 0; c < 256; c++) {
        if (!per[c])
            continue;
        split_shuffle(&rng, byclass + start[c], per[c]);
        for (i = 0; i < take[c]; i++)
            held[byclass[start[c] + i]] = 1;
        nv += take[c];
    }
    *val = malloc((size_t)(nv ? nv : 1) * sizeof **val);
    *train = malloc((size_t)(d->count - nv ? d->count - nv : 1) * sizeof **train);
    if (!*val || !*train) {
        free(*val), free(*train), free(byclass), free(held);
        *val = *train = NULL;
        return lh_error_set(err, "out of memory for data.val_split");
    }
    for (i = 0, nv = 0; i < d->count; i++) {
        if (held[i])
            (*val)[nv++] = (int32_t)i;
        else
            (*train)[nt++] = (int32_t)i;
    }
    *n_val = nv;
    free(byclass);
    free(held);
    return 0;
}

int lh_data_feature_stats(const lh_dataset *d, float *mean, float *std, lh_error *err)
{
    int64_t F = lh_data_sample_size(d);
    double *s = calloc((size_t)F, sizeof *s), *s2 = calloc((size_t)F, sizeof *s2);
    const float *x = (const float *)d->images;
    if (!s || !s2) {
        free(s), free(s2);
        return lh_error_set(err, "out of memory for feature statistics");
    }
    /* Two passes (mean, then squared deviations): exact enough for features far from zero. */
    for (int64_t i = 0; i < d->count; i++)
        for (int64_t j = 0; j < F; j++)
            s[j] += x[i * F + j];
    for (int64_t j = 0; j < F; j++)
        s[j] = d->count ? s[j] / (double)d->count : 0.0;
    for (int64_t i = 0; i < d->count; i++)
        for (int64_t j = 0; j < F; j++) {
            double dv = x[i * F + j] - s[j];
            s2[j] += dv * dv;
        }
    for (int64_t j = 0; j < F; j++) {
        double sd = d->count ? sqrt(s2[j] / (double)d->count) : 0.0;
        mean[j] = (float)s[j];
        std[j] = sd > 1e-12 ? (float)sd : 1.0f;
    }
    free(s);
    free(s2);
    return 0;
}
