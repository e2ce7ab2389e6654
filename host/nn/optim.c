/* host/nn/optim.c — Adam/AdamW/SGD driving the backend's update kernels, and their checkpoint
 * section (see optim.h). */
#include "optim.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_ckpt.h"

static const char *const names[] = {"adam", "adamw", "sgd", NULL};

/* X(key, type as --help shows it, help): every key of `optimizer:`, in the config's order. */
#define LH_OPTIM_KEYS(X)                                                                       \
    X(name, "adam|adamw|sgd", "the torch.optim class")                                          \
    X(lr, "FLOAT", "learning rate")                                                            \
    X(betas, "[B1, B2]", "adam and adamw moment decays")                                       \
    X(eps, "FLOAT", "adam and adamw denominator term")                                         \
    X(weight_decay, "FLOAT", "L2 penalty (decoupled for adamw)")                               \
    X(momentum, "FLOAT", "sgd momentum")                                                       \
    X(dampening, "FLOAT", "sgd dampening")                                                     \
    X(nesterov, "BOOL", "sgd Nesterov momentum")

int lh_optim_from_cfg(const lh_config_node *sec, lh_optim *o, lh_error *err)
{
#define KEY_NAME(key, type, help) #key,
    static const char *const keys[] = {LH_OPTIM_KEYS(KEY_NAME) NULL};
#undef KEY_NAME
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
            return lh_error_set(err, "config %s: optimizer.betas: expected [beta1, beta2] in "
                                "[0, 1)", lh_config_where(betas));
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

/* A key's default as a config spells it: `o` holds Adam's defaults, `w` AdamW's. */
static void default_text(const char *key, const lh_optim *o, const lh_optim *w, char *v,
                         size_t cap)
{
    if (strcmp(key, "name") == 0)
        snprintf(v, cap, "%s", lh_optim_name(o));
    else if (strcmp(key, "lr") == 0)
        snprintf(v, cap, "%g", o->lr);
    else if (strcmp(key, "betas") == 0)
        snprintf(v, cap, "[%g, %g]", o->beta1, o->beta2);
    else if (strcmp(key, "eps") == 0)
        snprintf(v, cap, "%g", o->eps);
    else if (strcmp(key, "weight_decay") == 0)
        snprintf(v, cap, "%g; adamw: %g", o->weight_decay, w->weight_decay);
    else if (strcmp(key, "momentum") == 0)
        snprintf(v, cap, "%g", o->momentum);
    else if (strcmp(key, "dampening") == 0)
        snprintf(v, cap, "%g", o->dampening);
    else if (strcmp(key, "nesterov") == 0)
        snprintf(v, cap, "%s", o->nesterov ? "true" : "false");
    else
        snprintf(v, cap, "?");
}

int lh_optim_describe(lh_optim_key_row row, void *user, lh_error *err)
{
#define KEY_ENTRY(key, type, help) {#key, type, help},
    static const struct {
        const char *key, *type, *help;
    } table[] = {LH_OPTIM_KEYS(KEY_ENTRY)};
#undef KEY_ENTRY
    lh_optim o, w;
    lh_config *adamw = NULL;
    char v[96];
    size_t i;
    int rc = lh_optim_from_cfg(NULL, &o, err) ||
             lh_config_load_string(&adamw, "(defaults)", "name: adamw", err) ||
             lh_optim_from_cfg(lh_config_root(adamw), &w, err);
    lh_config_free(adamw);
    if (rc)
        return -1;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        default_text(table[i].key, &o, &w, v, sizeof v);
        row(user, table[i].key, table[i].type, table[i].help, v);
    }
    return 0;
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
                          (float)o->weight_decay, o->type == LH_OPTIM_ADAMW, o->step,
                          o->lr, o->beta1, o->beta2};
        rc = o->be->adam_step(o->bctx, o->n, &a, param, grad, o->m, o->v);
    }
    if (rc)
        return lh_error_set(err, "%s backend: %s step: %s", o->be->name, lh_optim_name(o),
                            o->be->last_error(o->bctx));
    return 0;
}

/* Hyper-parameters and step as JSON (the "optimizer" metadata entry); malloc'ed. */
static char *to_json(const lh_optim *o)
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

#define ST_EXP_AVG "optimizer.exp_avg."
#define ST_EXP_AVG_SQ "optimizer.exp_avg_sq."
#define ST_MOMENTUM "optimizer.momentum_buffer."

int lh_optim_ckpt_save(const lh_optim *o, const lh_model *m, lh_safetensors_writer *w,
                       lh_error *err)
{
    char *js = to_json(o);
    int rc;
    if (!js)
        return lh_error_set(err, "optimizer: out of memory");
    if (o->type == LH_OPTIM_SGD)
        rc = lh_model_ckpt_save_buffer(m, o->m, ST_MOMENTUM, w, err);
    else
        rc = lh_model_ckpt_save_buffer(m, o->m, ST_EXP_AVG, w, err) ||
             lh_model_ckpt_save_buffer(m, o->v, ST_EXP_AVG_SQ, w, err);
    rc = rc || lh_safetensors_meta(w, "optimizer", js, err);
    free(js);
    return rc ? -1 : 0;
}

/* The name SGD's buffer has in `f`: momentum_buffer, or exp_avg in a checkpoint from before. */
static const char *sgd_prefix(const lh_model *m, const lh_safetensors_file *f)
{
    char key[256];
    if (m->n_params == 0)
        return ST_MOMENTUM;
    snprintf(key, sizeof key, ST_MOMENTUM "%s", m->params[0].name);
    if (lh_safetensors_index(f, key) >= 0)
        return ST_MOMENTUM;
    snprintf(key, sizeof key, ST_EXP_AVG "%s", m->params[0].name);
    return lh_safetensors_index(f, key) >= 0 ? ST_EXP_AVG : ST_MOMENTUM;
}

/* The momentum a checkpoint holds, when it holds one: beta1 for Adam / AdamW (0 <= b < 1),
 * momentum for SGD (0..1, above 0 with Nesterov); a value outside those is refused. */
static int restore_momentum(lh_optim *o, const cJSON *oj, lh_error *err)
{
    int sgd = o->type == LH_OPTIM_SGD;
    const char *key = sgd ? "momentum" : "beta1";
    const cJSON *m = cJSON_GetObjectItem(oj, key);
    double v = cJSON_IsNumber(m) ? m->valuedouble : NAN;
    if (!m)
        return 0;
    if (!(v >= 0) || (sgd ? v > 1 : v >= 1) || (sgd && o->nesterov && v <= 0))
        return lh_error_set(err, "metadata `optimizer`: \"%s\": expected a number in %s, got %g",
                            key, sgd ? (o->nesterov ? "(0, 1]" : "[0, 1]") : "[0, 1)", v);
    *(sgd ? &o->momentum : &o->beta1) = v;
    return 0;
}

/* 2^53: the largest count a JSON number holds exactly. */
#define OPTIM_STEP_MAX 9007199254740992.0

int lh_optim_ckpt_load(lh_optim *o, const lh_model *m, const lh_safetensors_file *f,
                       lh_error *err)
{
    const char *js = lh_safetensors_meta_get(f, "optimizer");
    cJSON *oj = js ? cJSON_Parse(js) : NULL;
    const cJSON *name = cJSON_GetObjectItem(oj, "name"), *step = cJSON_GetObjectItem(oj, "step"),
                *lr = cJSON_GetObjectItem(oj, "lr");
    int rc = -1;
    if (!cJSON_IsString(name) || !cJSON_IsNumber(step) || step->valuedouble < 0) {
        lh_error_set(err, "metadata `optimizer`: expected {\"name\": ..., \"step\": N, ...}, "
                     "got %s", js ? js : "nothing");
        goto done;
    }
    if (strcmp(name->valuestring, lh_optim_name(o)) != 0) {
        lh_error_set(err, "optimizer is \"%s\" but the config asks for \"%s\"",
                     name->valuestring, lh_optim_name(o));
        goto done;
    }
    if (o->type == LH_OPTIM_SGD) {
        if (lh_model_ckpt_load_buffer(m, o->m, sgd_prefix(m, f), f, err))
            goto done;
    } else if (lh_model_ckpt_load_buffer(m, o->m, ST_EXP_AVG, f, err) ||
               lh_model_ckpt_load_buffer(m, o->v, ST_EXP_AVG_SQ, f, err))
        goto done;
    /* The step feeds Adam's bias correction and the lr every update: a fraction, a huge or a
     * negative value, or an lr that is not a finite non-negative number would train nonsense. */
    if (!isfinite(step->valuedouble) || step->valuedouble != floor(step->valuedouble) ||
        step->valuedouble > OPTIM_STEP_MAX) {
        lh_error_set(err, "metadata `optimizer`: \"step\": expected an integer from 0 to %.0f, "
                     "got %g", OPTIM_STEP_MAX, step->valuedouble);
        goto done;
    }
    if (lr && (!cJSON_IsNumber(lr) || !isfinite(lr->valuedouble) || lr->valuedouble < 0)) {
        if (cJSON_IsNumber(lr))
            lh_error_set(err, "metadata `optimizer`: \"lr\": expected a finite number >= 0, "
                         "got %g", lr->valuedouble);
        else
            lh_error_set(err, "metadata `optimizer`: \"lr\": expected a finite number >= 0");
        goto done;
    }
    /* schedulers change the lr, and OneCycleLR the momentum (betas[0] for Adam / AdamW) */
    if (restore_momentum(o, oj, err))
        goto done;
    o->step = (int64_t)step->valuedouble;
    if (lr)
        o->lr = lr->valuedouble;
    rc = 0;
done:
    cJSON_Delete(oj);
    return rc;
}
