/* host/nn/layer_flatten.c — nn.Flatten: (C, H, W) -> (C*H*W). The memory is the same, so it
 * moves nothing except as the first layer (whose input buffer is not its own). */
#include "layer.h"

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    if (lh_layer_flat_features(m, i, s, &s->c, err))
        return -1;
    s->h = s->w = 1, s->flat = 1;
    return 0;
}

static int forward(const lh_layer_step *s)
{
    if (s->y == s->x)
        return 0;
    return s->m->be->copy(s->m->bctx, s->y, s->x, (size_t)s->n * s->p->out_numel * 4);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    *dx = dy;
    return 0;
}

const lh_layer_kind lh_layer_flatten = {
    .torch_name = "Flatten",
    .in_place = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
