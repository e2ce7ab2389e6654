/* host/train/ckpt_config.c — the config a checkpoint implies: what `lhost validate` and
 * `lhost predict` run with when all they are given is the checkpoint (its data settings from the
 * hparams section, the metrics it trained with from the metric specs; see ckpt.h). */
#include "ckpt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "safetensors.h"

/* The hparams validate and predict take, the config key each becomes and the JSON type it must
 * have. The config then checks each value's range as it checks a file's. */
static const struct {
    const char *name, *key;
    int string; /* 1: a JSON string, 0: a JSON number */
} hparam_keys[] = {
    {"data_path", "path", 1}, {"batch_size", "batch_size", 0}, {"num_classes", "num_classes", 0},
    {"mean", "mean", 0},      {"std", "std", 0},
};

/* Parse the hparams and check each known one's type: a checkpoint is untrusted input, and a
 * skipped value would run on the default data instead of the checkpoint's. */
static int hparams_parse(const char *path, const char *text, cJSON **out, lh_error *err)
{
    cJSON *hp = cJSON_Parse(text);
    size_t k;
    *out = NULL;
    if (!cJSON_IsObject(hp)) {
        cJSON_Delete(hp);
        return lh_error_set(err, "checkpoint %s: metadata hparams: expected a JSON object", path);
    }
    for (k = 0; k < sizeof hparam_keys / sizeof hparam_keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItem(hp, hparam_keys[k].name);
        if (!v || cJSON_IsNull(v) ||
            (hparam_keys[k].string ? cJSON_IsString(v) : cJSON_IsNumber(v)))
            continue;
        char *shown = cJSON_PrintUnformatted(v);
        lh_error_set(err, "checkpoint %s: metadata hparams.%s: expected a %s, got %.80s", path,
                     hparam_keys[k].name, hparam_keys[k].string ? "string" : "number",
                     shown ? shown : "?");
        free(shown);
        cJSON_Delete(hp);
        return -1;
    }
    *out = hp;
    return 0;
}

int lh_ckpt_hparams_check(const char *path, const lh_safetensors_file *f, lh_error *err)
{
    const char *s = lh_safetensors_meta_get(f, "hparams");
    cJSON *hp;
    if (!s)
        return 0;
    if (hparams_parse(path, s, &hp, err))
        return -1;
    cJSON_Delete(hp);
    return 0;
}

/* Copy the checked hparams into `data` under their config keys. */
static int copy_hparams(const char *path, const char *text, cJSON *data, lh_error *err)
{
    cJSON *hp;
    size_t k;
    if (hparams_parse(path, text, &hp, err))
        return -1;
    for (k = 0; k < sizeof hparam_keys / sizeof hparam_keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItem(hp, hparam_keys[k].name);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(data, hparam_keys[k].key, cJSON_Duplicate(v, 0));
    }
    cJSON_Delete(hp);
    return 0;
}

int lh_ckpt_config_read(const char *path, const char *data_dir, lh_config **cfg, lh_error *err)
{
    lh_safetensors_file *f;
    cJSON *root = cJSON_CreateObject(), *data, *metrics = NULL;
    const char *s;
    char *text, name[4200];
    int rc = -1;
    *cfg = NULL;
    if (lh_safetensors_read(path, &f, err)) {
        cJSON_Delete(root);
        return -1;
    }
    s = lh_safetensors_meta_get(f, "hparams");
    data = cJSON_AddObjectToObject(root, "data");
    if (s && copy_hparams(path, s, data, err))
        goto done;
    if (data_dir) {
        cJSON_DeleteItemFromObject(data, "path");
        cJSON_AddStringToObject(data, "path", data_dir);
    }
    s = lh_safetensors_meta_get(f, "metrics");
    if (s && (metrics = cJSON_Parse(s)))
        cJSON_AddItemToObject(root, "metrics", metrics);
    text = cJSON_PrintUnformatted(root);
    /* Range errors then read "config <ckpt> (metadata):1: data.batch_size: expected ...". */
    snprintf(name, sizeof name, "%s (metadata)", path);
    rc = lh_config_load_string(cfg, name, text ? text : "{}", err);
    free(text);
done:
    cJSON_Delete(root);
    lh_safetensors_close(f);
    return rc;
}
