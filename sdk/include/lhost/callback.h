/* lhost/callback.h — the callback vtable (Lightning's Callback).
 *
 * Order of hooks (Lightning's order; sdk/README.md has the whole diagram and which services
 * are valid in which hook). Hooks marked * are since ABI 1.1.
 *
 *   fit:       on_fit_start, on_train_start*
 *              for each epoch:
 *                on_train_epoch_start
 *                for each batch:
 *                  on_train_batch_start*   (batch loaded, before forward)
 *                  forward, loss, backward
 *                  on_after_backward*      (gradients valid from here ...)
 *                  on_before_optimizer_step*  (... to here; then gradient clipping, the step)
 *                  metric update, on_train_batch_end
 *                validation: on_validation_start*,
 *                  for each batch: on_validation_batch_end*,
 *                  metrics computed and logged, on_validation_epoch_end*, on_validation_end
 *                on_train_epoch_end   (epoch-level train values are logged by then)
 *              on_train_end*, on_fit_end
 *   validate:  on_validation_start*, on_validation_batch_end* ..., on_validation_epoch_end*,
 *              on_validation_end
 *   predict:   on_predict_start*, on_predict_batch_end* ..., on_predict_end*
 *   checkpoints: on_save_checkpoint* before a checkpoint's sections are written,
 *              on_load_checkpoint* after a resumed checkpoint's states are restored.
 * on_exception replaces the remaining hooks when the run fails (a hook error, bad data, a signal).
 *
 * `lhost validate` and `lhost predict` run only the callbacks whose `stages` name that stage
 * (a 1.0 callback, or stages 0, is fit only, as before).
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

/* Stages a callback runs in (lhost_callback_vtable.stages, since ABI 1.1). */
#define LHOST_STAGEF_FIT 0x1u
#define LHOST_STAGEF_VALIDATE 0x2u
#define LHOST_STAGEF_PREDICT 0x4u

/* The batch passed to the batch hooks (on_train_batch_start / _end, on_validation_batch_end,
 * on_predict_batch_end). Host-owned, borrowed for the call, pointers included: nothing is
 * copied for it (the logits are copied only by host->batch_logits). */
typedef struct lhost_batch_info {
    uint32_t struct_size;
    int64_t batch_idx; /* in the current epoch (or validation / prediction pass) */
    int64_t batch_size;
    double loss;       /* this batch's mean loss; NAN before forward and in predict */
    /* since ABI 1.1 */
    int32_t stage;                 /* LHOST_STAGE_* of the loop the batch belongs to */
    int32_t num_classes;           /* logits per sample */
    int32_t input_ndim;            /* 4: inputs are (batch_size, C, H, W) float32 */
    int32_t reserved_;             /* 0 */
    int64_t input_shape[4];
    const int32_t *targets;        /* (batch_size) class indices, host memory */
    const int32_t *sample_index;   /* (batch_size) each sample's index in its dataset split */
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

    /* ---- since ABI 1.1 ---------------------------------------------------------------- */

    /* LHOST_STAGEF_* the callback runs in; 0 = fit only (as every 1.0 callback). */
    uint32_t stages;
    uint32_t reserved_; /* 0 */

    int32_t (*on_train_start)(void *self, lhost_ctx *ctx);
    int32_t (*on_train_end)(void *self, lhost_ctx *ctx);
    /* The batch is loaded (inputs, targets, sample_index valid); loss is NAN. */
    int32_t (*on_train_batch_start)(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);
    /* Gradients are valid (tensor_read GRAD, grad_norm, clip_grad_*) in these two. */
    int32_t (*on_after_backward)(void *self, lhost_ctx *ctx);
    int32_t (*on_before_optimizer_step)(void *self, lhost_ctx *ctx);
    int32_t (*on_validation_start)(void *self, lhost_ctx *ctx);
    int32_t (*on_validation_batch_end)(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);
    /* The validation values (val_loss, val_<metric>) are logged by then. */
    int32_t (*on_validation_epoch_end)(void *self, lhost_ctx *ctx);
    int32_t (*on_predict_start)(void *self, lhost_ctx *ctx);
    int32_t (*on_predict_batch_end)(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);
    int32_t (*on_predict_end)(void *self, lhost_ctx *ctx);
    /* Before a checkpoint is written: host->checkpoint_put adds metadata entries. */
    int32_t (*on_save_checkpoint)(void *self, lhost_ctx *ctx);
    /* After a checkpoint's states are restored (resume): host->checkpoint_get reads them. */
    int32_t (*on_load_checkpoint)(void *self, lhost_ctx *ctx);
} lhost_callback_vtable;

#ifdef __cplusplus
}
#endif

#endif
