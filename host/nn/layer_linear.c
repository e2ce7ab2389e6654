/* host/nn/layer_linear.c — nn.Linear: weight (OUT, IN) and bias (OUT) over a flat input (or a
 * 1x1 one, which is the same memory). */
#include "layer.h"

static const lh_layer_int_key ints[] = {
    {"in_features", offsetof(lh_layer_spec, linear.in_features), 0, INT32_MAX, 0,
     LH_LAYER_KEY_INFERRED},
    {"out_features", offsetof(lh_layer_spec, linear.out_features), 1, INT32_MAX, 1,
     LH_LAYER_KEY_NEEDED},
    {NULL},
};

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_linear_cfg *c = &l->linear;
    int64_t ws[2];
    int32_t features;
    if (!s->flat && (s->h != 1 || s->w != 1))
        return lh_error_set(err, "model.layers.%d (linear %s): input is (%d, %d, %d); add a "
                            "flatten layer before it", i, l->name, s->c, s->h, s->w);
    if (lh_layer_flat_features(m, i, s, &features, err) ||
        lh_layer_infer(m, i, "in_features", "features", &c->in_features, features, err))
        return -1;
    s->c = c->out_features, s->h = s->w = 1, s->flat = 1;
    ws[0] = c->out_features, ws[1] = c->in_features;
    /* nn.Linear.reset_parameters: both bounds from the weight's fan_in, IN */
    return lh_layer_add_weight_bias(m, i, 2, ws, c->in_features, err);
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
    .ints = ints,
    .needs_keys = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
