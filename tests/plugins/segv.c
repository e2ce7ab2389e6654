/* tests/plugins/segv.c — an entry that dereferences NULL. */
#include <lhost/lhost.h>

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    volatile int *p = (volatile int *)(uintptr_t)abi->patch; /* 0 for ABI 1.0.0: NULL */
    *p = 42;
    return NULL;
}
