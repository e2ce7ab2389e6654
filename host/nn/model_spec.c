/* host/nn/model_spec.c — model specs: reading `model.layers` from the config, JSON round trip for
 * checkpoints. A layer's `type` and `name` are read here, the rest by its kind (layer.h);
 * shapes are checked by lh_model_plan (model.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "model.h"

/* The kind's config map checked against `type`, `name` and the kind's own keys (its .ints,
 * then its .keys). */
static int check_keys(const lh_config_node *item, const lh_layer_kind *k, lh_error *err)
{
    const char *keys[2 + LH_LAYER_MAX_KEYS + 1] = {"type", "name"};
    const lh_layer_int_key *f;
    int32_t n = 2, j;
    for (f = k->ints; f && f->key && n < 2 + LH_LAYER_MAX_KEYS; f++)
        keys[n++] = f->key;
    for (j = 0; k->keys && k->keys[j] && n < 2 + LH_LAYER_MAX_KEYS; j++)
        keys[n++] = k->keys[j];
    return lh_config_check_keys(item, keys, err);
}

/* One layer from its config; def_name is its name when the config gives none. */
static int layer_from_cfg(const lh_config_node *item, const char *def_name, lh_layer_spec *l,
                          lh_error *err)
{
    const lh_layer_kind *k;
    int type = 0;
    const char *name = NULL;
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", def_name);
    if (lh_config_type(item) == LH_CFG_SCALAR) {
        const char *s = lh_config_scalar(item);
        l->type = lh_layer_find(s);
        if (!l->type)
            return lh_error_set(err, "config %s: %s: unknown layer \"%s\"; expected one of %s",
                                lh_config_where(item), lh_config_path(item), s,
                                lh_layer_name_list());
        k = lh_layer_kind_of(l->type);
        if (k->needs_keys)
            return lh_error_set(err, "config %s: %s: layer %s needs parameters",
                                lh_config_where(item), lh_config_path(item), s);
        return lh_layer_from_cfg(NULL, l, err); /* the defaults */
    }
    if (lh_config_type(item) != LH_CFG_MAP)
        return lh_error_set(err, "config %s: %s: expected a layer (a map with `type`)",
                            lh_config_where(item), lh_config_path(item));
    if (!lh_config_get(item, "type"))
        return lh_error_set(err, "config %s: %s: missing key `type` (one of %s)",
                            lh_config_where(item), lh_config_path(item), lh_layer_name_list());
    if (lh_config_get_enum(item, "type", lh_layer_names(), 0, &type, err))
        return -1;
    l->type = type + 1;
    k = lh_layer_kind_of(l->type);
    if (lh_config_get_string(item, "name", NULL, &name, err))
        return -1;
    if (name) {
        if (strlen(name) >= sizeof l->name || !name[0])
            return lh_error_set(err, "config %s: %s.name: expected 1 to %d characters",
                                lh_config_where(item), lh_config_path(item),
                                (int)sizeof l->name - 1);
        snprintf(l->name, sizeof l->name, "%s", name);
    }
    if (check_keys(item, k, err))
        return -1;
    return lh_layer_from_cfg(item, l, err);
}

static int too_many(const lh_config_node *at, lh_error *err)
{
    return lh_error_set(err, "config %s: model.layers: at most %d layers (a residual block "
                        "counts its body's layers and one more)", lh_config_where(at),
                        LH_MAX_LAYERS);
}

/* A residual block, `{residual: [layers], name: ...}`: its body's layers (named
 * "<name>.body.<k>" unless they say otherwise), then the residual layer that adds the block's
 * input back (layer_residual.c), named after the block. */
static int block_from_cfg(const lh_config_node *item, const char *def_name, lh_model_spec *out,
                          lh_error *err)
{
    static const char *const keys[] = {"residual", "name", NULL};
    const lh_config_node *body = lh_config_get(item, "residual");
    const char *name = NULL;
    lh_layer_spec *end;
    int32_t k, n;
    if (lh_config_check_keys(item, keys, err) ||
        lh_config_get_string(item, "name", def_name, &name, err))
        return -1;
    if (!name[0] || strlen(name) >= sizeof out->layers[0].name - 16)
        return lh_error_set(err, "config %s: %s.name: expected 1 to %d characters",
                            lh_config_where(item), lh_config_path(item),
                            (int)sizeof out->layers[0].name - 17);
    if (lh_config_type(body) != LH_CFG_SEQ || (n = lh_config_len(body)) == 0)
        return lh_error_set(err, "config %s: %s.residual: expected a non-empty list of layers",
                            lh_config_where(body), lh_config_path(item));
    for (k = 0; k < n; k++) {
        const lh_config_node *sub = lh_config_at(body, k);
        char sub_name[64];
        if (lh_config_type(sub) == LH_CFG_MAP && lh_config_get(sub, "residual"))
            return lh_error_set(err, "config %s: %s: residual blocks cannot nest",
                                lh_config_where(sub), lh_config_path(sub));
        if (out->n_layers == LH_MAX_LAYERS)
            return too_many(item, err);
        snprintf(sub_name, sizeof sub_name, "%s.body.%d", name, (int)k);
        if (layer_from_cfg(sub, sub_name, &out->layers[out->n_layers++], err))
            return -1;
    }
    if (out->n_layers == LH_MAX_LAYERS)
        return too_many(item, err);
    end = &out->layers[out->n_layers++];
    memset(end, 0, sizeof *end);
    end->type = LH_LAYER_RESIDUAL;
    snprintf(end->name, sizeof end->name, "%s", name);
    end->residual.span = n;
    return 0;
}

int lh_model_spec_from_cfg(const lh_config_node *model, int32_t in_c, int32_t in_h, int32_t in_w,
                           lh_model_spec *out, lh_error *err)
{
    /* init_weights and init_strict are the trainer's (model_weights.h) */
    static const char *const keys[] = {"layers", "input_shape", "init_weights", "init_strict",
                                       NULL};
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
                                (long long)d[0], (long long)d[1], (long long)d[2], in_c, in_h,
                                in_w);
        out->in_c = (int32_t)d[0], out->in_h = (int32_t)d[1], out->in_w = (int32_t)d[2];
    }
    layers = lh_config_get(model, "layers");
    if (!layers || lh_config_type(layers) != LH_CFG_SEQ || lh_config_len(layers) == 0)
        return lh_error_set(err, "config %s: model.layers: expected a non-empty list of layers",
                            lh_config_where(layers ? layers : model));
    for (i = 0; i < lh_config_len(layers); i++) {
        const lh_config_node *item = lh_config_at(layers, i);
        char def_name[16];
        snprintf(def_name, sizeof def_name, "%d", (int)i);
        if (lh_config_type(item) == LH_CFG_MAP && lh_config_get(item, "residual")) {
            if (block_from_cfg(item, def_name, out, err))
                return -1;
            continue;
        }
        if (out->n_layers == LH_MAX_LAYERS)
            return too_many(layers, err);
        if (layer_from_cfg(item, def_name, &out->layers[out->n_layers++], err))
            return -1;
    }
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
        cJSON_AddStringToObject(o, "type", lh_layer_name(l->type));
        cJSON_AddStringToObject(o, "name", l->name);
        lh_layer_to_json(l, o);
        cJSON_AddItemToArray(arr, o);
    }
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

int lh_model_spec_from_json(const char *json, lh_model_spec *out, lh_error *err)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *arr, *o;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!root)
        return lh_error_set(err, "model spec: not valid JSON");
    if (lh_layer_json_int(root, "in_c", 1, 65536, &out->in_c, err) ||
        lh_layer_json_int(root, "in_h", 1, 65536, &out->in_h, err) ||
        lh_layer_json_int(root, "in_w", 1, 65536, &out->in_w, err))
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
        if (!cJSON_IsString(t) || !cJSON_IsString(n) || strlen(n->valuestring) >= sizeof l->name) {
            lh_error_set(err, "model spec: layer %d: expected `type` and `name` strings",
                         out->n_layers - 1);
            goto done;
        }
        l->type = lh_layer_find(t->valuestring);
        if (!l->type) {
            lh_error_set(err, "model spec: layer %d: unknown type \"%s\"", out->n_layers - 1,
                         t->valuestring);
            goto done;
        }
        snprintf(l->name, sizeof l->name, "%s", n->valuestring);
        if (lh_layer_from_json(o, out->n_layers - 1, l, err))
            goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
