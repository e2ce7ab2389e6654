/* host/nn/model.c — shapes, memory, initialisation, forward and backward of a sequential model
 * (see model.h). What each layer does comes from its kind's entry in the layer table (layer.h);
 * this file only walks the layers, owns the memory and runs fused groups. Every tensor op goes
 * through the backend table. */
#include "model.h"

#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lh_layer_kind *kind_of(const lh_model *m, int32_t i)
{
    return lh_layer_kind_of(m->spec.layers[i].type);
}

int lh_model_plan(lh_model *m, const lh_model_spec *spec, lh_error *err)
{
    lh_layer_shape s = {spec->in_c, spec->in_h, spec->in_w, 0};
    int32_t i;
    memset(m, 0, sizeof *m);
    m->spec = *spec;
    for (i = 0; i < spec->n_layers; i++) {
        const lh_layer_kind *k = kind_of(m, i);
        lh_layer_plan *p = &m->plan[i];
        if (!k)
            return lh_error_set(err, "model.layers.%d (%s): unknown layer kind %d", i,
                                m->spec.layers[i].name, (int)m->spec.layers[i].type);
        p->param0 = m->n_params;
        p->buf0 = m->n_buffers;
        if (k->plan && k->plan(m, i, &s, err))
            return -1;
        p->n_param = m->n_params - p->param0;
        p->n_buf = m->n_buffers - p->buf0;
        p->c = s.c, p->h = s.h, p->w = s.w, p->flat = s.flat;
        p->out_numel = (int64_t)s.c * s.h * s.w; /* each at most 2^31: no int64 overflow */
        if (p->out_numel > LH_MAX_NUMEL)
            return lh_error_set(err, "model.layers.%d (%s): output (%d, %d, %d) has more than "
                                "%lld elements per sample", i, m->spec.layers[i].name, s.c, s.h,
                                s.w, (long long)LH_MAX_NUMEL);
    }
    if (!s.flat || m->plan[spec->n_layers - 1].out_numel < 2)
        return lh_error_set(err, "model: the last layer must produce flat class scores (a linear "
                            "layer with out_features >= 2); got (%d, %d, %d)", s.c, s.h, s.w);
    m->num_outputs = s.c;
    return 0;
}

static int64_t in_numel(const lh_model *m, int32_t i)
{
    return i == 0 ? (int64_t)m->spec.in_c * m->spec.in_h * m->spec.in_w : m->plan[i - 1].out_numel;
}

/* An in-place kind's output is its input's memory, except for layer 0 (m->input is the
 * trainer's), in a fused group (whose inner outputs do not exist) and at the start of a
 * residual body (whose input the block's end adds back). */
static int32_t aliases_input(const lh_model *m, int32_t i)
{
    return i > 0 && kind_of(m, i)->in_place && !m->plan[i].fused && !m->plan[i].block_end;
}

static int32_t fusion_matches(const lh_model *m, const lh_layer_fusion *f, int32_t i)
{
    int32_t j;
    if (i + f->n > m->spec.n_layers)
        return 0;
    for (j = 0; j < f->n; j++)
        if (m->spec.layers[i + j].type != f->kinds[j] || (j > 0 && m->plan[i + j].block_end))
            return 0; /* a residual body's input must exist: no group runs into one */
    return 1;
}

/* Each run of layers a fusion covers runs as one backend op when the backend has it. */
static void mark_fused(lh_model *m, const lh_backend *be)
{
    const lh_layer_fusion *const *fs = lh_layer_fusions();
    int32_t i, f, j;
    for (i = 0; i < m->spec.n_layers; i++)
        for (f = 0; fs[f]; f++)
            if (fs[f]->available(be) && fusion_matches(m, fs[f], i)) {
                m->plan[i].fused = 1;
                m->plan[i].fusion = f;
                for (j = 1; j < fs[f]->n; j++)
                    m->plan[i + j].fused = 2;
                i += fs[f]->n - 1;
                break;
            }
}

/* The layer ending a fused group: only its output is materialised. */
static int32_t ends_group(const lh_model *m, int32_t i)
{
    return m->plan[i].fused && (i + 1 == m->spec.n_layers || m->plan[i + 1].fused != 2);
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
    ALLOC(m->buf, (size_t)m->total_buffers * 4);
    ALLOC(m->input, B * (size_t)in_numel(m, 0) * 4);
    ALLOC(m->targets, B * 4);
    ALLOC(m->loss, 64);
    ALLOC(m->dlogits, B * (size_t)m->num_outputs * 4);
    for (i = 0; i < m->spec.n_layers; i++) {
        /* Inside a fused group no gradient of an inner output is ever stored. */
        if (m->plan[i].fused != 2 && in_numel(m, i) > biggest)
            biggest = in_numel(m, i);
        if (m->plan[i].fused && !ends_group(m, i)) {
            m->act[i] = NULL; /* never materialised */
            continue;
        }
        if (aliases_input(m, i)) {
            m->act[i] = m->act[i - 1];
            continue;
        }
        ALLOC(m->act[i], B * (size_t)m->plan[i].out_numel * 4);
        if (kind_of(m, i)->aux)
            ALLOC(m->aux[i], B * (size_t)(m->plan[i].aux_numel ? m->plan[i].aux_numel
                                                                : m->plan[i].out_numel) * 4);
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
        if (m->act[i] && !(i > 0 && m->act[i] == m->act[i - 1])) /* not shared */
            m->be->free(m->bctx, m->act[i]);
        if (m->aux[i])
            m->be->free(m->bctx, m->aux[i]);
    }
    lh_dmem **bufs[] = {&m->param, &m->grad, &m->buf, &m->input, &m->targets, &m->loss, &m->dlogits,
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
        double bound = 1.0 / sqrt((double)p->fan_in);
        int64_t k;
        if (p->init_const) {
            for (k = 0; k < p->numel; k++)
                host[p->offset + k] = p->init_value;
            continue;
        }
        for (k = 0; k < p->numel; k++)
            host[p->offset + k] = (float)((2.0 * lh_rng_uniform(rng) - 1.0) * bound);
    }
    if (m->be->upload(m->bctx, m->param, host, (size_t)m->total_params * 4)) {
        free(host);
        return lh_error_set(err, "model: upload failed: %s", m->be->last_error(m->bctx));
    }
    free(host);
    return lh_model_reset_buffers(m, err);
}

int lh_model_reset_buffers(lh_model *m, lh_error *err)
{
    float *host = malloc((size_t)(m->total_buffers ? m->total_buffers : 1) * sizeof *host);
    int32_t i;
    if (!host)
        return lh_error_set(err, "model: out of memory for %lld buffer elements",
                            (long long)m->total_buffers);
    for (i = 0; i < m->n_buffers; i++) {
        const lh_buffer_info *b = &m->buffers[i];
        for (int64_t k = 0; k < b->numel; k++)
            host[b->offset + k] = b->init;
    }
    memset(m->batches_tracked, 0, sizeof m->batches_tracked);
    if (m->total_buffers &&
        m->be->upload(m->bctx, m->buf, host, (size_t)m->total_buffers * 4)) {
        free(host);
        return lh_error_set(err, "model: upload failed: %s", m->be->last_error(m->bctx));
    }
    free(host);
    return 0;
}

static int op_failed(const lh_model *m, int32_t i, const char *what, lh_error *err)
{
    return lh_error_set(err, "%s backend: layer %d (%s %s) %s: %s", m->be->name, i,
                        kind_of(m, i)->torch_name, m->spec.layers[i].name, what,
                        m->be->last_error(m->bctx));
}

static lh_layer_step step_of(lh_model *m, int32_t i, int32_t n)
{
    lh_layer_step s = {m, i, n, &m->spec.layers[i], &m->plan[i], i ? m->act[i - 1] : m->input,
                       m->act[i], m->aux[i], 0, 0};
    return s;
}

static const lh_layer_fusion *fusion_at(const lh_model *m, int32_t first)
{
    return lh_layer_fusions()[m->plan[first].fusion];
}

int lh_model_forward(lh_model *m, int32_t n, int32_t training, uint64_t dropout_seed,
                     lh_error *err)
{
    char what[64];
    int32_t i;
    for (i = 0; i < m->spec.n_layers; i++) {
        lh_layer_step s = step_of(m, i, n);
        if (m->plan[i].fused == 2)
            continue; /* done by the group's first layer */
        if (m->plan[i].fused == 1) {
            const lh_layer_fusion *f = fusion_at(m, i);
            if (f->forward(m, i, n)) {
                snprintf(what, sizeof what, "forward (%s)", f->what);
                return op_failed(m, i, what, err);
            }
            continue;
        }
        s.training = training, s.seed = dropout_seed;
        if (kind_of(m, i)->forward(&s))
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

/* Layer j starts the body of residual block r = plan[j].block_end: the gradient of the
 * block's input (din) is the body's plus the skip path's, which r's backward left in aux[r]. */
static int join_skip(lh_model *m, int32_t j, int32_t n, lh_dmem *din, lh_error *err)
{
    int32_t r = m->plan[j].block_end;
    int64_t numel = (int64_t)n * in_numel(m, j);
    if (!r || !din)
        return 0;
    if (m->be->add(m->bctx, numel, din, m->aux[r], din))
        return op_failed(m, r, "backward (skip connection)", err);
    return 0;
}

/* Layers first..last have written their parameters' gradients: tell m->grads_ready where the
 * finished part of grad now starts (layers' tensors lie in layer order in the flat buffer). */
static int grads_done(lh_model *m, int32_t first, int32_t last, lh_error *err)
{
    int32_t k;
    if (!m->grads_ready)
        return 0;
    for (k = first; k <= last; k++)
        if (m->plan[k].n_param > 0)
            return m->grads_ready(m->grads_ready_arg, m->params[m->plan[k].param0].offset, err);
    return 0;
}

/* Gradients flow from m->dlogits through the two ping-pong buffers; a layer whose input
 * gradient is its output's (flatten, relu in place) leaves it where it is. */
int lh_model_backward(lh_model *m, int32_t n, lh_error *err)
{
    lh_dmem *cur = m->dlogits;
    char what[64];
    int32_t i;
    for (i = m->spec.n_layers - 1; i >= 0; i--) {
        lh_dmem *next = (cur == m->dbuf[0]) ? m->dbuf[1] : m->dbuf[0];
        lh_dmem *din;
        if (m->plan[i].fused && ends_group(m, i)) {
            /* the whole group, from its output's gradient to its input's */
            int32_t first = i;
            const lh_layer_fusion *f;
            while (m->plan[first].fused != 1)
                first--;
            f = fusion_at(m, first);
            din = first ? next : NULL; /* the first layer needs no input gradient */
            if (f->backward(m, first, n, cur, din)) {
                snprintf(what, sizeof what, "backward (%s)", f->what);
                return op_failed(m, first, what, err);
            }
            if (grads_done(m, first, i, err))
                return -1;
            i = first; /* the loop's i-- moves past the group */
            if (join_skip(m, first, n, din, err))
                return -1;
        } else {
            lh_layer_step s = step_of(m, i, n);
            din = i ? next : NULL;
            if (kind_of(m, i)->backward(&s, cur, &din))
                return op_failed(m, i, "backward", err);
            if (grads_done(m, i, i, err) || join_skip(m, i, n, din, err))
                return -1;
        }
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

/* One row's cells: the layer's parameter count and output shape. */
static void summary_cells(const lh_model *m, int32_t i, char *params, char *shape, size_t len)
{
    const lh_layer_plan *p = &m->plan[i];
    int64_t np = 0;
    int32_t k;
    for (k = 0; k < p->n_param; k++)
        np += m->params[p->param0 + k].numel;
    human(np, params, len);
    if (p->h == 1 && p->w == 1 && !kind_of(m, i)->summary_chw)
        snprintf(shape, len, "[%d]", p->c);
    else
        snprintf(shape, len, "[%d, %d, %d]", p->c, p->h, p->w);
}

static int wider(int w, const char *cell)
{
    int n = (int)strlen(cell);
    return n > w ? n : w;
}

/* Lightning's ModelSummary table: each column as wide as its widest cell, the rules as wide as
 * the table. */
void lh_model_summary(const lh_model *m, void *out)
{
    static const char dashes[] = "----------------------------------------------------------------"
                                 "----------------------------------------------------------------";
    FILE *f = out;
    char b[48], shape[48];
    int32_t i, n = m->spec.n_layers;
    int wi = snprintf(NULL, 0, "%d", n > 0 ? n - 1 : 0), wn = 4, wt = 4, wp = 6, ws = 9, rule;
    for (i = 0; i < n; i++) {
        summary_cells(m, i, b, shape, sizeof b);
        wn = wider(wn, m->spec.layers[i].name);
        wt = wider(wt, kind_of(m, i)->torch_name);
        wp = wider(wp, b);
        ws = wider(ws, shape);
    }
    rule = wi + wn + wt + wp + ws + 12;
    fprintf(f, "%*s | %-*s | %-*s | %-*s | %s\n", wi, "", wn, "Name", wt, "Type", wp, "Params",
            "Out shape");
    fprintf(f, "%.*s\n", rule, dashes);
    for (i = 0; i < n; i++) {
        summary_cells(m, i, b, shape, sizeof b);
        fprintf(f, "%-*d | %-*s | %-*s | %-*s | %s\n", wi, i, wn, m->spec.layers[i].name, wt,
                kind_of(m, i)->torch_name, wp, b, shape);
    }
    fprintf(f, "%.*s\n", rule, dashes);
    human(m->total_params, b, sizeof b);
    fprintf(f, "%-10s Trainable params\n%-10s Non-trainable params\n%-10s Total params\n", b,
            "0", b);
    fprintf(f, "%-10.3f Total estimated model params size (MB)\n", m->total_params * 4 / 1e6);
}
