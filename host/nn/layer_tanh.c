/* host/nn/layer_tanh.c — nn.Tanh: element-wise, no parameters (layer_activation.c). */
#include "layer.h"

static int forward(const lh_layer_step *s)
{
    return lh_layer_act_forward(s, LH_ACT_TANH, 0.0f);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    return lh_layer_act_backward(s, LH_ACT_TANH, 0.0f, dy, dx);
}

const lh_layer_kind lh_layer_tanh = {
    .torch_name = "Tanh",
    .forward = forward,
    .backward = backward,
};
