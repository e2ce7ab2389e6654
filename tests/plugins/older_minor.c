/* tests/plugins/older_minor.c — claims ABI 1.0 to a 1.1 host, with a callback vtable whose
 * struct_size stops after on_train_epoch_start, so the hooks after it must be NULL in the host's
 * copy even though this file's static table has them set. */
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

static const lhost_plugin_desc *const plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), {1, 0, 0}, NULL, 1, plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
