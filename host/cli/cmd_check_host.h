/* host/cli/cmd_check_host.h — the host `lhost plugins check` drives a plugin with: a trainer
 * with no data set, only a tiny model (conv2d + relu + flatten + linear on 1x6x6 inputs, 4
 * classes) on the CPU backend, trained by Adam on generated batches, behind the trainer's own
 * host services (lh_trainer_env_init: tensors, gradients in their window, batch logits, weight
 * snapshots, hyper-parameters, checkpoint metadata). What the checker scripts replaces a few of
 * them: the values plugins read (missing, NaN, inf, numbers by epoch), logging (recorded, to
 * compare two instances' behaviour) and checkpoints (a small file, there is no data to save).
 * Used by cmd_check_rules.c only. */
#ifndef LH_CMD_CHECK_HOST_H
#define LH_CMD_CHECK_HOST_H

#include <stdint.h>

#include "cmd_check.h"
#include "dispatch.h"
#include "trainer.h"

#define LH_CHECK_EPOCHS 6
#define LH_CHECK_BATCHES 4 /* per epoch: empty (NaN loss), one sample (inf loss), 32, 32 */
#define LH_CHECK_ROWS 32   /* the largest batch */

/* What a callback did, to compare two instances' behaviour: every hook's status and message,
 * every line logged, value logged and stop requested, in order. The text keeps the first 8 KB
 * (for the reason); the hash and length cover all of it. */
typedef struct lh_check_record {
    char text[8192];
    size_t len;
    uint64_t hash, total;
} lh_check_record;

typedef struct lh_check_host {
    lh_trainer t;  /* first: the trainer's services take the env's user as an lh_trainer */
    int32_t phase; /* get_value: 0 every key missing, 1 NaN, 2 inf, 3+ ordinary numbers */
    int64_t nan_epoch;           /* this epoch's last batch holds NaN and inf inputs (-1) */
    int32_t no_arithmetic;       /* 1: no forward / backward (the model's buffers stay as they
                                  * are; the hooks and services are the same) */
    lh_check_record *rec;        /* NULL: not recording */
    int32_t seen[LH_HOOK_COUNT]; /* hooks called so far */
    float inputs[LH_CHECK_ROWS * 36];
    int32_t targets[LH_CHECK_ROWS], index[LH_CHECK_ROWS];
    float *zeros;                /* (total_params): the gradient of an empty batch */
} lh_check_host;

/* A host with a freshly initialised model (seeded: two hosts start equal). On failure err says
 * why and nothing is left to free. */
int lh_check_host_init(lh_check_host *h, lh_error *err);
void lh_check_host_free(lh_check_host *h);

/* Make dst what src is now: parameters, optimizer state, counters, stop flags. */
int lh_check_host_copy(lh_check_host *dst, const lh_check_host *src, lh_error *err);
/* 1 when both models hold the same parameter bytes, 0 when not, -1 (err) when unreadable. */
int lh_check_host_same_model(const lh_check_host *a, const lh_check_host *b, lh_error *err);

/* Add one event to h's record (when recording). */
void lh_check_host_note(lh_check_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hook k (LH_HOOK_*) with bi (batch hooks), in its window (checkpoint metadata, logits);
 * recorded. A hook may fail, but with a message and a legal status: otherwise -1 (reason in v). */
int lh_check_host_hook(lh_check_host *h, lh_dispatch *d, int32_t k, const lhost_batch_info *bi,
                       lh_check_verdict *v);

/* Epochs [from, to) of a fit in Lightning's order through `d` (whose instances were created with
 * this host's env): when `start`, on_fit_start and on_train_start first; per epoch
 * on_train_epoch_start, per batch on_train_batch_start, forward, loss, backward,
 * on_after_backward and on_before_optimizer_step (gradients readable), the optimizer step,
 * on_train_batch_end (logits readable); validation's hooks with an eval forward per batch,
 * on_save_checkpoint (metadata writable), on_train_epoch_end. When `end`, on_train_end,
 * on_fit_end, a prediction pass, then every hook of LH_HOOK_MAP not called yet
 * (on_load_checkpoint; a new hook is checked before it has a place here). A hook may fail, but
 * with a message and a legal status: otherwise -1 with the reason in v. */
int lh_check_host_fit(lh_check_host *h, lh_dispatch *d, int64_t from, int64_t to, int start,
                      int end, lh_check_verdict *v);

#endif
