/* host/plugin/dispatch.h — callback hooks run over a list of instances in priority order. */
#ifndef LH_DISPATCH_H
#define LH_DISPATCH_H

#include <stdint.h>

#include "error.h"
#include "instance.h"
#include "lhost/lhost.h"

/* Hooks, for lh_dispatch. */
#define LH_HOOK_FIT_START 0
#define LH_HOOK_TRAIN_EPOCH_START 1
#define LH_HOOK_TRAIN_BATCH_END 2
#define LH_HOOK_VALIDATION_END 3
#define LH_HOOK_TRAIN_EPOCH_END 4
#define LH_HOOK_FIT_END 5
#define LH_HOOK_COUNT 6

/* A list of callback instances in dispatch order: ascending priority, then insertion order. */
typedef struct lh_dispatch lh_dispatch;
int lh_dispatch_create(lh_dispatch **out, lh_instance *const *callbacks, int32_t n,
                       lh_error *err);
void lh_dispatch_destroy(lh_dispatch *d);
int32_t lh_dispatch_count(const lh_dispatch *d);
lh_instance *lh_dispatch_at(const lh_dispatch *d, int32_t i);

/* Run `hook` on every callback in order. Returns LHOST_OK, LHOST_STOP (some callback asked to
 * stop; all still ran) or LHOST_ERROR with err = "plugin <id>: <hook>: <its message>" (the
 * callbacks after the failing one do not run). `batch` only for LH_HOOK_TRAIN_BATCH_END. */
int32_t lh_dispatch_hook(lh_dispatch *d, int32_t hook, const lhost_batch_info *batch,
                         lh_error *err);
/* "on_fit_start", ... for LH_HOOK_*; "?" otherwise. */
const char *lh_dispatch_hook_name(int32_t hook);
/* on_exception on every callback; return values ignored. */
void lh_dispatch_exception(lh_dispatch *d, const char *message);

#endif
