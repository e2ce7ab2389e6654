/* host/nn/layer_conv2d.c — nn.Conv2d: weight (K, C, R, R) and bias (K), square kernel, one
 * stride and padding for both axes. */
#include "layer.h"

#include <cjson/cJSON.h>

static const char *const keys[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                   "padding", NULL};

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    lh_layer_conv2d_cfg *c = &l->conv2d;
    int64_t v;
    if (lh_config_get_int(map, "in_channels", 0, 0, 1 << 20, &v, err))
        return -1;
    c->in_ch = (int32_t)v;
    if (!lh_config_get(map, "out_channels"))
        return lh_error_set(err, "config %s: %s: conv2d needs out_channels",
                            lh_config_where(map), lh_config_path(map));
    if (lh_config_get_int(map, "out_channels", 1, 1, 1 << 20, &v, err))
        return -1;
    c->out_ch = (int32_t)v;
    if (lh_config_get_int(map, "kernel_size", 3, 1, 64, &v, err))
        return -1;
    c->kernel = (int32_t)v;
    if (lh_config_get_int(map, "stride", 1, 1, 64, &v, err))
        return -1;
    c->stride = (int32_t)v;
    if (lh_config_get_int(map, "padding", 0, 0, 64, &v, err))
        return -1;
    c->padding = (int32_t)v;
    return 0;
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "in_channels", l->conv2d.in_ch);
    cJSON_AddNumberToObject(o, "out_channels", l->conv2d.out_ch);
    cJSON_AddNumberToObject(o, "kernel_size", l->conv2d.kernel);
    cJSON_AddNumberToObject(o, "stride", l->conv2d.stride);
    cJSON_AddNumberToObject(o, "padding", l->conv2d.padding);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    lh_layer_conv2d_cfg *c = &l->conv2d;
    return lh_layer_json_int(o, "in_channels", 0, 1 << 20, &c->in_ch, err) ||
                   lh_layer_json_int(o, "out_channels", 1, 1 << 20, &c->out_ch, err) ||
                   lh_layer_json_int(o, "kernel_size", 1, 64, &c->kernel, err) ||
                   lh_layer_json_int(o, "stride", 1, 64, &c->stride, err) ||
                   lh_layer_json_int(o, "padding", 0, 64, &c->padding, err)
               ? -1
               : 0;
}

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_conv2d_cfg *c = &l->conv2d;
    int64_t ws[4], bs[1];
    if (s->flat)
        return lh_error_set(err, "model.layers.%d (conv2d %s): input is flat; conv2d needs "
                            "(C, H, W)", i, l->name);
    if (c->in_ch && c->in_ch != s->c)
        return lh_error_set(err, "model.layers.%d (conv2d %s): in_channels is %d but the input "
                            "has %d channels; expected %d", i, l->name, c->in_ch, s->c, s->c);
    c->in_ch = s->c;
    if (s->h + 2 * c->padding < c->kernel || s->w + 2 * c->padding < c->kernel)
        return lh_error_set(err, "model.layers.%d (conv2d %s): kernel %d larger than the padded "
                            "input %dx%d", i, l->name, c->kernel, s->h + 2 * c->padding,
                            s->w + 2 * c->padding);
    s->h = (s->h + 2 * c->padding - c->kernel) / c->stride + 1;
    s->w = (s->w + 2 * c->padding - c->kernel) / c->stride + 1;
    s->c = c->out_ch;
    ws[0] = c->out_ch, ws[1] = c->in_ch, ws[2] = ws[3] = c->kernel;
    bs[0] = c->out_ch;
    /* nn.Conv2d.reset_parameters: both bounds from the weight's fan_in, C * R * R */
    return lh_layer_add_param(m, i, "weight", 4, ws, (int64_t)c->in_ch * c->kernel * c->kernel,
                              err) ||
                   lh_layer_add_param(m, i, "bias", 1, bs,
                                      (int64_t)c->in_ch * c->kernel * c->kernel, err)
               ? -1
               : 0;
}

void lh_layer_conv2d_shape(const lh_model *m, int32_t i, int32_t n, lh_conv_shape *s)
{
    const lh_layer_conv2d_cfg *c = &m->spec.layers[i].conv2d;
    s->n = n, s->c = c->in_ch;
    lh_layer_in_hw(m, i, &s->h, &s->w);
    s->k = c->out_ch, s->r = s->s = c->kernel, s->stride = c->stride, s->pad = c->padding;
    s->oh = m->plan[i].h, s->ow = m->plan[i].w;
}

static int forward(const lh_layer_step *st)
{
    lh_conv_shape s;
    lh_layer_conv2d_shape(st->m, st->i, st->n, &s);
    return st->m->be->conv2d_forward(st->m->bctx, &s, st->x, lh_layer_param(st->m, st->i, 0),
                                     lh_layer_param(st->m, st->i, 1), st->y);
}

static int backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    lh_conv_shape s;
    lh_layer_conv2d_shape(st->m, st->i, st->n, &s);
    return st->m->be->conv2d_backward(st->m->bctx, &s, st->x, lh_layer_param(st->m, st->i, 0),
                                      dy, *dx, lh_layer_grad(st->m, st->i, 0),
                                      lh_layer_grad(st->m, st->i, 1));
}

const lh_layer_kind lh_layer_conv2d = {
    .torch_name = "Conv2d",
    .keys = keys,
    .needs_keys = 1,
    .summary_chw = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
