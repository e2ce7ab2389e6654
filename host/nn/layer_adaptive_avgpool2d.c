/* host/nn/layer_adaptive_avgpool2d.c — nn.AdaptiveAvgPool2d(output_size): PyTorch's adaptive
 * windows (kernels/pool_window.h) onto an out_h x out_w map. */
#include "layer.h"

static const lh_layer_int_key ints[] = {
    {"output_size", offsetof(lh_layer_spec, adaptive_avgpool2d.out_h), 1, 4096, 1,
     LH_LAYER_KEY_NEEDED},
    {"output_w", offsetof(lh_layer_spec, adaptive_avgpool2d.out_w), 1, 4096, 0,
     LH_LAYER_KEY_DEF_PREV},
    {NULL},
};

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    const lh_layer_adaptive_cfg *c = &m->spec.layers[i].adaptive_avgpool2d;
    if (s->flat || s->h < c->out_h || s->w < c->out_w)
        return lh_error_set(err, "model.layers.%d (adaptive_avgpool2d %s): input %dx%d is %s", i,
                            m->spec.layers[i].name, s->h, s->w,
                            s->flat ? "flat" : "smaller than the output");
    s->h = c->out_h, s->w = c->out_w;
    return 0;
}

static int forward(const lh_layer_step *st)
{
    return lh_layer_avgpool_forward(st, 0, 0);
}

static int backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    return lh_layer_avgpool_backward(st, 0, 0, dy, dx);
}

const lh_layer_kind lh_layer_adaptive_avgpool2d = {
    .torch_name = "AdaptiveAvgPool2d",
    .ints = ints,
    .needs_keys = 1,
    .summary_chw = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
