/* host/train/metric_run.c — host-allocated metric state, reset/merge by declared reduction, and
 * its checkpoint section. */
#include "metric_run.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t lh_metric_run_dtype_size(int32_t dtype)
{
    switch (dtype) {
    case LHOST_DTYPE_F64:
    case LHOST_DTYPE_I64:
        return 8;
    case LHOST_DTYPE_F32:
    case LHOST_DTYPE_I32:
        return 4;
    default:
        return 0;
    }
}

/* A cat buffer's bytes per row. */
static size_t row_bytes(const lhost_state_decl *d)
{
    return lh_metric_run_dtype_size(d->dtype) * (size_t)d->length;
}

static int plugin_failed(const lh_metric_run *r, const char *what, lh_error *err)
{
    const char *msg = lh_instance_error(r->inst);
    /* An append the host refused says more than the plugin's own "update failed". */
    if (r->epoch.error[0])
        msg = r->epoch.error;
    else if (r->batch.error[0])
        msg = r->batch.error;
    return lh_error_set(err, "plugin %s: %s: %s", lh_instance_desc(r->inst)->id, what,
                        msg[0] ? msg : "failed without a message");
}

/* Largest cat buffer a metric may declare (max_rows * row bytes): 16 GiB. */
#define LH_METRIC_CAT_MAX_BYTES (1ull << 34)

/* Copy the plugin's declarations into host-sized structs. The plugin's array has its own
 * stride (its struct_size: 40 bytes for ABI 1.0, more for later minors), and members it does not
 * know stay zero. Then check each one. */
static int copy_decls(lh_metric_run *r, const lhost_state_decl *pd, lh_error *err)
{
    const char *id = lh_instance_desc(r->inst)->id;
    const size_t v10 = offsetof(lhost_state_decl, init) + sizeof(double);
    uint32_t stride = r->n_decls ? pd->struct_size : 0, i;
    if (r->n_decls && stride < v10)
        return lh_error_set(err, "plugin %s: state_layout: lhost_state_decl.struct_size %u is "
                            "smaller than ABI 1.0's %zu", id, stride, v10);
    if (!(r->decls = calloc(r->n_decls + 1, sizeof *r->decls)))
        return lh_error_set(err, "metric %s: out of memory", r->key);
    for (i = 0; i < r->n_decls; i++) {
        const lhost_state_decl *d =
            (const lhost_state_decl *)(const void *)((const char *)pd + (size_t)i * stride);
        lhost_state_decl *h = &r->decls[i];
        size_t es;
        if (d->struct_size != stride)
            return lh_error_set(err, "plugin %s: state buffer %u: struct_size %u differs from "
                                "buffer 0's %u", id, i, d->struct_size, stride);
        memcpy(h, d, stride < sizeof *h ? stride : sizeof *h);
        h->struct_size = sizeof *h;
        es = lh_metric_run_dtype_size(h->dtype);
        if (!es || !h->name || h->reduction < LHOST_REDUCE_SUM ||
            h->reduction > LHOST_REDUCE_CAT ||
            (h->reduction != LHOST_REDUCE_CAT && h->length > (1u << 26)))
            return lh_error_set(err, "plugin %s: state buffer %u: bad dtype, reduction or length",
                                id, i);
        if (h->reduction == LHOST_REDUCE_CAT &&
            (h->length < 1 || h->length > (1u << 20) || h->max_rows < 1 ||
             h->max_rows > LH_METRIC_CAT_MAX_BYTES / (es * h->length)))
            return lh_error_set(err, "plugin %s: cat state \"%s\": expected a row width of "
                                "1..%u elements and 1 <= max_rows with max_rows * row bytes <= "
                                "%llu, got width %llu, max_rows %llu", id, h->name, 1u << 20,
                                LH_METRIC_CAT_MAX_BYTES, (unsigned long long)h->length,
                                (unsigned long long)h->max_rows);
    }
    return 0;
}

/* 64-byte aligned block of at least `bytes` (> 0) bytes. */
static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

/* "metric auroc: cat state "preds" would hold 1048577 rows, more than ..." into buf. */
static void bound_msg(char *buf, size_t len, const lh_metric_set *s, uint32_t i, uint64_t have,
                      uint64_t more)
{
    snprintf(buf, len, "metric %s: cat state \"%s\" would hold %llu + %llu rows, more than its "
             "declared maximum of %llu (max_rows)", s->key, s->decls[i].name,
             (unsigned long long)have, (unsigned long long)more,
             (unsigned long long)s->decls[i].max_rows);
}

/* Does cat buffer i of s have room under max_rows for `more` rows? */
static int within_bound(const lh_metric_set *s, uint32_t i, uint64_t more)
{
    return more <= s->decls[i].max_rows - s->rows[i];
}

/* Make room in cat buffer i of s for `need` rows (need <= max_rows): doubling, never past
 * max_rows. The message goes to s->error. */
static int grow(lh_metric_set *s, uint32_t i, uint64_t need)
{
    const lhost_state_decl *d = &s->decls[i];
    uint64_t cap = s->cap[i];
    void *nb;
    if (need <= cap)
        return 0;
    cap = cap * 2 > need ? cap * 2 : need;
    if (cap > d->max_rows)
        cap = d->max_rows;
    if (!(nb = alloc64(cap * row_bytes(d)))) {
        snprintf(s->error, sizeof s->error, "metric %s: cat state \"%s\": out of memory for "
                 "%llu rows", s->key, d->name, (unsigned long long)cap);
        return -1;
    }
    memcpy(nb, s->buf[i], s->rows[i] * row_bytes(d));
    free(s->buf[i]);
    s->buf[i] = nb;
    s->cap[i] = cap;
    return 0;
}

/* lhost_metric_state.append: the host made `st` as the first member of an lh_metric_set. */
static int32_t set_append(const lhost_metric_state *st, uint32_t i, const void *data,
                          uint64_t n_rows)
{
    lh_metric_set *s = (lh_metric_set *)(void *)(uintptr_t)st;
    if (i >= s->n || s->decls[i].reduction != LHOST_REDUCE_CAT) {
        snprintf(s->error, sizeof s->error, "metric %s: append to state buffer %u: not a cat "
                 "state (reduction LHOST_REDUCE_CAT)", s->key, i);
        return LHOST_ERROR;
    }
    if (!n_rows)
        return LHOST_OK;
    if (!data) {
        snprintf(s->error, sizeof s->error, "metric %s: append to cat state \"%s\": %llu rows "
                 "without data", s->key, s->decls[i].name, (unsigned long long)n_rows);
        return LHOST_ERROR;
    }
    if (!within_bound(s, i, n_rows)) {
        bound_msg(s->error, sizeof s->error, s, i, s->rows[i], n_rows);
        return LHOST_ERROR;
    }
    if (grow(s, i, s->rows[i] + n_rows))
        return LHOST_ERROR;
    memcpy((char *)s->buf[i] + s->rows[i] * row_bytes(&s->decls[i]), data,
           n_rows * row_bytes(&s->decls[i]));
    s->rows[i] += n_rows;
    return LHOST_OK;
}

int lh_metric_run_set_init(const lh_metric_run *r, lh_metric_set *s, lh_error *err)
{
    uint32_t i;
    memset(s, 0, sizeof *s);
    s->decls = r->decls;
    s->n = r->n_decls;
    snprintf(s->key, sizeof s->key, "%s", r->key);
    s->buf = calloc(s->n + 1, sizeof *s->buf);
    s->rows = calloc(s->n + 1, sizeof *s->rows);
    s->cap = calloc(s->n + 1, sizeof *s->cap);
    if (!s->buf || !s->rows || !s->cap)
        return lh_error_set(err, "metric %s: out of memory", r->key);
    for (i = 0; i < s->n; i++) {
        const lhost_state_decl *d = &s->decls[i];
        int cat = d->reduction == LHOST_REDUCE_CAT;
        /* a cat buffer starts with room for a few rows, so buffers[i] is never NULL */
        s->cap[i] = cat ? (d->max_rows < 64 ? d->max_rows : 64) : 1;
        s->rows[i] = cat ? 0 : 1;
        if (!(s->buf[i] = alloc64(cat ? s->cap[i] * row_bytes(d) : row_bytes(d))))
            return lh_error_set(err, "metric %s: out of memory", r->key);
    }
    s->pub.struct_size = sizeof s->pub;
    s->pub.count = s->n;
    s->pub.buffers = s->buf;
    s->pub.rows = s->rows;
    s->pub.append = set_append;
    lh_metric_run_set_reset(s);
    return 0;
}

void lh_metric_run_set_free(lh_metric_set *s)
{
    uint32_t i;
    for (i = 0; s->buf && i < s->n; i++)
        free(s->buf[i]);
    free(s->buf);
    free(s->rows);
    free(s->cap);
    memset(s, 0, sizeof *s);
}

int lh_metric_run_init(lh_metric_run *r, lh_instance *inst, lh_error *err)
{
    const lhost_param_values *pv = lh_instance_params(inst);
    const lhost_state_decl *pd = NULL;
    const char *name, *key = lh_instance_key(inst);
    memset(r, 0, sizeof *r);
    r->inst = inst;
    r->vt = lh_instance_metric(inst);
    /* The config key names the metric (`n: {plugin: x}` logs n) unless `name` is set. */
    name = lhost_param_string(pv, "name", NULL);
    if (!name)
        name = key && key[0] ? key : lh_instance_desc(inst)->name;
    snprintf(r->key, sizeof r->key, "%s", name);
    if (!r->vt || !r->vt->state_layout || !r->vt->update || !r->vt->compute)
        return lh_error_set(err, "plugin %s: metric lacks state_layout/update/compute",
                            lh_instance_desc(inst)->id);
    if (r->vt->state_layout(lh_instance_self(inst), &pd, &r->n_decls, &r->n_outputs))
        return plugin_failed(r, "state_layout", err);
    if (r->n_outputs < 1 || r->n_outputs > 65536 || r->n_decls > 1024 || (r->n_decls && !pd))
        return lh_error_set(err, "plugin %s: state_layout: bad layout (%u buffers, %u outputs)",
                            lh_instance_desc(inst)->id, r->n_decls, r->n_outputs);
    if (!(r->out = calloc(r->n_outputs, sizeof *r->out)))
        return lh_error_set(err, "metric %s: out of memory", r->key);
    if (copy_decls(r, pd, err) || lh_metric_run_set_init(r, &r->epoch, err) ||
        lh_metric_run_set_init(r, &r->batch, err))
        return -1;
    return 0;
}

void lh_metric_run_free(lh_metric_run *r)
{
    lh_metric_run_set_free(&r->epoch);
    lh_metric_run_set_free(&r->batch);
    free(r->decls);
    free(r->out);
    memset(r, 0, sizeof *r);
}

static void fill(void *buf, const lhost_state_decl *d)
{
    uint64_t k;
    for (k = 0; k < d->length; k++)
        switch (d->dtype) {
        case LHOST_DTYPE_F64: ((double *)buf)[k] = d->init; break;
        case LHOST_DTYPE_F32: ((float *)buf)[k] = (float)d->init; break;
        case LHOST_DTYPE_I64: ((int64_t *)buf)[k] = (int64_t)d->init; break;
        case LHOST_DTYPE_I32: ((int32_t *)buf)[k] = (int32_t)d->init; break;
        }
}

void lh_metric_run_set_reset(lh_metric_set *s)
{
    uint32_t i;
    for (i = 0; i < s->n; i++)
        if (s->decls[i].reduction == LHOST_REDUCE_CAT)
            s->rows[i] = 0; /* the storage stays for the next epoch */
        else
            fill(s->buf[i], &s->decls[i]);
    s->error[0] = '\0';
}

void lh_metric_run_reset(lh_metric_run *r)
{
    lh_metric_run_set_reset(&r->epoch);
    lh_metric_run_set_reset(&r->batch);
}

#define MERGE(T)                                                                        \
    do {                                                                                \
        T *a = dst;                                                                     \
        const T *b = src;                                                               \
        for (k = 0; k < d->length; k++)                                                 \
            a[k] = d->reduction == LHOST_REDUCE_SUM   ? a[k] + b[k]                     \
                   : d->reduction == LHOST_REDUCE_MAX ? (a[k] > b[k] ? a[k] : b[k])     \
                                                      : (a[k] < b[k] ? a[k] : b[k]);    \
    } while (0)

static void merge(const lhost_state_decl *d, void *dst, const void *src)
{
    uint64_t k;
    switch (d->dtype) {
    case LHOST_DTYPE_F64: MERGE(double); break;
    case LHOST_DTYPE_F32: MERGE(float); break;
    case LHOST_DTYPE_I64: MERGE(int64_t); break;
    case LHOST_DTYPE_I32: MERGE(int32_t); break;
    }
}

int lh_metric_run_reduce(lh_metric_set *dst, const lh_metric_set *src, lh_error *err)
{
    uint32_t i;
    if (dst->decls != src->decls || dst->n != src->n)
        return lh_error_set(err, "metric %s: reduce: the two states belong to different metrics",
                            dst->key);
    /* Room first, so a failure leaves dst's contents as they were. */
    for (i = 0; i < dst->n; i++) {
        char msg[sizeof dst->error];
        if (dst->decls[i].reduction != LHOST_REDUCE_CAT)
            continue;
        if (!within_bound(dst, i, src->rows[i])) {
            bound_msg(msg, sizeof msg, dst, i, dst->rows[i], src->rows[i]);
            return lh_error_set(err, "%s", msg);
        }
        if (grow(dst, i, dst->rows[i] + src->rows[i])) {
            lh_error_set(err, "%s", dst->error);
            dst->error[0] = '\0';
            return -1;
        }
    }
    for (i = 0; i < dst->n; i++) {
        const lhost_state_decl *d = &dst->decls[i];
        if (d->reduction != LHOST_REDUCE_CAT) {
            merge(d, dst->buf[i], src->buf[i]);
            continue;
        }
        memcpy((char *)dst->buf[i] + dst->rows[i] * row_bytes(d), src->buf[i],
               src->rows[i] * row_bytes(d));
        dst->rows[i] += src->rows[i];
    }
    return 0;
}

int lh_metric_run_update(lh_metric_run *r, const lhost_metric_batch *b, int32_t batch_value,
                         lh_error *err)
{
    void *self = lh_instance_self(r->inst);
    r->epoch.error[0] = r->batch.error[0] = '\0';
    if (!batch_value && !r->sync) {
        if (r->vt->update(self, r->inst, &r->epoch.pub, b))
            return plugin_failed(r, "update", err);
        return 0;
    }
    lh_metric_run_set_reset(&r->batch);
    /* A process whose share of the last batch is empty still takes part in the sync. */
    if (b->n > 0 && r->vt->update(self, r->inst, &r->batch.pub, b))
        return plugin_failed(r, "update", err);
    if (r->sync && r->sync(r, &r->batch, err))
        return -1;
    if (batch_value && r->vt->compute(self, r->inst, &r->batch.pub, r->out))
        return plugin_failed(r, "compute", err);
    return lh_metric_run_reduce(&r->epoch, &r->batch, err);
}

void *lh_metric_run_set_pack(const lh_metric_set *s, int64_t *n)
{
    uint64_t total = 0;
    uint32_t i;
    char *out, *p;
    for (i = 0; i < s->n; i++)
        total += 8 + s->rows[i] * row_bytes(&s->decls[i]);
    if (!(out = malloc(total ? (size_t)total : 1)))
        return NULL;
    for (p = out, i = 0; i < s->n; i++) {
        uint64_t bytes = s->rows[i] * row_bytes(&s->decls[i]);
        memcpy(p, &s->rows[i], 8);
        memcpy(p + 8, s->buf[i], (size_t)bytes);
        p += 8 + bytes;
    }
    *n = (int64_t)total;
    return out;
}

int lh_metric_run_set_unpack(lh_metric_set *s, const void *bytes, int64_t n, lh_error *err)
{
    const char *p = bytes, *end = p + n;
    uint32_t i;
    lh_metric_run_set_reset(s);
    for (i = 0; i < s->n; i++) {
        const lhost_state_decl *d = &s->decls[i];
        uint64_t rows, size;
        if (end - p < 8)
            return lh_error_set(err, "metric %s: a rank's state is truncated", s->key);
        memcpy(&rows, p, 8);
        p += 8;
        if (d->reduction != LHOST_REDUCE_CAT ? rows != 1 : !within_bound(s, i, rows))
            return lh_error_set(err, "metric %s: buffer %s: a rank sent %llu rows, expected %s",
                                s->key, d->name, (unsigned long long)rows,
                                d->reduction != LHOST_REDUCE_CAT ? "1" : "at most max_rows");
        size = rows * row_bytes(d);
        if ((uint64_t)(end - p) < size)
            return lh_error_set(err, "metric %s: a rank's state is truncated", s->key);
        if (d->reduction == LHOST_REDUCE_CAT && grow(s, i, rows)) {
            lh_error_set(err, "%s", s->error);
            s->error[0] = '\0';
            return -1;
        }
        memcpy(s->buf[i], p, (size_t)size);
        s->rows[i] = rows;
        p += size;
    }
    return 0;
}

int lh_metric_run_compute(lh_metric_run *r, lh_error *err)
{
    if (r->vt->compute(lh_instance_self(r->inst), r->inst, &r->epoch.pub, r->out))
        return plugin_failed(r, "compute", err);
    return 0;
}

void lh_metric_run_name(const lh_metric_run *r, const char *prefix, uint32_t k, char *buf,
                        size_t len)
{
    if (r->n_outputs == 1)
        snprintf(buf, len, "%s%s", prefix, r->key);
    else
        snprintf(buf, len, "%s%s_%u", prefix, r->key, k);
}

/* ---- checkpoint section ------------------------------------------------------------------ */

static const char *st_dtype(int32_t d)
{
    switch (d) {
    case LHOST_DTYPE_F64: return "F64";
    case LHOST_DTYPE_I64: return "I64";
    case LHOST_DTYPE_F32: return "F32";
    default: return "I32"; /* lh_metric_run_init admits no other */
    }
}

int lh_metric_run_ckpt_save_specs(const lh_metric_run *runs, int32_t n,
                                  lh_safetensors_writer *w, lh_error *err)
{
    cJSON *o = cJSON_CreateObject();
    int32_t i;
    uint32_t k;
    for (i = 0; i < n; i++) {
        const lh_instance *inst = runs[i].inst;
        const lhost_param_values *pv = lh_instance_params(inst);
        cJSON *m = cJSON_AddObjectToObject(o, lh_instance_key(inst));
        cJSON_AddStringToObject(m, "plugin", lh_instance_desc(inst)->name);
        for (k = 0; pv && k < pv->count; k++)
            if (pv->values[k].from_user && pv->values[k].s)
                cJSON_AddStringToObject(m, pv->values[k].name, pv->values[k].s);
    }
    return lh_safetensors_meta_json(w, "metrics", o, "metrics", err);
}

/* A cat buffer i of set s back from tensor `key` of f: (rows, length) of the declared dtype,
 * rows within max_rows. */
static int load_cat(lh_metric_set *s, uint32_t i, const lh_safetensors_file *f, const char *key,
                    lh_error *err)
{
    const lhost_state_decl *d = &s->decls[i];
    const void *src = lh_safetensors_find(f, key, st_dtype(d->dtype), -1, err);
    int32_t t = lh_safetensors_index(f, key);
    const int64_t *shape;
    if (!src)
        return -1;
    shape = lh_safetensors_shape(f, t);
    if (lh_safetensors_ndim(f, t) != 2 || shape[1] != (int64_t)d->length || shape[0] < 0)
        return lh_error_set(err, "checkpoint tensor \"%s\": expected shape (rows, %llu) of "
                            "metric %s's cat state \"%s\"", key, (unsigned long long)d->length,
                            s->key, d->name);
    s->rows[i] = 0;
    if (!within_bound(s, i, (uint64_t)shape[0])) {
        char msg[sizeof s->error];
        bound_msg(msg, sizeof msg, s, i, 0, (uint64_t)shape[0]);
        return lh_error_set(err, "checkpoint tensor \"%s\": %s", key, msg);
    }
    if (grow(s, i, (uint64_t)shape[0]))
        return lh_error_set(err, "%s", s->error);
    memcpy(s->buf[i], src, (size_t)shape[0] * row_bytes(d));
    s->rows[i] = (uint64_t)shape[0];
    return 0;
}

/* Every metric's epoch state as one tensor "metric.<key>.<buffer>" per buffer: to w when w is
 * set (a save), else back from f (a load), so both agree on names, dtypes and shapes. A fixed
 * buffer is written through the set's pointers, which a load leaves as they are; a cat buffer
 * is (rows, length) and a load resizes it. */
static int move_state(lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                      const lh_safetensors_file *f, lh_error *err)
{
    char key[512];
    int32_t i;
    uint32_t d;
    for (i = 0; i < n; i++)
        for (d = 0; d < runs[i].n_decls; d++) {
            const lhost_state_decl *dc = &runs[i].decls[d];
            lh_metric_set *s = &runs[i].epoch;
            const char *dtype = st_dtype(dc->dtype);
            int cat = dc->reduction == LHOST_REDUCE_CAT;
            int64_t shape[2] = {(int64_t)s->rows[d], (int64_t)dc->length};
            const void *src;
            snprintf(key, sizeof key, "metric.%s.%s", runs[i].key, dc->name);
            if (w) {
                if (lh_safetensors_add(w, key, dtype, cat ? 2 : 1, cat ? shape : shape + 1,
                                       s->buf[d], s->rows[d] * row_bytes(dc), err))
                    return -1;
            } else if (cat) {
                if (load_cat(s, d, f, key, err))
                    return -1;
            } else {
                if (!(src = lh_safetensors_find(f, key, dtype, (int64_t)dc->length, err)))
                    return -1;
                memcpy(s->buf[d], src, row_bytes(dc));
            }
        }
    return 0;
}

int lh_metric_run_ckpt_save(const lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                            lh_error *err)
{
    /* a save changes nothing: move_state only reads the sets when w is set */
    return move_state((lh_metric_run *)(uintptr_t)runs, n, w, NULL, err);
}

int lh_metric_run_ckpt_load(lh_metric_run *runs, int32_t n, const lh_safetensors_file *f,
                            lh_error *err)
{
    return move_state(runs, n, NULL, f, err);
}
