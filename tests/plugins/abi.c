/* tests/plugins/abi.c — a library claiming ABI FIX_MAJOR.FIX_MINOR.0 (wrong_major: 2.0,
 * newer_minor: 1.2). Its create() aborts: the host must refuse it before calling anything but
 * the entry. */
#include <stdlib.h>

#include <lhost/lhost.h>

static int32_t create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    abort();
}
static void destroy(void *s) { abort(); }

static const lhost_callback_vtable vt = {.struct_size = sizeof(lhost_callback_vtable),
                                         .create = create, .destroy = destroy};
static const lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                       "org.lhost.test.abi", "abi", "1.0.0", "wrong ABI", NULL, 0,
                                       0, &vt};
static const lhost_plugin_desc *const plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), {FIX_MAJOR, FIX_MINOR, 0}, NULL, 1,
                                      plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
