/* tests/plugins/bad_schema.c — a callback whose int parameter has the default "abc". */
#include "fixture.h"

static int32_t create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void destroy(void *s) {}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience", "epochs", "abc", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
};
static const lhost_callback_vtable vt = {.struct_size = sizeof(lhost_callback_vtable),
                                         .create = create, .destroy = destroy};
static const lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                       "org.lhost.test.bad_schema", "bad_schema", "1.0.0",
                                       "default does not parse", params, 1, 0, &vt};

FIX_LIBRARY(library, &desc);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
