/* tests/plugins/hang.c — an entry that never returns. */
#include <unistd.h>

#include <lhost/lhost.h>

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    for (;;)
        pause();
    return NULL;
}
