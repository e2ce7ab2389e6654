/* tests/plugins/noop.c — a callback whose hooks do nothing, for the dispatch benchmark. Its id
 * and name come from its file name (noop_042.so -> org.lhost.test.noop_042 / noop_042), so one
 * build copied N times gives N distinct plugins. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

static char id[128], name[64];

static int32_t create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void destroy(void *s) {}
static int32_t hook(void *s, lhost_ctx *c) { return LHOST_OK; }
static int32_t batch_hook(void *s, lhost_ctx *c, const lhost_batch_info *b) { return LHOST_OK; }

static const lhost_callback_vtable vt = {
    .struct_size = sizeof(lhost_callback_vtable), .create = create, .destroy = destroy,
    .on_fit_start = hook, .on_train_epoch_start = hook, .on_train_batch_end = batch_hook,
    .on_validation_end = hook, .on_train_epoch_end = hook, .on_fit_end = hook};

static lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, id, name,
                                 "1.0.0", "does nothing, fast", NULL, 0, 0, &vt};
static const lhost_plugin_desc *const plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1,
                                      plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    Dl_info info;
    const char *base, *dot;
    size_t n;
    if (!dladdr((void *)&library, &info) || !info.dli_fname)
        return NULL;
    base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    dot = strrchr(base, '.');
    n = dot ? (size_t)(dot - base) : strlen(base);
    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, base, n);
    name[n] = '\0';
    snprintf(id, sizeof id, "org.lhost.test.%s", name);
    return &library;
}
