/* host/nn/layer_activation.c — what the element-wise activation kinds (tanh, sigmoid, gelu,
 * silu, leaky_relu; one layer_<kind>.c each) share: one backend op with the activation's
 * number. Not in place: backward reads the input, which must survive the forward. */
#include "layer.h"

int lh_layer_act_forward(const lh_layer_step *s, int32_t act, float slope)
{
    return s->m->be->act_forward(s->m->bctx, act, slope, (int64_t)s->n * s->p->out_numel, s->x,
                                 s->y);
}

int lh_layer_act_backward(const lh_layer_step *s, int32_t act, float slope, lh_dmem *dy,
                          lh_dmem **dx)
{
    if (!*dx)
        return 0; /* layer 0: no input gradient wanted, and no parameters */
    *dx = dy;     /* in place: dx may equal dy */
    return s->m->be->act_backward(s->m->bctx, act, slope, (int64_t)s->n * s->p->out_numel, s->x,
                                  dy, dy);
}
