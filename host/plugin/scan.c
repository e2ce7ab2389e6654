/* host/plugin/scan.c — load a plugin file inside a child process (lh_child_run) and send its rows
 * back as JSON, so an entry that crashes or hangs becomes a BROKEN row instead of a dead host.
 * Child -> parent: {"rows":[{"status":0,"reason":null,"id":"..","name":"..","version":"..",
 *                            "kind":1,"abi":[1,0,0]}, ...]} */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "registry_int.h"

struct scan_job {
    lh_registry *parent;
    const char *path, *dir;
};

static void add_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddItemToObject(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* [child] */
static int scan_child(int fd, void *arg)
{
    struct scan_job *job = arg;
    lh_registry local = *job->parent;
    cJSON *root, *rows;
    char *text;
    int32_t k;
    local.rows = NULL;
    local.n = local.cap = 0;
    local.handles = NULL;
    local.n_handles = local.cap_handles = 0;
    if (lh_loader_load(&local, job->path, job->dir) != 0)
        return 3;
    root = cJSON_CreateObject();
    rows = cJSON_AddArrayToObject(root, "rows");
    for (k = 0; k < local.n; k++) {
        const lh_plugin_row *r = &local.rows[k];
        cJSON *o = cJSON_CreateObject(), *abi = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "status", r->status);
        add_str(o, "reason", r->reason);
        add_str(o, "id", r->id);
        add_str(o, "name", r->name);
        add_str(o, "version", r->version);
        cJSON_AddNumberToObject(o, "kind", r->kind);
        cJSON_AddItemToArray(abi, cJSON_CreateNumber(r->abi.major));
        cJSON_AddItemToArray(abi, cJSON_CreateNumber(r->abi.minor));
        cJSON_AddItemToArray(abi, cJSON_CreateNumber(r->abi.patch));
        cJSON_AddItemToObject(o, "abi", abi);
        cJSON_AddItemToArray(rows, o);
    }
    text = cJSON_PrintUnformatted(root);
    k = (!text || write_all(fd, text, strlen(text)) != 0) ? 4 : 0;
    cJSON_free(text);
    cJSON_Delete(root);
    lh_registry_clear(&local);
    return k;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int32_t jint(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int32_t)v->valuedouble : 0;
}

int lh_scan_file(lh_registry *reg, const char *path, const char *dir)
{
    const lhost_version none = {0, 0, 0};
    struct scan_job job = {reg, path, dir};
    lh_error err;
    char *out = NULL;
    cJSON *root = NULL;
    const cJSON *rows, *o;
    int rc = 0;

    if (lh_child_run(scan_child, &job, reg->scan_timeout_s, &out, &err) != 0) {
        free(out);
        return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, err.msg, path, dir, NULL, NULL, NULL, 0,
                                   none, NULL)
                   ? 0
                   : -1;
    }
    root = cJSON_Parse(out);
    free(out);
    rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) == 0) {
        cJSON_Delete(root);
        return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, "scanner sent no answer", path, dir,
                                   NULL, NULL, NULL, 0, none, NULL)
                   ? 0
                   : -1;
    }
    cJSON_ArrayForEach(o, rows)
    {
        const cJSON *abi = cJSON_GetObjectItemCaseSensitive(o, "abi");
        lhost_version v = {0, 0, 0};
        if (cJSON_GetArraySize(abi) == 3) {
            v.major = (uint32_t)cJSON_GetArrayItem(abi, 0)->valuedouble;
            v.minor = (uint32_t)cJSON_GetArrayItem(abi, 1)->valuedouble;
            v.patch = (uint32_t)cJSON_GetArrayItem(abi, 2)->valuedouble;
        }
        if (!lh_registry_add_row(reg, jint(o, "status"), jstr(o, "reason"), path, dir,
                                 jstr(o, "id"), jstr(o, "name"), jstr(o, "version"),
                                 jint(o, "kind"), v, NULL)) {
            rc = -1;
            break;
        }
    }
    cJSON_Delete(root);
    return rc;
}
