/* host/nn/layer_dropout.c — nn.Dropout: while training, zero each element with probability p
 * and scale the rest by 1/(1-p); the mask (float, per element) is kept for backward. Outside
 * training, or with p = 0, a copy. */
#include "layer.h"

#include <cjson/cJSON.h>

static const char *const keys[] = {"p", NULL};
/* torch.nn.Dropout's default; written once for the reader and for --help. */
#define P_DEFAULT 0.5
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)

static int from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    double p;
    if (lh_config_get_float(map, "p", P_DEFAULT, 0.0, 0.999, &p, err))
        return -1;
    l->dropout.p = (float)p;
    return 0;
}

static void to_json(const lh_layer_spec *l, cJSON *o)
{
    cJSON_AddNumberToObject(o, "p", l->dropout.p);
}

static int from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p");
    if (!cJSON_IsNumber(p) || p->valuedouble < 0 || p->valuedouble >= 1)
        return lh_error_set(err, "model spec: layer %d: `p`: expected a number in [0, 1)", index);
    l->dropout.p = (float)p->valuedouble;
    return 0;
}

static int forward(const lh_layer_step *s)
{
    int64_t n = (int64_t)s->n * s->p->out_numel;
    float p = s->l->dropout.p;
    if (!s->training || p <= 0)
        return s->m->be->copy(s->m->bctx, s->y, s->x, (size_t)n * 4);
    /* each dropout layer draws its own mask from the step's seed */
    return s->m->be->dropout_forward(s->m->bctx, n, p, s->seed ^ ((uint64_t)s->i << 56), s->x,
                                     s->y, s->aux);
}

static int backward(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx)
{
    if (!*dx)
        return 0; /* layer 0: no input gradient wanted, and no parameters */
    if (s->l->dropout.p <= 0) {
        *dx = dy;
        return 0;
    }
    return s->m->be->dropout_backward(s->m->bctx, (int64_t)s->n * s->p->out_numel, dy, s->aux,
                                      *dx);
}

const lh_layer_kind lh_layer_dropout = {
    .torch_name = "Dropout",
    .keys = keys,
    .keys_help = "p=" TEXT(P_DEFAULT) " (the probability of zeroing)",
    .aux = 1,
    .from_cfg = from_cfg,
    .to_json = to_json,
    .from_json = from_json,
    .forward = forward,
    .backward = backward,
};
