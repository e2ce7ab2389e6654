/* tests/plugins/fixture.h — small helpers shared by the fixture plugins. */
#ifndef LH_FIXTURE_H
#define LH_FIXTURE_H

#include <lhost/lhost.h>

#define FIX_LIBRARY(var, ...)                                                         \
    static const lhost_plugin_desc *const var##_plugins[] = {__VA_ARGS__};            \
    static const lhost_library var = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, \
                                      NULL,                                           \
                                      sizeof var##_plugins / sizeof var##_plugins[0], \
                                      var##_plugins}

#endif
