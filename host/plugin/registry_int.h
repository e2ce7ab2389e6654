/* host/plugin/registry_int.h — the registry's insides, shared by registry.c (discovery), loader.c
 * (in-process dlopen + ABI negotiation) and scan.c (the same load run in a child process). */
#ifndef LH_REGISTRY_INT_H
#define LH_REGISTRY_INT_H

#include "registry.h"

struct lh_registry {
    lh_plugin_row *rows; /* every string owned; desc points into an lh_plugin_copy */
    int32_t n, cap;
    void **handles;      /* dlopen handles kept until close */
    struct lh_bare_lib **bare;  /* SDK-free libraries, closed before their handles */
    int32_t n_bare, cap_bare;
    int32_t n_handles, cap_handles;
    const lhost_host *host;
    lhost_version host_abi;
    int32_t allow_insecure;
    int32_t scan_in_child;
    double scan_timeout_s;
};

/* A loaded plugin's descriptor copied into host-sized, zero-filled structs. `desc` is first so a
 * row's desc pointer is the copy's address. */
typedef struct lh_plugin_copy {
    lhost_plugin_desc desc;
    lhost_param *params; /* desc.params points here */
    union {
        lhost_callback_vtable callback;
        lhost_metric_vtable metric;
        lhost_logger_vtable logger;
    } vt;                /* desc.vtable points here */
} lh_plugin_copy;

/* Append a row, copying every string (NULLs stay NULL). `copy` (may be NULL) is owned by the
 * registry from now on, even on failure. Returns NULL when out of memory. */
lh_plugin_row *lh_registry_add_row(lh_registry *reg, int32_t status, const char *reason,
                                   const char *path, const char *dir, const char *id,
                                   const char *name, const char *version, int32_t kind,
                                   lhost_version abi, lh_plugin_copy *copy);
int lh_registry_keep_handle(lh_registry *reg, void *handle);
int lh_registry_keep_bare(lh_registry *reg, struct lh_bare_lib *lib);
/* Free every row and dlclose every handle, leaving an empty registry. */
void lh_registry_clear(lh_registry *reg);

/* dlopen `path` in this process, negotiate, copy and check every descriptor, and add one row
 * per plugin (or one BROKEN row for the file). -1 only when out of memory. */
int lh_loader_load(lh_registry *reg, const char *path, const char *dir);

/* What lh_loader_load does with the library an entry returned (plib may be NULL): check the
 * ABI, copy and check every descriptor, add the rows. Returns how many plugins are usable (0:
 * a BROKEN row says why), -1 when out of memory. Also the descriptor fuzz target's way in. */
int lh_loader_add_library(lh_registry *reg, const lhost_library *plib, const char *path,
                          const char *dir);

/* The same, with the entry run in a child process (rows carry no desc). */
int lh_scan_file(lh_registry *reg, const char *path, const char *dir);

#endif
