/* host/plugin/params.h — user parameters (text from YAML or the command line) parsed against a
 * plugin's schema, and the schema's own check. */
#ifndef LH_PARAMS_H
#define LH_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"

/* One user parameter as text. */
typedef struct lh_kv {
    const char *key;
    const char *value;
    const char *where; /* "file.yaml:12" or "command line"; used in messages, may be NULL */
} lh_kv;

/* Parse `kvs` against `desc`'s schema into `out` (count = desc->n_params, schema order).
 * Errors read: plugin early_stopping: parameter 'mode': expected one of min, max; got "maz"
 * Strings in `out` are owned by `out`; free with lh_params_values_free. */
int lh_params_parse(const lhost_plugin_desc *desc, const lh_kv *kvs, int32_t n_kvs,
                    lhost_param_values *out, lh_error *err);
void lh_params_values_free(lhost_param_values *pv);

/* Check a plugin's own schema (names, types, defaults parse, enum choices, ranges). Used by
 * the loader: a bad schema makes the plugin BROKEN with this message. */
int lh_params_check_schema(const lhost_plugin_desc *desc, lh_error *err);

/* 1 when `s` is a name a config can write unquoted: [a-z0-9_]+ (plugin short names and
 * parameter names alike). */
int lh_params_name_ok(const char *s);

/* "int", "float", "bool", "string", "enum" ("?" otherwise). */
const char *lh_params_type_name(int32_t type);
/* Canonical text of a value ("16" for "0x10", "true" for "yes", "None" when unset) into buf. */
void lh_params_format_value(const lhost_value *v, char *buf, size_t cap);

#endif
