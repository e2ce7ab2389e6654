/* tests/plugins/unresolved.c — calls a function no library defines; RTLD_NOW must refuse it at
 * dlopen instead of crashing at the first call. */
#include <lhost/lhost.h>

void lh_fixture_not_defined(void);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    lh_fixture_not_defined();
    return NULL;
}
