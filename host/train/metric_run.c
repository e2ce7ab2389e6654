/* host/train/metric_run.c — host-allocated metric state, reset/merge by declared reduction, and
 * its checkpoint section. */
#include "metric_run.h"

#include <cjson/cJSON.h>
#include <math.h>
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

static int plugin_failed(const lh_metric_run *r, const char *what, lh_error *err)
{
    const char *msg = lh_instance_error(r->inst);
    return lh_error_set(err, "plugin %s: %s: %s", lh_instance_desc(r->inst)->id, what,
                        msg[0] ? msg : "failed without a message");
}

int lh_metric_run_init(lh_metric_run *r, lh_instance *inst, lh_error *err)
{
    const lhost_param_values *pv = lh_instance_params(inst);
    const char *name;
    uint32_t i;
    memset(r, 0, sizeof *r);
    r->inst = inst;
    r->vt = lh_instance_metric(inst);
    name = lhost_param_string(pv, "name", NULL);
    snprintf(r->key, sizeof r->key, "%s", name ? name : lh_instance_desc(inst)->name);
    if (!r->vt || !r->vt->state_layout || !r->vt->update || !r->vt->compute)
        return lh_error_set(err, "plugin %s: metric lacks state_layout/update/compute",
                            lh_instance_desc(inst)->id);
    if (r->vt->state_layout(lh_instance_self(inst), &r->decls, &r->n_decls, &r->n_outputs))
        return plugin_failed(r, "state_layout", err);
    if (r->n_outputs < 1 || r->n_outputs > 65536 || r->n_decls > 1024 ||
        (r->n_decls && !r->decls))
        return lh_error_set(err, "plugin %s: state_layout: bad layout (%u buffers, %u outputs)",
                            lh_instance_desc(inst)->id, r->n_decls, r->n_outputs);
    r->bytes = calloc(r->n_decls + 1, sizeof *r->bytes);
    r->epoch_buf = calloc(r->n_decls + 1, sizeof *r->epoch_buf);
    r->batch_buf = calloc(r->n_decls + 1, sizeof *r->batch_buf);
    r->out = calloc(r->n_outputs, sizeof *r->out);
    if (!r->bytes || !r->epoch_buf || !r->batch_buf || !r->out)
        return lh_error_set(err, "metric %s: out of memory", r->key);
    for (i = 0; i < r->n_decls; i++) {
        const lhost_state_decl *d = &r->decls[i];
        size_t es = lh_metric_run_dtype_size(d->dtype);
        if (!es || d->length > (1u << 26) || d->reduction < LHOST_REDUCE_SUM ||
            d->reduction > LHOST_REDUCE_MIN || !d->name)
            return lh_error_set(err, "plugin %s: state buffer %u: bad dtype, reduction or length",
                                lh_instance_desc(inst)->id, i);
        r->bytes[i] = es * d->length;
        r->epoch_buf[i] = aligned_alloc(64, (r->bytes[i] + 63) / 64 * 64 + 64);
        r->batch_buf[i] = aligned_alloc(64, (r->bytes[i] + 63) / 64 * 64 + 64);
        if (!r->epoch_buf[i] || !r->batch_buf[i])
            return lh_error_set(err, "metric %s: out of memory", r->key);
    }
    r->epoch_state.struct_size = r->batch_state.struct_size = sizeof(lhost_metric_state);
    r->epoch_state.count = r->batch_state.count = r->n_decls;
    r->epoch_state.buffers = r->epoch_buf;
    r->batch_state.buffers = r->batch_buf;
    lh_metric_run_reset(r);
    return 0;
}

void lh_metric_run_free(lh_metric_run *r)
{
    uint32_t i;
    for (i = 0; r->epoch_buf && i < r->n_decls; i++) {
        free(r->epoch_buf[i]);
        free(r->batch_buf[i]);
    }
    free(r->epoch_buf);
    free(r->batch_buf);
    free(r->bytes);
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

static void reset_set(lh_metric_run *r, void **bufs)
{
    uint32_t i;
    for (i = 0; i < r->n_decls; i++)
        fill(bufs[i], &r->decls[i]);
}

void lh_metric_run_reset(lh_metric_run *r)
{
    reset_set(r, r->epoch_buf);
    reset_set(r, r->batch_buf);
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

int lh_metric_run_update(lh_metric_run *r, const lhost_metric_batch *b, int32_t batch_value,
                         lh_error *err)
{
    void *self = lh_instance_self(r->inst);
    uint32_t i;
    if (!batch_value) {
        if (r->vt->update(self, r->inst, &r->epoch_state, b))
            return plugin_failed(r, "update", err);
        return 0;
    }
    reset_set(r, r->batch_buf);
    if (r->vt->update(self, r->inst, &r->batch_state, b))
        return plugin_failed(r, "update", err);
    if (r->vt->compute(self, r->inst, &r->batch_state, r->out))
        return plugin_failed(r, "compute", err);
    for (i = 0; i < r->n_decls; i++)
        merge(&r->decls[i], r->epoch_buf[i], r->batch_buf[i]);
    return 0;
}

int lh_metric_run_compute(lh_metric_run *r, lh_error *err)
{
    if (r->vt->compute(lh_instance_self(r->inst), r->inst, &r->epoch_state, r->out))
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

/* Every metric's epoch state as one tensor "metric.<key>.<buffer>" per buffer: to w when w is
 * set (a save), else back from f (a load), so both agree on names, dtypes and lengths. The
 * buffers are written through runs' pointers, which a load leaves as they are. */
static int move_state(const lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                      const lh_safetensors_file *f, lh_error *err)
{
    char key[512];
    int32_t i;
    uint32_t d;
    for (i = 0; i < n; i++)
        for (d = 0; d < runs[i].n_decls; d++) {
            const char *dtype = st_dtype(runs[i].decls[d].dtype);
            int64_t len = (int64_t)runs[i].decls[d].length;
            const void *src;
            snprintf(key, sizeof key, "metric.%s.%s", runs[i].key, runs[i].decls[d].name);
            if (w) {
                if (lh_safetensors_add(w, key, dtype, 1, &len, runs[i].epoch_buf[d],
                                       runs[i].bytes[d], err))
                    return -1;
            } else {
                if (!(src = lh_safetensors_find(f, key, dtype, len, err)))
                    return -1;
                memcpy(runs[i].epoch_buf[d], src, runs[i].bytes[d]);
            }
        }
    return 0;
}

int lh_metric_run_ckpt_save(const lh_metric_run *runs, int32_t n, lh_safetensors_writer *w,
                            lh_error *err)
{
    return move_state(runs, n, w, NULL, err);
}

int lh_metric_run_ckpt_load(lh_metric_run *runs, int32_t n, const lh_safetensors_file *f,
                            lh_error *err)
{
    return move_state(runs, n, NULL, f, err);
}
