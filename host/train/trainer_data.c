/* host/train/trainer_data.c — the trainer's data (see trainer_data.h).
 *
 * Which file makes which split:
 *   train       data.train, else data.path (an IDX folder's train-* files, or a data file)
 *   validation  data.val; else data.val_split's held-out rows of the train file; else the
 *               test split (today's behaviour: validating on an IDX folder's t10k-* files)
 *   test        data.test; else (evaluating, not fitting, without data.train) data.path
 *               itself: an IDX folder's t10k-*, an .npz's x / y or x_test / y_test, a file;
 *               else an IDX folder's t10k-* or an .npz's x_test / y_test
 * uint8 splits go to the backend whole and are normalised there per batch; float splits stay
 * on the host (mapped where the file allows) and each batch is standardised here and uploaded.
 * A val_split's rows are saved in every checkpoint ("data.val_index"), and a run that resumes
 * or evaluates a checkpoint (opts.split_ckpt) takes them from it rather than drawing again. */
#include "trainer_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"
#include "trainer.h"

#define PART_TEST 0  /* lh_data_source.train: an IDX folder's t10k, an .npz's x_test */
#define PART_TRAIN 1 /* train-*, x_train (or x / y) */
#define PART_OWN 2   /* a split's own file: x / y, else x_test */

/* Copy a split's pixels and labels to the backend in 4 MiB pieces, giving each piece's host
 * memory back as it goes, then drop the host pixels: never two full copies at once. */
static int upload_split(lh_trainer *t, lh_dataset *d, lh_dmem **img, lh_dmem **lab,
                        lh_error *err)
{
    const int64_t piece = 4 << 20;
    int64_t total = d->count * (int64_t)d->channels * d->height * d->width, off;
    if (t->be->wrap_host) { /* used in place: the pixels stay alive until lh_trainer_free */
        *img = t->be->wrap_host(t->bctx, d->images, (size_t)total);
        *lab = t->be->wrap_host(t->bctx, d->labels, (size_t)d->count);
        return *img && *lab ? 0 : lh_error_set(err, "%s backend: cannot use the dataset in place",
                                               t->be->name);
    }
    *img = t->be->alloc(t->bctx, (size_t)total);
    *lab = t->be->alloc(t->bctx, (size_t)d->count);
    if (!*img || !*lab)
        return lh_error_set(err, "%s backend: out of memory for the dataset", t->be->name);
    for (off = 0; off < total; off += piece) {
        int64_t n = total - off < piece ? total - off : piece;
        if (t->be->upload(t->bctx, lh_dmem_at(*img, (size_t)off), d->images + off, (size_t)n))
            return lh_error_set(err, "%s backend: dataset upload: %s", t->be->name,
                                t->be->last_error(t->bctx));
        lh_data_release_pages(d, off, n);
    }
    if (t->be->upload(t->bctx, *lab, d->labels, (size_t)d->count))
        return lh_error_set(err, "%s backend: dataset upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    lh_data_free_images(d);
    return 0;
}

/* ---- where each split comes from -------------------------------------------------------- */

typedef struct sources {
    const char *cols[1024];       /* data.feature_columns */
    int32_t n_cols;
} sources;

static const char *base_path(const lh_trainer_opts *o)
{
    return o->data_train[0] ? o->data_train : o->data_dir[0] ? o->data_dir : LH_DATA_DEFAULT_DIR;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void src_init(const lh_trainer *t, const sources *ss, lh_data_source *s, const char *path,
                     const char *labels, int32_t part)
{
    memset(s, 0, sizeof *s);
    s->path = path, s->labels = labels, s->train = part;
    s->format = t->opts.data_format, s->num_classes = (int32_t)t->opts.num_classes;
    s->label_column = t->opts.label_column;
    s->feature_columns = ss->cols, s->n_feature_columns = ss->n_cols;
}

static int test_source(const lh_trainer *t, const sources *ss, lh_data_source *s, lh_error *err)
{
    const lh_trainer_opts *o = &t->opts;
    const char *base = base_path(o);
    lh_error ignored;
    int32_t fmt;
    if (o->data_test[0]) {
        src_init(t, ss, s, o->data_test, o->test_labels, PART_OWN);
        return 0;
    }
    if (t->stage != LHOST_STAGE_FIT && !o->data_train[0]) { /* data.path (--data) itself */
        src_init(t, ss, s, base, o->test_labels[0] ? o->test_labels : o->val_labels, PART_OWN);
        return 0;
    }
    fmt = o->data_format ? o->data_format : lh_data_sniff(base, &ignored);
    if (is_dir(base) || fmt == LH_DATA_FMT_NPZ) {
        src_init(t, ss, s, base, NULL, PART_TEST);
        return 0;
    }
    return lh_error_set(err, "data %s: no %s split: set data.%s%s", base,
                        o->eval_test ? "test" : "validation", o->eval_test ? "test" : "val",
                        o->eval_test ? "" : " or data.val_split");
}

static int read_columns(const lh_trainer *t, sources *ss, lh_error *err)
{
    const lh_config_node *n =
        t->cfg ? lh_config_get(lh_config_root(t->cfg), "data.feature_columns") : NULL;
    ss->n_cols = 0;
    if (!n || lh_config_is_null(n))
        return 0;
    if (lh_config_type(n) != LH_CFG_SEQ || lh_config_len(n) > 1024)
        return lh_config_error(n, err, "expected a list of at most 1024 column names");
    for (int32_t i = 0; i < lh_config_len(n); i++) {
        const char *c = lh_config_scalar(lh_config_at(n, i));
        if (!c || !c[0])
            return lh_config_error(lh_config_at(n, i), err, "expected a column name");
        ss->cols[ss->n_cols++] = c;
    }
    return 0;
}

/* ---- data.val_split ------------------------------------------------------------------------ */

/* The held-out rows saved in opts.split_ckpt, if it has them (1), checked against `all`. */
static int split_from_ckpt(lh_trainer *t, const lh_dataset *all, lh_error *err)
{
    lh_safetensors_file *f;
    const char *path = t->opts.split_ckpt, *rows;
    int32_t i;
    int rc = 0;
    if (!path[0] || lh_safetensors_read(path, &f, err))
        return path[0] ? -1 : 0;
    i = lh_safetensors_index(f, "data.val_index");
    rows = lh_safetensors_meta_get(f, "data_rows");
    if (i >= 0) {
        const int32_t *v = lh_safetensors_find(f, "data.val_index", "I32", -1, err);
        int64_t n = lh_safetensors_elems(f, i), k;
        if (!v || !rows || strtoll(rows, NULL, 10) != all->count) {
            rc = lh_error_set(err, "checkpoint %s: its data.val_split was drawn from %s rows but "
                              "%s has %lld; expected the same data.train", path,
                              rows ? rows : "an unknown number of", all->image_path,
                              (long long)all->count);
            goto done;
        }
        for (k = 0; k < n; k++)
            if (v[k] < 0 || v[k] >= all->count || (k && v[k] <= v[k - 1])) {
                rc = lh_error_set(err, "checkpoint %s: tensor \"data.val_index\"[%lld] = %d: "
                                  "expected ascending rows below %lld", path, (long long)k,
                                  v[k], (long long)all->count);
                goto done;
            }
        if (!(t->data.val_index = malloc((size_t)(n ? n : 1) * 4))) {
            rc = lh_error_set(err, "out of memory");
            goto done;
        }
        memcpy(t->data.val_index, v, (size_t)n * 4);
        t->data.n_val_index = n;
        rc = 1;
    }
done:
    lh_safetensors_close(f);
    return rc;
}

/* Split `all` into t->train (fit only) and t->val. */
static int apply_split(lh_trainer *t, lh_dataset *all, int32_t fit, lh_error *err)
{
    int32_t *train_idx = NULL;
    int64_t nt, i, j = 0;
    int rc = split_from_ckpt(t, all, err);
    if (rc < 0)
        return -1;
    t->data.source_rows = all->count;
    if (rc == 0 && lh_data_split(all, t->opts.val_split, t->opts.seed, &t->data.val_index,
                                 &t->data.n_val_index, &train_idx, err))
        return -1;
    nt = all->count - t->data.n_val_index;
    if (!train_idx && !(train_idx = malloc((size_t)(nt ? nt : 1) * 4)))
        return lh_error_set(err, "out of memory");
    if (rc == 1) { /* the training rows are the complement of the saved ones */
        int64_t v = 0;
        for (i = 0, j = 0; i < all->count; i++) {
            if (v < t->data.n_val_index && t->data.val_index[v] == i)
                v++;
            else
                train_idx[j++] = (int32_t)i;
        }
    }
    if (t->data.n_val_index == 0 || nt == 0) {
        free(train_idx);
        return lh_error_set(err, "data %s: data.val_split %g of %lld rows leaves %s empty",
                            all->image_path, t->opts.val_split, (long long)all->count,
                            nt ? "the validation split" : "the training split");
    }
    rc = lh_data_subset(all, t->data.val_index, t->data.n_val_index, &t->val, err) ||
                 (fit && lh_data_subset(all, train_idx, nt, &t->train, err))
             ? -1
             : 0;
    free(train_idx);
    return rc;
}

/* ---- normalisation ------------------------------------------------------------------------- */

/* data.normalize: a preset name or {mean, std}; values are read by set_norm. */
static int read_norm(lh_trainer *t, const lh_config_node **mean, const lh_config_node **std,
                     lh_error *err)
{
    static const char *const names[] = {"auto", "train", "fashion_mnist", "mnist", NULL};
    static const char *const keys[] = {"mean", "std", NULL};
    const lh_config_node *n =
        t->cfg ? lh_config_get(lh_config_root(t->cfg), "data.normalize") : NULL;
    *mean = *std = NULL;
    t->data.norm = LH_NORM_AUTO;
    if (!n || lh_config_is_null(n))
        return 0;
    if (lh_config_type(n) == LH_CFG_MAP) {
        if (lh_config_check_keys(n, keys, err))
            return -1;
        *mean = lh_config_get(n, "mean"), *std = lh_config_get(n, "std");
        if (!*mean || !*std)
            return lh_config_error(n, err, "expected both mean and std");
        t->data.norm = LH_NORM_GIVEN;
        return 0;
    }
    for (int32_t i = 0; names[i]; i++)
        if (lh_config_scalar(n) && strcmp(lh_config_scalar(n), names[i]) == 0) {
            t->data.norm = i;
            return 0;
        }
    return lh_config_error(n, err, "expected auto, train, fashion_mnist, mnist or {mean: M, "
                           "std: S}, got \"%s\"", lh_config_scalar(n) ? lh_config_scalar(n) : "");
}

/* One value of `n` (a number, or the i-th of a list of `len`) into *v. */
static int norm_value(const lh_config_node *n, int64_t i, int64_t len, int32_t is_std, float *v,
                      lh_error *err)
{
    const char *s;
    char *end;
    double d;
    if (lh_config_type(n) == LH_CFG_SEQ) {
        if (lh_config_len(n) != len)
            return lh_config_error(n, err, "a list of %d values for %lld features; expected "
                                   "%lld (or one number)", (int)lh_config_len(n),
                                   (long long)len, (long long)len);
        n = lh_config_at(n, (int32_t)i);
    }
    s = lh_config_scalar(n);
    d = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !isfinite(d) || (is_std && !(d > 0)))
        return lh_config_error(n, err, "expected a %snumber, got \"%s\"",
                               is_std ? "positive " : "", s ? s : "(a mapping)");
    *v = (float)d;
    return 0;
}

static int set_norm(lh_trainer *t, const lh_dataset *d, lh_error *err)
{
    const lh_trainer_opts *o = &t->opts;
    const lh_config_node *mn, *sn;
    if (read_norm(t, &mn, &sn, err))
        return -1;
    if (d->dtype == LH_DATA_U8) {
        float m = 0, s = 1;
        if (t->data.norm == LH_NORM_GIVEN) {
            if (lh_config_type(mn) == LH_CFG_SEQ || lh_config_type(sn) == LH_CFG_SEQ)
                return lh_config_error(lh_config_type(mn) == LH_CFG_SEQ ? mn : sn, err,
                                       "uint8 images take one number (per-feature lists are "
                                       "for float data)");
            if (norm_value(mn, 0, 1, 0, &m, err) || norm_value(sn, 0, 1, 1, &s, err))
                return -1;
        } else if (t->data.norm == LH_NORM_FASHION) {
            m = 0.2860f, s = 0.3530f;
        } else if (t->data.norm == LH_NORM_MNIST) {
            m = 0.1307f, s = 0.3081f;
        } else if (t->data.norm == LH_NORM_TRAIN) {
            lh_data_pixel_stats(d, &m, &s);
        } else if (isnan(o->mean) || isnan(o->std)) {
            lh_data_default_norm(o->data_train[0] ? o->data_train : o->data_dir, d, &m, &s);
        }
        /* data.mean / data.std win: they are what a checkpoint's config carries. */
        t->mean = isnan(o->mean) ? m : (float)o->mean;
        t->std = isnan(o->std) ? s : (float)o->std;
        return 0;
    }
    t->mean = 0, t->std = 1;
    t->data.features = lh_data_sample_size(d);
    t->data.mean = malloc((size_t)t->data.features * sizeof(float));
    t->data.std = malloc((size_t)t->data.features * sizeof(float));
    t->data.batch = malloc((size_t)t->data.features * (size_t)o->batch_size * sizeof(float));
    if (!t->data.mean || !t->data.std || !t->data.batch)
        return lh_error_set(err, "out of memory for the feature statistics");
    if (t->data.norm == LH_NORM_FASHION || t->data.norm == LH_NORM_MNIST)
        return lh_error_set(err, "config: data.normalize: %s is for uint8 images, but %s holds "
                            "float32 features", t->data.norm == LH_NORM_MNIST ? "mnist"
                                                                              : "fashion_mnist",
                            d->image_path);
    if (t->data.norm != LH_NORM_GIVEN)
        return lh_data_feature_stats(d, t->data.mean, t->data.std, err);
    for (int64_t j = 0; j < t->data.features; j++)
        if (norm_value(mn, j, t->data.features, 0, &t->data.mean[j], err) ||
            norm_value(sn, j, t->data.features, 1, &t->data.std[j], err))
            return -1;
    return 0;
}

/* ---- setup --------------------------------------------------------------------------------- */

static int put_on_backend(lh_trainer *t, lh_dataset *d, lh_dmem **img, lh_dmem **lab,
                          lh_error *err)
{
    if (d->dtype == LH_DATA_F32)
        return 0; /* batches are made on the host */
    return upload_split(t, d, img, lab, err);
}

int lh_trainer_data_setup(lh_trainer *t, lh_error *err)
{
    const lh_trainer_opts *o = &t->opts;
    int32_t fit = t->stage == LHOST_STAGE_FIT;
    int32_t split = !isnan(o->val_split) && t->stage != LHOST_STAGE_PREDICT && !o->eval_test;
    sources *ss = calloc(1, sizeof *ss);
    lh_data_source s;
    lh_dataset all;
    int rc = -1;
    if (!ss)
        return lh_error_set(err, "out of memory");
    if (read_columns(t, ss, err))
        goto done;
    if (fit || split) {
        src_init(t, ss, &s, base_path(o), o->train_labels, PART_TRAIN);
        if (lh_data_open(&s, &all, err))
            goto done;
        if (split) {
            int r = apply_split(t, &all, fit, err);
            lh_data_free(&all);
            if (r)
                goto done;
        } else {
            t->train = all;
        }
    }
    if (!split) {
        if (!o->eval_test && o->data_val[0])
            src_init(t, ss, &s, o->data_val, o->val_labels, PART_OWN);
        else if (test_source(t, ss, &s, err))
            goto done;
        if (lh_data_open(&s, &t->val, err))
            goto done;
    }
    if (fit && (t->train.channels != t->val.channels || t->train.height != t->val.height ||
                t->train.width != t->val.width || t->train.dtype != t->val.dtype)) {
        lh_error_set(err, "data %s: validation samples are %s %dx%dx%d but training samples "
                     "(%s) %s %dx%dx%d", t->val.image_path,
                     t->val.dtype ? "float32" : "uint8", t->val.channels, t->val.height,
                     t->val.width, t->train.image_path, t->train.dtype ? "float32" : "uint8",
                     t->train.channels, t->train.height, t->train.width);
        goto done;
    }
    /* The default normalisation comes from the first split (training when fitting), before
     * its pixels go to the backend. */
    if (set_norm(t, fit ? &t->train : &t->val, err) ||
        (fit && put_on_backend(t, &t->train, &t->train_images, &t->train_labels, err)) ||
        put_on_backend(t, &t->val, &t->val_images, &t->val_labels, err))
        goto done;
    rc = 0;
done:
    free(ss);
    return rc;
}

int lh_trainer_data_batch(lh_trainer *t, const lh_dataset *d, const int32_t *idx, int32_t n,
                          lh_error *err)
{
    int64_t F = t->data.features;
    const float *x = (const float *)d->images, *m = t->data.mean, *s = t->data.std;
    for (int32_t i = 0; i < n; i++) {
        const float *row = x + (int64_t)idx[i] * F;
        float *out = t->data.batch + (int64_t)i * F;
        t->targets_host[i] = d->labels[idx[i]];
        for (int64_t j = 0; j < F; j++)
            out[j] = (row[j] - m[j]) / s[j];
    }
    if (t->be->upload(t->bctx, t->model.input, t->data.batch, (size_t)(n * F * 4)) ||
        t->be->upload(t->bctx, t->model.targets, t->targets_host, (size_t)n * 4))
        return lh_error_set(err, "%s backend: batch upload: %s", t->be->name,
                            t->be->last_error(t->bctx));
    return 0;
}

void lh_trainer_data_free(lh_trainer_data *d)
{
    free(d->mean);
    free(d->std);
    free(d->batch);
    free(d->val_index);
    memset(d, 0, sizeof *d);
}

/* ---- the checkpoint section ---------------------------------------------------------------- */

int lh_trainer_ckpt_save_data(lh_trainer *t, lh_safetensors_writer *w, lh_error *err)
{
    char rows[32];
    int64_t n = t->data.n_val_index, F = t->data.features;
    if (t->data.val_index) {
        snprintf(rows, sizeof rows, "%lld", (long long)t->data.source_rows);
        if (lh_safetensors_add(w, "data.val_index", "I32", 1, &n, t->data.val_index,
                               (uint64_t)n * 4, err) ||
            lh_safetensors_meta(w, "data_rows", rows, err))
            return -1;
    }
    if (t->data.mean &&
        (lh_safetensors_add(w, "data.mean", "F32", 1, &F, t->data.mean, (uint64_t)F * 4, err) ||
         lh_safetensors_add(w, "data.std", "F32", 1, &F, t->data.std, (uint64_t)F * 4, err)))
        return -1;
    return 0;
}

int lh_trainer_ckpt_load_data(lh_trainer *t, const lh_safetensors_file *f, lh_error *err)
{
    int32_t vi = lh_safetensors_index(f, "data.val_index");
    if (vi >= 0 && t->data.val_index) {
        const int32_t *v = lh_safetensors_find(f, "data.val_index", "I32", -1, err);
        if (!v)
            return -1;
        if (lh_safetensors_elems(f, vi) != t->data.n_val_index ||
            memcmp(v, t->data.val_index, (size_t)t->data.n_val_index * 4) != 0)
            return lh_error_set(err, "tensor \"data.val_index\": the checkpoint's validation "
                                "rows differ from this run's (data.train or data.val_split "
                                "changed?)");
    }
    /* Float data is standardised as in training, whatever split this run reads. */
    if (t->data.mean && lh_safetensors_index(f, "data.mean") >= 0) {
        const float *m = lh_safetensors_find_1d(f, "data.mean", "F32", t->data.features, err);
        const float *s = m ? lh_safetensors_find_1d(f, "data.std", "F32", t->data.features, err)
                           : NULL;
        if (!m || !s)
            return -1;
        memcpy(t->data.mean, m, (size_t)t->data.features * 4);
        memcpy(t->data.std, s, (size_t)t->data.features * 4);
    }
    return 0;
}
