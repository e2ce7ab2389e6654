/* host/plugin/instance.c — plugin instances (struct lhost_ctx): parse parameters, build the state
 * key, call create()/destroy(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

/* "org.lhost.early_stopping{monitor=val_acc,mode=max}", or the bare id without identity params. */
static char *make_state_key(const lhost_plugin_desc *d, const lhost_param_values *pv)
{
    char val[512];
    size_t cap = strlen(d->id) + 3, used;
    char *key;
    uint32_t k;
    int any = 0;
    for (k = 0; k < pv->count; k++)
        if (d->params[k].flags & LHOST_PARAM_IDENTITY) {
            lh_params_format_value(&pv->values[k], val, sizeof val);
            cap += strlen(d->params[k].name) + strlen(val) + 2;
        }
    if (!(key = malloc(cap)))
        return NULL;
    used = (size_t)snprintf(key, cap, "%s", d->id);
    for (k = 0; k < pv->count; k++)
        if (d->params[k].flags & LHOST_PARAM_IDENTITY) {
            lh_params_format_value(&pv->values[k], val, sizeof val);
            used += (size_t)snprintf(key + used, cap - used, "%s%s=%s", any ? "," : "{",
                                     d->params[k].name, val);
            any = 1;
        }
    if (any)
        snprintf(key + used, cap - used, "}");
    return key;
}

int lh_instance_create(const lh_plugin_row *row, const char *key, const lh_kv *kvs,
                       int32_t n_kvs, const lh_host_env *env, lh_instance **out, lh_error *err)
{
    const lhost_plugin_desc *d = row ? row->desc : NULL;
    int32_t (*create)(const lhost_host *, lhost_ctx *, const lhost_param_values *, void **);
    lh_instance *inst;
    int32_t rc;
    *out = NULL;
    if (!d)
        return lh_error_set(err, "plugin %s: not loaded in this process",
                            row && row->id ? row->id : "?");
    if (!(inst = calloc(1, sizeof *inst)))
        return lh_error_set(err, "plugin %s: out of memory", d->name);
    inst->row = row;
    inst->desc = d;
    inst->env = env;
    lh_instance_guard_init(inst);
    if (lh_params_parse(d, kvs, n_kvs, &inst->params, err) != 0) {
        free(inst);
        return -1;
    }
    inst->key = strdup(key ? key : d->name);
    inst->state_key = make_state_key(d, &inst->params);
    if (!inst->key || !inst->state_key) {
        lh_instance_destroy(inst);
        return lh_error_set(err, "plugin %s: out of memory", d->name);
    }
    /* create is at the same place in every vtable, but read it through the right type. */
    create = d->kind == LHOST_KIND_CALLBACK ? ((const lhost_callback_vtable *)d->vtable)->create
             : d->kind == LHOST_KIND_METRIC ? ((const lhost_metric_vtable *)d->vtable)->create
                                            : ((const lhost_logger_vtable *)d->vtable)->create;
    if (create) {
        const lh_guard_note *was;
        lh_guard_note_set(&inst->note, d->id, "create");
        was = lh_guard_enter(&inst->note);
        rc = create(lh_services_table(), inst, &inst->params, &inst->self);
        lh_guard_leave(was);
        if (rc != LHOST_OK) {
            lh_error_set(err, "plugin %s: create: %s", d->id,
                         inst->error[0] ? inst->error : "failed without a message");
            lh_instance_destroy(inst);
            return -1;
        }
        inst->created = 1;
    }
    *out = inst;
    return 0;
}

void lh_instance_destroy(lh_instance *inst)
{
    void (*destroy)(void *);
    if (!inst)
        return;
    if (inst->created) {
        const lhost_plugin_desc *d = inst->desc;
        destroy =
            d->kind == LHOST_KIND_CALLBACK ? ((const lhost_callback_vtable *)d->vtable)->destroy
            : d->kind == LHOST_KIND_METRIC ? ((const lhost_metric_vtable *)d->vtable)->destroy
                                           : ((const lhost_logger_vtable *)d->vtable)->destroy;
        if (destroy) {
            const lh_guard_note *was;
            lh_guard_note_set(&inst->note, d->id, "destroy");
            was = lh_guard_enter(&inst->note);
            destroy(inst->self);
            lh_guard_leave(was);
        }
    }
    lh_params_values_free(&inst->params);
    free(inst->key);
    free(inst->state_key);
    free(inst);
}

const lhost_plugin_desc *lh_instance_desc(const lh_instance *inst) { return inst->desc; }
const char *lh_instance_key(const lh_instance *inst) { return inst->key; }
void *lh_instance_self(const lh_instance *inst) { return inst->self; }
const lhost_param_values *lh_instance_params(const lh_instance *inst) { return &inst->params; }
const char *lh_instance_state_key(const lh_instance *inst) { return inst->state_key; }
const char *lh_instance_error(const lh_instance *inst) { return inst->error; }

/* The guarded copies (instance_guard.c): a crash in a member the trainer calls names it. */
const lhost_callback_vtable *lh_instance_callback(const lh_instance *inst)
{
    return inst->desc->kind == LHOST_KIND_CALLBACK ? &inst->guarded.callback : NULL;
}

const lhost_metric_vtable *lh_instance_metric(const lh_instance *inst)
{
    return inst->desc->kind == LHOST_KIND_METRIC ? &inst->guarded.metric : NULL;
}

const lhost_logger_vtable *lh_instance_logger(const lh_instance *inst)
{
    return inst->desc->kind == LHOST_KIND_LOGGER ? &inst->guarded.logger : NULL;
}
