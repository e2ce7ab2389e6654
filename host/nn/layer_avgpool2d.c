/* host/nn/layer_avgpool2d.c — nn.AvgPool2d: square window, no padding, floor mode; also the
 * backend shape the adaptive and global poolings (layer_adaptive_avgpool2d.c,
 * layer_global_avgpool2d.c) fill in with size 0. */
#include "layer.h"

/* PyTorch's default stride is the kernel size */
static const lh_layer_int_key ints[] = {
    {"kernel_size", offsetof(lh_layer_spec, avgpool2d.kernel), 1, 64, 2, 0},
    {"stride", offsetof(lh_layer_spec, avgpool2d.stride), 1, 64, 0, LH_LAYER_KEY_DEF_PREV},
    {NULL},
};

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    const lh_layer_pool_cfg *c = &m->spec.layers[i].avgpool2d;
    if (s->flat || s->h < c->kernel || s->w < c->kernel)
        return lh_error_set(err, "model.layers.%d (avgpool2d %s): input %dx%d is %s", i,
                            m->spec.layers[i].name, s->h, s->w,
                            s->flat ? "flat" : "smaller than the kernel");
    s->h = (s->h - c->kernel) / c->stride + 1;
    s->w = (s->w - c->kernel) / c->stride + 1;
    return 0;
}

void lh_layer_avgpool_shape(const lh_model *m, int32_t i, int32_t n, int32_t size,
                            int32_t stride, lh_pool_shape *s)
{
    lh_layer_shape in;
    lh_layer_in_shape(m, i, &in);
    s->n = n, s->c = in.c, s->h = in.h, s->w = in.w;
    s->size = size, s->stride = stride;
    /* a global pooling's output is flat (c, 1, 1): the same numbers */
    s->oh = m->plan[i].flat ? 1 : m->plan[i].h;
    s->ow = m->plan[i].flat ? 1 : m->plan[i].w;
}

int lh_layer_avgpool_forward(const lh_layer_step *st, int32_t size, int32_t stride)
{
    lh_pool_shape s;
    lh_layer_avgpool_shape(st->m, st->i, st->n, size, stride, &s);
    return st->m->be->avgpool_forward(st->m->bctx, &s, st->x, st->y);
}

int lh_layer_avgpool_backward(const lh_layer_step *st, int32_t size, int32_t stride,
                              lh_dmem *dy, lh_dmem **dx)
{
    lh_pool_shape s;
    if (!*dx)
        return 0; /* layer 0: no input gradient wanted, and no parameters */
    lh_layer_avgpool_shape(st->m, st->i, st->n, size, stride, &s);
    return st->m->be->avgpool_backward(st->m->bctx, &s, dy, *dx);
}

static int forward(const lh_layer_step *st)
{
    return lh_layer_avgpool_forward(st, st->l->avgpool2d.kernel, st->l->avgpool2d.stride);
}

static int backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    return lh_layer_avgpool_backward(st, st->l->avgpool2d.kernel, st->l->avgpool2d.stride, dy,
                                     dx);
}

const lh_layer_kind lh_layer_avgpool2d = {
    .torch_name = "AvgPool2d",
    .ints = ints,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
