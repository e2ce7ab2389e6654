/* host/train/ckpt.c — what a checkpoint holds and how a trainer is rebuilt from one.
 *
 * Tensors: the weights under PyTorch state_dict names ("conv1.0.weight", F32), Adam/SGD state
 * ("optimizer.exp_avg.<name>", "optimizer.exp_avg_sq.<name>"), the epoch's data order
 * ("trainer.perm", I32), RNG states ("trainer.rng_shuffle", "trainer.rng_init", U64 [2]), each
 * metric's epoch state ("metric.<key>.<buffer>") and each callback's saved bytes
 * ("callback.<state key>", U8). __metadata__: format, versions, counters, where to resume, the
 * model spec, optimizer hyper-parameters, logged values, stop flag and reason, run directory,
 * hyper-parameters. Written atomically by the safetensors layer. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"
#include "ckpt.h"
#include "trainer.h"

#define CKPT_FORMAT "lhost-checkpoint"
#define CKPT_FORMAT_VERSION "1"

static const char *dtype_name(int32_t d)
{
    switch (d) {
    case LHOST_DTYPE_F64: return "F64";
    case LHOST_DTYPE_I64: return "I64";
    case LHOST_DTYPE_F32: return "F32";
    case LHOST_DTYPE_I32: return "I32";
    default: return "U8";
    }
}

static char *log_to_json(const lh_logstore *s)
{
    cJSON *arr = cJSON_CreateArray();
    char *out;
    int32_t i;
    for (i = 0; i < s->n; i++) {
        cJSON *o = cJSON_CreateObject();
        char buf[64];
        cJSON_AddStringToObject(o, "key", s->vals[i].key);
        /* %.17g keeps doubles exact through text */
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].value);
        cJSON_AddStringToObject(o, "value", buf);
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].sum);
        cJSON_AddStringToObject(o, "sum", buf);
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].weight);
        cJSON_AddStringToObject(o, "weight", buf);
        cJSON_AddNumberToObject(o, "flags", s->vals[i].flags);
        cJSON_AddItemToArray(arr, o);
    }
    out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}

static int log_from_json(lh_logstore *s, const char *json, lh_error *err)
{
    cJSON *arr = cJSON_Parse(json), *o;
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return lh_error_set(err, "metadata `logged`: expected a JSON array");
    }
    lh_logstore_clear_values(s);
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *k = cJSON_GetObjectItem(o, "key"), *v = cJSON_GetObjectItem(o, "value"),
                    *su = cJSON_GetObjectItem(o, "sum"), *w = cJSON_GetObjectItem(o, "weight"),
                    *f = cJSON_GetObjectItem(o, "flags");
        if (!cJSON_IsString(k) || !cJSON_IsString(v) || !cJSON_IsString(su) ||
            !cJSON_IsString(w) || !cJSON_IsNumber(f)) {
            cJSON_Delete(arr);
            return lh_error_set(err, "metadata `logged`: malformed entry");
        }
        lh_logstore_put(s, k->valuestring, strtod(v->valuestring, NULL), 0, (uint32_t)f->valuedouble);
        s->vals[s->n - 1].sum = strtod(su->valuestring, NULL);
        s->vals[s->n - 1].weight = strtod(w->valuestring, NULL);
    }
    cJSON_Delete(arr);
    return 0;
}

static char *hparams_json(const lh_trainer *t)
{
    cJSON *o = cJSON_CreateObject();
    char *s, buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, t->opts.seed);
    cJSON_AddStringToObject(o, "seed", buf);
    cJSON_AddStringToObject(o, "data_path", t->opts.data_dir);
    cJSON_AddNumberToObject(o, "batch_size", (double)t->opts.batch_size);
    cJSON_AddNumberToObject(o, "num_classes", (double)t->opts.num_classes);
    cJSON_AddNumberToObject(o, "mean", t->mean);
    cJSON_AddNumberToObject(o, "std", t->std);
    cJSON_AddNumberToObject(o, "max_epochs", (double)t->opts.max_epochs);
    cJSON_AddNumberToObject(o, "min_epochs", (double)t->opts.min_epochs);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The metric instances as {key: {"plugin": name, param: text...}}: enough for `lhost validate`
 * to rebuild them from the checkpoint alone. */
static char *metrics_json(const lh_trainer *t)
{
    cJSON *o = cJSON_CreateObject();
    char *s;
    int32_t i;
    uint32_t k;
    for (i = 0; i < t->n_metrics; i++) {
        const lh_instance *inst = t->metrics[i].inst;
        const lhost_param_values *pv = lh_instance_params(inst);
        cJSON *m = cJSON_AddObjectToObject(o, lh_instance_key(inst));
        cJSON_AddStringToObject(m, "plugin", lh_instance_desc(inst)->name);
        for (k = 0; pv && k < pv->count; k++)
            if (pv->values[k].from_user && pv->values[k].s)
                cJSON_AddStringToObject(m, pv->values[k].name, pv->values[k].s);
    }
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int meta_i64(lh_safetensors_writer *w, const char *key, int64_t v, lh_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return lh_safetensors_meta(w, key, buf, err);
}

int lh_ckpt_save(lh_trainer *t, const char *path, uint32_t flags, lh_error *err)
{
    const lh_model *m = &t->model;
    size_t bytes = (size_t)m->total_params * 4;
    float *host = malloc(bytes * 3);
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    char *spec = NULL, *optj = NULL, *logj = NULL, *hp = NULL, *mj = NULL, key[512];
    const void *cb_data[LH_MAX_PLUGIN_INSTANCES];
    int32_t i, weights_only = (flags & LHOST_CKPT_WEIGHTS_ONLY) != 0, full;
    int rc = -1;
    uint64_t rng[2][2];
    full = !weights_only && t->stage == LHOST_STAGE_FIT;
    if (!host || !w) {
        lh_error_set(err, "checkpoint %s: out of memory", path);
        goto done;
    }
    if (t->be->download(t->bctx, host, m->param, bytes) ||
        (full && (t->be->download(t->bctx, host + m->total_params, t->optim.m, bytes) ||
                  t->be->download(t->bctx, host + 2 * m->total_params, t->optim.v, bytes)))) {
        lh_error_set(err, "checkpoint %s: %s backend: %s", path, t->be->name,
                     t->be->last_error(t->bctx));
        goto done;
    }
    for (i = 0; i < m->n_params; i++) {
        const lh_param_info *p = &m->params[i];
        if (lh_safetensors_add(w, p->name, "F32", p->ndim, p->shape, host + p->offset,
                      (uint64_t)p->numel * 4, err))
            goto done;
    }
    spec = lh_model_spec_to_json(&m->spec);
    hp = hparams_json(t);
    mj = metrics_json(t);
    if (lh_safetensors_meta(w, "format", CKPT_FORMAT, err) ||
        lh_safetensors_meta(w, "format_version", CKPT_FORMAT_VERSION, err) ||
        lh_safetensors_meta(w, "lhost_version", LH_VERSION, err) || lh_safetensors_meta(w, "model_spec", spec, err) ||
        lh_safetensors_meta(w, "hparams", hp, err) || lh_safetensors_meta(w, "metrics", mj, err) ||
        lh_safetensors_meta(w, "weights_only", full ? "false" : "true", err) ||
        meta_i64(w, "epoch", t->epoch, err) || meta_i64(w, "global_step", t->global_step, err))
        goto done;
    if (full) {
        int64_t n = t->train.count, two = 2;
        for (i = 0; i < m->n_params; i++) {
            const lh_param_info *p = &m->params[i];
            snprintf(key, sizeof key, "optimizer.exp_avg.%s", p->name);
            if (lh_safetensors_add(w, key, "F32", p->ndim, p->shape, host + m->total_params + p->offset,
                          (uint64_t)p->numel * 4, err))
                goto done;
            snprintf(key, sizeof key, "optimizer.exp_avg_sq.%s", p->name);
            if (lh_safetensors_add(w, key, "F32", p->ndim, p->shape,
                          host + 2 * m->total_params + p->offset, (uint64_t)p->numel * 4, err))
                goto done;
        }
        rng[0][0] = t->rng_shuffle.state, rng[0][1] = t->rng_shuffle.inc;
        rng[1][0] = t->rng_init.state, rng[1][1] = t->rng_init.inc;
        if (lh_safetensors_add(w, "trainer.perm", "I32", 1, &n, t->perm, (uint64_t)n * 4, err) ||
            lh_safetensors_add(w, "trainer.rng_shuffle", "U64", 1, &two, rng[0], 16, err) ||
            lh_safetensors_add(w, "trainer.rng_init", "U64", 1, &two, rng[1], 16, err))
            goto done;
        for (i = 0; i < t->n_metrics; i++) {
            const lh_metric_run *r = &t->metrics[i];
            uint32_t d;
            for (d = 0; d < r->n_decls; d++) {
                int64_t len = (int64_t)r->decls[d].length;
                snprintf(key, sizeof key, "metric.%s.%s", r->key, r->decls[d].name);
                if (lh_safetensors_add(w, key, dtype_name(r->decls[d].dtype), 1, &len, r->epoch_buf[d],
                              r->bytes[d], err))
                    goto done;
            }
        }
        for (i = 0; i < lh_dispatch_count(t->dispatch); i++) {
            lh_instance *inst = lh_dispatch_at(t->dispatch, i);
            const lhost_callback_vtable *vt = lh_instance_callback(inst);
            uint64_t size = 0;
            int64_t len;
            char ver[16];
            cb_data[i] = NULL;
            if (!vt->state_save)
                continue;
            if (vt->state_save(lh_instance_self(inst), inst, &cb_data[i], &size) != LHOST_OK) {
                lh_error_set(err, "checkpoint %s: plugin %s: state_save: %s", path,
                             lh_instance_desc(inst)->id, lh_instance_error(inst));
                goto done;
            }
            len = (int64_t)size;
            snprintf(key, sizeof key, "callback.%s", lh_instance_state_key(inst));
            if (lh_safetensors_add(w, key, "U8", 1, &len, cb_data[i], size, err))
                goto done;
            snprintf(key, sizeof key, "callback.%s.version", lh_instance_state_key(inst));
            snprintf(ver, sizeof ver, "%u", vt->state_version);
            if (lh_safetensors_meta(w, key, ver, err))
                goto done;
        }
        optj = lh_optim_to_json(&t->optim);
        logj = log_to_json(&t->log);
        if (lh_safetensors_meta(w, "optimizer", optj, err) || lh_safetensors_meta(w, "logged", logj, err) ||
            meta_i64(w, "resume_epoch", t->epoch_validated ? t->epoch + 1 : t->epoch, err) ||
            meta_i64(w, "resume_batch", t->epoch_validated ? 0 : t->resume_batch, err) ||
            meta_i64(w, "stop_requested", t->stop_requested, err) ||
            lh_safetensors_meta(w, "stop_reason", t->stop_reason, err) ||
            lh_safetensors_meta(w, "run_dir", t->run_dir, err))
            goto done;
    }
    if (lh_safetensors_write_atomic(w, path, err))
        goto done;
    rc = 0;
done:
    free(spec);
    free(optj);
    free(logj);
    free(hp);
    free(mj);
    free(host);
    if (w)
        lh_safetensors_writer_free(w);
    return rc;
}

static int meta_int(const lh_safetensors_file *f, const char *path, const char *key, int64_t *out,
                    lh_error *err)
{
    const char *s = lh_safetensors_meta_get(f, key);
    char *end;
    if (!s)
        return lh_error_set(err, "checkpoint %s: metadata `%s` missing", path, key);
    *out = strtoll(s, &end, 10);
    if (*end || !*s)
        return lh_error_set(err, "checkpoint %s: metadata `%s`: expected an integer, got \"%s\"",
                            path, key, s);
    return 0;
}

static int open_checked(const char *path, lh_safetensors_file **f, lh_error *err)
{
    const char *fmt;
    if (lh_safetensors_read(path, f, err))
        return -1;
    fmt = lh_safetensors_meta_get(*f, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        lh_safetensors_close(*f);
        return lh_error_set(err, "checkpoint %s: not an lhost checkpoint (metadata `format` is "
                            "%s%s%s; expected \"" CKPT_FORMAT "\")", path, fmt ? "\"" : "",
                            fmt ? fmt : "missing", fmt ? "\"" : "");
    }
    return 0;
}

int lh_ckpt_read_spec(const char *path, lh_model_spec *spec, char *data_dir, size_t len,
                      lh_error *err)
{
    lh_safetensors_file *f;
    const char *js, *hp;
    int rc = -1;
    if (open_checked(path, &f, err))
        return -1;
    js = lh_safetensors_meta_get(f, "model_spec");
    if (!js) {
        lh_error_set(err, "checkpoint %s: metadata `model_spec` missing", path);
        goto done;
    }
    if (lh_model_spec_from_json(js, spec, err)) {
        lh_error_wrap(err, "checkpoint %s", path);
        goto done;
    }
    hp = lh_safetensors_meta_get(f, "hparams");
    if (data_dir && len) {
        cJSON *o = hp ? cJSON_Parse(hp) : NULL;
        const cJSON *d = cJSON_GetObjectItem(o, "data_path");
        snprintf(data_dir, len, "%s", cJSON_IsString(d) ? d->valuestring : "");
        cJSON_Delete(o);
    }
    rc = 0;
done:
    lh_safetensors_close(f);
    return rc;
}

static int load_floats(const lh_safetensors_file *f, const char *path, const char *prefix,
                       const lh_model *m, float *host, lh_error *err)
{
    char key[256];
    int32_t i;
    for (i = 0; i < m->n_params; i++) {
        const lh_param_info *p = &m->params[i];
        const void *src;
        snprintf(key, sizeof key, "%s%s", prefix, p->name);
        src = lh_safetensors_find(f, key, "F32", p->numel, err);
        if (!src)
            return lh_error_wrap(err, "checkpoint %s", path);
        memcpy(host + p->offset, src, (size_t)p->numel * 4);
    }
    return 0;
}

int lh_ckpt_load(lh_trainer *t, const char *path, int32_t full, lh_error *err)
{
    lh_model *m = &t->model;
    size_t bytes = (size_t)m->total_params * 4;
    float *host = malloc(bytes);
    lh_safetensors_file *f = NULL;
    const char *s;
    int rc = -1;
    int32_t i;
    if (!host)
        return lh_error_set(err, "checkpoint %s: out of memory", path);
    if (open_checked(path, &f, err))
        goto done;
    if (load_floats(f, path, "", m, host, err))
        goto done;
    if (t->be->upload(t->bctx, m->param, host, bytes)) {
        lh_error_set(err, "checkpoint %s: upload: %s", path, t->be->last_error(t->bctx));
        goto done;
    }
    if (full) {
        const uint64_t *rng;
        const int32_t *perm;
        int64_t step, v;
        cJSON *oj;
        s = lh_safetensors_meta_get(f, "weights_only");
        if (!s || strcmp(s, "false") != 0) {
            lh_error_set(err, "checkpoint %s: holds weights only (save_weights_only); it can be "
                         "validated but not resumed", path);
            goto done;
        }
        {
            char *mine = lh_model_spec_to_json(&m->spec);
            const char *theirs = lh_safetensors_meta_get(f, "model_spec");
            int same = theirs && strcmp(mine, theirs) == 0;
            free(mine);
            if (!same) {
                lh_error_set(err, "checkpoint %s: its model differs from the config's model",
                             path);
                goto done;
            }
        }
        if (load_floats(f, path, "optimizer.exp_avg.", m, host, err) ||
            t->be->upload(t->bctx, t->optim.m, host, bytes) ||
            load_floats(f, path, "optimizer.exp_avg_sq.", m, host, err) ||
            t->be->upload(t->bctx, t->optim.v, host, bytes)) {
            if (!err->msg[0])
                lh_error_set(err, "checkpoint %s: optimizer upload failed", path);
            goto done;
        }
        oj = cJSON_Parse(lh_safetensors_meta_get(f, "optimizer") ? lh_safetensors_meta_get(f, "optimizer") : "");
        step = cJSON_IsNumber(cJSON_GetObjectItem(oj, "step"))
                   ? (int64_t)cJSON_GetObjectItem(oj, "step")->valuedouble
                   : -1;
        s = cJSON_IsString(cJSON_GetObjectItem(oj, "name"))
                ? cJSON_GetObjectItem(oj, "name")->valuestring
                : "";
        if (step < 0 || strcmp(s, lh_optim_name(&t->optim)) != 0) {
            lh_error_set(err, "checkpoint %s: optimizer is \"%s\" but the config asks for \"%s\"",
                         path, s, lh_optim_name(&t->optim));
            cJSON_Delete(oj);
            goto done;
        }
        if (cJSON_IsNumber(cJSON_GetObjectItem(oj, "lr")))
            t->optim.lr = cJSON_GetObjectItem(oj, "lr")->valuedouble; /* schedulers change it */
        cJSON_Delete(oj);
        t->optim.step = step;
        if (!(perm = lh_safetensors_find(f, "trainer.perm", "I32", t->train.count, err)) ||
            !(rng = lh_safetensors_find(f, "trainer.rng_shuffle", "U64", 2, err))) {
            lh_error_wrap(err, "checkpoint %s", path);
            goto done;
        }
        memcpy(t->perm, perm, (size_t)t->train.count * 4);
        t->rng_shuffle.state = rng[0], t->rng_shuffle.inc = rng[1];
        if (!(rng = lh_safetensors_find(f, "trainer.rng_init", "U64", 2, err))) {
            lh_error_wrap(err, "checkpoint %s", path);
            goto done;
        }
        t->rng_init.state = rng[0], t->rng_init.inc = rng[1];
        if (meta_int(f, path, "global_step", &t->global_step, err) ||
            meta_int(f, path, "resume_epoch", &t->resume_epoch, err) ||
            meta_int(f, path, "resume_batch", &t->resume_batch, err) ||
            meta_int(f, path, "stop_requested", &v, err))
            goto done;
        if (t->resume_batch < 0 || t->resume_batch > t->num_train_batches) {
            lh_error_set(err, "checkpoint %s: resume_batch %lld outside this run's %lld batches "
                         "(batch size or limit_train_batches changed?)", path,
                         (long long)t->resume_batch, (long long)t->num_train_batches);
            goto done;
        }
        t->epoch = t->resume_epoch;
        if (v) {
            s = lh_safetensors_meta_get(f, "stop_reason");
            fprintf(t->out, "Note: the checkpoint's run had been asked to stop (%s); "
                    "training continues.\n", s ? s : "");
        }
        if (log_from_json(&t->log, lh_safetensors_meta_get(f, "logged") ? lh_safetensors_meta_get(f, "logged") : "",
                          err)) {
            lh_error_wrap(err, "checkpoint %s", path);
            goto done;
        }
        for (i = 0; i < t->n_metrics; i++) {
            lh_metric_run *r = &t->metrics[i];
            uint32_t d;
            char key[512];
            for (d = 0; d < r->n_decls; d++) {
                const void *src;
                snprintf(key, sizeof key, "metric.%s.%s", r->key, r->decls[d].name);
                src = lh_safetensors_find(f, key, dtype_name(r->decls[d].dtype),
                                 (int64_t)r->decls[d].length, err);
                if (!src) {
                    lh_error_wrap(err, "checkpoint %s", path);
                    goto done;
                }
                memcpy(r->epoch_buf[d], src, r->bytes[d]);
            }
        }
        for (i = 0; i < lh_dispatch_count(t->dispatch); i++) {
            lh_instance *inst = lh_dispatch_at(t->dispatch, i);
            const lhost_callback_vtable *vt = lh_instance_callback(inst);
            char key[512];
            const void *data;
            int32_t k, n = lh_safetensors_count(f);
            snprintf(key, sizeof key, "callback.%s", lh_instance_state_key(inst));
            for (k = 0; k < n && strcmp(lh_safetensors_name(f, k), key) != 0; k++)
                ;
            if (k == n || !vt->state_restore) {
                if (vt->state_save)
                    fprintf(t->out, "Note: checkpoint has no state for %s; it starts fresh.\n",
                            lh_instance_state_key(inst));
                continue;
            }
            data = lh_safetensors_data(f, k);
            snprintf(key, sizeof key, "callback.%s.version", lh_instance_state_key(inst));
            s = lh_safetensors_meta_get(f, key);
            if (vt->state_restore(lh_instance_self(inst), inst, s ? (uint32_t)atol(s) : 0, data,
                                  lh_safetensors_nbytes(f, k)) != LHOST_OK) {
                lh_error_set(err, "checkpoint %s: plugin %s: state_restore: %s", path,
                             lh_instance_desc(inst)->id, lh_instance_error(inst));
                goto done;
            }
        }
        s = lh_safetensors_meta_get(f, "run_dir");
        if (s && s[0]) {
            struct stat st;
            if (stat(s, &st) == 0 && S_ISDIR(st.st_mode))
                snprintf(t->run_dir, sizeof t->run_dir, "%s", s);
        }
    }
    rc = 0;
done:
    if (f)
        lh_safetensors_close(f);
    free(host);
    return rc;
}
