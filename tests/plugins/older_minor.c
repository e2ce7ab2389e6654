/* tests/plugins/older_minor.c — built "for ABI 1.0" against a host pretending to be 1.1: its
 * callback vtable's struct_size stops after on_train_epoch_start, so the hooks after it must be
 * NULL in the host's copy even though this file's static table has them set. */
#include <stddef.h>

#include "fixture.h"

static int32_t create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void destroy(void *s) {}
static int32_t hook(void *s, lhost_ctx *c) { return LHOST_OK; }

static const lhost_callback_vtable vt = {
    .struct_size = offsetof(lhost_callback_vtable, on_train_batch_end),
    .create = create, .destroy = destroy, .on_fit_start = hook, .on_train_epoch_start = hook,
    .on_validation_end = hook, .on_fit_end = hook};

static const lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                       "org.lhost.test.older_minor", "older_minor", "1.0.0",
                                       "built for an older minor", NULL, 0, 0, &vt};

FIX_LIBRARY(library, &desc);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
