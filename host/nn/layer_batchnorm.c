/* host/nn/layer_batchnorm.c — nn.BatchNorm2d over (C, H, W) inputs and nn.BatchNorm1d
 * over flat features, both kinds here as they share everything: weight (C) = 1 and bias (C) = 0
 * as PyTorch initialises them, the buffers running_mean (0), running_var (1) and
 * num_batches_tracked (m->batches_tracked), which checkpoints keep under those names, and two
 * buffers that are not saved: the mean and 1/std forward normalised with, for backward.
 * Training normalises with the batch's statistics and moves the running ones; validation,
 * testing and prediction use the running ones (PyTorch's train() and eval()). */
#include "layer.h"

#include <cjson/cJSON.h>

static const lh_layer_int_key ints[] = {
    {"num_features", offsetof(lh_layer_spec, batchnorm2d.num_features), 0, 1 << 20, 0,
     LH_LAYER_KEY_INFERRED},
    {NULL},
};
static const char *const keys[] = {"momentum", "eps", NULL};

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    /* batchnorm1d's config is the same struct at the same place in the union */
    return lh_layer_cfg_float(map, "momentum", 0.1, 0.0, 1.0, &l->batchnorm2d.momentum, err) ||
                   lh_layer_cfg_float(map, "eps", 1e-5, 1e-12, 1.0, &l->batchnorm2d.eps, err)
               ? -1
               : 0;
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "momentum", l->batchnorm2d.momentum);
    cJSON_AddNumberToObject(o, "eps", l->batchnorm2d.eps);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    return lh_layer_json_float(o, "momentum", 0.0, 1.0, &l->batchnorm2d.momentum, err) ||
                   lh_layer_json_float(o, "eps", 1e-12, 1.0, &l->batchnorm2d.eps, err)
               ? -1
               : 0;
}

static int lh_layer_bn_plan(lh_model *m, int32_t i, lh_layer_shape *s, int32_t flat, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_bn_cfg *c = &l->batchnorm2d;
    int64_t shape[1];
    if (s->flat != flat)
        return lh_error_set(err, "model.layers.%d (%s %s): input is %s; expected %s", i,
                            lh_layer_name(l->type), l->name, s->flat ? "flat" : "(C, H, W)",
                            flat ? "flat features (batchnorm2d takes (C, H, W))"
                                 : "(C, H, W) (batchnorm1d takes flat features)");
    if (lh_layer_infer(m, i, "num_features", flat ? "features" : "channels", &c->num_features,
                       s->c, err))
        return -1;
    shape[0] = c->num_features;
    if (lh_layer_add_param(m, i, "weight", 1, shape, 1, err) ||
        lh_layer_add_param(m, i, "bias", 1, shape, 1, err))
        return -1;
    /* nn.BatchNorm.reset_parameters: ones and zeros, no random draw */
    m->params[m->n_params - 2].init_const = 1, m->params[m->n_params - 2].init_value = 1.0f;
    m->params[m->n_params - 1].init_const = 1, m->params[m->n_params - 1].init_value = 0.0f;
    return lh_layer_add_buffer(m, i, "running_mean", shape[0], 0.0f, 1, err) ||
                   lh_layer_add_buffer(m, i, "running_var", shape[0], 1.0f, 1, err) ||
                   lh_layer_add_buffer(m, i, "save_mean", shape[0], 0.0f, 0, err) ||
                   lh_layer_add_buffer(m, i, "save_invstd", shape[0], 0.0f, 0, err)
               ? -1
               : 0;
}

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    return lh_layer_bn_plan(m, i, s, 0, err);
}

static lh_bn_args args_of(const lh_layer_step *st, int32_t training)
{
    const lh_layer_bn_cfg *c = &st->l->batchnorm2d;
    lh_bn_args a = {st->n, c->num_features, (int32_t)(st->p->out_numel / c->num_features),
                    training, c->momentum, c->eps};
    return a;
}

static int lh_layer_bn_forward(const lh_layer_step *st)
{
    lh_bn_args a = args_of(st, st->training);
    lh_model *m = st->m;
    int32_t i = st->i;
    if (st->training)
        m->batches_tracked[i]++;
    if (st->training && m->bn_cumulative) /* momentum None: the average of every batch so far */
        a.momentum = (float)(1.0 / (double)m->batches_tracked[i]);
    return m->be->batchnorm_forward(m->bctx, &a, st->x, lh_layer_param(m, i, 0),
                                    lh_layer_param(m, i, 1), lh_layer_buffer(m, i, 0),
                                    lh_layer_buffer(m, i, 1), lh_layer_buffer(m, i, 2),
                                    lh_layer_buffer(m, i, 3), st->y);
}

static int lh_layer_bn_backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    lh_bn_args a = args_of(st, 1); /* backward follows a training forward */
    const lh_model *m = st->m;
    int32_t i = st->i;
    return m->be->batchnorm_backward(m->bctx, &a, st->x, lh_layer_param(m, i, 0),
                                     lh_layer_buffer(m, i, 2), lh_layer_buffer(m, i, 3), dy,
                                     *dx, lh_layer_grad(m, i, 0), lh_layer_grad(m, i, 1));
}

const lh_layer_kind lh_layer_batchnorm2d = {
    .torch_name = "BatchNorm2d",
    .ints = ints,
    .keys = keys,
    .keys_help = "momentum=0.1, eps=1e-05",
    .summary_chw = 1,
    .counts_batches = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .plan = plan,
    .forward = lh_layer_bn_forward,
    .backward = lh_layer_bn_backward,
};

/* batchnorm1d: the same over flat features (HW = 1) */
static int plan_1d(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    return lh_layer_bn_plan(m, i, s, 1, err);
}

const lh_layer_kind lh_layer_batchnorm1d = {
    .torch_name = "BatchNorm1d",
    .ints = ints,
    .keys = keys,
    .keys_help = "momentum=0.1, eps=1e-05",
    .counts_batches = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .plan = plan_1d,
    .forward = lh_layer_bn_forward,
    .backward = lh_layer_bn_backward,
};
