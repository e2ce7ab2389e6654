/* host/plugin/hooks.h — the one table of callback hooks that lh_dispatch_hook runs.
 *
 * Every place the host knows a hook by name is generated from LH_HOOK_MAP: the LH_HOOK_* ids
 * and LH_HOOK_COUNT (dispatch.h), the names and the vtable member each id reads (dispatch.c),
 * the per-kind call in lh_dispatch_hook, the SDK-free plugins' grammar and their trampolines
 * (bare/), and the hook list of `lhost plugins --verbose`. Adding a hook is one entry here, the
 * member appended to lhost_callback_vtable (sdk/include/lhost/callback.h) and the call site in
 * the trainer; dispatch.c fails to compile when an entry's kind does not match the member's type.
 *
 *     X(ID, member, KIND)
 *       ID      LH_HOOK_<ID>
 *       member  the lhost_callback_vtable member, and the hook's name ("on_fit_start") in
 *               messages, in the bare grammar and in `lhost plugins --verbose`
 *       KIND    the member's signature, one of LH_HOOK_KIND_* below
 *
 * Order is the order of a fit (Lightning's), then predict's and the checkpoint hooks, which is
 * the order `--verbose` lists them in and the order of the ids; it need not be the order of the
 * vtable, where members only append (the hooks after on_fit_end are since ABI 1.1).
 * on_exception, state_save and state_restore are not here: each has its own call site and
 * signature (lh_dispatch_exception, the checkpoint's state section). */
#ifndef LH_HOOKS_H
#define LH_HOOKS_H

#include <stdint.h>

#include "lhost/lhost.h"

#define LH_HOOK_MAP(X)                                                                         \
    X(FIT_START, on_fit_start, CTX)                                                            \
    X(TRAIN_START, on_train_start, CTX)                                                        \
    X(TRAIN_EPOCH_START, on_train_epoch_start, CTX)                                            \
    X(TRAIN_BATCH_START, on_train_batch_start, BATCH)                                          \
    X(AFTER_BACKWARD, on_after_backward, CTX)                                                  \
    X(BEFORE_OPTIMIZER_STEP, on_before_optimizer_step, CTX)                                    \
    X(TRAIN_BATCH_END, on_train_batch_end, BATCH)                                              \
    X(VALIDATION_START, on_validation_start, CTX)                                              \
    X(VALIDATION_BATCH_END, on_validation_batch_end, BATCH)                                    \
    X(VALIDATION_EPOCH_END, on_validation_epoch_end, CTX)                                      \
    X(VALIDATION_END, on_validation_end, CTX)                                                  \
    X(TRAIN_EPOCH_END, on_train_epoch_end, CTX)                                                \
    X(TRAIN_END, on_train_end, CTX)                                                            \
    X(FIT_END, on_fit_end, CTX)                                                                \
    X(PREDICT_START, on_predict_start, CTX)                                                    \
    X(PREDICT_BATCH_END, on_predict_batch_end, BATCH)                                          \
    X(PREDICT_END, on_predict_end, CTX)                                                        \
    X(SAVE_CHECKPOINT, on_save_checkpoint, CTX)                                                \
    X(LOAD_CHECKPOINT, on_load_checkpoint, CTX)

/* Signature kinds. A hook of kind BATCH gets the lhost_batch_info given to lh_dispatch_hook
 * (and a bare hook's batch_idx argument binds to its batch_idx); CTX hooks get nothing more. */
#define LH_HOOK_KIND_CTX 0
#define LH_HOOK_KIND_BATCH 1

typedef int32_t (*lh_hook_ctx_fn)(void *self, lhost_ctx *ctx);
typedef int32_t (*lh_hook_batch_fn)(void *self, lhost_ctx *ctx, const lhost_batch_info *batch);

/* The function type of kind KIND, for code generated from LH_HOOK_MAP: LH_HOOK_FN_##KIND. */
#define LH_HOOK_FN_CTX lh_hook_ctx_fn
#define LH_HOOK_FN_BATCH lh_hook_batch_fn

#endif
