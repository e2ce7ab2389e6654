/* tests/plugins/good.c — a well-formed callback with a schema of every parameter type. Built
 * twice more as dup_a/good.so (1.0.0) and dup_b/good.so (2.0.0) for the shadowing test. */
#include <stdlib.h>

#include "fixture.h"

#ifndef FIX_VERSION
#define FIX_VERSION "0.1.0"
#endif

static const char *const modes[] = {"min", "max", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "quantity to watch", "val_loss", NULL, 0,
     0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode", "min or max", "min", modes, 0, 0,
     LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience", "epochs without improvement", "3", NULL, 0,
     0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "min_delta", "smallest improvement", "0", NULL, 0, 1,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "verbose", "print decisions", "false", NULL, 0, 0, 0},
};

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                      void **self)
{
    *self = malloc(16);
    return *self ? LHOST_OK : LHOST_ENOMEM;
}

static void destroy(void *self) { free(self); }
static int32_t hook(void *self, lhost_ctx *ctx) { return LHOST_OK; }

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = create,
    .destroy = destroy,
    .on_fit_start = hook,
    .on_validation_end = hook,
    .on_fit_end = hook,
};

static const lhost_plugin_desc good = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.test.good", "good", FIX_VERSION,
    "a well-formed test callback", params, sizeof params / sizeof params[0],
    LHOST_PRIORITY_DEFAULT, &vtable};

FIX_LIBRARY(library, &good);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
