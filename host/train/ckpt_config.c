/* host/train/ckpt_config.c — the config a checkpoint implies: what `lhost validate` and
 * `lhost predict` run with when all they are given is the checkpoint (its data settings from the
 * hparams section, the metrics it trained with from the metric specs; see ckpt.h). */
#include "ckpt.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "safetensors.h"

int lh_ckpt_config_read(const char *path, const char *data_dir, lh_config **cfg, lh_error *err)
{
    lh_safetensors_file *f;
    cJSON *root = cJSON_CreateObject(), *hp = NULL, *data, *metrics = NULL;
    const char *s;
    char *text;
    int rc = -1;
    if (lh_safetensors_read(path, &f, err))
        return -1;
    s = lh_safetensors_meta_get(f, "hparams");
    hp = s ? cJSON_Parse(s) : NULL;
    data = cJSON_AddObjectToObject(root, "data");
    if (hp) {
        static const char *const keys[] = {"batch_size", "num_classes", "mean", "std"};
        size_t k;
        const cJSON *p = cJSON_GetObjectItem(hp, "data_path");
        if (cJSON_IsString(p))
            cJSON_AddStringToObject(data, "path", p->valuestring);
        /* The data files and how they were read (saved since data.train and the others
         * exist; absent in older checkpoints, which read data.path's IDX folder). */
        static const char *const strs[] = {"format", "train", "val", "test", "train_labels",
                                           "val_labels", "test_labels", "label_column"};
        const cJSON *fc = cJSON_GetObjectItem(hp, "feature_columns");
        for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const cJSON *v = cJSON_GetObjectItem(hp, keys[k]);
            if (cJSON_IsNumber(v))
                cJSON_AddNumberToObject(data, keys[k], v->valuedouble);
        }
        for (k = 0; k < sizeof strs / sizeof strs[0]; k++) {
            const cJSON *v = cJSON_GetObjectItem(hp, strs[k]);
            if (cJSON_IsString(v))
                cJSON_AddStringToObject(data, strs[k], v->valuestring);
        }
        p = cJSON_GetObjectItem(hp, "val_split");
        if (cJSON_IsNumber(p))
            cJSON_AddNumberToObject(data, "val_split", p->valuedouble);
        if (cJSON_IsArray(fc))
            cJSON_AddItemToObject(data, "feature_columns", cJSON_Duplicate(fc, 1));
    }
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
    rc = lh_config_load_string(cfg, path, text, err);
    free(text);
    cJSON_Delete(hp);
    cJSON_Delete(root);
    lh_safetensors_close(f);
    return rc;
}
