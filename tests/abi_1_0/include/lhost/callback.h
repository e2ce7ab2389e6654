/* lhost/callback.h — the callback vtable (Lightning's Callback).
 *
 * Order of hooks in a fit (Lightning's order):
 *   on_fit_start
 *   for each epoch:
 *     on_train_epoch_start
 *     for each batch: (forward, backward, optimizer step, metric update) on_train_batch_end
 *     validation loop, metrics computed and logged
 *     on_validation_end
 *     on_train_epoch_end   (epoch-level train values are logged by then)
 *   on_fit_end
 * on_exception replaces the remaining hooks when the run fails (a hook error, bad data, a signal).
 *
 * Among callbacks a hook runs in ascending `priority` (lhost_plugin_desc), then config order;
 * monitoring callbacks such as ModelCheckpoint use LHOST_PRIORITY_MONITOR so they see what
 * EarlyStopping decided. Every hook is [main-thread] and returns LHOST_OK, LHOST_STOP (ask the
 * trainer to stop; same as host->request_stop) or LHOST_ERROR after host->set_error. A NULL hook
 * is absent. Fields after struct_size are read only when struct_size covers them. */
#ifndef LHOST_CALLBACK_H
#define LHOST_CALLBACK_H

#include <stdint.h>

#include "host.h"
#include "params.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Batch-end information passed to on_train_batch_end. Host-owned, borrowed for the call. */
typedef struct lhost_batch_info {
    uint32_t struct_size;
    int64_t batch_idx; /* in the current epoch */
    int64_t batch_size;
    double loss;       /* this batch's mean loss */
} lhost_batch_info;

typedef struct lhost_callback_vtable {
    uint32_t struct_size; /* sizeof(lhost_callback_vtable) as the plugin knows it */

    /* Version of the bytes state_save writes; state_restore receives the version that wrote the
     * bytes it gets, so a plugin can migrate old state. */
    uint32_t state_version;

    /* [main-thread] Make an instance. `params` are validated against the schema and stay valid
     * until destroy returns; `host` for the plugin's lifetime. Write the instance to *self. */
    int32_t (*create)(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                      void **self);
    /* [main-thread] Free everything create made. Never fails. */
    void (*destroy)(void *self);

    int32_t (*on_fit_start)(void *self, lhost_ctx *ctx);
    int32_t (*on_train_epoch_start)(void *self, lhost_ctx *ctx);
    int32_t (*on_train_batch_end)(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);
    int32_t (*on_validation_end)(void *self, lhost_ctx *ctx);
    int32_t (*on_train_epoch_end)(void *self, lhost_ctx *ctx);
    int32_t (*on_fit_end)(void *self, lhost_ctx *ctx);
    /* The run failed with `message` (borrowed). A SIGINT or SIGTERM stops the run at a batch
     * boundary with a message starting "interrupted by " ("interrupted by SIGINT"): the model
     * and optimizer are consistent then, so a checkpoint saved here resumes exactly (the
     * reference model_checkpoint writes last.ckpt). The return value is ignored. */
    int32_t (*on_exception)(void *self, lhost_ctx *ctx, const char *message);

    /* [main-thread] Serialise the instance's state. Write a pointer to plugin-owned bytes and
     * their length; they must stay valid until the next call on this instance. */
    int32_t (*state_save)(void *self, lhost_ctx *ctx, const void **data, uint64_t *size);
    /* [main-thread] Restore state written by state_save of `version` (borrowed bytes). Called
     * after create and before on_fit_start when resuming. */
    int32_t (*state_restore)(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                             uint64_t size);
} lhost_callback_vtable;

#ifdef __cplusplus
}
#endif

#endif
