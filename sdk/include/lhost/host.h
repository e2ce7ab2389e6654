/* lhost/host.h — the services the host offers to plugins.
 *
 * The host passes one const lhost_host to the entry and to every create(). The table only grows
 * at the end: check `struct_size` (or use LHOST_HOST_HAS) before calling a member added after
 * ABI 1.0, and treat a NULL member as "not in this host":
 *
 *     if (LHOST_HOST_HAS(host, grad_norm)) host->grad_norm(ctx, 2.0, NULL, &total);
 *
 * Members since ABI 1.1 are marked so; a 1.1 plugin loaded by a 1.0 host is refused at load,
 * but a plugin built for 1.1 can still test LHOST_HOST_HAS to run on a trimmed host table. */
#ifndef LHOST_HOST_H
#define LHOST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels for lhost_host.log. */
#define LHOST_LOG_DEBUG 0
#define LHOST_LOG_INFO 1
#define LHOST_LOG_WARN 2
#define LHOST_LOG_ERROR 3

/* Flags for lhost_host.log_value, as Lightning's self.log arguments. */
#define LHOST_LOGF_PROG_BAR 0x1u /* show in the progress bar */
#define LHOST_LOGF_ON_STEP 0x2u  /* write a row for this step */
#define LHOST_LOGF_ON_EPOCH 0x4u /* reduce over the epoch (batch-size-weighted mean) */

/* Flags for lhost_host.save_checkpoint. */
#define LHOST_CKPT_WEIGHTS_ONLY 0x1u

/* Trainer stages (lhost_trainer_state.stage). */
#define LHOST_STAGE_FIT 1
#define LHOST_STAGE_VALIDATE 2
#define LHOST_STAGE_PREDICT 3

/* A snapshot of the trainer's counters, filled by lhost_host.trainer_state. */
typedef struct lhost_trainer_state {
    uint32_t struct_size;    /* set by the caller to sizeof(lhost_trainer_state) */
    int32_t stage;           /* LHOST_STAGE_* */
    int64_t epoch;           /* current epoch, 0-based (Lightning's current_epoch) */
    int64_t global_step;     /* optimizer steps taken so far */
    int64_t batch_idx;       /* index of the batch in the current epoch, -1 outside batches */
    int64_t num_train_batches;
    int64_t max_epochs;      /* -1 = unlimited */
    int64_t min_epochs;
    int32_t rank;            /* this process's rank, 0-based */
    int32_t world_size;
    int32_t is_global_zero;  /* 1 on rank 0 */
    int32_t stop_requested;  /* 1 once a callback asked to stop */
    /* since ABI 1.1: 1 from after backward until the optimizer step (on_after_backward,
     * on_before_optimizer_step), when gradients can be read, scaled and clipped; else 0. */
    int32_t grads_valid;
    /* since ABI 1.1: 1 while the sanity check's validation runs before training
     * (trainer.num_sanity_val_steps; Lightning's trainer.sanity_checking), else 0. */
    int32_t sanity_checking;
} lhost_trainer_state;

/* Flags for lhost_host.request_stop_flags (since ABI 1.1). */
#define LHOST_STOP_NOW 0x1u /* stop after the current batch, not at the end of the epoch */

/* What tensor_read reads (since ABI 1.1); optimizer states exist only for the optimizer that
 * has them, as torch's optimizer.state names them (exp_avg / exp_avg_sq: Adam, AdamW;
 * momentum_buffer: SGD with momentum > 0). */
#define LHOST_TENSOR_PARAM 0
#define LHOST_TENSOR_GRAD 1
#define LHOST_TENSOR_EXP_AVG 2
#define LHOST_TENSOR_EXP_AVG_SQ 3
#define LHOST_TENSOR_MOMENTUM_BUFFER 4

/* Element type of a model tensor (since ABI 1.1): the same value as metric.h's
 * LHOST_DTYPE_F32. */
#define LHOST_TENSOR_F32 3
/* since ABI 1.1: int64 (a buffer's num_batches_tracked), metric.h's LHOST_DTYPE_I64. */
#define LHOST_TENSOR_I64 2

/* One named model tensor, filled by lhost_host.tensor_info (since ABI 1.1). */
typedef struct lhost_tensor_info {
    uint32_t struct_size; /* set by the caller to sizeof(lhost_tensor_info) */
    int32_t dtype;        /* LHOST_TENSOR_F32 */
    const char *name;     /* PyTorch state_dict name, as checkpoints use it: "conv1.0.weight";
                           * host-owned, valid until the run ends */
    int32_t ndim;         /* 1..4; 0 for a scalar buffer (num_batches_tracked) */
    int32_t index;        /* the index passed to tensor_info */
    int64_t shape[4];     /* the first ndim are used; PyTorch's layout (out, in), (K, C, R, S) */
    int64_t numel;        /* product of the shape */
} lhost_tensor_info;

/* Called by list_values once per logged value; return non-zero to stop early. */
typedef int32_t (*lhost_value_visitor)(void *user, const char *key, double value);

typedef struct lhost_host {
    uint32_t struct_size;  /* sizeof(lhost_host) as the host knows it */
    lhost_version abi;     /* the host's ABI version */
    const char *name;      /* "lhost"; host-owned, valid while the plugin is loaded */
    const char *version;   /* the host program's version string; same ownership */

    /* [any-thread] Print a message attributed to the plugin instance (ctx may be NULL inside the
     * entry). `msg` is borrowed for the call. */
    void (*log)(lhost_ctx *ctx, int32_t level, const char *msg);

    /* [main-thread] Record why the current call is about to return LHOST_ERROR. The host copies
     * `msg` and shows it prefixed with the plugin id; the last message before the return wins. */
    void (*set_error)(lhost_ctx *ctx, const char *msg);

    /* [main-thread] Read the latest value logged under `key` (e.g. "val_acc", "loss"): epoch-level
     * values after an epoch ends, step values during it. Returns LHOST_OK and writes *out, or
     * LHOST_ENOTFOUND. `key` is borrowed for the call. */
    int32_t (*get_value)(lhost_ctx *ctx, const char *key, double *out);

    /* [main-thread] Log a value under `key` with LHOST_LOGF_* flags. The key is copied. */
    int32_t (*log_value)(lhost_ctx *ctx, const char *key, double value, uint32_t flags);

    /* [main-thread] Ask the trainer to stop at the end of the current epoch (after min_epochs).
     * An action, not an error: the run ends normally. `reason` is copied. */
    int32_t (*request_stop)(lhost_ctx *ctx, const char *reason);

    /* [main-thread] Write a full checkpoint (weights, optimizer, trainer and every plugin's
     * state) atomically to `path` (temp file, fsync, rename, fsync directory). LHOST_CKPT_* flags.
     * `path` is borrowed; on failure the reason is recorded and LHOST_EIO returned. */
    int32_t (*save_checkpoint)(lhost_ctx *ctx, const char *path, uint32_t flags);

    /* [main-thread] Fill *out (the caller sets out->struct_size first; only that many bytes are
     * written). */
    int32_t (*trainer_state)(lhost_ctx *ctx, lhost_trainer_state *out);

    /* [any-thread] Memory for plugin use; free with `free`. NULL on failure. */
    void *(*alloc)(uint64_t size);
    void (*free)(void *ptr);

    /* [main-thread] Call `visit` for every currently logged value, in key order. */
    int32_t (*list_values)(lhost_ctx *ctx, lhost_value_visitor visit, void *user);

    /* [main-thread] Keep a copy of the current weights in host memory under `slot` (a small
     * integer chosen by the plugin), or copy a kept snapshot back into the model.
     * LHOST_EUNSUPPORTED when there is no model (e.g. in unit tests). */
    int32_t (*snapshot_weights)(lhost_ctx *ctx, int32_t slot);
    int32_t (*restore_weights)(lhost_ctx *ctx, int32_t slot);

    /* [main-thread] Read or change a trainer hyper-parameter by name. Names in ABI 1.0: "lr"
     * (the optimizer's learning rate; a change applies from the next optimizer step); since ABI
     * 1.1 also "momentum" as LearningRateMonitor reads it and OneCycleLR cycles it (betas[0]
     * for Adam and AdamW, 0 <= b < 1; momentum for SGD, 0..1; a host that can only read it
     * answers LHOST_ENOTFOUND to set_hparam("momentum"), so test the status), and, read
     * only, "log_every_n_steps" (the trainer's). Unknown names answer
     * LHOST_ENOTFOUND; set_hparam refuses non-finite or out-of-range values with LHOST_EINVAL.
     * Both changed values are saved with the optimizer and restored on resume. For
     * learning-rate schedulers and the like. */
    int32_t (*get_hparam)(lhost_ctx *ctx, const char *name, double *out);
    int32_t (*set_hparam)(lhost_ctx *ctx, const char *name, double value);

    /* [main-thread] Is a larger value of the logged key `key` better? Writes 1 or 0 to *out:
     * metric keys (with or without "val_", per-output "_<k>" suffixes too) answer their
     * metric's higher_is_better, losses ("loss", "train_loss", "val_loss") answer 0. Keys the
     * host knows nothing about answer LHOST_ENOTFOUND. Lets a callback default its `mode`. */
    int32_t (*value_higher_is_better)(lhost_ctx *ctx, const char *key, int32_t *out);

    /* ---- since ABI 1.1: the model's tensors ------------------------------------------------
     * Nothing is copied unless a plugin calls these; each read or write is one device transfer
     * of that tensor (bench/README.md gives the cost). Tensors are numbered 0..count-1 in the
     * model's order (layer order, weight before bias), the order of the checkpoint. All answer
     * LHOST_EUNSUPPORTED when there is no model (unit tests) and LHOST_EINVAL for an index out
     * of range or a `numel` that is not the tensor's. */

    /* [main-thread] Number of named tensors (parameters) of the model. Valid in every hook. */
    int32_t (*tensor_count)(lhost_ctx *ctx, int32_t *out);
    /* [main-thread] Describe tensor `index` into *out (the caller sets out->struct_size). */
    int32_t (*tensor_info)(lhost_ctx *ctx, int32_t index, lhost_tensor_info *out);
    /* [main-thread] The index of the tensor named `name` ("fc.bias"), or LHOST_ENOTFOUND. */
    int32_t (*tensor_find)(lhost_ctx *ctx, const char *name, int32_t *index);
    /* [main-thread] Copy tensor `index`'s `what` (LHOST_TENSOR_*) into `dst` (plugin memory,
     * `numel` floats, row-major). LHOST_TENSOR_GRAD only while grads are valid (from
     * on_after_backward to on_before_optimizer_step): outside that window, or for an optimizer
     * state this optimizer lacks, LHOST_EUNSUPPORTED with the reason recorded (shown if the
     * plugin then fails). */
    int32_t (*tensor_read)(lhost_ctx *ctx, int32_t index, int32_t what, float *dst,
                           uint64_t numel);
    /* [main-thread] Overwrite parameter `index` with `numel` floats from `src` (borrowed), for
     * EMA / SWA swaps. Not during the batch between on_after_backward and the optimizer step
     * (LHOST_EUNSUPPORTED): the gradients would no longer match the weights. */
    int32_t (*tensor_write)(lhost_ctx *ctx, int32_t index, const float *src, uint64_t numel);

    /* [main-thread] Gradient norms as torch.nn.utils.clip_grad_norm_ computes them: the p-norm
     * of each parameter's gradient into per_tensor[i] (may be NULL; else tensor_count entries)
     * and the p-norm of those norms into *total (may be NULL). p > 0 or INFINITY (max |g|).
     * Only while grads are valid (LHOST_EUNSUPPORTED otherwise). This and the three below run
     * on the model's device: no gradient is copied, only one double per tensor comes back. */
    int32_t (*grad_norm)(lhost_ctx *ctx, double p, double *per_tensor, double *total);
    /* [main-thread] Multiply every gradient by `factor` (finite) in place. Grads valid only. */
    int32_t (*grad_scale)(lhost_ctx *ctx, double factor);
    /* [main-thread] torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=p): total norm
     * over all gradients, clip_coef = max_norm / (total + 1e-6), gradients scaled by clip_coef
     * when it is below 1. Writes the total norm before clipping to *total (may be NULL). */
    int32_t (*clip_grad_norm)(lhost_ctx *ctx, double max_norm, double p, double *total);
    /* [main-thread] torch.nn.utils.clip_grad_value_: every gradient clamped to
     * [-clip_value, clip_value]. Grads valid only. */
    int32_t (*clip_grad_value)(lhost_ctx *ctx, double clip_value);

    /* [main-thread] Inside a batch hook (on_train_batch_end, on_validation_batch_end,
     * on_predict_batch_end): copy the batch's logits, (batch_size, num_classes) row-major
     * floats, into `dst` (`numel` must be exactly that). LHOST_EUNSUPPORTED outside those
     * hooks (and in on_train_batch_start, before the forward pass). */
    int32_t (*batch_logits)(lhost_ctx *ctx, float *dst, uint64_t numel);

    /* [main-thread] request_stop with LHOST_STOP_* flags: LHOST_STOP_NOW (from a batch hook,
     * Lightning's trainer.should_stop = True) ends the epoch after the current batch — its
     * validation and epoch-end hooks still run — once min_epochs are done; without the flag it
     * is request_stop. `reason` is copied. */
    int32_t (*request_stop_flags)(lhost_ctx *ctx, const char *reason, uint32_t flags);

    /* [main-thread] In on_save_checkpoint: add the text entry `key` = `value` (both copied;
     * key [a-z0-9_.]+) to the checkpoint's metadata, stored as "callback.<instance>.<key>".
     * In on_load_checkpoint: read an entry this instance added into `buf` (`cap` bytes,
     * NUL-terminated; LHOST_ENOTFOUND when absent, LHOST_EINVAL when it does not fit).
     * LHOST_EUNSUPPORTED in any other hook. */
    int32_t (*checkpoint_put)(lhost_ctx *ctx, const char *key, const char *value);
    int32_t (*checkpoint_get)(lhost_ctx *ctx, const char *key, char *buf, uint64_t cap);

    /* [main-thread] since ABI 1.1: the optimizer's torch class name ("Adam", "AdamW", "SGD"),
     * NUL-terminated, into `buf` (`cap` bytes; LHOST_EINVAL when it does not fit), for keys
     * such as LearningRateMonitor's "lr-Adam". LHOST_ENOTFOUND when the run has no optimizer
     * (validate, predict). Its momentum is get_hparam "momentum". */
    int32_t (*optimizer_name)(lhost_ctx *ctx, char *buf, uint64_t cap);

    /* ---- since ABI 1.1: the model's buffers ------------------------------------------------
     * nn.Module.buffers() in state_dict order: batch norm's running_mean and running_var
     * (LHOST_TENSOR_F32, ndim 1) and num_batches_tracked (LHOST_TENSOR_I64, ndim 0, numel 1),
     * numbered 0..count-1 apart from the parameters, for weight averaging with buffers
     * (Lightning's WeightAveraging use_buffers). A model without batch norm has none. Errors
     * as the tensor services. */

    /* [main-thread] Number of buffers. Valid in every hook. */
    int32_t (*buffer_count)(lhost_ctx *ctx, int32_t *out);
    /* [main-thread] Describe buffer `index` into *out (the caller sets out->struct_size). */
    int32_t (*buffer_info)(lhost_ctx *ctx, int32_t index, lhost_tensor_info *out);
    /* [main-thread] Copy buffer `index` into `dst` (plugin memory: `numel` floats for F32,
     * int64_t for I64), or overwrite it from `src` (borrowed). Writing is refused between
     * on_after_backward and the optimizer step, as tensor_write. */
    int32_t (*buffer_read)(lhost_ctx *ctx, int32_t index, void *dst, uint64_t numel);
    int32_t (*buffer_write)(lhost_ctx *ctx, int32_t index, const void *src, uint64_t numel);
    /* [main-thread] torch.optim.swa_utils.update_bn over the training set: running_mean to 0,
     * running_var to 1, num_batches_tracked to 0, then one forward pass over every training
     * batch (this rank's share, the last epoch's order) in train mode with momentum None (the
     * cumulative average of the batches' statistics); no backward, no optimizer step, nothing
     * logged. What StochasticWeightAveraging's extra epoch computes for a model with batch
     * norm. LHOST_OK at once for a model without batch norm; LHOST_EUNSUPPORTED outside
     * on_train_end of a fit. */
    int32_t (*update_bn)(lhost_ctx *ctx);
} lhost_host;

/* Does `host` have the member `field` (added in some minor version)? */
#define LHOST_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(lhost_host, field) + sizeof((host)->field) && (host)->field)

#ifdef __cplusplus
}
#endif

#endif
