/* host/plugin/services.h — the host services table plugins call (lhost_host), routed to an
 * lh_host_env that the trainer (or a test) fills in, so plugins can be driven by the real
 * trainer or by a scripted test. The plugin room knows no trainer: it is handed these. */
#ifndef LH_SERVICES_H
#define LH_SERVICES_H

#include <stddef.h>
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

    /* Since ABI 1.1: the model's tensors and the current batch. Where a call can be refused for
     * a reason the plugin should see (a gradient outside its window), the reason is written to
     * `why` (`cap` bytes, the calling instance's error text). */
    int32_t (*tensor_count)(void *user, int32_t *out);
    int32_t (*tensor_info)(void *user, int32_t index, lhost_tensor_info *out);
    int32_t (*tensor_find)(void *user, const char *name, int32_t *index);
    int32_t (*tensor_read)(void *user, int32_t index, int32_t what, float *dst, uint64_t numel,
                           char *why, size_t cap);
    int32_t (*tensor_write)(void *user, int32_t index, const float *src, uint64_t numel,
                            char *why, size_t cap);
    int32_t (*grad_norm)(void *user, double p, double *per_tensor, double *total, char *why,
                         size_t cap);
    int32_t (*grad_scale)(void *user, double factor, char *why, size_t cap);
    int32_t (*clip_grad_norm)(void *user, double max_norm, double p, double *total, char *why,
                              size_t cap);
    int32_t (*clip_grad_value)(void *user, double clip_value, char *why, size_t cap);
    int32_t (*batch_logits)(void *user, float *dst, uint64_t numel, char *why, size_t cap);
    /* request_stop with LHOST_STOP_* flags; request_stop itself calls this with 0 when set. */
    int32_t (*request_stop_flags)(void *user, const char *who, const char *reason,
                                  uint32_t flags);
    /* `state_key` is the calling instance's (lh_instance_state_key). */
    int32_t (*checkpoint_put)(void *user, const char *state_key, const char *key,
                              const char *value, char *why, size_t cap);
    int32_t (*checkpoint_get)(void *user, const char *state_key, const char *key, char *buf,
                              uint64_t cap);
    /* The optimizer's torch class name ("Adam"), NUL-terminated within `cap`. */
    int32_t (*optimizer_name)(void *user, char *buf, uint64_t cap);
    /* The model's buffers (lhost_host.buffer_*) and update_bn. */
    int32_t (*buffer_count)(void *user, int32_t *out);
    int32_t (*buffer_info)(void *user, int32_t index, lhost_tensor_info *out);
    int32_t (*buffer_read)(void *user, int32_t index, void *dst, uint64_t numel, char *why,
                           size_t cap);
    int32_t (*buffer_write)(void *user, int32_t index, const void *src, uint64_t numel,
                            char *why, size_t cap);
    int32_t (*update_bn)(void *user, char *why, size_t cap);
} lh_host_env;

/* The host's services table; its functions route through each ctx's env. Static, immortal. */
const lhost_host *lh_services_table(void);

#endif
