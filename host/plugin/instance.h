/* host/plugin/instance.h — plugin instances: one per configured callback / metric / logger.
 * Parameters come as text and are parsed against the plugin's schema (params.h) before the
 * plugin's create() runs; the instance's host services go through an lh_host_env (services.h). */
#ifndef LH_INSTANCE_H
#define LH_INSTANCE_H

#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"
#include "params.h"
#include "registry.h"
#include "services.h"

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

#endif
