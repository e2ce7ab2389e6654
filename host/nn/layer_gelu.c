/* host/nn/layer_gelu.c — nn.GELU in its exact erf form (nn.GELU's default): element-wise, no
 * parameters (layer_activation.c). */
#include "layer.h"

static int forward(const lh_layer_step *s)
{
    return lh_layer_act_forward(s, LH_ACT_GELU, 0.0f);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    return lh_layer_act_backward(s, LH_ACT_GELU, 0.0f, dy, dx);
}

const lh_layer_kind lh_layer_gelu = {
    .torch_name = "GELU",
    .forward = forward,
    .backward = backward,
};
