/* host/plugin/ctx.h — the layout of struct lhost_ctx (an lh_instance), shared by instance.c,
 * services.c and dispatch.c only. Everything else uses the accessors in instance.h. */
#ifndef LH_CTX_H
#define LH_CTX_H

#include <stdint.h>

#include "guard.h"
#include "instance.h"

#define LH_GUARDED_SLOTS 7 /* the entries of instance_guard.c's GUARDED_MAP */

struct lhost_ctx {
    const lh_plugin_row *row;
    const lhost_plugin_desc *desc; /* host-sized copy owned by the registry */
    const lh_host_env *env;        /* borrowed, outlives the instance; may be NULL */
    char *key;                     /* config key, owned */
    char *state_key;               /* owned */
    lhost_param_values params;     /* owned */
    void *self;                    /* what create() wrote */
    int32_t created;               /* create() succeeded: destroy() is owed */
    int32_t stop_requested;        /* request_stop was called since the last dispatch */
    char error[1024];              /* last set_error message */
    lh_guard_note note;            /* current around create and destroy (guard.h) */
    /* What lh_instance_callback/metric/logger return: the vtable with the members the trainer
     * calls directly trampolined to make notes[slot] current (instance_guard.c). */
    union {
        lhost_callback_vtable callback;
        lhost_metric_vtable metric;
        lhost_logger_vtable logger;
    } guarded;
    lh_guard_note notes[LH_GUARDED_SLOTS];
};

/* Fill inst->guarded and inst->notes from inst->desc (instance_guard.c). */
void lh_instance_guard_init(lh_instance *inst);

/* Message set by set_error(NULL, msg) inside an entry on this thread ("" if none); clear it
 * before calling an entry. */
const char *lh_services_entry_error(void);
void lh_services_clear_entry_error(void);

#endif
