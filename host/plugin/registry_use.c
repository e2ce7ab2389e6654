/* host/plugin/registry_use.c — load in this process only the plugins a run uses.
 *
 * `lhost train`, `validate` and `predict` open the registry with scan_in_child: every file's
 * entry runs first in a child (scan.c), so a file whose entry crashes, hangs or answers garbage
 * is a BROKEN row and nothing of it ever runs in the host. When the config names a plugin, its
 * file is loaded here with the same loader, into a scratch registry; the descriptors it yields
 * are given to the rows the scan made (same file, same id), and its handles to the registry.
 * Rows are never added, so the row pointers instances hold stay valid. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "bare.h"
#include "registry_int.h"

/* Move what `from` loaded (descriptors, handles, SDK-free libraries) into `reg`. */
static int adopt(lh_registry *reg, lh_registry *from)
{
    int32_t i, j, n;
    for (i = 0; i < from->n; i++) {
        lh_plugin_row *f = &from->rows[i];
        for (j = 0; f->desc && f->id && j < reg->n; j++) {
            lh_plugin_row *r = &reg->rows[j];
            if (!r->desc && r->id && strcmp(r->id, f->id) == 0 && strcmp(r->path, f->path) == 0) {
                r->desc = f->desc;
                f->desc = NULL;
            }
        }
    }
    /* keep_* close what they cannot keep; close the rest too, SDK-free ones first. */
    n = from->n_bare, from->n_bare = 0;
    for (i = 0; i < n; i++)
        if (lh_registry_keep_bare(reg, from->bare[i])) {
            while (++i < n)
                lh_bare_close(from->bare[i]);
            return -1;
        }
    n = from->n_handles, from->n_handles = 0;
    for (i = 0; i < n; i++)
        if (lh_registry_keep_handle(reg, from->handles[i])) {
            while (++i < n)
                dlclose(from->handles[i]);
            return -1;
        }
    return 0;
}

/* Why the in-process load of `want`'s file gave no descriptor for it. */
static void lost(const lh_registry *from, const lh_plugin_row *want, lh_error *err)
{
    int32_t i;
    for (i = 0; i < from->n; i++) {
        const lh_plugin_row *f = &from->rows[i];
        if (f->status == LH_PLUGIN_BROKEN && (!f->id || strcmp(f->id, want->id) == 0)) {
            lh_error_set(err, "plugin %s (%s): passed the scan but not the load: %s", want->id,
                         want->path, f->reason);
            return;
        }
    }
    lh_error_set(err, "plugin %s (%s): passed the scan but the file no longer declares it",
                 want->id, want->path);
}

const lh_plugin_row *lh_registry_use(lh_registry *reg, const char *name, int32_t kind,
                                     lh_error *err)
{
    const lh_plugin_row *row = lh_registry_find(reg, name, kind, err);
    lh_registry scratch;
    int rc;
    if (!row || row->desc)
        return row;
    memset(&scratch, 0, sizeof scratch);
    scratch.host = reg->host;
    scratch.host_abi = reg->host_abi;
    scratch.allow_insecure = reg->allow_insecure;
    rc = lh_loader_load(&scratch, row->path, row->dir);
    if (rc == 0)
        rc = adopt(reg, &scratch);
    if (rc != 0)
        lh_error_set(err, "plugin %s (%s): out of memory while loading it", row->id, row->path);
    else if (!row->desc)
        lost(&scratch, row, err);
    lh_registry_clear(&scratch);
    return rc == 0 && row->desc ? row : NULL;
}
