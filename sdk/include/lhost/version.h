/* lhost/version.h — the ABI version and the rules for comparing versions.
 *
 * A plugin records the version it was built against (LHOST_ABI_VERSION_*) in its
 * lhost_library. The host refuses a different major before calling anything but the entry,
 * refuses a plugin built for a newer minor than the host, and loads one built for an older
 * minor (struct_size tells each side which fields the other knows). Patch never matters.
 *
 * ABI 1.1 added, each at the end of its struct and marked "since ABI 1.1": the tensor and batch
 * services of lhost_host, the hooks and `stages` of lhost_callback_vtable, the batch views of
 * lhost_batch_info and lhost_trainer_state.grads_valid. A 1.0 plugin sees none of them. */
#ifndef LHOST_VERSION_H
#define LHOST_VERSION_H

#include <stdint.h>

#define LHOST_ABI_VERSION_MAJOR 1
#define LHOST_ABI_VERSION_MINOR 1
#define LHOST_ABI_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lhost_version {
    uint32_t major;
    uint32_t minor;
    uint32_t patch;
} lhost_version;

#define LHOST_ABI_VERSION_INIT \
    { LHOST_ABI_VERSION_MAJOR, LHOST_ABI_VERSION_MINOR, LHOST_ABI_VERSION_PATCH }

/* Results of lhost_version_check. */
#define LHOST_VERSION_COMPATIBLE 0
#define LHOST_VERSION_MAJOR_MISMATCH 1
#define LHOST_VERSION_PLUGIN_NEWER 2

/* Can a host of version `host` load a plugin built against `plugin`? */
static inline int32_t lhost_version_check(lhost_version host, lhost_version plugin)
{
    if (host.major != plugin.major)
        return LHOST_VERSION_MAJOR_MISMATCH;
    if (plugin.minor > host.minor)
        return LHOST_VERSION_PLUGIN_NEWER;
    return LHOST_VERSION_COMPATIBLE;
}

#ifdef __cplusplus
}
#endif

#endif
