/* tests/plugins/entry_error.c — an entry that returns a library with `error` set. */
#include <lhost/lhost.h>

static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT,
                                      "needs libfoo 2, found 1", 0, NULL};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
