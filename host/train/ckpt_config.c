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
        for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const cJSON *v = cJSON_GetObjectItem(hp, keys[k]);
            if (cJSON_IsNumber(v))
                cJSON_AddNumberToObject(data, keys[k], v->valuedouble);
        }
    }
    if (data_dir) {
        cJSON_DeleteItemFromObject(data, "path");
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
