/* host/store/safetensors_write.c — build a safetensors file in memory and write it atomically.
 * Layout rules are in safetensors.h; the JSON header is made with cJSON. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "atomic.h"
#include "strmap.h"

typedef struct st_entry {
    char *name;
    char dtype[16];
    int32_t size; /* bytes per element */
    int32_t ndim;
    int64_t *shape; /* ndim entries (NULL when ndim is 0) */
    void *data;     /* nbytes, owned; NULL when nbytes is 0 */
    uint64_t nbytes;
} st_entry;

struct lh_safetensors_writer {
    st_entry *t;
    int32_t n, cap;
    lh_strmap meta;
};

lh_safetensors_writer *lh_safetensors_writer_new(void)
{
    return calloc(1, sizeof(lh_safetensors_writer));
}

void lh_safetensors_writer_free(lh_safetensors_writer *w)
{
    if (!w)
        return;
    for (int32_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].shape);
        free(w->t[i].data);
    }
    free(w->t);
    lh_strmap_free(&w->meta);
    free(w);
}

int lh_safetensors_add(lh_safetensors_writer *w, const char *name, const char *dtype, int32_t ndim,
              const int64_t *shape, const void *data, uint64_t nbytes, lh_error *err)
{
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return lh_error_set(err, "safetensors: tensor name \"%s\" is reserved or empty (expected a "
                            "non-empty name other than __metadata__)", name ? name : "");
    for (int32_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return lh_error_set(
                err, "safetensors: tensor \"%s\" added twice (expected unique names)", name);
    int32_t size = dtype ? lh_safetensors_dtype_size(dtype) : 0;
    if (size == 0)
        return lh_error_set(err,
                            "safetensors: tensor \"%s\": unknown dtype \"%s\" (expected F32, F64, "
                            "F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL)",
                            name, dtype ? dtype : "");
    if (ndim < 0 || (ndim > 0 && !shape))
        return lh_error_set(
            err, "safetensors: tensor \"%s\": ndim %" PRId32 " (expected >= 0 with a shape)", name,
            ndim);
    uint64_t elems = 1;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return lh_error_set(err, "safetensors: tensor \"%s\": dimension %" PRId32 " is %" PRId64
                                " (expected >= 0)", name, d, shape[d]);
        if (__builtin_mul_overflow(elems, (uint64_t)shape[d], &elems))
            return lh_error_set(err, "safetensors: tensor \"%s\": element count overflows", name);
    }
    uint64_t want;
    if (__builtin_mul_overflow(elems, (uint64_t)size, &want) || want != nbytes)
        return lh_error_set(err, "safetensors: tensor \"%s\": %" PRIu64 " bytes given for %" PRIu64
                            " elements of %s (expected %" PRIu64 ")", name, nbytes, elems, dtype,
                            elems * (uint64_t)size);
    if (nbytes > 0 && !data)
        return lh_error_set(err,
                            "safetensors: tensor \"%s\": data is NULL (expected %" PRIu64 " bytes)",
                            name, nbytes);
    st_entry *t = lh_array_grow(w->t, w->n, &w->cap, 16, sizeof *t);
    if (!t)
        return lh_error_set(err, "safetensors: out of memory");
    w->t = t;
    st_entry e = {.size = size, .ndim = ndim, .nbytes = nbytes};
    snprintf(e.dtype, sizeof e.dtype, "%s", dtype);
    e.name = strdup(name);
    e.shape = ndim ? malloc((size_t)ndim * sizeof(int64_t)) : NULL;
    e.data = nbytes ? malloc(nbytes) : NULL;
    if (!e.name || (ndim && !e.shape) || (nbytes && !e.data)) {
        free(e.name);
        free(e.shape);
        free(e.data);
        return lh_error_set(err, "safetensors: tensor \"%s\": out of memory (%" PRIu64 " bytes)",
                            name, nbytes);
    }
    if (ndim)
        memcpy(e.shape, shape, (size_t)ndim * sizeof(int64_t));
    if (nbytes)
        memcpy(e.data, data, nbytes);
    w->t[w->n++] = e;
    return 0;
}

int lh_safetensors_meta(lh_safetensors_writer *w, const char *key, const char *value, lh_error *err)
{
    if (!key || !*key || !value)
        return lh_error_set(
            err, "safetensors: metadata key \"%s\": expected a non-empty key and a value",
            key ? key : "");
    if (lh_strmap_find(&w->meta, key) >= 0)
        return lh_error_set(err, "safetensors: metadata key \"%s\" set twice (expected unique "
                            "keys)", key);
    if (lh_strmap_put(&w->meta, key, value))
        return lh_error_set(err, "safetensors: out of memory");
    return 0;
}

int lh_safetensors_meta_json(lh_safetensors_writer *w, const char *key, cJSON *value,
                             const char *what, lh_error *err)
{
    char *s = cJSON_PrintUnformatted(value);
    int rc;
    cJSON_Delete(value);
    if (!s)
        return lh_error_set(err, "%s: out of memory", what);
    rc = lh_safetensors_meta(w, key, s, err);
    cJSON_free(s);
    return rc;
}

/* Data offsets: 8-byte dtypes first, then 4, 2, 1, insertion order within a group, so each
 * tensor starts at a multiple of its element size. Fills begin[i]; returns the data length. */
static uint64_t layout(const lh_safetensors_writer *w, uint64_t *begin)
{
    uint64_t off = 0;
    for (int32_t size = 8; size >= 1; size /= 2)
        for (int32_t i = 0; i < w->n; i++)
            if (w->t[i].size == size) {
                begin[i] = off;
                off += w->t[i].nbytes;
            }
    return off;
}

static cJSON *raw_u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* The JSON header padded with spaces to a multiple of 8 (malloc'd, *len without NUL). */
static char *make_header(const lh_safetensors_writer *w, const uint64_t *begin, uint64_t *len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (w->meta.n > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int32_t i = 0; meta && i < w->meta.n; i++)
            if (!cJSON_AddStringToObject(meta, w->meta.items[i].key, w->meta.items[i].value))
                meta = NULL;
        if (!meta)
            goto fail;
    }
    for (int32_t i = 0; i < w->n; i++) {
        const st_entry *e = &w->t[i];
        cJSON *o = cJSON_AddObjectToObject(root, e->name), *shape = NULL;
        if (!o || !cJSON_AddStringToObject(o, "dtype", e->dtype) ||
            !(shape = cJSON_AddArrayToObject(o, "shape")))
            goto fail;
        for (int32_t d = 0; d < e->ndim; d++) {
            cJSON *v = raw_u64((uint64_t)e->shape[d]);
            if (!v || !cJSON_AddItemToArray(shape, v))
                goto fail;
        }
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON *b = raw_u64(begin[i]), *x = raw_u64(begin[i] + e->nbytes);
        if (!offs || !b || !cJSON_AddItemToArray(offs, b) || !x || !cJSON_AddItemToArray(offs, x))
            goto fail;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return NULL;
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *len = padded;
    return out;
fail:
    cJSON_Delete(root);
    return NULL;
}

typedef int (*sink_fn)(void *ctx, const void *p, uint64_t n, lh_error *err);

/* Produce the file's bytes, in order, through `sink`. Errors start with `label`. */
static int emit(const lh_safetensors_writer *w, const char *label, sink_fn sink, void *ctx,
                lh_error *err)
{
    uint64_t *begin = calloc((size_t)w->n + 1, sizeof *begin);
    if (!begin)
        return lh_error_set(err, "%s: out of memory", label);
    layout(w, begin);
    uint64_t hlen = 0;
    char *header = make_header(w, begin, &hlen);
    free(begin);
    if (!header)
        return lh_error_set(err, "%s: out of memory building the header", label);
    uint8_t le[8];
    for (int b = 0; b < 8; b++)
        le[b] = (uint8_t)(hlen >> (8 * b));
    int rc = sink(ctx, le, 8, err) || sink(ctx, header, hlen, err) ? -1 : 0;
    free(header);
    for (int32_t size = 8; rc == 0 && size >= 1; size /= 2)
        for (int32_t i = 0; rc == 0 && i < w->n; i++)
            if (w->t[i].size == size && w->t[i].nbytes)
                rc = sink(ctx, w->t[i].data, w->t[i].nbytes, err);
    return rc;
}

static int sink_file(void *ctx, const void *p, uint64_t n, lh_error *err)
{
    return lh_atomic_put(ctx, p, (size_t)n, err);
}

/* host/atomic.c messages start with the path: make them "checkpoint PATH: ...". */
static int checkpoint_error(lh_error *err)
{
    if (!err)
        return -1;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    return lh_error_set(err, "checkpoint %s", old);
}

int lh_safetensors_write_atomic(const lh_safetensors_writer *w, const char *path, lh_error *err)
{
    lh_atomic_file f;
    if (lh_atomic_open(&f, path, err))
        return checkpoint_error(err);
    if (emit(w, path, sink_file, &f, err) || lh_atomic_commit(&f, err)) {
        lh_atomic_abort(&f);
        return checkpoint_error(err);
    }
    return 0;
}

typedef struct membuf {
    uint8_t *p;
    uint64_t len, cap;
} membuf;

static int sink_mem(void *ctx, const void *p, uint64_t n, lh_error *err)
{
    membuf *m = ctx;
    if (m->len + n > m->cap) {
        uint64_t cap = m->cap ? m->cap : 256;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *q = realloc(m->p, (size_t)cap);
        if (!q)
            return lh_error_set(err, "safetensors: out of memory (%" PRIu64 " bytes)", cap);
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->len, p, (size_t)n);
    m->len += n;
    return 0;
}

int lh_safetensors_serialize(const lh_safetensors_writer *w, uint8_t **out, uint64_t *out_len,
                             lh_error *err)
{
    membuf m = {0};
    if (emit(w, "safetensors", sink_mem, &m, err)) {
        free(m.p);
        return -1;
    }
    *out = m.p;
    *out_len = m.len;
    return 0;
}
