/* host/plugin/services.h — the host services table plugins call (lhost_host), routed to an
 * lh_host_env that the trainer (or a test) fills in, so plugins can be driven by the real
 * trainer or by a scripted test. The plugin room knows no trainer: it is handed these. */
#ifndef LH_SERVICES_H
#define LH_SERVICES_H

#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"

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
const lhost_host *lh_services_table(void);

#endif
