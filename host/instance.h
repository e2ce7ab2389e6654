/* host/instance.h — plugin instances, parameter parsing, the host services table and hook
 * dispatch.
 *
 * The trainer makes one lh_instance per configured callback / metric / logger. Parameters come
 * as text (YAML scalars or CLI overrides) and are parsed against the plugin's schema before the
 * plugin's create() runs. The host services table (lhost_host) forwards to an lh_host_env the
 * trainer fills in, so plugins can be driven by the real trainer or by a scripted test. */
#ifndef LH_INSTANCE_H
#define LH_INSTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"
#include "registry.h"

/* What host services do, supplied by the trainer (or a test). Any member may be NULL: the
 * service then answers LHOST_EUNSUPPORTED (or LHOST_ENOTFOUND for get_value). Exceptions:
 * request_stop is always recorded on the instance (lh_dispatch_hook then returns LHOST_STOP) and
 * answers LHOST_OK; log without an env prints "lhost: <id>: <level>: msg" to stderr (INFO+). */
typedef struct lh_host_env {
    void *user;
    void (*log)(void *user, const char *who, int32_t level, const char *msg);
    int32_t (*get_value)(void *user, const char *key, double *out);
    int32_t (*log_value)(void *user, const char *key, double value, uint32_t flags);
    int32_t (*list_values)(void *user, lhost_value_visitor visit, void *visit_user);
    /* `who` is the plugin id asking, `reason` its text. */
    int32_t (*request_stop)(void *user, const char *who, const char *reason);
    int32_t (*save_checkpoint)(void *user, const char *path, uint32_t flags, lh_error *err);
    void (*trainer_state)(void *user, lhost_trainer_state *out);
    int32_t (*snapshot_weights)(void *user, int32_t slot);
    int32_t (*restore_weights)(void *user, int32_t slot);
    int32_t (*get_hparam)(void *user, const char *name, double *out);
    int32_t (*set_hparam)(void *user, const char *name, double value);
    int32_t (*higher_is_better)(void *user, const char *key, int32_t *out);
} lh_host_env;

/* The host's services table; its functions route through each ctx's env. Static, immortal. */
const lhost_host *lh_host_services(void);

/* One user parameter as text. */
typedef struct lh_kv {
    const char *key;
    const char *value;
    const char *where; /* "file.yaml:12" or "command line"; used in messages, may be NULL */
} lh_kv;

/* Parse `kvs` against `desc`'s schema into `out` (count = desc->n_params, schema order).
 * Errors read: plugin early_stopping: parameter 'mode': expected one of min, max; got "maz"
 * Strings in `out` are owned by `out`; free with lh_param_values_free. */
int lh_params_parse(const lhost_plugin_desc *desc, const lh_kv *kvs, int32_t n_kvs,
                    lhost_param_values *out, lh_error *err);
void lh_param_values_free(lhost_param_values *pv);

/* Check a plugin's own schema (names, types, defaults parse, enum choices, ranges). Used by
 * the loader: a bad schema makes the plugin BROKEN with this message. */
int lh_params_check_schema(const lhost_plugin_desc *desc, lh_error *err);

/* "int", "float", "bool", "string", "enum" ("?" otherwise). */
const char *lh_params_type_name(int32_t type);
/* Canonical text of a value ("16" for "0x10", "true" for "yes", "None" when unset) into buf. */
void lh_params_format_value(const lhost_value *v, char *buf, size_t cap);

/* lhost_ctx is the host's instance record. */
typedef struct lhost_ctx lh_instance;

/* Make an instance of `row` under config key `key` (e.g. "early_stopping", "acc").
 * `env` must outlive the instance. */
int lh_instance_create(const lh_plugin_row *row, const char *key, const lh_kv *kvs,
                       int32_t n_kvs, const lh_host_env *env, lh_instance **out, lh_error *err);
void lh_instance_destroy(lh_instance *inst);

const lhost_plugin_desc *lh_instance_desc(const lh_instance *inst);
const char *lh_instance_key(const lh_instance *inst);
void *lh_instance_self(const lh_instance *inst);
const lhost_param_values *lh_instance_params(const lh_instance *inst);
/* Stable state key: id plus identity parameters, e.g.
 * "org.lhost.early_stopping{monitor=val_acc,mode=max}". */
const char *lh_instance_state_key(const lh_instance *inst);
/* The callback / metric / logger vtable, copied into a host-sized struct (absent = NULL). */
const lhost_callback_vtable *lh_instance_callback(const lh_instance *inst);
const lhost_metric_vtable *lh_instance_metric(const lh_instance *inst);
const lhost_logger_vtable *lh_instance_logger(const lh_instance *inst);
/* Last message the plugin gave with set_error ("" if none). */
const char *lh_instance_error(const lh_instance *inst);

/* Hooks, for lh_dispatch. */
#define LH_HOOK_FIT_START 0
#define LH_HOOK_TRAIN_EPOCH_START 1
#define LH_HOOK_TRAIN_BATCH_END 2
#define LH_HOOK_VALIDATION_END 3
#define LH_HOOK_TRAIN_EPOCH_END 4
#define LH_HOOK_FIT_END 5
#define LH_HOOK_COUNT 6

/* A list of callback instances in dispatch order: ascending priority, then insertion order. */
typedef struct lh_dispatch lh_dispatch;
int lh_dispatch_create(lh_dispatch **out, lh_instance *const *callbacks, int32_t n,
                       lh_error *err);
void lh_dispatch_destroy(lh_dispatch *d);
int32_t lh_dispatch_count(const lh_dispatch *d);
lh_instance *lh_dispatch_at(const lh_dispatch *d, int32_t i);

/* Run `hook` on every callback in order. Returns LHOST_OK, LHOST_STOP (some callback asked to
 * stop; all still ran) or LHOST_ERROR with err = "plugin <id>: <hook>: <its message>" (the
 * callbacks after the failing one do not run). `batch` only for LH_HOOK_TRAIN_BATCH_END. */
int32_t lh_dispatch_hook(lh_dispatch *d, int32_t hook, const lhost_batch_info *batch,
                         lh_error *err);
/* "on_fit_start", ... for LH_HOOK_*; "?" otherwise. */
const char *lh_dispatch_hook_name(int32_t hook);
/* on_exception on every callback; return values ignored. */
void lh_dispatch_exception(lh_dispatch *d, const char *message);

#endif
