/* host/plugin/instance_guard.c — an instance's vtable as the rest of the host sees it: a copy in
 * which every member that takes the instance (ctx) and that the trainer calls outside
 * lh_dispatch_hook — a metric's update and compute, a logger's calls, a callback's state_save
 * and state_restore — is a trampoline that makes the instance's note current (guard.h) around
 * the plugin's function, so a crash there is reported as "plugin ID crashed in update (SIGSEGV)".
 * Callback hooks are not trampolined: lh_dispatch_hook sets their notes itself, with no extra
 * call. state_layout has no ctx to find the instance by; it runs once, while setting up. */
#include "ctx.h"

/* X(slot, K: the plugin kind, vtable type, member, return type, (parameters), (arguments)) */
#define GUARDED_MAP(X)                                                                        \
    X(UPDATE, METRIC, lhost_metric_vtable, update, int32_t,                                  \
      (void *self, lhost_ctx *ctx, const lhost_metric_state *st, const lhost_metric_batch *b), \
      (self, ctx, st, b))                                                                     \
    X(COMPUTE, METRIC, lhost_metric_vtable, compute, int32_t,                                \
      (void *self, lhost_ctx *ctx, const lhost_metric_state *st, double *out),               \
      (self, ctx, st, out))                                                                   \
    X(LOG_HPARAMS, LOGGER, lhost_logger_vtable, log_hparams, int32_t,                        \
      (void *self, lhost_ctx *ctx, const char *run_dir, uint32_t n, const char *const *k,    \
       const char *const *v),                                                                 \
      (self, ctx, run_dir, n, k, v))                                                          \
    X(LOG_ROW, LOGGER, lhost_logger_vtable, log_row, int32_t,                                \
      (void *self, lhost_ctx *ctx, const lhost_log_row *row), (self, ctx, row))              \
    X(FINALIZE, LOGGER, lhost_logger_vtable, finalize, int32_t,                              \
      (void *self, lhost_ctx *ctx, const char *status), (self, ctx, status))                 \
    X(STATE_SAVE, CALLBACK, lhost_callback_vtable, state_save, int32_t,                      \
      (void *self, lhost_ctx *ctx, const void **data, uint64_t *size),                       \
      (self, ctx, data, size))                                                                \
    X(STATE_RESTORE, CALLBACK, lhost_callback_vtable, state_restore, int32_t,                \
      (void *self, lhost_ctx *ctx, uint32_t version, const void *data, uint64_t size),       \
      (self, ctx, version, data, size))

_Static_assert(LH_GUARDED_SLOTS >= 7, "ctx.h: notes[] has a slot for every GUARDED_MAP entry");

#define SLOT(slot, kind, type, member, ret, params, args) SLOT_##slot,
enum { GUARDED_MAP(SLOT) N_SLOTS };
#undef SLOT
_Static_assert(N_SLOTS <= LH_GUARDED_SLOTS, "ctx.h: LH_GUARDED_SLOTS is too small");

/* The plugin's own function, run with this instance's note for it current. */
#define TRAMPOLINE(slot, kind, type, member, ret, params, args)                               \
    static ret guarded_##member params                                                        \
    {                                                                                          \
        const lh_guard_note *was = lh_guard_enter(&ctx->notes[SLOT_##slot]);                  \
        ret rc = ((const type *)ctx->desc->vtable)->member args;                               \
        lh_guard_leave(was);                                                                   \
        return rc;                                                                             \
    }
GUARDED_MAP(TRAMPOLINE)
#undef TRAMPOLINE

void lh_instance_guard_init(lh_instance *inst)
{
    const lhost_plugin_desc *d = inst->desc;
    switch (d->kind) {
    case LHOST_KIND_CALLBACK:
        inst->guarded.callback = *(const lhost_callback_vtable *)d->vtable;
        break;
    case LHOST_KIND_METRIC: inst->guarded.metric = *(const lhost_metric_vtable *)d->vtable; break;
    default: inst->guarded.logger = *(const lhost_logger_vtable *)d->vtable; break;
    }
#define INSTALL(slot, K, type, member, ret, params, args)                                     \
    if (d->kind == LHOST_KIND_##K && ((const type *)d->vtable)->member) {                  \
        lh_guard_note_set(&inst->notes[SLOT_##slot], d->id, #member);                         \
        ((type *)&inst->guarded)->member = guarded_##member;                                  \
    }
    GUARDED_MAP(INSTALL)
#undef INSTALL
}
