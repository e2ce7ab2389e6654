/* lhost/plugin.h — the entry symbol and the descriptors a plugin library returns.
 *
 * A plugin library exports exactly one symbol, `lhost_plugin_entry`:
 *
 *     LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *host_abi,
 *                                                         const lhost_host *host);
 *
 * [main-thread] It is called once after dlopen. It must not start threads or train anything: it
 * only returns a description. `host_abi` and `host` are host-owned and valid until unload. The
 * returned library and everything it points to are plugin-owned and must stay valid until the
 * library is unloaded (static const data is the usual choice). To fail, return a library whose
 * `error` is set (n_plugins is then ignored), or NULL after host->set_error(NULL, msg).
 *
 * The host reads `abi` first and refuses a different major before calling anything else. */
#ifndef LHOST_PLUGIN_H
#define LHOST_PLUGIN_H

#include <stdint.h>

#include "callback.h"
#include "host.h"
#include "logger.h"
#include "metric.h"
#include "params.h"
#include "types.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LHOST_ENTRY_SYMBOL "lhost_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define LHOST_EXPORT __attribute__((visibility("default")))
#else
#define LHOST_EXPORT
#endif

/* Priorities (lhost_plugin_desc.priority): hooks run in ascending order. */
#define LHOST_PRIORITY_DEFAULT 0
#define LHOST_PRIORITY_MONITOR 100 /* checkpointing: runs after callbacks that decide things */

/* One plugin. Plugin-owned, valid until unload. */
typedef struct lhost_plugin_desc {
    uint32_t struct_size;       /* sizeof(lhost_plugin_desc) as the plugin knows it */
    int32_t kind;               /* LHOST_KIND_* */
    const char *id;             /* reverse-DNS, unique: "org.lhost.early_stopping" */
    const char *name;           /* short name used in configs: "early_stopping" */
    const char *version;        /* the plugin's own version, "1.2.0" */
    const char *description;    /* one line */
    const lhost_param *params;  /* `n_params` entries */
    uint32_t n_params;
    int32_t priority;           /* LHOST_PRIORITY_*; callbacks only */
    /* Points to the vtable for `kind`: lhost_callback_vtable, lhost_metric_vtable or
     * lhost_logger_vtable. */
    const void *vtable;
} lhost_plugin_desc;

/* What the entry returns. Plugin-owned, valid until unload. */
typedef struct lhost_library {
    uint32_t struct_size;   /* sizeof(lhost_library) as the plugin knows it */
    lhost_version abi;      /* LHOST_ABI_VERSION_INIT: the version the plugin was built against */
    const char *error;      /* NULL on success; else why the library cannot be used */
    uint32_t n_plugins;
    const lhost_plugin_desc *const *plugins; /* `n_plugins` descriptors */
} lhost_library;

typedef const lhost_library *(*lhost_entry_fn)(const lhost_version *host_abi,
                                               const lhost_host *host);

/* The whole entry point of a library whose plugins are fixed at build time (most are):
 *
 *     LHOST_PLUGIN_LIBRARY(&my_desc);             one plugin
 *     LHOST_PLUGIN_LIBRARY(&a_desc, &b_desc);     several
 *
 * defines the descriptor table, the lhost_library and `lhost_plugin_entry` returning it. Write
 * the entry by hand to decide at load time (look at host_abi, or refuse with `error`). */
#ifdef __cplusplus
#define LHOST_ENTRY_LINKAGE_ extern "C"
#else
#define LHOST_ENTRY_LINKAGE_
#endif
#define LHOST_PLUGIN_LIBRARY(...)                                                               \
    static const lhost_plugin_desc *const lhost_library_plugins_[] = {__VA_ARGS__};            \
    static const lhost_library lhost_library_ = {                                              \
        sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL,                                   \
        (uint32_t)(sizeof lhost_library_plugins_ / sizeof lhost_library_plugins_[0]),          \
        lhost_library_plugins_};                                                               \
    LHOST_ENTRY_LINKAGE_ LHOST_EXPORT const lhost_library *lhost_plugin_entry(                 \
        const lhost_version *host_abi, const lhost_host *host)                                 \
    {                                                                                          \
        (void)host_abi;                                                                        \
        (void)host;                                                                            \
        return &lhost_library_;                                                                \
    }                                                                                          \
    typedef int lhost_library_defined_ /* so that the use ends with a semicolon */

#ifdef __cplusplus
}
#endif

#endif
