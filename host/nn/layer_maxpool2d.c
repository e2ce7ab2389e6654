/* host/nn/layer_maxpool2d.c — nn.MaxPool2d: square window, no padding; keeps the argmax of
 * each output (int32, within its (H, W) plane) for backward. */
#include "layer.h"

/* PyTorch's default stride is the kernel size */
static const lh_layer_int_key ints[] = {
    {"kernel_size", offsetof(lh_layer_spec, maxpool2d.kernel), 1, 64, 2, 0},
    {"stride", offsetof(lh_layer_spec, maxpool2d.stride), 1, 64, 0, LH_LAYER_KEY_DEF_PREV},
    {NULL},
};

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    const lh_layer_pool_cfg *c = &m->spec.layers[i].maxpool2d;
    if (s->flat || s->h < c->kernel || s->w < c->kernel)
        return lh_error_set(err, "model.layers.%d (maxpool2d): input %dx%d is %s", i, s->h, s->w,
                            s->flat ? "flat" : "smaller than the kernel");
    s->h = (s->h - c->kernel) / c->stride + 1;
    s->w = (s->w - c->kernel) / c->stride + 1;
    return 0;
}

void lh_layer_maxpool2d_shape(const lh_model *m, int32_t i, int32_t n, lh_pool_shape *s)
{
    const lh_layer_pool_cfg *c = &m->spec.layers[i].maxpool2d;
    s->n = n, s->c = m->plan[i].c;
    lh_layer_in_hw(m, i, &s->h, &s->w);
    s->size = c->kernel, s->stride = c->stride;
    s->oh = m->plan[i].h, s->ow = m->plan[i].w;
}

static int forward(const lh_layer_step *st)
{
    lh_pool_shape s;
    lh_layer_maxpool2d_shape(st->m, st->i, st->n, &s);
    return st->m->be->maxpool_forward(st->m->bctx, &s, st->x, st->y, st->aux);
}

static int backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    lh_pool_shape s;
    if (!*dx)
        return 0; /* layer 0: no input gradient wanted, and no parameters */
    lh_layer_maxpool2d_shape(st->m, st->i, st->n, &s);
    return st->m->be->maxpool_backward(st->m->bctx, &s, dy, st->aux, *dx);
}

const lh_layer_kind lh_layer_maxpool2d = {
    .torch_name = "MaxPool2d",
    .ints = ints,
    .aux = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
