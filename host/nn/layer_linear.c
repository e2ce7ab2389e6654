/* host/nn/layer_linear.c — nn.Linear: weight (OUT, IN) and bias (OUT) over a flat input (or a
 * 1x1 one, which is the same memory). */
#include "layer.h"

#include <cjson/cJSON.h>

static const char *const keys[] = {"in_features", "out_features", NULL};

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    int64_t v;
    if (lh_config_get_int(map, "in_features", 0, 0, INT32_MAX, &v, err))
        return -1;
    l->linear.in_features = (int32_t)v;
    if (!lh_config_get(map, "out_features"))
        return lh_error_set(err, "config %s: %s: linear needs out_features",
                            lh_config_where(map), lh_config_path(map));
    if (lh_config_get_int(map, "out_features", 1, 1, INT32_MAX, &v, err))
        return -1;
    l->linear.out_features = (int32_t)v;
    return 0;
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "in_features", l->linear.in_features);
    cJSON_AddNumberToObject(o, "out_features", l->linear.out_features);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    return lh_layer_json_int(o, "in_features", 0, INT32_MAX, &l->linear.in_features, err) ||
                   lh_layer_json_int(o, "out_features", 1, INT32_MAX, &l->linear.out_features,
                                     err)
               ? -1
               : 0;
}

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_linear_cfg *c = &l->linear;
    int64_t ws[2], bs[1];
    int32_t features = s->c * s->h * s->w;
    if (!s->flat && s->h * s->w != 1)
        return lh_error_set(err, "model.layers.%d (linear %s): input is (%d, %d, %d); add a "
                            "flatten layer before it", i, l->name, s->c, s->h, s->w);
    if (c->in_features && c->in_features != features)
        return lh_error_set(err, "model.layers.%d (linear %s): in_features is %d but the input "
                            "has %d features; expected %d", i, l->name, c->in_features,
                            features, features);
    c->in_features = features;
    s->c = c->out_features, s->h = s->w = 1, s->flat = 1;
    ws[0] = c->out_features, ws[1] = c->in_features;
    bs[0] = c->out_features;
    /* nn.Linear.reset_parameters: both bounds from the weight's fan_in, IN */
    return lh_layer_add_param(m, i, "weight", 2, ws, c->in_features, err) ||
                   lh_layer_add_param(m, i, "bias", 1, bs, c->in_features, err)
               ? -1
               : 0;
}

static int forward(const lh_layer_step *s)
{
    const lh_layer_linear_cfg *c = &s->l->linear;
    return s->m->be->linear_forward(s->m->bctx, s->n, c->in_features, c->out_features, s->x,
                                    lh_layer_param(s->m, s->i, 0), lh_layer_param(s->m, s->i, 1),
                                    s->y);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    const lh_layer_linear_cfg *c = &s->l->linear;
    return s->m->be->linear_backward(s->m->bctx, s->n, c->in_features, c->out_features, s->x,
                                     lh_layer_param(s->m, s->i, 0), dy, *dx,
                                     lh_layer_grad(s->m, s->i, 0), lh_layer_grad(s->m, s->i, 1));
}

const lh_layer_kind lh_layer_linear = {
    .torch_name = "Linear",
    .keys = keys,
    .needs_keys = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
