/* host/nn/model_tensors.c — the model's parameters, gradients and optimizer-state tensors one
 * at a time, and gradient norms, scaling and clipping as torch.nn.utils computes them.
 *
 * Every function moves data with the backend's upload/download only, so the CPU and the CUDA
 * backend give the same results (the arithmetic is here, on the host, in double). A call copies
 * the tensors it touches: reading one tensor is one download of it; a norm downloads all the
 * gradients once; scale and clip download them and upload them back. Nothing runs unless a
 * plugin or the trainer's gradient_clip_val asks (bench/README.md gives the cost per call). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* All gradients into a new host buffer (total_params floats); NULL with err set. */
static float *grads_download(const lh_model *m, lh_error *err)
{
    float *g = malloc((size_t)m->total_params * 4 + 4);
    if (!g) {
        lh_error_set(err, "out of memory for %lld gradients", (long long)m->total_params);
        return NULL;
    }
    if (m->be->download(m->bctx, g, m->grad, (size_t)m->total_params * 4)) {
        backend_failed(m, "download", err);
        free(g);
        return NULL;
    }
    return g;
}

static int grads_upload(lh_model *m, float *g, lh_error *err)
{
    int rc = m->be->upload(m->bctx, m->grad, g, (size_t)m->total_params * 4)
                 ? backend_failed(m, "upload", err)
                 : 0;
    free(g);
    return rc;
}

/* torch.linalg.vector_norm of n floats: the p-norm, max |x| for p = inf. */
static double vector_norm(const float *x, int64_t n, double p)
{
    double acc = 0;
    int64_t k;
    if (isinf(p)) {
        for (k = 0; k < n; k++)
            acc = fmax(acc, fabs((double)x[k]));
        return acc;
    }
    for (k = 0; k < n; k++)
        acc += p == 2 ? (double)x[k] * x[k] : pow(fabs((double)x[k]), p);
    return p == 2 ? sqrt(acc) : p == 1 ? acc : pow(acc, 1.0 / p);
}

/* clip_grad_norm_'s total: the p-norm of the per-tensor p-norms. */
static double norms_total(const lh_model *m, const float *g, double p, double *per_tensor)
{
    double acc = 0;
    int32_t i;
    for (i = 0; i < m->n_params; i++) {
        double v = vector_norm(g + m->params[i].offset, m->params[i].numel, p);
        if (per_tensor)
            per_tensor[i] = v;
        acc = isinf(p) ? fmax(acc, v) : acc + (p == 2 ? v * v : pow(v, p));
    }
    return isinf(p) ? acc : p == 2 ? sqrt(acc) : pow(acc, 1.0 / p);
}

int lh_model_grad_norm(const lh_model *m, double p, double *per_tensor, double *total,
                       lh_error *err)
{
    float *g = grads_download(m, err);
    double t;
    if (!g)
        return -1;
    t = norms_total(m, g, p, per_tensor);
    if (total)
        *total = t;
    free(g);
    return 0;
}

static void scale(float *g, int64_t n, float factor)
{
    int64_t k;
    for (k = 0; k < n; k++)
        g[k] *= factor;
}

int lh_model_grad_scale(lh_model *m, double factor, lh_error *err)
{
    float *g = grads_download(m, err);
    if (!g)
        return -1;
    scale(g, m->total_params, (float)factor);
    return grads_upload(m, g, err);
}

int lh_model_clip_grad_norm(lh_model *m, double max_norm, double p, double *total,
                            lh_error *err)
{
    float *g = grads_download(m, err);
    double t, coef;
    if (!g)
        return -1;
    t = norms_total(m, g, p, NULL);
    if (total)
        *total = t;
    /* As torch: clip_coef = max_norm / (total + 1e-6), clamped to 1 (then a no-op). */
    coef = max_norm / (t + 1e-6);
    if (coef >= 1.0) {
        free(g);
        return 0;
    }
    scale(g, m->total_params, (float)coef);
    return grads_upload(m, g, err);
}

int lh_model_clip_grad_value(lh_model *m, double clip_value, lh_error *err)
{
    float *g = grads_download(m, err);
    float c = (float)clip_value;
    int64_t k;
    if (!g)
        return -1;
    for (k = 0; k < m->total_params; k++)
        g[k] = g[k] > c ? c : g[k] < -c ? -c : g[k];
    return grads_upload(m, g, err);
}
