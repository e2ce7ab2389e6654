/* host/nn/model.c — shapes, memory, initialisation, forward and backward of a sequential model
 * (see model.h). Every tensor op goes through the backend table. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(int32_t t)
{
    static const char *const n[] = {"?", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear",
                                    "Dropout"};
    return (t >= 1 && t <= 6) ? n[t] : n[0];
}

static void add_param(lh_model *m, const char *layer, const char *what, int32_t ndim,
                      const int64_t *shape)
{
    lh_param_info *p = &m->params[m->n_params++];
    int32_t d;
    snprintf(p->name, sizeof p->name, "%s.%s", layer, what);
    p->ndim = ndim;
    p->numel = 1;
    for (d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->numel *= shape[d];
    }
    p->offset = m->total_params;
    m->total_params += p->numel;
}

int lh_model_plan(lh_model *m, const lh_model_spec *spec, lh_error *err)
{
    int32_t i, c = spec->in_c, h = spec->in_h, w = spec->in_w, flat = 0;
    memset(m, 0, sizeof *m);
    m->spec = *spec;
    for (i = 0; i < spec->n_layers; i++) {
        lh_layer_spec *l = &m->spec.layers[i];
        lh_layer_plan *p = &m->plan[i];
        p->w_param = p->b_param = -1;
        switch (l->type) {
        case LH_LAYER_CONV2D: {
            int64_t ws[4], bs[1];
            if (flat)
                return lh_error_set(err, "model.layers.%d (conv2d %s): input is flat; conv2d "
                                    "needs (C, H, W)", i, l->name);
            if (l->in_ch && l->in_ch != c)
                return lh_error_set(err, "model.layers.%d (conv2d %s): in_channels is %d but the "
                                    "input has %d channels; expected %d", i, l->name, l->in_ch, c, c);
            l->in_ch = c;
            if (h + 2 * l->padding < l->kernel || w + 2 * l->padding < l->kernel)
                return lh_error_set(err, "model.layers.%d (conv2d %s): kernel %d larger than the "
                                    "padded input %dx%d", i, l->name, l->kernel,
                                    h + 2 * l->padding, w + 2 * l->padding);
            h = (h + 2 * l->padding - l->kernel) / l->stride + 1;
            w = (w + 2 * l->padding - l->kernel) / l->stride + 1;
            c = l->out_ch;
            ws[0] = l->out_ch, ws[1] = l->in_ch, ws[2] = ws[3] = l->kernel;
            bs[0] = l->out_ch;
            p->w_param = m->n_params;
            add_param(m, l->name, "weight", 4, ws);
            p->b_param = m->n_params;
            add_param(m, l->name, "bias", 1, bs);
            break;
        }
        case LH_LAYER_MAXPOOL2D:
            if (flat || h < l->pool_kernel || w < l->pool_kernel)
                return lh_error_set(err, "model.layers.%d (maxpool2d): input %dx%d is %s", i, h, w,
                                    flat ? "flat" : "smaller than the kernel");
            h = (h - l->pool_kernel) / l->pool_stride + 1;
            w = (w - l->pool_kernel) / l->pool_stride + 1;
            break;
        case LH_LAYER_FLATTEN:
            c = c * h * w, h = w = 1, flat = 1;
            break;
        case LH_LAYER_LINEAR: {
            int64_t ws[2], bs[1];
            int32_t features = c * h * w;
            if (!flat && h * w != 1)
                return lh_error_set(err, "model.layers.%d (linear %s): input is (%d, %d, %d); add "
                                    "a flatten layer before it", i, l->name, c, h, w);
            if (l->in_features && l->in_features != features)
                return lh_error_set(err, "model.layers.%d (linear %s): in_features is %d but the "
                                    "input has %d features; expected %d", i, l->name,
                                    l->in_features, features, features);
            l->in_features = features;
            c = l->out_features, h = w = 1, flat = 1;
            ws[0] = l->out_features, ws[1] = l->in_features;
            bs[0] = l->out_features;
            p->w_param = m->n_params;
            add_param(m, l->name, "weight", 2, ws);
            p->b_param = m->n_params;
            add_param(m, l->name, "bias", 1, bs);
            break;
        }
        default: /* relu, dropout keep the shape */
            break;
        }
        p->c = c, p->h = h, p->w = w;
        p->out_numel = (int64_t)c * h * w;
    }
    if (!flat || m->plan[spec->n_layers - 1].out_numel < 2)
        return lh_error_set(err, "model: the last layer must produce flat class scores (a linear "
                            "layer with out_features >= 2); got (%d, %d, %d)", c, h, w);
    m->num_outputs = c;
    return 0;
}

static int64_t in_numel(const lh_model *m, int32_t i)
{
    return i == 0 ? (int64_t)m->spec.in_c * m->spec.in_h * m->spec.in_w : m->plan[i - 1].out_numel;
}

/* Flatten and ReLU work in place on their input's memory (ReLU's backward only needs its
 * output, and the layer before never needs its own output again). */
static int32_t aliases_input(const lh_model *m, int32_t i)
{
    int32_t t = m->spec.layers[i].type;
    return i > 0 && (t == LH_LAYER_FLATTEN || t == LH_LAYER_RELU);
}

/* conv2d -> relu -> maxpool2d runs as one backend op when the backend has it. */
static void mark_fused(lh_model *m, const lh_backend *be)
{
    int32_t i;
    if (!be->conv2d_relu_maxpool_forward || !be->conv2d_relu_maxpool_backward)
        return;
    for (i = 0; i + 2 < m->spec.n_layers; i++)
        if (m->spec.layers[i].type == LH_LAYER_CONV2D &&
            m->spec.layers[i + 1].type == LH_LAYER_RELU &&
            m->spec.layers[i + 2].type == LH_LAYER_MAXPOOL2D) {
            m->plan[i].fused = 1;
            m->plan[i + 1].fused = m->plan[i + 2].fused = 2;
            i += 2;
        }
}

static size_t at_least_64(size_t bytes)
{
    return bytes < 64 ? 64 : bytes;
}

int lh_model_alloc(lh_model *m, const lh_backend *be, lh_backend_ctx *bctx, int32_t max_batch,
                   lh_error *err)
{
    int32_t i;
    int64_t biggest = 0;
    size_t B = (size_t)max_batch;
    m->be = be, m->bctx = bctx, m->max_batch = max_batch;
#define ALLOC(dst, bytes)                                                                  \
    do {                                                                                   \
        if (!((dst) = be->alloc(bctx, at_least_64(bytes))))                                \
            return lh_error_set(err, "model: out of %s memory (%zu bytes)", be->name,      \
                                (size_t)(bytes));                                          \
    } while (0)
    mark_fused(m, be);
    ALLOC(m->param, (size_t)m->total_params * 4);
    ALLOC(m->grad, (size_t)m->total_params * 4);
    ALLOC(m->input, B * (size_t)in_numel(m, 0) * 4);
    ALLOC(m->targets, B * 4);
    ALLOC(m->loss, 64);
    ALLOC(m->dlogits, B * (size_t)m->num_outputs * 4);
    for (i = 0; i < m->spec.n_layers; i++) {
        int32_t t = m->spec.layers[i].type;
        /* Inside a fused group no gradient of the conv output is ever stored. */
        if (m->plan[i].fused != 2 && in_numel(m, i) > biggest)
            biggest = in_numel(m, i);
        if (m->plan[i].fused == 1 || (m->plan[i].fused == 2 && t == LH_LAYER_RELU)) {
            m->act[i] = NULL; /* never materialised */
            continue;
        }
        if (aliases_input(m, i)) {
            m->act[i] = m->act[i - 1];
            continue;
        }
        ALLOC(m->act[i], B * (size_t)m->plan[i].out_numel * 4);
        if (t == LH_LAYER_MAXPOOL2D || t == LH_LAYER_DROPOUT)
            ALLOC(m->aux[i], B * (size_t)m->plan[i].out_numel * 4);
    }
    ALLOC(m->dbuf[0], B * (size_t)biggest * 4);
    ALLOC(m->dbuf[1], B * (size_t)biggest * 4);
#undef ALLOC
    return 0;
}

void lh_model_free(lh_model *m)
{
    int32_t i;
    if (!m->be)
        return;
    for (i = 0; i < m->spec.n_layers; i++) {
        if (!aliases_input(m, i) && m->act[i])
            m->be->free(m->bctx, m->act[i]);
        if (m->aux[i])
            m->be->free(m->bctx, m->aux[i]);
    }
    lh_dmem **bufs[] = {&m->param, &m->grad, &m->input, &m->targets, &m->loss, &m->dlogits,
                        &m->dbuf[0], &m->dbuf[1]};
    for (i = 0; i < (int32_t)(sizeof bufs / sizeof bufs[0]); i++)
        if (*bufs[i])
            m->be->free(m->bctx, *bufs[i]), *bufs[i] = NULL;
    m->be = NULL;
}

int lh_model_init(lh_model *m, lh_rng *rng, lh_error *err)
{
    float *host = malloc((size_t)m->total_params * sizeof *host);
    int32_t i;
    if (!host)
        return lh_error_set(err, "model: out of memory for %lld parameters",
                            (long long)m->total_params);
    for (i = 0; i < m->n_params; i++) {
        const lh_param_info *p = &m->params[i];
        /* fan_in of the layer's weight: the product of all weight dims but the first. Biases
         * use the weight's fan_in, as nn.Linear/nn.Conv2d reset_parameters do. */
        const lh_param_info *wt = (p->ndim == 1 && i > 0) ? &m->params[i - 1] : p;
        int64_t fan_in = wt->numel / wt->shape[0], k;
        double bound = 1.0 / sqrt((double)fan_in);
        for (k = 0; k < p->numel; k++)
            host[p->offset + k] = (float)((2.0 * lh_rng_uniform(rng) - 1.0) * bound);
    }
    if (m->be->upload(m->bctx, m->param, host, (size_t)m->total_params * 4)) {
        free(host);
        return lh_error_set(err, "model: upload failed: %s", m->be->last_error(m->bctx));
    }
    free(host);
    return 0;
}

static void conv_shape(const lh_model *m, int32_t i, int32_t n, lh_conv_shape *s)
{
    const lh_layer_spec *l = &m->spec.layers[i];
    s->n = n, s->c = l->in_ch;
    s->h = i ? m->plan[i - 1].h : m->spec.in_h;
    s->w = i ? m->plan[i - 1].w : m->spec.in_w;
    s->k = l->out_ch, s->r = s->s = l->kernel, s->stride = l->stride, s->pad = l->padding;
    s->oh = m->plan[i].h, s->ow = m->plan[i].w;
}

static void pool_shape(const lh_model *m, int32_t i, int32_t n, lh_pool_shape *s)
{
    const lh_layer_spec *l = &m->spec.layers[i];
    s->n = n, s->c = m->plan[i].c;
    s->h = i ? m->plan[i - 1].h : m->spec.in_h;
    s->w = i ? m->plan[i - 1].w : m->spec.in_w;
    s->size = l->pool_kernel, s->stride = l->pool_stride;
    s->oh = m->plan[i].h, s->ow = m->plan[i].w;
}

static lh_dmem *param_at(const lh_model *m, lh_dmem *base, int32_t idx)
{
    return lh_dmem_at(base, (size_t)m->params[idx].offset * 4);
}

static int op_failed(const lh_model *m, int32_t i, const char *what, lh_error *err)
{
    return lh_error_set(err, "%s backend: layer %d (%s %s) %s: %s", m->be->name, i,
                        type_name(m->spec.layers[i].type), m->spec.layers[i].name, what,
                        m->be->last_error(m->bctx));
}

int lh_model_forward(lh_model *m, int32_t n, int32_t training, uint64_t dropout_seed,
                     lh_error *err)
{
    const lh_backend *be = m->be;
    int32_t i;
    for (i = 0; i < m->spec.n_layers; i++) {
        const lh_layer_spec *l = &m->spec.layers[i];
        const lh_layer_plan *p = &m->plan[i];
        const lh_dmem *x = i ? m->act[i - 1] : m->input;
        int rc = 0;
        if (p->fused == 2)
            continue; /* done by the group's conv */
        if (p->fused == 1) {
            lh_conv_shape s;
            lh_pool_shape ps;
            conv_shape(m, i, n, &s);
            pool_shape(m, i + 2, n, &ps);
            if (be->conv2d_relu_maxpool_forward(m->bctx, &s, &ps, x,
                                                param_at(m, m->param, p->w_param),
                                                param_at(m, m->param, p->b_param),
                                                m->act[i + 2], m->aux[i + 2]))
                return op_failed(m, i, "forward (fused conv+relu+maxpool)", err);
            continue;
        }
        switch (l->type) {
        case LH_LAYER_CONV2D: {
            lh_conv_shape s;
            conv_shape(m, i, n, &s);
            rc = be->conv2d_forward(m->bctx, &s, x, param_at(m, m->param, p->w_param),
                                    param_at(m, m->param, p->b_param), m->act[i]);
            break;
        }
        case LH_LAYER_RELU:
            rc = be->relu_forward(m->bctx, (int64_t)n * p->out_numel, x, m->act[i]);
            break;
        case LH_LAYER_MAXPOOL2D: {
            lh_pool_shape s;
            pool_shape(m, i, n, &s);
            rc = be->maxpool_forward(m->bctx, &s, x, m->act[i], m->aux[i]);
            break;
        }
        case LH_LAYER_FLATTEN:
            if (i == 0)
                rc = be->copy(m->bctx, m->act[i], x, (size_t)n * p->out_numel * 4);
            break;
        case LH_LAYER_LINEAR:
            rc = be->linear_forward(m->bctx, n, l->in_features, l->out_features, x,
                                    param_at(m, m->param, p->w_param),
                                    param_at(m, m->param, p->b_param), m->act[i]);
            break;
        case LH_LAYER_DROPOUT:
            if (training && l->p > 0)
                rc = be->dropout_forward(m->bctx, (int64_t)n * p->out_numel, l->p,
                                         dropout_seed ^ ((uint64_t)i << 56), x, m->act[i],
                                         m->aux[i]);
            else
                rc = be->copy(m->bctx, m->act[i], x, (size_t)n * p->out_numel * 4);
            break;
        }
        if (rc)
            return op_failed(m, i, "forward", err);
    }
    return 0;
}

const lh_dmem *lh_model_logits(const lh_model *m)
{
    return m->act[m->spec.n_layers - 1];
}

int lh_model_loss(lh_model *m, int32_t n, int32_t want_grad, lh_error *err)
{
    if (m->be->softmax_xent(m->bctx, n, m->num_outputs, lh_model_logits(m), m->targets, m->loss,
                            want_grad ? m->dlogits : NULL))
        return lh_error_set(err, "%s backend: cross-entropy: %s", m->be->name,
                            m->be->last_error(m->bctx));
    return 0;
}

int lh_model_backward(lh_model *m, int32_t n, lh_error *err)
{
    const lh_backend *be = m->be;
    lh_dmem *cur = m->dlogits;
    int32_t i;
    for (i = m->spec.n_layers - 1; i >= 0; i--) {
        const lh_layer_spec *l = &m->spec.layers[i];
        const lh_layer_plan *p = &m->plan[i];
        const lh_dmem *x = i ? m->act[i - 1] : m->input;
        lh_dmem *next = (cur == m->dbuf[0]) ? m->dbuf[1] : m->dbuf[0];
        lh_dmem *din = i ? next : NULL; /* the first layer needs no input gradient */
        int rc = 0;
        if (p->fused == 2 && l->type == LH_LAYER_MAXPOOL2D) {
            /* the whole group, from the pool output's gradient to the conv input's */
            int32_t c = i - 2;
            const lh_layer_plan *cp = &m->plan[c];
            lh_conv_shape s;
            lh_pool_shape ps;
            conv_shape(m, c, n, &s);
            pool_shape(m, i, n, &ps);
            din = c ? next : NULL;
            if (be->conv2d_relu_maxpool_backward(
                    m->bctx, &s, &ps, c ? m->act[c - 1] : m->input,
                    param_at(m, m->param, cp->w_param), m->act[i], m->aux[i], cur, din,
                    param_at(m, m->grad, cp->w_param), param_at(m, m->grad, cp->b_param)))
                return op_failed(m, c, "backward (fused conv+relu+maxpool)", err);
            if (din)
                cur = din;
            i = c; /* the loop's i-- moves past the group */
            continue;
        }
        switch (l->type) {
        case LH_LAYER_CONV2D: {
            lh_conv_shape s;
            conv_shape(m, i, n, &s);
            rc = be->conv2d_backward(m->bctx, &s, x, param_at(m, m->param, p->w_param), cur, din,
                                     param_at(m, m->grad, p->w_param),
                                     param_at(m, m->grad, p->b_param));
            break;
        }
        case LH_LAYER_RELU:
            if (!din)
                continue;
            rc = be->relu_backward(m->bctx, (int64_t)n * p->out_numel, m->act[i], cur, cur);
            din = cur;
            break;
        case LH_LAYER_MAXPOOL2D: {
            lh_pool_shape s;
            if (!din)
                continue;
            pool_shape(m, i, n, &s);
            rc = be->maxpool_backward(m->bctx, &s, cur, m->aux[i], din);
            break;
        }
        case LH_LAYER_FLATTEN:
            din = cur;
            break;
        case LH_LAYER_LINEAR:
            rc = be->linear_backward(m->bctx, n, l->in_features, l->out_features, x,
                                     param_at(m, m->param, p->w_param), cur, din,
                                     param_at(m, m->grad, p->w_param),
                                     param_at(m, m->grad, p->b_param));
            break;
        case LH_LAYER_DROPOUT:
            if (!din)
                continue;
            if (l->p > 0)
                rc = be->dropout_backward(m->bctx, (int64_t)n * p->out_numel, cur, m->aux[i], din);
            else
                din = cur;
            break;
        }
        if (rc)
            return op_failed(m, i, "backward", err);
        if (din)
            cur = din;
    }
    return 0;
}

static void human(int64_t n, char *buf, size_t len)
{
    if (n >= 1000000)
        snprintf(buf, len, "%.1f M", n / 1e6);
    else if (n >= 1000)
        snprintf(buf, len, "%.1f K", n / 1e3);
    else
        snprintf(buf, len, "%lld", (long long)n);
}

void lh_model_summary(const lh_model *m, void *out)
{
    FILE *f = out;
    char b[32];
    int32_t i;
    fprintf(f, "   | %-10s | %-9s | %-8s | %s\n", "Name", "Type", "Params", "Out shape");
    fprintf(f, "-------------------------------------------------------\n");
    for (i = 0; i < m->spec.n_layers; i++) {
        const lh_layer_plan *p = &m->plan[i];
        int64_t np = 0;
        char shape[48];
        if (p->w_param >= 0)
            np += m->params[p->w_param].numel + m->params[p->b_param].numel;
        human(np, b, sizeof b);
        if (p->h == 1 && p->w == 1 && m->spec.layers[i].type != LH_LAYER_CONV2D)
            snprintf(shape, sizeof shape, "[%d]", p->c);
        else
            snprintf(shape, sizeof shape, "[%d, %d, %d]", p->c, p->h, p->w);
        fprintf(f, "%-2d | %-10s | %-9s | %-8s | %s\n", i, m->spec.layers[i].name,
                type_name(m->spec.layers[i].type), b, shape);
    }
    fprintf(f, "-------------------------------------------------------\n");
    human(m->total_params, b, sizeof b);
    fprintf(f, "%-10s Trainable params\n%-10s Non-trainable params\n%-10s Total params\n", b, "0", b);
    fprintf(f, "%-10.3f Total estimated model params size (MB)\n", m->total_params * 4 / 1e6);
}
