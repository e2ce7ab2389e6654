/* host/nn/optim.c — Adam/AdamW/SGD driving the backend's update kernels (see optim.h). */
#include "optim.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *const names[] = {"adam", "adamw", "sgd", NULL};

int lh_optim_from_cfg(const lh_config_node *sec, lh_optim *o, lh_error *err)
{
    static const char *const keys[] = {"name", "lr", "betas", "eps", "weight_decay", "momentum",
                                       "dampening", "nesterov", NULL};
    const lh_config_node *betas;
    int type = 0, nesterov = 0;
    memset(o, 0, sizeof *o);
    o->beta1 = 0.9, o->beta2 = 0.999, o->eps = 1e-8;
    if (sec && lh_config_check_keys(sec, keys, err))
        return -1;
    if (lh_config_get_enum(sec, "name", names, 0, &type, err))
        return -1;
    o->type = type;
    if (lh_config_get_float(sec, "lr", 1e-3, 0.0, 1e6, &o->lr, err) ||
        lh_config_get_float(sec, "eps", 1e-8, 0.0, 1.0, &o->eps, err) ||
        lh_config_get_float(sec, "weight_decay", type == LH_OPTIM_ADAMW ? 1e-2 : 0.0, 0.0, 1e6,
                         &o->weight_decay, err) ||
        lh_config_get_float(sec, "momentum", 0.0, 0.0, 1.0, &o->momentum, err) ||
        lh_config_get_float(sec, "dampening", 0.0, 0.0, 1.0, &o->dampening, err) ||
        lh_config_get_bool(sec, "nesterov", 0, &nesterov, err))
        return -1;
    o->nesterov = nesterov;
    betas = sec ? lh_config_get(sec, "betas") : NULL;
    if (betas) {
        if (lh_config_type(betas) != LH_CFG_SEQ || lh_config_len(betas) != 2 ||
            lh_config_get_float(betas, "0", 0.9, 0.0, 0.999999, &o->beta1, err) ||
            lh_config_get_float(betas, "1", 0.999, 0.0, 0.999999, &o->beta2, err))
            return lh_error_set(err, "config %s: optimizer.betas: expected [beta1, beta2] in [0, 1)",
                                lh_config_where(betas));
    }
    if (o->type == LH_OPTIM_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return lh_error_set(err, "config %s: optimizer.nesterov: needs momentum > 0 and "
                            "dampening 0", sec ? lh_config_where(sec) : "(defaults)");
    return 0;
}

const char *lh_optim_name(const lh_optim *o)
{
    return names[o->type];
}

int lh_optim_alloc(lh_optim *o, const lh_backend *be, lh_backend_ctx *bctx, int64_t n,
                   lh_error *err)
{
    o->be = be, o->bctx = bctx, o->n = n;
    o->m = be->alloc(bctx, (size_t)n * 4);
    o->v = be->alloc(bctx, (size_t)n * 4);
    if (!o->m || !o->v)
        return lh_error_set(err, "optimizer: out of %s memory", be->name);
    return 0;
}

void lh_optim_free(lh_optim *o)
{
    if (o->be) {
        if (o->m)
            o->be->free(o->bctx, o->m);
        if (o->v)
            o->be->free(o->bctx, o->v);
    }
    o->m = o->v = NULL;
    o->be = NULL;
}

int lh_optim_step(lh_optim *o, lh_dmem *param, const lh_dmem *grad, lh_error *err)
{
    int rc;
    o->step++;
    if (o->type == LH_OPTIM_SGD) {
        lh_sgd_args a = {(float)o->lr, (float)o->momentum, (float)o->dampening,
                         (float)o->weight_decay, o->nesterov, o->step == 1};
        rc = o->be->sgd_step(o->bctx, o->n, &a, param, grad, o->m);
    } else {
        lh_adam_args a = {(float)o->lr, (float)o->beta1, (float)o->beta2, (float)o->eps,
                          (float)o->weight_decay, o->type == LH_OPTIM_ADAMW, o->step};
        rc = o->be->adam_step(o->bctx, o->n, &a, param, grad, o->m, o->v);
    }
    if (rc)
        return lh_error_set(err, "%s backend: %s step: %s", o->be->name, lh_optim_name(o),
                            o->be->last_error(o->bctx));
    return 0;
}

char *lh_optim_to_json(const lh_optim *o)
{
    cJSON *r = cJSON_CreateObject();
    char *s;
    cJSON_AddStringToObject(r, "name", lh_optim_name(o));
    cJSON_AddNumberToObject(r, "lr", o->lr);
    cJSON_AddNumberToObject(r, "beta1", o->beta1);
    cJSON_AddNumberToObject(r, "beta2", o->beta2);
    cJSON_AddNumberToObject(r, "eps", o->eps);
    cJSON_AddNumberToObject(r, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(r, "momentum", o->momentum);
    cJSON_AddNumberToObject(r, "dampening", o->dampening);
    cJSON_AddBoolToObject(r, "nesterov", o->nesterov);
    cJSON_AddNumberToObject(r, "step", (double)o->step);
    s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return s;
}
