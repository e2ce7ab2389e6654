/* lhost/types.h — status codes, kinds and the opaque context handle shared by every header.
 *
 * Every enumeration crosses the boundary as a fixed-width integer (int32_t), never as a C enum,
 * so its size cannot change with the compiler. */
#ifndef LHOST_TYPES_H
#define LHOST_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status returned by every plugin function and host service that can fail.
 * LHOST_STOP is an action (a callback asks the trainer to stop), not an error. */
#define LHOST_OK 0
#define LHOST_STOP 1
#define LHOST_ERROR (-1)     /* the plugin called host->set_error with the reason */
#define LHOST_ENOTFOUND (-2) /* a named value does not exist (get_value) */
#define LHOST_EINVAL (-3)    /* an argument was out of its documented range */
#define LHOST_ENOMEM (-4)
#define LHOST_EIO (-5)
#define LHOST_EUNSUPPORTED (-6) /* the host cannot do this here (e.g. no weights to snapshot) */

/* Plugin kinds (lhost_plugin_desc.kind). */
#define LHOST_KIND_CALLBACK 1
#define LHOST_KIND_METRIC 2
#define LHOST_KIND_LOGGER 3

/* Thread tags used in comments:
 *   [main-thread]  the thread that runs the trainer loop; hooks and metric functions are only
 *                  ever called from it, one at a time, so plugins need no locks.
 *   [any-thread]   may be called from any thread, concurrently.
 * Every host service is [main-thread] unless its comment says otherwise. */

/* One plugin instance as the host sees it. Opaque to plugins: they receive it in every call and
 * hand it back to host services so the host knows who is logging, failing or asking to stop.
 * Valid from create() until destroy() returns. */
typedef struct lhost_ctx lhost_ctx;

#ifdef __cplusplus
}
#endif

#endif
