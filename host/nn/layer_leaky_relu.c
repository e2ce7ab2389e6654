/* host/nn/layer_leaky_relu.c — nn.LeakyReLU(negative_slope): element-wise, no parameters
 * (layer_activation.c). */
#include "layer.h"

#include <cjson/cJSON.h>

static const char *const keys[] = {"negative_slope", NULL};

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    return lh_layer_cfg_float(map, "negative_slope", 0.01, -1e6, 1e6,
                              &l->leaky_relu.negative_slope, err);
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "negative_slope", l->leaky_relu.negative_slope);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    return lh_layer_json_float(o, "negative_slope", -1e6, 1e6, &l->leaky_relu.negative_slope,
                               err);
}

static int forward(const lh_layer_step *s)
{
    return lh_layer_act_forward(s, LH_ACT_LEAKY_RELU, s->l->leaky_relu.negative_slope);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    return lh_layer_act_backward(s, LH_ACT_LEAKY_RELU, s->l->leaky_relu.negative_slope, dy, dx);
}

const lh_layer_kind lh_layer_leaky_relu = {
    .torch_name = "LeakyReLU",
    .keys = keys,
    .keys_help = "negative_slope=0.01",
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .forward = forward,
    .backward = backward,
};
