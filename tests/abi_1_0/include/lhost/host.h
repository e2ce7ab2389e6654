/* lhost/host.h — the services the host offers to plugins.
 *
 * The host passes one const lhost_host to the entry and to every create(). The table only grows
 * at the end: check `struct_size` (or use LHOST_HOST_HAS) before calling a member added after
 * ABI 1.0, and treat a NULL member as "not in this host". */
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
} lhost_trainer_state;

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
     * (the optimizer's learning rate; a change applies from the next optimizer step). Unknown
     * names answer LHOST_ENOTFOUND; set_hparam refuses non-finite or out-of-range values with
     * LHOST_EINVAL. For learning-rate schedulers and the like. */
    int32_t (*get_hparam)(lhost_ctx *ctx, const char *name, double *out);
    int32_t (*set_hparam)(lhost_ctx *ctx, const char *name, double value);

    /* [main-thread] Is a larger value of the logged key `key` better? Writes 1 or 0 to *out:
     * metric keys (with or without "val_", per-output "_<k>" suffixes too) answer their
     * metric's higher_is_better, losses ("loss", "train_loss", "val_loss") answer 0. Keys the
     * host knows nothing about answer LHOST_ENOTFOUND. Lets a callback default its `mode`. */
    int32_t (*value_higher_is_better)(lhost_ctx *ctx, const char *key, int32_t *out);
} lhost_host;

/* Does `host` have the member `field` (added in some minor version)? */
#define LHOST_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(lhost_host, field) + sizeof((host)->field) && (host)->field)

#ifdef __cplusplus
}
#endif

#endif
