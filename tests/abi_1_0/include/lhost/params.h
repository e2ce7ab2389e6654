/* lhost/params.h — a plugin's parameter schema and the parsed values the host hands back.
 *
 * The plugin declares its parameters; the host parses the user's strings (YAML config or
 * `--callbacks.NAME.KEY=VALUE`) against the schema and refuses unknown keys, wrong types,
 * out-of-range numbers and values outside an enum before create() is called. Defaults are text
 * and go through the same parser, so a schema whose default does not parse is refused at load. */
#ifndef LHOST_PARAMS_H
#define LHOST_PARAMS_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parameter types (lhost_param.type). */
#define LHOST_PARAM_INT 1    /* int64_t; accepts decimal or 0x hex */
#define LHOST_PARAM_FLOAT 2  /* double; accepts inf, -inf and nan where the range allows */
#define LHOST_PARAM_BOOL 3   /* true/false, yes/no, on/off, 1/0 */
#define LHOST_PARAM_STRING 4 /* any text */
#define LHOST_PARAM_ENUM 5   /* one of `choices` */

/* lhost_param.flags */
#define LHOST_PARAM_HAS_MIN 0x1u  /* value >= min (INT, FLOAT) */
#define LHOST_PARAM_HAS_MAX 0x2u  /* value <= max (INT, FLOAT) */
#define LHOST_PARAM_REQUIRED 0x4u /* the user must give it; `default_value` must be NULL */
#define LHOST_PARAM_IDENTITY 0x8u /* part of the instance's state key (as Lightning's state_key) */

/* One parameter. Plugin-owned, valid until the plugin is unloaded. */
typedef struct lhost_param {
    uint32_t struct_size;       /* sizeof(lhost_param) as the plugin knows it */
    int32_t type;               /* LHOST_PARAM_* */
    const char *name;           /* [a-z0-9_]+, unique within the plugin */
    const char *help;           /* one line */
    const char *default_value;  /* text parsed like user input; NULL = unset unless given */
    const char *const *choices; /* ENUM: NULL-terminated list; otherwise NULL */
    double min;                 /* with LHOST_PARAM_HAS_MIN */
    double max;                 /* with LHOST_PARAM_HAS_MAX */
    uint32_t flags;             /* LHOST_PARAM_* flags */
} lhost_param;

/* One parsed value. For ENUM, `i` is the index into choices and `s` the choice text. */
typedef struct lhost_value {
    uint32_t struct_size;
    int32_t type;     /* copy of lhost_param.type */
    const char *name; /* the parameter's name */
    int32_t is_set;   /* 0: no default and not given (None) */
    int32_t from_user; /* 1: the user gave it, 0: the default */
    int64_t i;        /* INT, BOOL (0/1), ENUM (index) */
    double f;         /* FLOAT; also INT converted */
    const char *s;    /* STRING, ENUM; also the text the value came from */
} lhost_value;

/* All values of one instance, in schema order. Host-owned; valid until destroy() returns. */
typedef struct lhost_param_values {
    uint32_t struct_size;
    uint32_t count;
    const lhost_value *values;
} lhost_param_values;

/* Find a value by parameter name; NULL if the schema has no such parameter. */
static inline const lhost_value *lhost_param_find(const lhost_param_values *pv, const char *name)
{
    uint32_t k;
    for (k = 0; pv && k < pv->count; k++)
        if (strcmp(pv->values[k].name, name) == 0)
            return &pv->values[k];
    return NULL;
}

static inline int64_t lhost_param_int(const lhost_param_values *pv, const char *name, int64_t dflt)
{
    const lhost_value *v = lhost_param_find(pv, name);
    return (v && v->is_set) ? v->i : dflt;
}

static inline double lhost_param_float(const lhost_param_values *pv, const char *name, double dflt)
{
    const lhost_value *v = lhost_param_find(pv, name);
    return (v && v->is_set) ? v->f : dflt;
}

static inline const char *lhost_param_string(const lhost_param_values *pv, const char *name,
                                             const char *dflt)
{
    const lhost_value *v = lhost_param_find(pv, name);
    return (v && v->is_set) ? v->s : dflt;
}

static inline int32_t lhost_param_is_set(const lhost_param_values *pv, const char *name)
{
    const lhost_value *v = lhost_param_find(pv, name);
    return v ? v->is_set : 0;
}

#ifdef __cplusplus
}
#endif

#endif
