/* host/nn/layer_residual.c — the end of a residual block: y = body(x) + x, where the body is
 * the `span` layers before this one and x the input of the first of them (the YAML's
 * `residual:` list, model_spec.c). When the body changes the shape, x goes through a 1x1
 * projection "<name>.proj" (nn.Conv2d(C_in, C_out, 1, stride), weight and bias) first, as
 * ResNet's downsampling shortcut; its stride is the one that maps x's H and W onto the body's.
 *
 * Backward passes dy on to the body unchanged and keeps the skip path's gradient (dy, or the
 * projection's input gradient) in aux (n, C_in * H_in * W_in); model.c adds it to the body's
 * input gradient once backward has gone through the body's first layer (plan.block_end). */
#include "layer.h"

static const lh_layer_int_key ints[] = {
    {"span", offsetof(lh_layer_spec, residual.span), 1, LH_MAX_LAYERS - 1, 1,
     LH_LAYER_KEY_NEEDED},
    {NULL},
};

/* The stride st with (in - 1) / st + 1 == out for both axes, or 0. */
static int32_t proj_stride(const lh_layer_shape *in, const lh_layer_shape *out)
{
    for (int32_t st = 1; st <= in->h && st <= in->w; st++)
        if ((in->h - 1) / st + 1 == out->h && (in->w - 1) / st + 1 == out->w)
            return st;
    return 0;
}

static int plan(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err)
{
    lh_layer_spec *l = &m->spec.layers[i];
    lh_layer_residual_cfg *c = &l->residual;
    int32_t first = i - c->span, j;
    lh_layer_shape in;
    int64_t ws[4];
    if (first < 0)
        return lh_error_set(err, "model.layers.%d (residual %s): span %d reaches before the first "
                            "layer", i, l->name, c->span);
    for (j = first; j < i; j++)
        if (m->spec.layers[j].type == LH_LAYER_RESIDUAL || m->plan[j].block_end)
            return lh_error_set(err, "model.layers.%d (residual %s): its body holds another "
                                "residual block (layer %d); blocks cannot nest", i, l->name, j);
    lh_layer_in_shape(m, first, &in);
    m->plan[first].block_end = i;
    m->plan[i].aux_numel = (int64_t)in.c * in.h * in.w;
    c->proj_stride = 0;
    if (in.c == s->c && in.h == s->h && in.w == s->w && in.flat == s->flat)
        return 0; /* identity shortcut */
    if (in.flat || s->flat || !(c->proj_stride = proj_stride(&in, s)))
        return lh_error_set(err, "model.layers.%d (residual %s): the body maps (%d, %d, %d) to "
                            "(%d, %d, %d)%s; a 1x1 projection cannot match them", i, l->name,
                            in.c, in.h, in.w, s->c, s->h, s->w,
                            in.flat || s->flat ? " (flat)" : "");
    ws[0] = s->c, ws[1] = in.c, ws[2] = ws[3] = 1;
    /* nn.Conv2d.reset_parameters: fan_in C_in * 1 * 1. Named "<name>.proj.weight", ".bias". */
    return lh_layer_add_param(m, i, "proj.weight", 4, ws, in.c, err) ||
                   lh_layer_add_param(m, i, "proj.bias", 1, ws, in.c, err)
               ? -1
               : 0;
}

static void proj_shape(const lh_model *m, int32_t i, int32_t n, lh_conv_shape *s)
{
    int32_t first = i - m->spec.layers[i].residual.span;
    lh_layer_shape in;
    lh_layer_in_shape(m, first, &in);
    s->n = n, s->c = in.c, s->h = in.h, s->w = in.w;
    s->k = m->plan[i].c, s->r = s->s = 1;
    s->stride = m->spec.layers[i].residual.proj_stride, s->pad = 0;
    s->oh = m->plan[i].h, s->ow = m->plan[i].w;
}

static int forward(const lh_layer_step *st)
{
    const lh_model *m = st->m;
    int32_t i = st->i;
    const lh_dmem *skip = lh_layer_input(m, i - st->l->residual.span);
    int64_t n = (int64_t)st->n * st->p->out_numel;
    lh_conv_shape s;
    if (!st->l->residual.proj_stride)
        return m->be->add(m->bctx, n, st->x, skip, st->y);
    proj_shape(m, i, st->n, &s);
    return m->be->conv2d_forward(m->bctx, &s, skip, lh_layer_param(m, i, 0),
                                 lh_layer_param(m, i, 1), st->y) ||
                   m->be->add(m->bctx, n, st->y, st->x, st->y)
               ? LH_BACKEND_EINVAL
               : 0;
}

static int backward(const lh_layer_step *st, lh_dmem *dy, lh_dmem **dx)
{
    const lh_model *m = st->m;
    int32_t i = st->i, first = i - st->l->residual.span;
    /* the block's input gradient is wanted unless the block starts the model */
    lh_dmem *skip_dx = first ? st->aux : NULL;
    lh_conv_shape s;
    int rc = 0;
    if (!st->l->residual.proj_stride) {
        if (skip_dx)
            rc = m->be->copy(m->bctx, skip_dx, dy, (size_t)st->n * st->p->out_numel * 4);
    } else {
        proj_shape(m, i, st->n, &s);
        rc = m->be->conv2d_backward(m->bctx, &s, lh_layer_input(m, first),
                                    lh_layer_param(m, i, 0), dy, skip_dx,
                                    lh_layer_grad(m, i, 0), lh_layer_grad(m, i, 1));
    }
    *dx = dy; /* the body's output gradient is the block's */
    return rc;
}

const lh_layer_kind lh_layer_residual = {
    .torch_name = "Residual",
    .ints = ints,
    .needs_keys = 1,
    /* written by hand only in checkpoints: configs say `- {residual: [...], name: ...}` */
    .keys_help = "the body's layer count, before it; usually {residual: [layers], name: N}",
    .aux = 1,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
