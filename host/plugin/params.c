/* host/plugin/params.c — parse user parameters (text) against a plugin's schema, and check the
 * schema.
 *
 * Messages read: plugin early_stopping: parameter 'mode': expected one of min, max; got "maz"
 * (prefixed with "<where>: " when the value says where it came from). Later keys override
 * earlier ones, so CLI overrides can follow the YAML values. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "instance.h"

static const char *const bool_true[] = {"true", "yes", "on", "1", NULL};
static const char *const bool_false[] = {"false", "no", "off", "0", NULL};

static int in_list(const char *s, const char *const *list)
{
    int k;
    for (k = 0; list[k]; k++)
        if (strcasecmp(s, list[k]) == 0)
            return 1;
    return 0;
}

int lh_params_name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* "a number >= 0", "an integer in [1, 10]" — what a range-limited value must be. */
static void describe_range(const lhost_param *p, const char *what, char *buf, size_t cap)
{
    int hmin = (p->flags & LHOST_PARAM_HAS_MIN) != 0, hmax = (p->flags & LHOST_PARAM_HAS_MAX) != 0;
    if (hmin && hmax)
        snprintf(buf, cap, "%s in [%g, %g]", what, p->min, p->max);
    else if (hmin)
        snprintf(buf, cap, "%s >= %g", what, p->min);
    else if (hmax)
        snprintf(buf, cap, "%s <= %g", what, p->max);
    else
        snprintf(buf, cap, "%s", what);
}

static int parse_int(const char *s, int64_t *out)
{
    const char *q = s;
    char *end;
    int base = 10;
    long long v;
    if (*q == '+' || *q == '-')
        q++;
    if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
        base = 16;
    if (!*q || *q == ' ' || *q == '\t')
        return -1;
    errno = 0;
    v = strtoll(s, &end, base);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, double *out)
{
    char *end;
    if (!*s || *s == ' ' || *s == '\t')
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    if (*end || end == s || (errno == ERANGE && isinf(*out)))
        return -1;
    return 0;
}

/* Parse `text` as parameter `p` into `v`. On failure write "expected ...; got \"text\"" to
 * `why`. */
static int parse_one(const lhost_param *p, const char *text, lhost_value *v, char *why, size_t cap)
{
    char what[256];
    int k, in_range;
    switch (p->type) {
    case LHOST_PARAM_INT:
        describe_range(p, "an integer", what, sizeof what);
        if (parse_int(text, &v->i) != 0)
            break;
        v->f = (double)v->i;
        in_range = !((p->flags & LHOST_PARAM_HAS_MIN) && v->f < p->min) &&
                   !((p->flags & LHOST_PARAM_HAS_MAX) && v->f > p->max);
        if (!in_range)
            break;
        return 0;
    case LHOST_PARAM_FLOAT:
        describe_range(p, "a number", what, sizeof what);
        if (parse_float(text, &v->f) != 0)
            break;
        if ((p->flags & (LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX)) && isnan(v->f))
            break;
        if (((p->flags & LHOST_PARAM_HAS_MIN) && v->f < p->min) ||
            ((p->flags & LHOST_PARAM_HAS_MAX) && v->f > p->max))
            break;
        return 0;
    case LHOST_PARAM_BOOL:
        snprintf(what, sizeof what, "a boolean (true/false, yes/no, on/off, 1/0)");
        if (in_list(text, bool_true))
            v->i = 1;
        else if (in_list(text, bool_false))
            v->i = 0;
        else
            break;
        v->f = (double)v->i;
        return 0;
    case LHOST_PARAM_STRING:
        return 0;
    case LHOST_PARAM_ENUM: {
        size_t used = (size_t)snprintf(what, sizeof what, "one of ");
        for (k = 0; p->choices && p->choices[k]; k++) {
            if (strcmp(text, p->choices[k]) == 0) {
                v->i = k;
                return 0;
            }
            if (used < sizeof what)
                used += (size_t)snprintf(what + used, sizeof what - used, "%s%s", k ? ", " : "",
                                         p->choices[k]);
        }
        break;
    }
    default:
        snprintf(why, cap, "has unknown type %d", (int)p->type);
        return -1;
    }
    snprintf(why, cap, "expected %s; got \"%s\"", what, text);
    return -1;
}

static const char *type_name(int32_t t)
{
    switch (t) {
    case LHOST_PARAM_INT: return "int";
    case LHOST_PARAM_FLOAT: return "float";
    case LHOST_PARAM_BOOL: return "bool";
    case LHOST_PARAM_STRING: return "string";
    case LHOST_PARAM_ENUM: return "enum";
    default: return NULL;
    }
}

const char *lh_params_type_name(int32_t type)
{
    const char *n = type_name(type);
    return n ? n : "?";
}

static int set_value(lhost_value *v, const lhost_param *p, const char *text, int from_user,
                     char *why, size_t cap)
{
    lhost_value nv;
    memset(&nv, 0, sizeof nv);
    nv.struct_size = sizeof nv;
    nv.type = p->type;
    nv.name = p->name;
    if (parse_one(p, text, &nv, why, cap) != 0)
        return -1;
    nv.s = strdup(p->type == LHOST_PARAM_ENUM ? p->choices[nv.i] : text);
    if (!nv.s) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    nv.is_set = 1;
    nv.from_user = from_user;
    free((char *)v->s);
    *v = nv;
    return 0;
}

void lh_params_values_free(lhost_param_values *pv)
{
    uint32_t k;
    if (!pv || !pv->values)
        return;
    for (k = 0; k < pv->count; k++)
        free((char *)pv->values[k].s);
    free((lhost_value *)pv->values);
    pv->values = NULL;
    pv->count = 0;
}

static int find_param(const lhost_plugin_desc *d, const char *key)
{
    uint32_t k;
    for (k = 0; k < d->n_params; k++)
        if (strcmp(d->params[k].name, key) == 0)
            return (int)k;
    return -1;
}

static int unknown_key(const lhost_plugin_desc *d, const lh_kv *kv, lh_error *err)
{
    char known[512] = "";
    size_t used = 0;
    uint32_t k;
    for (k = 0; k < d->n_params && used < sizeof known; k++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", k ? ", " : "",
                                 d->params[k].name);
    return lh_error_set(err, "%s%splugin %s: unknown parameter '%s' (known: %s)",
                        kv->where ? kv->where : "", kv->where ? ": " : "", d->name, kv->key,
                        d->n_params ? known : "none");
}

int lh_params_parse(const lhost_plugin_desc *desc, const lh_kv *kvs, int32_t n_kvs,
                    lhost_param_values *out, lh_error *err)
{
    lhost_value *vals;
    char why[768];
    uint32_t k;
    int32_t j;
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    vals = calloc(desc->n_params ? desc->n_params : 1, sizeof *vals);
    if (!vals)
        return lh_error_set(err, "plugin %s: out of memory", desc->name);
    out->values = vals;
    out->count = desc->n_params;
    for (k = 0; k < desc->n_params; k++) {
        const lhost_param *p = &desc->params[k];
        vals[k].struct_size = sizeof vals[k];
        vals[k].type = p->type;
        vals[k].name = p->name;
        if (p->default_value && set_value(&vals[k], p, p->default_value, 0, why, sizeof why)) {
            lh_error_set(err, "plugin %s: parameter '%s': default: %s", desc->name, p->name, why);
            goto fail;
        }
    }
    for (j = 0; j < n_kvs; j++) {
        int idx = find_param(desc, kvs[j].key);
        if (idx < 0) {
            unknown_key(desc, &kvs[j], err);
            goto fail;
        }
        if (set_value(&vals[idx], &desc->params[idx], kvs[j].value ? kvs[j].value : "", 1, why,
                      sizeof why)) {
            lh_error_set(err, "%s%splugin %s: parameter '%s': %s", kvs[j].where ? kvs[j].where : "",
                         kvs[j].where ? ": " : "", desc->name, kvs[j].key, why);
            goto fail;
        }
    }
    for (k = 0; k < desc->n_params; k++)
        if ((desc->params[k].flags & LHOST_PARAM_REQUIRED) && !vals[k].is_set) {
            lh_error_set(err, "plugin %s: parameter '%s': required but not given", desc->name,
                         desc->params[k].name);
            goto fail;
        }
    return 0;
fail:
    lh_params_values_free(out);
    return -1;
}

int lh_params_check_schema(const lhost_plugin_desc *desc, lh_error *err)
{
    lhost_value v;
    char why[768];
    uint32_t k, j;
    for (k = 0; k < desc->n_params; k++) {
        const lhost_param *p = &desc->params[k];
        if (!lh_params_name_ok(p->name))
            return lh_error_set(err, "plugin %s: parameter %u: name %s%s%s is not [a-z0-9_]+",
                                desc->name, k, p->name ? "'" : "", p->name ? p->name : "NULL",
                                p->name ? "'" : "");
        for (j = 0; j < k; j++)
            if (strcmp(desc->params[j].name, p->name) == 0)
                return lh_error_set(err, "plugin %s: parameter '%s': declared twice", desc->name,
                                    p->name);
        if (!type_name(p->type))
            return lh_error_set(err, "plugin %s: parameter '%s': unknown type %d", desc->name,
                                p->name, (int)p->type);
        if (p->type == LHOST_PARAM_ENUM && (!p->choices || !p->choices[0]))
            return lh_error_set(err, "plugin %s: parameter '%s': enum without choices",
                                desc->name, p->name);
        if ((p->flags & LHOST_PARAM_HAS_MIN) && (p->flags & LHOST_PARAM_HAS_MAX) && p->min > p->max)
            return lh_error_set(err, "plugin %s: parameter '%s': min %g > max %g", desc->name,
                                p->name, p->min, p->max);
        if ((p->flags & LHOST_PARAM_REQUIRED) && p->default_value)
            return lh_error_set(err, "plugin %s: parameter '%s': required but has a default",
                                desc->name, p->name);
        if (p->default_value) {
            memset(&v, 0, sizeof v);
            if (parse_one(p, p->default_value, &v, why, sizeof why) != 0)
                return lh_error_set(err, "plugin %s: parameter '%s': default: %s", desc->name,
                                    p->name, why);
        }
    }
    return 0;
}

void lh_params_format_value(const lhost_value *v, char *buf, size_t cap)
{
    if (!v->is_set) {
        snprintf(buf, cap, "None");
        return;
    }
    switch (v->type) {
    case LHOST_PARAM_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
    case LHOST_PARAM_FLOAT: {
        int prec; /* the shortest text that reads back as the same double */
        for (prec = 6; prec < 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v->f);
            if (strtod(buf, NULL) == v->f)
                return;
        }
        snprintf(buf, cap, "%.17g", v->f);
        break;
    }
    case LHOST_PARAM_BOOL: snprintf(buf, cap, "%s", v->i ? "true" : "false"); break;
    default: snprintf(buf, cap, "%s", v->s ? v->s : ""); break;
    }
}
