/* host/plugin/registry.h — plugin discovery, loading and the table of known plugins.
 *
 * Search order: --plugin-dir flags (in order), LHOST_PLUGIN_PATH (colon-separated; ignored in a
 * setuid/setgid process), $XDG_DATA_HOME/lhost/plugins (default ~/.local/share/lhost/plugins),
 * the installed plugin directory, and, when the running lhost lives in the build tree, the
 * build's plugins/ folder. The first plugin with an id wins; later ones are "shadowed".
 * In each directory the *.so files are taken in name order. A directory or file writable by group
 * or others, or owned by someone else than root or the user, or below such a directory (see
 * registry.c), is a BROKEN row unless allow_insecure. Reasons (exact text, tests assert them):
 *   cannot load: <dlerror without the path>      not an lhost plugin: no symbol lhost_plugin_entry
 *   entry failed: <the plugin's message>         entry crashed: SIGSEGV / entry timed out after N s
 *   built for ABI 2.0.0, host has ABI 1.0.0 (different major)
 *   built for ABI 1.1.0, newer than the host's ABI 1.0.0
 *   bad parameter schema: plugin NAME: parameter 'KEY': ...
 *   file is writable by group or others (mode 0666); refused without --allow-insecure-plugins
 *   file is owned by uid 65534, not by root or you (uid 1000); refused without --allow-...
 *   directory /a/b is writable by group or others (mode 0777); refused without --allow-...
 *   library declares 4294967295 plugins; at most 256
 *   plugin id "org.x y": character 6 (0x20) is not one of [A-Za-z0-9._-]
 *   shadowed by <path of the plugin that wins> */
#ifndef LH_REGISTRY_H
#define LH_REGISTRY_H

#include <stdint.h>

#include "error.h"
#include "lhost/lhost.h"

/* Status of one row of the registry. */
#define LH_PLUGIN_OK 0
#define LH_PLUGIN_BROKEN 1   /* `reason` says why: the library could not be used */
#define LH_PLUGIN_SHADOWED 2 /* an earlier directory had the same id; `reason` names it */

typedef struct lh_registry_opts {
    const char *const *plugin_dirs; /* --plugin-dir values, in order */
    int32_t n_plugin_dirs;
    int32_t allow_insecure;         /* --allow-insecure-plugins */
    int32_t scan_in_child;          /* 1: run each file's entry in a child (for `lhost plugins`) */
    double scan_timeout_s;          /* child timeout per file (0 = 5 s) */
    int32_t skip_default_dirs;      /* tests: only plugin_dirs (and LHOST_PLUGIN_PATH if set) */
    lhost_version host_abi;         /* tests: negotiate as this host ABI; 0.0.0 = the real one */
} lh_registry_opts;

/* One row: a plugin (or a broken file) found in a directory. */
typedef struct lh_plugin_row {
    int32_t status;                  /* LH_PLUGIN_* */
    const char *reason;              /* broken/shadowed reason, else NULL */
    const char *path;                /* the .so file */
    const char *dir;                 /* the directory it was found in */
    const char *id, *name, *version; /* NULL for a broken file with no descriptor */
    int32_t kind;                    /* LHOST_KIND_*, 0 if unknown */
    lhost_version abi;               /* what the library was built against */
    /* Loaded plugins only (status OK, not from a child scan): the descriptor, copied into
     * host-sized structs so fields the plugin did not know are zero. */
    const lhost_plugin_desc *desc;
} lh_plugin_row;

typedef struct lh_registry lh_registry;

/* Discover every directory and file. `host` NULL = lh_services_table(). Never fails because of a
 * bad plugin (that is a BROKEN row); fails only for out-of-memory or an unreadable --plugin-dir
 * given explicitly. */
int lh_registry_open(lh_registry **out, const lh_registry_opts *opts, const lhost_host *host,
                     lh_error *err);
void lh_registry_close(lh_registry *reg);

/* One file only (plugin_dirs and search path ignored; the permission check and scan_in_child
 * still apply). For `lhost plugins --verbose` and tests. Fails only for out-of-memory. */
int lh_registry_open_file(lh_registry **out, const char *path, const lh_registry_opts *opts,
                          const lhost_host *host, lh_error *err);

/* "callback", "metric", "logger", or "-" for an unknown kind. */
const char *lh_registry_kind_name(int32_t kind);

/* All rows, in search order. */
int32_t lh_registry_count(const lh_registry *reg);
const lh_plugin_row *lh_registry_row(const lh_registry *reg, int32_t i);

/* The usable plugin whose id or short name is `name` (kind 0 = any kind), or NULL with a
 * message: the available names of that kind, and the files refused before their plugins were
 * known with why; "plugin name 'X' is taken by two plugins: ID1 (PATH1) and ID2 (PATH2); pick
 * one by id: ..." when two ids share the name (an id always picks exactly one). */
const lh_plugin_row *lh_registry_find(const lh_registry *reg, const char *name, int32_t kind,
                                      lh_error *err);

/* lh_registry_find, and the plugin loaded in this process: a registry opened with scan_in_child
 * knows every file only from its scan in a child, so `lhost train` runs in-process the entries
 * of the files whose plugins the config uses, and only once the scan found them sound. Fails
 * as lh_registry_find does, or when the file does not load in-process as it did in the scan.
 * No row is added: rows stay where they are. */
const lh_plugin_row *lh_registry_use(lh_registry *reg, const char *name, int32_t kind,
                                     lh_error *err);

/* Plugins whose hooks take arguments by name (SDK-free ones) check, before training starts,
 * that every name binds: to a trainer field or to one of `known_keys` (the values this run will
 * log). 0 for a plugin that binds nothing by name; else -1 with err naming `origin`, the line
 * and the name. */
int lh_registry_check_bindings(const lh_registry *reg, const char *id,
                               const char *const *known_keys, int32_t n_known,
                               const char *origin, lh_error *err);

#endif
