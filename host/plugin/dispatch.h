/* host/plugin/dispatch.h — callback hooks run over a list of instances in priority order. */
#ifndef LH_DISPATCH_H
#define LH_DISPATCH_H

#include <stdint.h>

#include "error.h"
#include "hooks.h"
#include "instance.h"
#include "lhost/lhost.h"

/* Hooks, for lh_dispatch_hook: LH_HOOK_FIT_START, ... in LH_HOOK_MAP's order (hooks.h). */
enum {
#define LH_HOOK_ID_(ID, member, KIND) LH_HOOK_##ID,
    LH_HOOK_MAP(LH_HOOK_ID_)
#undef LH_HOOK_ID_
    LH_HOOK_COUNT
};

/* A list of callback instances in dispatch order: ascending priority, then insertion order. */
typedef struct lh_dispatch lh_dispatch;
int lh_dispatch_create(lh_dispatch **out, lh_instance *const *callbacks, int32_t n,
                       lh_error *err);
void lh_dispatch_destroy(lh_dispatch *d);
int32_t lh_dispatch_count(const lh_dispatch *d);
lh_instance *lh_dispatch_at(const lh_dispatch *d, int32_t i);

/* Run `hook` on every callback in order. Returns LHOST_OK, LHOST_STOP (some callback asked to
 * stop; all still ran) or LHOST_ERROR with err = "plugin <id>: <hook>: <its message>" (the
 * callbacks after the failing one do not run). `batch` is passed to hooks of kind
 * LH_HOOK_KIND_BATCH (on_train_batch_end) and ignored for the others. */
int32_t lh_dispatch_hook(lh_dispatch *d, int32_t hook, const lhost_batch_info *batch,
                         lh_error *err);
/* "on_fit_start", ... for LH_HOOK_*; "?" otherwise. */
const char *lh_dispatch_hook_name(int32_t hook);
/* The LH_HOOK_* named `name` ("on_fit_start"), or -1. */
int32_t lh_dispatch_hook_find(const char *name);
/* LH_HOOK_KIND_* of `hook`, or -1 for no hook. */
int32_t lh_dispatch_hook_kind(int32_t hook);
/* Does `vt` implement `hook` (its member is not NULL)? 0 for no hook. */
int32_t lh_dispatch_implements(const lhost_callback_vtable *vt, int32_t hook);
/* on_exception on every callback; return values ignored. */
void lh_dispatch_exception(lh_dispatch *d, const char *message);

#endif
