/* host/nn/layer_relu.c — nn.ReLU, in place: forward overwrites its input (the layer before
 * never needs its output again) and backward needs only the output. */
#include "layer.h"

static int forward(const lh_layer_step *s)
{
    return s->m->be->relu_forward(s->m->bctx, (int64_t)s->n * s->p->out_numel, s->x, s->y);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    if (!*dx)
        return 0; /* layer 0: no input gradient wanted, and no parameters */
    *dx = dy;
    return s->m->be->relu_backward(s->m->bctx, (int64_t)s->n * s->p->out_numel, s->y, dy, dy);
}

const lh_layer_kind lh_layer_relu = {
    .torch_name = "ReLU",
    .in_place = 1,
    .forward = forward,
    .backward = backward,
};
