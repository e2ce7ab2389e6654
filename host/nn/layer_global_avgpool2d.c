/* host/nn/layer_global_avgpool2d.c — global average pooling: the mean of each channel's map,
 * a flat vector of C features (nn.AdaptiveAvgPool2d(1) then nn.Flatten(), as ResNet's head),
 * so a linear layer can follow directly. No parameters. */
#include "layer.h"

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    if (s->flat)
        return lh_error_set(err, "model.layers.%d (global_avgpool2d %s): input is flat; "
                            "expected (C, H, W)", i, m->spec.layers[i].name);
    s->h = s->w = 1;
    s->flat = 1;
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

const lh_layer_kind lh_layer_global_avgpool2d = {
    .torch_name = "GlobalAvgPool",
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
