/* host/nn/model_ckpt.c — the model's checkpoint section (see model_ckpt.h), through the model's
 * public parameter table (model.h) only. */
#include "model_ckpt.h"

#include "layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "[d0, d1, ...]" into buf. */
static void shape_text(char *buf, size_t len, int32_t ndim, const int64_t *shape)
{
    size_t at = 0;
    int32_t i;
    at += (size_t)snprintf(buf, len, "[");
    for (i = 0; i < ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* The same element count is not enough: a transposed fc.weight or a flattened conv weight has
 * it too and would load as scrambled weights. The shape must be the parameter's exactly. */
static int check_shape(const lh_safetensors_file *f, const char *key, const lh_param_info *p,
                       lh_error *err)
{
    int32_t i = lh_safetensors_index(f, key), nd = lh_safetensors_ndim(f, i), d;
    const int64_t *shape = lh_safetensors_shape(f, i);
    char have[160], want[160];
    int same = nd == p->ndim;
    for (d = 0; same && d < nd; d++)
        same = shape[d] == p->shape[d];
    if (same)
        return 0;
    shape_text(have, sizeof have, nd, shape);
    shape_text(want, sizeof want, p->ndim, p->shape);
    return lh_error_set(err, "tensor \"%s\": shape %s (expected %s, the model's)", key, have,
                        want);
}

/* A save (from set): the model's buffer `from` to w as one tensor "<prefix><param name>" per
 * parameter; a load (from NULL): those tensors of f into `to`. Both go through one host copy
 * of the whole buffer, so save and load cannot disagree on names, order or messages. A
 * `partial` load takes only the tensors f has; the others keep `to`'s values. */
static int move_buffer(const lh_model *m, const lh_dmem *from, lh_dmem *to, const char *prefix,
                       lh_safetensors_writer *w, const lh_safetensors_file *f, int32_t partial,
                       lh_error *err)
{
    size_t bytes = (size_t)m->total_params * 4;
    float *host = malloc(bytes ? bytes : 1);
    char key[256];
    int32_t i;
    int rc = -1;
    if (!host)
        return lh_error_set(err, "model: out of memory for %zu bytes of %s", bytes,
                            prefix[0] ? prefix : "weights");
    if ((from || partial) && m->be->download(m->bctx, host, from ? from : to, bytes)) {
        lh_error_set(err, "%s backend: download: %s", m->be->name, m->be->last_error(m->bctx));
        goto done;
    }
    for (i = 0; i < m->n_params; i++) {
        const lh_param_info *p = &m->params[i];
        const void *src;
        snprintf(key, sizeof key, "%s%s", prefix, p->name);
        if (from) {
            if (lh_safetensors_add(w, key, "F32", p->ndim, p->shape, host + p->offset,
                                   (uint64_t)p->numel * 4, err))
                goto done;
        } else if (!partial || lh_safetensors_index(f, key) >= 0) {
            if (!(src = lh_safetensors_find(f, key, "F32", p->numel, err)) ||
                check_shape(f, key, p, err))
                goto done;
            memcpy(host + p->offset, src, (size_t)p->numel * 4);
        }
    }
    if (!from && m->be->upload(m->bctx, to, host, bytes)) {
        lh_error_set(err, "%s backend: upload: %s", m->be->name, m->be->last_error(m->bctx));
        goto done;
    }
    rc = 0;
done:
    free(host);
    return rc;
}

int lh_model_ckpt_save_buffer(const lh_model *m, const lh_dmem *buf, const char *prefix,
                              lh_safetensors_writer *w, lh_error *err)
{
    return move_buffer(m, buf, NULL, prefix, w, NULL, 0, err);
}

int lh_model_ckpt_load_buffer(const lh_model *m, lh_dmem *buf, const char *prefix,
                              const lh_safetensors_file *f, lh_error *err)
{
    return move_buffer(m, NULL, buf, prefix, NULL, f, 0, err);
}

/* The model's persistent buffers (F32, shape (numel)) and its batch counts (I64 scalars,
 * "<layer>.num_batches_tracked", as PyTorch keeps them): saved (w set) or loaded (f set). A
 * model without them (no batchnorm: every checkpoint before them) moves nothing. A `partial`
 * load takes only those f has. */
static int move_state(lh_model *m, lh_safetensors_writer *w, const lh_safetensors_file *f,
                      int32_t partial, lh_error *err)
{
    size_t bytes = (size_t)m->total_buffers * 4;
    float *host = malloc(bytes ? bytes : 1);
    char key[256];
    int32_t i;
    int rc = -1;
    if (!host)
        return lh_error_set(err, "model: out of memory for %zu bytes of buffers", bytes);
    /* a load downloads too: the buffers that are not saved keep their values */
    if (bytes && m->be->download(m->bctx, host, m->buf, bytes)) {
        lh_error_set(err, "%s backend: download: %s", m->be->name, m->be->last_error(m->bctx));
        goto done;
    }
    for (i = 0; i < m->n_buffers; i++) {
        const lh_buffer_info *b = &m->buffers[i];
        const void *src;
        if (!b->persistent || (f && partial && lh_safetensors_index(f, b->name) < 0))
            continue;
        if (w) {
            if (lh_safetensors_add(w, b->name, "F32", 1, &b->numel, host + b->offset,
                                   (uint64_t)b->numel * 4, err))
                goto done;
        } else {
            if (!(src = lh_safetensors_find(f, b->name, "F32", b->numel, err)))
                goto done;
            memcpy(host + b->offset, src, (size_t)b->numel * 4);
        }
    }
    for (i = 0; i < m->spec.n_layers; i++) {
        const void *src;
        if (!lh_layer_kind_of(m->spec.layers[i].type)->counts_batches)
            continue;
        snprintf(key, sizeof key, "%s.num_batches_tracked", m->spec.layers[i].name);
        if (f && partial && lh_safetensors_index(f, key) < 0)
            continue;
        if (w) {
            if (lh_safetensors_add(w, key, "I64", 0, NULL, &m->batches_tracked[i], 8, err))
                goto done;
        } else {
            if (!(src = lh_safetensors_find(f, key, "I64", 1, err)))
                goto done;
            memcpy(&m->batches_tracked[i], src, 8);
        }
    }
    if (f && bytes && m->be->upload(m->bctx, m->buf, host, bytes)) {
        lh_error_set(err, "%s backend: upload: %s", m->be->name, m->be->last_error(m->bctx));
        goto done;
    }
    rc = 0;
done:
    free(host);
    return rc;
}

int lh_model_ckpt_save(const lh_model *m, lh_safetensors_writer *w, lh_error *err)
{
    char *spec = lh_model_spec_to_json(&m->spec);
    int rc;
    if (!spec)
        return lh_error_set(err, "model: out of memory for its spec");
    rc = lh_model_ckpt_save_buffer(m, m->param, "", w, err) ||
         move_state((lh_model *)m, w, NULL, 0, err) ||
         lh_safetensors_meta(w, "model_spec", spec, err);
    free(spec);
    return rc ? -1 : 0;
}

int lh_model_ckpt_read_spec(const lh_safetensors_file *f, lh_model_spec *spec, lh_error *err)
{
    const char *js = lh_safetensors_meta_get(f, "model_spec");
    if (!js)
        return lh_error_set(err, "metadata `model_spec` missing");
    return lh_model_spec_from_json(js, spec, err);
}

int lh_model_ckpt_load(lh_model *m, const lh_safetensors_file *f, lh_error *err)
{
    lh_model_spec *theirs = malloc(sizeof *theirs);
    char *a = NULL, *b = NULL;
    int rc = -1;
    if (!theirs)
        return lh_error_set(err, "model: out of memory for a spec");
    if (lh_model_ckpt_read_spec(f, theirs, err))
        goto done;
    /* Compared as this version writes both, so an older checkpoint's spacing or key order
     * does not matter, only what the spec says. */
    a = lh_model_spec_to_json(&m->spec);
    b = lh_model_spec_to_json(theirs);
    if (!a || !b || strcmp(a, b) != 0) {
        lh_error_set(err, "its model differs from the config's model");
        goto done;
    }
    rc = lh_model_ckpt_load_weights(m, f, 0, err);
done:
    free(a);
    free(b);
    free(theirs);
    return rc;
}

int lh_model_ckpt_load_weights(lh_model *m, const lh_safetensors_file *f, int32_t partial,
                               lh_error *err)
{
    return move_buffer(m, NULL, m->param, "", NULL, f, partial, err) ||
                   move_state(m, NULL, f, partial, err)
               ? -1
               : 0;
}

int32_t lh_model_ckpt_n_keys(const lh_model *m)
{
    int32_t i, n = m->n_params;
    for (i = 0; i < m->n_buffers; i++)
        n += m->buffers[i].persistent != 0;
    for (i = 0; i < m->spec.n_layers; i++)
        n += lh_layer_kind_of(m->spec.layers[i].type)->counts_batches != 0;
    return n;
}

/* In the order the checkpoint writes them: parameters, persistent buffers, batch counts. */
const char *lh_model_ckpt_key(const lh_model *m, int32_t k, char *buf, size_t len)
{
    int32_t i;
    if (k < m->n_params)
        return m->params[k].name;
    k -= m->n_params;
    for (i = 0; i < m->n_buffers; i++)
        if (m->buffers[i].persistent && k-- == 0)
            return m->buffers[i].name;
    for (i = 0; i < m->spec.n_layers; i++)
        if (lh_layer_kind_of(m->spec.layers[i].type)->counts_batches && k-- == 0) {
            snprintf(buf, len, "%s.num_batches_tracked", m->spec.layers[i].name);
            return buf;
        }
    return NULL;
}
