/* tests/plugins/no_entry.c — a shared object without lhost_plugin_entry. */
#include <lhost/lhost.h>

LHOST_EXPORT int lhost_plugin_entry_v0(void) { return 0; }
