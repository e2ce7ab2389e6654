/* host/nn/model_spec.c — model specs: reading `model.layers` from the config, JSON round trip for
 * checkpoints. Shapes are checked by lh_model_plan (model.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const char *const layer_types[] = {"conv2d", "relu", "maxpool2d", "flatten",
                                          "linear", "dropout", NULL};

static int layer_from_cfg(const lh_config_node *item, int32_t index, lh_layer_spec *l, lh_error *err)
{
    int type = 0;
    int64_t v;
    double p;
    const char *name = NULL;
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%d", (int)index);
    if (lh_config_type(item) == LH_CFG_SCALAR) {
        const char *s = lh_config_scalar(item);
        for (type = 0; layer_types[type] && strcmp(layer_types[type], s) != 0; type++)
            ;
        if (!layer_types[type])
            return lh_error_set(err, "config %s: %s: unknown layer \"%s\"; expected one of conv2d, "
                                "relu, maxpool2d, flatten, linear, dropout",
                                lh_config_where(item), lh_config_path(item), s);
        l->type = type + 1;
        if (l->type == LH_LAYER_MAXPOOL2D)
            l->pool_kernel = l->pool_stride = 2;
        if (l->type == LH_LAYER_DROPOUT)
            l->p = 0.5f;
        if (l->type == LH_LAYER_CONV2D || l->type == LH_LAYER_LINEAR)
            return lh_error_set(err, "config %s: %s: layer %s needs parameters",
                                lh_config_where(item), lh_config_path(item), s);
        return 0;
    }
    if (lh_config_type(item) != LH_CFG_MAP)
        return lh_error_set(err, "config %s: %s: expected a layer (a map with `type`)",
                            lh_config_where(item), lh_config_path(item));
    if (!lh_config_get(item, "type"))
        return lh_error_set(err, "config %s: %s: missing key `type` (one of conv2d, relu, "
                            "maxpool2d, flatten, linear, dropout)",
                            lh_config_where(item), lh_config_path(item));
    if (lh_config_get_enum(item, "type", layer_types, 0, &type, err))
        return -1;
    l->type = type + 1;
    if (lh_config_get_string(item, "name", NULL, &name, err))
        return -1;
    if (name) {
        if (strlen(name) >= sizeof l->name || !name[0])
            return lh_error_set(err, "config %s: %s.name: expected 1 to %d characters",
                                lh_config_where(item), lh_config_path(item), (int)sizeof l->name - 1);
        snprintf(l->name, sizeof l->name, "%s", name);
    }
    switch (l->type) {
    case LH_LAYER_CONV2D: {
        static const char *const keys[] = {"type", "name", "in_channels", "out_channels",
                                           "kernel_size", "stride", "padding", NULL};
        if (lh_config_check_keys(item, keys, err))
            return -1;
        if (lh_config_get_int(item, "in_channels", 0, 0, 1 << 20, &v, err))
            return -1;
        l->in_ch = (int32_t)v;
        if (!lh_config_get(item, "out_channels"))
            return lh_error_set(err, "config %s: %s: conv2d needs out_channels",
                                lh_config_where(item), lh_config_path(item));
        if (lh_config_get_int(item, "out_channels", 1, 1, 1 << 20, &v, err))
            return -1;
        l->out_ch = (int32_t)v;
        if (lh_config_get_int(item, "kernel_size", 3, 1, 64, &v, err))
            return -1;
        l->kernel = (int32_t)v;
        if (lh_config_get_int(item, "stride", 1, 1, 64, &v, err))
            return -1;
        l->stride = (int32_t)v;
        if (lh_config_get_int(item, "padding", 0, 0, 64, &v, err))
            return -1;
        l->padding = (int32_t)v;
        break;
    }
    case LH_LAYER_LINEAR: {
        static const char *const keys[] = {"type", "name", "in_features", "out_features", NULL};
        if (lh_config_check_keys(item, keys, err))
            return -1;
        if (lh_config_get_int(item, "in_features", 0, 0, INT32_MAX, &v, err))
            return -1;
        l->in_features = (int32_t)v;
        if (!lh_config_get(item, "out_features"))
            return lh_error_set(err, "config %s: %s: linear needs out_features",
                                lh_config_where(item), lh_config_path(item));
        if (lh_config_get_int(item, "out_features", 1, 1, INT32_MAX, &v, err))
            return -1;
        l->out_features = (int32_t)v;
        break;
    }
    case LH_LAYER_MAXPOOL2D: {
        static const char *const keys[] = {"type", "name", "kernel_size", "stride", NULL};
        if (lh_config_check_keys(item, keys, err))
            return -1;
        if (lh_config_get_int(item, "kernel_size", 2, 1, 64, &v, err))
            return -1;
        l->pool_kernel = (int32_t)v;
        if (lh_config_get_int(item, "stride", l->pool_kernel, 1, 64, &v, err))
            return -1;
        l->pool_stride = (int32_t)v;
        break;
    }
    case LH_LAYER_DROPOUT: {
        static const char *const keys[] = {"type", "name", "p", NULL};
        if (lh_config_check_keys(item, keys, err))
            return -1;
        if (lh_config_get_float(item, "p", 0.5, 0.0, 0.999, &p, err))
            return -1;
        l->p = (float)p;
        break;
    }
    default: {
        static const char *const keys[] = {"type", "name", NULL};
        if (lh_config_check_keys(item, keys, err))
            return -1;
    }
    }
    return 0;
}

int lh_model_spec_from_cfg(const lh_config_node *model, int32_t in_c, int32_t in_h, int32_t in_w,
                           lh_model_spec *out, lh_error *err)
{
    static const char *const keys[] = {"layers", "input_shape", NULL};
    const lh_config_node *layers, *shape;
    int32_t i;
    memset(out, 0, sizeof *out);
    out->in_c = in_c, out->in_h = in_h, out->in_w = in_w;
    if (!model)
        return lh_error_set(err, "config: missing section `model` (a list under model.layers)");
    if (lh_config_check_keys(model, keys, err))
        return -1;
    shape = lh_config_get(model, "input_shape");
    if (shape) {
        int64_t d[3];
        if (lh_config_type(shape) != LH_CFG_SEQ || lh_config_len(shape) != 3)
            return lh_error_set(err, "config %s: model.input_shape: expected [C, H, W]",
                                lh_config_where(shape));
        for (i = 0; i < 3; i++) {
            const char *s = lh_config_scalar(lh_config_at(shape, i));
            char *end;
            d[i] = s ? strtoll(s, &end, 10) : 0;
            if (!s || *end || d[i] < 1 || d[i] > 65536)
                return lh_error_set(err, "config %s: model.input_shape: expected three positive "
                                    "integers [C, H, W]", lh_config_where(shape));
        }
        if ((in_c && d[0] != in_c) || (in_h && d[1] != in_h) || (in_w && d[2] != in_w))
            return lh_error_set(err, "config %s: model.input_shape: [%lld, %lld, %lld] does not "
                                "match the data's [%d, %d, %d]", lh_config_where(shape),
                                (long long)d[0], (long long)d[1], (long long)d[2], in_c, in_h, in_w);
        out->in_c = (int32_t)d[0], out->in_h = (int32_t)d[1], out->in_w = (int32_t)d[2];
    }
    layers = lh_config_get(model, "layers");
    if (!layers || lh_config_type(layers) != LH_CFG_SEQ || lh_config_len(layers) == 0)
        return lh_error_set(err, "config %s: model.layers: expected a non-empty list of layers",
                            lh_config_where(layers ? layers : model));
    if (lh_config_len(layers) > LH_MAX_LAYERS)
        return lh_error_set(err, "config %s: model.layers: at most %d layers",
                            lh_config_where(layers), LH_MAX_LAYERS);
    out->n_layers = lh_config_len(layers);
    for (i = 0; i < out->n_layers; i++)
        if (layer_from_cfg(lh_config_at(layers, i), i, &out->layers[i], err))
            return -1;
    return 0;
}

char *lh_model_spec_to_json(const lh_model_spec *spec)
{
    cJSON *root = cJSON_CreateObject(), *arr;
    char *s;
    int32_t i;
    cJSON_AddNumberToObject(root, "in_c", spec->in_c);
    cJSON_AddNumberToObject(root, "in_h", spec->in_h);
    cJSON_AddNumberToObject(root, "in_w", spec->in_w);
    arr = cJSON_AddArrayToObject(root, "layers");
    for (i = 0; i < spec->n_layers; i++) {
        const lh_layer_spec *l = &spec->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", layer_types[l->type - 1]);
        cJSON_AddStringToObject(o, "name", l->name);
        if (l->type == LH_LAYER_CONV2D) {
            cJSON_AddNumberToObject(o, "in_channels", l->in_ch);
            cJSON_AddNumberToObject(o, "out_channels", l->out_ch);
            cJSON_AddNumberToObject(o, "kernel_size", l->kernel);
            cJSON_AddNumberToObject(o, "stride", l->stride);
            cJSON_AddNumberToObject(o, "padding", l->padding);
        } else if (l->type == LH_LAYER_LINEAR) {
            cJSON_AddNumberToObject(o, "in_features", l->in_features);
            cJSON_AddNumberToObject(o, "out_features", l->out_features);
        } else if (l->type == LH_LAYER_MAXPOOL2D) {
            cJSON_AddNumberToObject(o, "kernel_size", l->pool_kernel);
            cJSON_AddNumberToObject(o, "stride", l->pool_stride);
        } else if (l->type == LH_LAYER_DROPOUT) {
            cJSON_AddNumberToObject(o, "p", l->p);
        }
        cJSON_AddItemToArray(arr, o);
    }
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int json_int(const cJSON *o, const char *key, int32_t lo, int32_t hi, int32_t *out,
                    lh_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return lh_error_set(err, "model spec: `%s`: expected an integer in [%d, %d]", key, lo, hi);
    *out = (int32_t)v->valuedouble;
    return 0;
}

int lh_model_spec_from_json(const char *json, lh_model_spec *out, lh_error *err)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *arr, *o;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!root)
        return lh_error_set(err, "model spec: not valid JSON");
    if (json_int(root, "in_c", 1, 65536, &out->in_c, err) ||
        json_int(root, "in_h", 1, 65536, &out->in_h, err) ||
        json_int(root, "in_w", 1, 65536, &out->in_w, err))
        goto done;
    arr = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
        cJSON_GetArraySize(arr) > LH_MAX_LAYERS) {
        lh_error_set(err, "model spec: `layers`: expected 1 to %d layers", LH_MAX_LAYERS);
        goto done;
    }
    cJSON_ArrayForEach(o, arr)
    {
        lh_layer_spec *l = &out->layers[out->n_layers++];
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        int type;
        if (!cJSON_IsString(t) || !cJSON_IsString(n) || strlen(n->valuestring) >= sizeof l->name) {
            lh_error_set(err, "model spec: layer %d: expected `type` and `name` strings",
                         out->n_layers - 1);
            goto done;
        }
        for (type = 0; layer_types[type] && strcmp(layer_types[type], t->valuestring); type++)
            ;
        if (!layer_types[type]) {
            lh_error_set(err, "model spec: layer %d: unknown type \"%s\"", out->n_layers - 1,
                         t->valuestring);
            goto done;
        }
        l->type = type + 1;
        snprintf(l->name, sizeof l->name, "%s", n->valuestring);
        if (l->type == LH_LAYER_CONV2D) {
            if (json_int(o, "in_channels", 0, 1 << 20, &l->in_ch, err) ||
                json_int(o, "out_channels", 1, 1 << 20, &l->out_ch, err) ||
                json_int(o, "kernel_size", 1, 64, &l->kernel, err) ||
                json_int(o, "stride", 1, 64, &l->stride, err) ||
                json_int(o, "padding", 0, 64, &l->padding, err))
                goto done;
        } else if (l->type == LH_LAYER_LINEAR) {
            if (json_int(o, "in_features", 0, INT32_MAX, &l->in_features, err) ||
                json_int(o, "out_features", 1, INT32_MAX, &l->out_features, err))
                goto done;
        } else if (l->type == LH_LAYER_MAXPOOL2D) {
            if (json_int(o, "kernel_size", 1, 64, &l->pool_kernel, err) ||
                json_int(o, "stride", 1, 64, &l->pool_stride, err))
                goto done;
        } else if (l->type == LH_LAYER_DROPOUT) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p");
            if (!cJSON_IsNumber(p) || p->valuedouble < 0 || p->valuedouble >= 1) {
                lh_error_set(err, "model spec: layer %d: `p`: expected a number in [0, 1)",
                             out->n_layers - 1);
                goto done;
            }
            l->p = (float)p->valuedouble;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
