/* host/nn/model_tensors.c — the model's parameters, gradients and optimizer-state tensors one
 * at a time, and gradient norms, scaling and clipping as torch.nn.utils computes them.
 *
 * Reading or writing one tensor is one download or upload of it; buffers (batch norm's running
 * statistics, batch counts) the same. Norms, scaling and clipping run on the device through the
 * backend's norm_partials, scale and clamp ops: a norm brings back one double per tensor
 * (sum |g|^p, accumulated in double), the rest stays on the device. Nothing runs unless a
 * plugin or the trainer's gradient_clip_val asks (bench/README.md gives the cost per call). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "model.h"

static int backend_failed(const lh_model *m, const char *what, lh_error *err)
{
    return lh_error_set(err, "%s backend: %s: %s", m->be->name, what,
                        m->be->last_error(m->bctx));
}

int lh_model_tensor_find(const lh_model *m, const char *name)
{
    int32_t i;
    for (i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

int lh_model_tensor_read(const lh_model *m, const lh_dmem *buf, int32_t i, float *dst,
                         lh_error *err)
{
    const lh_param_info *p = &m->params[i];
    if (m->be->download(m->bctx, dst, lh_dmem_at((lh_dmem *)buf, (size_t)p->offset * 4),
                        (size_t)p->numel * 4))
        return backend_failed(m, "download", err);
    return 0;
}

int lh_model_tensor_write(lh_model *m, int32_t i, const float *src, lh_error *err)
{
    const lh_param_info *p = &m->params[i];
    if (m->be->upload(m->bctx, lh_dmem_at(m->param, (size_t)p->offset * 4), src,
                      (size_t)p->numel * 4))
        return backend_failed(m, "upload", err);
    return 0;
}

/* clip_grad_norm_'s norms from the backend's per-tensor partial sums (sum |g|^p, or max |g|
 * for p = inf): each tensor's p-norm, and the total, the p-norm of those norms. Only the
 * n_params scalars leave the device. */
static int norms(const lh_model *m, double p, double *per_tensor, double *total, lh_error *err)
{
    int64_t bounds[LH_MAX_PARAMS + 1];
    double part[LH_MAX_PARAMS], acc = 0;
    int32_t i;
    for (i = 0; i < m->n_params; i++)
        bounds[i] = m->params[i].offset;
    bounds[m->n_params] = m->total_params;
    if (m->be->norm_partials(m->bctx, m->n_params, bounds, m->grad, p, part))
        return backend_failed(m, "norm_partials", err);
    for (i = 0; i < m->n_params; i++) {
        double v = isinf(p) ? part[i]
                   : p == 2 ? sqrt(part[i])
                   : p == 1 ? part[i]
                            : pow(part[i], 1.0 / p);
        if (per_tensor)
            per_tensor[i] = v;
        acc = isinf(p) ? fmax(acc, v) : acc + (p == 2 ? v * v : pow(v, p));
    }
    *total = isinf(p) ? acc : p == 2 ? sqrt(acc) : pow(acc, 1.0 / p);
    return 0;
}

int lh_model_grad_norm(const lh_model *m, double p, double *per_tensor, double *total,
                       lh_error *err)
{
    double t;
    if (norms(m, p, per_tensor, &t, err))
        return -1;
    if (total)
        *total = t;
    return 0;
}

int lh_model_grad_scale(lh_model *m, double factor, lh_error *err)
{
    if (m->be->scale(m->bctx, m->total_params, (float)factor, m->grad))
        return backend_failed(m, "scale", err);
    return 0;
}

int lh_model_clip_grad_norm(lh_model *m, double max_norm, double p, double *total,
                            lh_error *err)
{
    double t, coef;
    if (norms(m, p, NULL, &t, err))
        return -1;
    if (total)
        *total = t;
    /* As torch: clip_coef = max_norm / (total + 1e-6), clamped to 1 (then a no-op). */
    coef = max_norm / (t + 1e-6);
    if (coef >= 1.0)
        return 0;
    return lh_model_grad_scale(m, coef, err);
}

int lh_model_clip_grad_value(lh_model *m, double clip_value, lh_error *err)
{
    float c = (float)clip_value;
    if (m->be->clamp(m->bctx, m->total_params, -c, c, m->grad))
        return backend_failed(m, "clamp", err);
    return 0;
}

int32_t lh_model_buffer_count(const lh_model *m)
{
    int32_t i, n = 0;
    for (i = 0; i < m->n_buffers; i++)
        n += m->buffers[i].persistent != 0;
    for (i = 0; i < m->spec.n_layers; i++)
        n += lh_layer_kind_of(m->spec.layers[i].type)->counts_batches != 0;
    return n;
}

int lh_model_buffer_get(const lh_model *m, int32_t index, lh_model_buffer *out)
{
    int32_t i, k, n = 0;
    for (i = 0; i < m->spec.n_layers; i++) {
        const lh_layer_plan *p = &m->plan[i];
        for (k = p->buf0; k < p->buf0 + p->n_buf; k++) {
            if (!m->buffers[k].persistent || n++ != index)
                continue;
            memset(out, 0, sizeof *out);
            memcpy(out->name, m->buffers[k].name, sizeof out->name);
            out->layer = i;
            out->numel = m->buffers[k].numel;
            out->offset = m->buffers[k].offset;
            return 0;
        }
        if (lh_layer_kind_of(m->spec.layers[i].type)->counts_batches && n++ == index) {
            memset(out, 0, sizeof *out);
            snprintf(out->name, sizeof out->name, "%s.num_batches_tracked",
                     m->spec.layers[i].name);
            out->is_count = 1;
            out->layer = i;
            out->numel = 1;
            return 0;
        }
    }
    return -1;
}

int lh_model_buffer_read(const lh_model *m, int32_t index, void *dst, lh_error *err)
{
    lh_model_buffer b;
    if (lh_model_buffer_get(m, index, &b))
        return lh_error_set(err, "model: no buffer %d", (int)index);
    if (b.is_count) {
        memcpy(dst, &m->batches_tracked[b.layer], 8);
        return 0;
    }
    if (m->be->download(m->bctx, dst, lh_dmem_at(m->buf, (size_t)b.offset * 4),
                        (size_t)b.numel * 4))
        return backend_failed(m, "download", err);
    return 0;
}

int lh_model_buffer_write(lh_model *m, int32_t index, const void *src, lh_error *err)
{
    lh_model_buffer b;
    if (lh_model_buffer_get(m, index, &b))
        return lh_error_set(err, "model: no buffer %d", (int)index);
    if (b.is_count) {
        memcpy(&m->batches_tracked[b.layer], src, 8);
        return 0;
    }
    if (m->be->upload(m->bctx, lh_dmem_at(m->buf, (size_t)b.offset * 4), src,
                      (size_t)b.numel * 4))
        return backend_failed(m, "upload", err);
    return 0;
}

int lh_model_update_bn(lh_model *m, int32_t start, lh_error *err)
{
    m->bn_cumulative = 0;
    if (!start)
        return 0;
    if (lh_model_reset_buffers(m, err))
        return -1;
    m->bn_cumulative = 1;
    return 0;
}
