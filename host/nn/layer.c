/* host/nn/layer.c — the table of layer kinds and of fusions, built from LH_LAYER_MAP
 * (layer_kinds.h) and LH_LAYER_FUSION_MAP (layer.h), and the helpers kinds share. */
#include "layer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define LH_LAYER_ENTRY_(ID, name, cfg) [LH_LAYER_##ID] = &lh_layer_##name,
static const lh_layer_kind *const kinds[LH_LAYER_COUNT] = {LH_LAYER_MAP(LH_LAYER_ENTRY_)};
#undef LH_LAYER_ENTRY_

#define LH_LAYER_NAME_(ID, name, cfg) #name,
static const char *const names[LH_LAYER_COUNT] = {LH_LAYER_MAP(LH_LAYER_NAME_) NULL};
#undef LH_LAYER_NAME_

/* ", conv2d, relu, ..." as one literal; the list starts past the first ", ". */
#define LH_LAYER_LIST_(ID, name, cfg) ", " #name
static const char name_list[] = LH_LAYER_MAP(LH_LAYER_LIST_);
#undef LH_LAYER_LIST_

#define LH_LAYER_FUSION_ENTRY_(name) &lh_layer_fusion_##name,
static const lh_layer_fusion *const fusions[] = {LH_LAYER_FUSION_MAP(LH_LAYER_FUSION_ENTRY_)
                                                 NULL};
#undef LH_LAYER_FUSION_ENTRY_

const lh_layer_kind *lh_layer_kind_of(int32_t type)
{
    return type > LH_LAYER_NONE && type < LH_LAYER_COUNT ? kinds[type] : NULL;
}

const char *lh_layer_name(int32_t type)
{
    return type > LH_LAYER_NONE && type < LH_LAYER_COUNT ? names[type - 1] : "?";
}

int32_t lh_layer_find(const char *name)
{
    int32_t t;
    for (t = 0; names[t]; t++)
        if (strcmp(names[t], name) == 0)
            return t + 1;
    return LH_LAYER_NONE;
}

const char *const *lh_layer_names(void)
{
    return names;
}

const char *lh_layer_name_list(void)
{
    return name_list + 2;
}

void lh_layer_describe(lh_layer_kind_row row, void *user)
{
    int32_t t;
    for (t = 1; lh_layer_kind_of(t); t++) {
        const lh_layer_kind *k = lh_layer_kind_of(t);
        const lh_layer_int_key *q;
        char keys[512] = "";
        size_t n = 0;
        for (q = k->ints; q && q->key; q++) {
            const char *sep = n ? ", " : "";
            if (q->flags & LH_LAYER_KEY_NEEDED)
                n += snprintf(keys + n, sizeof keys - n, "%s%s (needed)", sep, q->key);
            else if (q->flags & LH_LAYER_KEY_INFERRED)
                n += snprintf(keys + n, sizeof keys - n, "%s%s (from the input)", sep, q->key);
            else if (q->flags & LH_LAYER_KEY_DEF_PREV)
                n += snprintf(keys + n, sizeof keys - n, "%s%s=%s", sep, q->key, q[-1].key);
            else
                n += snprintf(keys + n, sizeof keys - n, "%s%s=%d", sep, q->key, (int)q->def);
            if (n >= sizeof keys)
                n = sizeof keys - 1;
        }
        if (k->keys_help)
            snprintf(keys + n, sizeof keys - n, "%s%s", n ? ", " : "", k->keys_help);
        row(user, lh_layer_name(t), k->torch_name, keys);
    }
}

const lh_layer_fusion *const *lh_layer_fusions(void)
{
    return fusions;
}

int lh_layer_add_param(lh_model *m, int32_t i, const char *what, int32_t ndim,
                       const int64_t *shape, int64_t fan_in, lh_error *err)
{
    lh_param_info *p;
    char name[sizeof p->name];
    int32_t d;
    if (m->n_params == LH_MAX_PARAMS)
        return lh_error_set(err, "model.layers.%d (%s %s): more than %d parameter tensors in the "
                            "model", i, lh_layer_name(m->spec.layers[i].type),
                            m->spec.layers[i].name, LH_MAX_PARAMS);
    snprintf(name, sizeof name, "%s.%s", m->spec.layers[i].name, what);
    p = &m->params[m->n_params++];
    memcpy(p->name, name, sizeof name);
    p->ndim = ndim;
    p->numel = 1;
    for (d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        if (__builtin_mul_overflow(p->numel, shape[d], &p->numel) || p->numel > LH_MAX_NUMEL)
            break;
    }
    /* Sizes come from configs and checkpoints: a product past LH_MAX_NUMEL is refused here,
     * before it can wrap in the byte counts that allocate and copy the parameters. */
    if (d < ndim || m->total_params > LH_MAX_NUMEL - p->numel) {
        m->n_params--;
        return lh_error_set(err, "model.layers.%d (%s %s): %s %s more than %lld elements",
                            i, lh_layer_name(m->spec.layers[i].type), m->spec.layers[i].name,
                            name, d < ndim ? "has" : "brings the model's parameters to",
                            (long long)LH_MAX_NUMEL);
    }
    p->fan_in = fan_in;
    p->offset = m->total_params;
    m->total_params += p->numel;
    return 0;
}

int lh_layer_add_weight_bias(lh_model *m, int32_t i, int32_t ndim, const int64_t *ws,
                             int64_t fan_in, lh_error *err)
{
    return lh_layer_add_param(m, i, "weight", ndim, ws, fan_in, err) ||
                   lh_layer_add_param(m, i, "bias", 1, ws, fan_in, err)
               ? -1
               : 0;
}

int lh_layer_flat_features(const lh_model *m, int32_t i, const lh_layer_shape *s,
                           int32_t *out, lh_error *err)
{
    int64_t n = (int64_t)s->c * s->h * s->w; /* each at most 2^31: no int64 overflow */
    const lh_layer_spec *l = &m->spec.layers[i];
    if (n > INT32_MAX)
        return lh_error_set(err, "model.layers.%d (%s %s): input (%d, %d, %d) has %lld features "
                            "(expected at most %d)", i, lh_layer_name(l->type), l->name, s->c,
                            s->h, s->w, (long long)n, INT32_MAX);
    *out = (int32_t)n;
    return 0;
}

int lh_layer_infer(const lh_model *m, int32_t i, const char *key, const char *unit,
                   int32_t *cfg, int32_t actual, lh_error *err)
{
    const lh_layer_spec *l = &m->spec.layers[i];
    if (*cfg && *cfg != actual)
        return lh_error_set(err, "model.layers.%d (%s %s): %s is %d but the input has %d %s; "
                            "expected %d", i, lh_layer_name(l->type), l->name, key, *cfg, actual,
                            unit, actual);
    *cfg = actual;
    return 0;
}

int lh_layer_add_buffer(lh_model *m, int32_t i, const char *what, int64_t numel, float init,
                        int32_t persistent, lh_error *err)
{
    lh_buffer_info *b;
    char name[sizeof b->name];
    if (m->n_buffers == LH_MAX_PARAMS)
        return lh_error_set(err, "model.layers.%d (%s %s): more than %d buffers in the model", i,
                            lh_layer_name(m->spec.layers[i].type), m->spec.layers[i].name,
                            LH_MAX_PARAMS);
    snprintf(name, sizeof name, "%s.%s", m->spec.layers[i].name, what);
    b = &m->buffers[m->n_buffers++];
    memcpy(b->name, name, sizeof name);
    b->numel = numel; /* a channel count: at most 2^20 */
    b->offset = m->total_buffers;
    b->init = init;
    b->persistent = persistent;
    m->total_buffers += numel;
    return 0;
}

lh_dmem *lh_layer_buffer(const lh_model *m, int32_t i, int32_t k)
{
    return lh_dmem_at(m->buf, (size_t)m->buffers[m->plan[i].buf0 + k].offset * 4);
}

lh_dmem *lh_layer_input(const lh_model *m, int32_t i)
{
    return i ? m->act[i - 1] : m->input;
}

void lh_layer_in_shape(const lh_model *m, int32_t i, lh_layer_shape *s)
{
    if (i == 0) {
        s->c = m->spec.in_c, s->h = m->spec.in_h, s->w = m->spec.in_w, s->flat = 0;
        return;
    }
    s->c = m->plan[i - 1].c, s->h = m->plan[i - 1].h, s->w = m->plan[i - 1].w;
    /* flat shapes are (c, 1, 1); a spatial 1x1 map reads as flat only after a flat kind */
    s->flat = m->plan[i - 1].flat;
}

int lh_layer_cfg_float(const lh_config_node *map, const char *key, double def, double lo,
                       double hi, float *out, lh_error *err)
{
    double v;
    if (lh_config_get_float(map, key, def, lo, hi, &v, err))
        return -1;
    *out = (float)v;
    return 0;
}

int lh_layer_json_float(const cJSON *o, const char *key, double lo, double hi, float *out,
                        lh_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return lh_error_set(err, "model spec: `%s`: expected a number in [%g, %g]", key, lo, hi);
    *out = (float)v->valuedouble;
    return 0;
}

static lh_dmem *tensor_at(const lh_model *m, lh_dmem *base, int32_t i, int32_t k)
{
    return lh_dmem_at(base, (size_t)m->params[m->plan[i].param0 + k].offset * 4);
}

lh_dmem *lh_layer_param(const lh_model *m, int32_t i, int32_t k)
{
    return tensor_at(m, m->param, i, k);
}

lh_dmem *lh_layer_grad(const lh_model *m, int32_t i, int32_t k)
{
    return tensor_at(m, m->grad, i, k);
}

void lh_layer_in_hw(const lh_model *m, int32_t i, int32_t *h, int32_t *w)
{
    *h = i ? m->plan[i - 1].h : m->spec.in_h;
    *w = i ? m->plan[i - 1].w : m->spec.in_w;
}

int lh_layer_json_int(const cJSON *o, const char *key, int32_t lo, int32_t hi, int32_t *out,
                      lh_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return lh_error_set(err, "model spec: `%s`: expected an integer in [%d, %d]", key, lo, hi);
    *out = (int32_t)v->valuedouble;
    return 0;
}

static int32_t *int_at(lh_layer_spec *l, const lh_layer_int_key *f)
{
    return (int32_t *)((char *)l + f->offset);
}

int lh_layer_from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err)
{
    const lh_layer_kind *k = lh_layer_kind_of(l->type);
    const lh_layer_int_key *f;
    int64_t v;
    for (f = k->ints; f && f->key; f++) {
        int32_t def = f->flags & LH_LAYER_KEY_DEF_PREV ? *int_at(l, f - 1) : f->def;
        if (map && (f->flags & LH_LAYER_KEY_NEEDED) && !lh_config_get(map, f->key))
            return lh_error_set(err, "config %s: %s: %s needs %s", lh_config_where(map),
                                lh_config_path(map), lh_layer_name(l->type), f->key);
        if (lh_config_get_int(map, f->key, def, f->lo, f->hi, &v, err))
            return -1;
        *int_at(l, f) = (int32_t)v;
    }
    return k->from_cfg ? k->from_cfg(map, l, err) : 0;
}

void lh_layer_to_json(const lh_layer_spec *l, cJSON *o)
{
    const lh_layer_kind *k = lh_layer_kind_of(l->type);
    const lh_layer_int_key *f;
    for (f = k->ints; f && f->key; f++)
        cJSON_AddNumberToObject(o, f->key, *(const int32_t *)((const char *)l + f->offset));
    if (k->to_json)
        k->to_json(l, o);
}

int lh_layer_from_json(const cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err)
{
    const lh_layer_kind *k = lh_layer_kind_of(l->type);
    const lh_layer_int_key *f;
    for (f = k->ints; f && f->key; f++)
        if (lh_layer_json_int(o, f->key, f->lo, f->hi, int_at(l, f), err))
            return -1;
    return k->from_json ? k->from_json(o, index, l, err) : 0;
}
