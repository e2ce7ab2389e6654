/* host/nn/layer_maxpool2d.c — nn.MaxPool2d: square window, no padding; keeps the argmax of
 * each output (int32, within its (H, W) plane) for backward. */
#include "layer.h"

#include <cjson/cJSON.h>

static const char *const keys[] = {"kernel_size", "stride", NULL};

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    int64_t v;
    if (lh_config_get_int(map, "kernel_size", 2, 1, 64, &v, err))
        return -1;
    l->maxpool2d.kernel = (int32_t)v;
    /* PyTorch's default stride is the kernel size */
    if (lh_config_get_int(map, "stride", l->maxpool2d.kernel, 1, 64, &v, err))
        return -1;
    l->maxpool2d.stride = (int32_t)v;
    return 0;
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "kernel_size", l->maxpool2d.kernel);
    cJSON_AddNumberToObject(o, "stride", l->maxpool2d.stride);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    return lh_layer_json_int(o, "kernel_size", 1, 64, &l->maxpool2d.kernel, err) ||
                   lh_layer_json_int(o, "stride", 1, 64, &l->maxpool2d.stride, err)
               ? -1
               : 0;
}

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
    .keys = keys,
    .aux = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .plan = plan,
    .forward = forward,
    .backward = backward,
};
