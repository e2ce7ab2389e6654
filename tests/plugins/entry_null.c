/* tests/plugins/entry_null.c — an entry that calls host->set_error and returns NULL. */
#include <lhost/lhost.h>

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    host->set_error(NULL, "no licence key");
    return NULL;
}
