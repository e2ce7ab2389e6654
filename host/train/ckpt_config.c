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
enum { HP_NUMBER, HP_STRING, HP_ARRAY };
static const struct {
    const char *name, *key;
    int type; /* HP_* */
} hparam_keys[] = {
    {"data_path", "path", HP_STRING}, {"batch_size", "batch_size", HP_NUMBER},
    {"num_classes", "num_classes", HP_NUMBER}, {"mean", "mean", HP_NUMBER},
    {"std", "std", HP_NUMBER},
    /* The data files and how they were read (saved since data.train and the others exist;
     * absent in older checkpoints, which read data.path's IDX folder). */
    {"format", "format", HP_STRING}, {"train", "train", HP_STRING}, {"val", "val", HP_STRING},
    {"test", "test", HP_STRING}, {"train_labels", "train_labels", HP_STRING},
    {"val_labels", "val_labels", HP_STRING}, {"test_labels", "test_labels", HP_STRING},
    {"label_column", "label_column", HP_STRING}, {"val_split", "val_split", HP_NUMBER},
    {"feature_columns", "feature_columns", HP_ARRAY},
};
static const char *const hparam_type_names[] = {"number", "string", "list"};

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
        int t = hparam_keys[k].type;
        if (!v || cJSON_IsNull(v) || (t == HP_STRING && cJSON_IsString(v)) ||
            (t == HP_NUMBER && cJSON_IsNumber(v)) || (t == HP_ARRAY && cJSON_IsArray(v)))
            continue;
        char *shown = cJSON_PrintUnformatted(v);
        lh_error_set(err, "checkpoint %s: metadata hparams.%s: expected a %s, got %.80s", path,
                     hparam_keys[k].name, hparam_type_names[hparam_keys[k].type],
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
            cJSON_AddItemToObject(data, hparam_keys[k].key, cJSON_Duplicate(v, 1));
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
        /* --data names the data to evaluate: the checkpoint's own files no longer apply. */
        static const char *const files[] = {"path", "train", "val", "test", "train_labels",
                                            "val_labels", "test_labels", "val_split"};
        for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
            cJSON_DeleteItemFromObject(data, files[k]);
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
