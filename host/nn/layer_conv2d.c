/* host/nn/layer_conv2d.c — nn.Conv2d: weight (K, C, R, R) and bias (K), square kernel, one
 * stride and padding for both axes. */
#include "layer.h"

#define AT(field) offsetof(lh_layer_spec, conv2d.field)
static const lh_layer_int_key ints[] = {
    {"in_channels", AT(in_ch), 0, 1 << 20, 0, LH_LAYER_KEY_INFERRED},
    {"out_channels", AT(out_ch), 1, 1 << 20, 1, LH_LAYER_KEY_NEEDED},
    {"kernel_size", AT(kernel), 1, 64, 3, 0},
    {"stride", AT(stride), 1, 64, 1, 0},
    {"padding", AT(padding), 0, 64, 0, 0},
    {NULL},
};
#undef AT

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_conv2d_cfg *c = &l->conv2d;
    int64_t ws[4];
    if (s->flat)
        return lh_error_set(err, "model.layers.%d (conv2d %s): input is flat; conv2d needs "
                            "(C, H, W)", i, l->name);
    if (lh_layer_infer(m, i, "in_channels", "channels", &c->in_ch, s->c, err))
        return -1;
    if (s->h + 2 * c->padding < c->kernel || s->w + 2 * c->padding < c->kernel)
        return lh_error_set(err, "model.layers.%d (conv2d %s): kernel %d larger than the padded "
                            "input %dx%d", i, l->name, c->kernel, s->h + 2 * c->padding,
                            s->w + 2 * c->padding);
    s->h = (s->h + 2 * c->padding - c->kernel) / c->stride + 1;
    s->w = (s->w + 2 * c->padding - c->kernel) / c->stride + 1;
    s->c = c->out_ch;
    ws[0] = c->out_ch, ws[1] = c->in_ch, ws[2] = ws[3] = c->kernel;
    /* nn.Conv2d.reset_parameters: both bounds from the weight's fan_in, C * R * R */
    return lh_layer_add_weight_bias(m, i, 4, ws, (int64_t)c->in_ch * c->kernel * c->kernel, err);
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
    .ints = ints,
    .needs_keys = 1,
    .summary_chw = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
