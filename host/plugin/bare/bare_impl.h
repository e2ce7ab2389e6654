/* host/plugin/bare/bare_impl.h — the inside of a loaded bare library, shared by bare.c (loading,
 * the synthesized descriptors) and bare_call.c (the trampolines that call through libffi).
 * Private to those two files. */
#ifndef LH_BARE_IMPL_H
#define LH_BARE_IMPL_H

#include <ffi.h>

#include "bare.h"
#include "dispatch.h"
#include "instance.h"

/* One declaration, resolved and ready to call. */
typedef struct lh_bare_fn {
    const lh_bare_decl *decl; /* points into lib->spec */
    void *sym;                /* dlsym result */
    ffi_cif cif;
    ffi_type *atypes[LH_BARE_MAX_ARGS];
    /* Per argument: index of the trainer field it binds to (lh_bare_trainer_field order:
     * epoch, global_step, batch_idx, rank, world_size, max_epochs, stage), or -1 for a logged
     * value. Resolved once at open so a call does no name lookups but get_value's. */
    int8_t field[LH_BARE_MAX_ARGS];
} lh_bare_fn;

/* What the create() closure of one synthesized plugin knows: its library and, for a metric,
 * which function. */
typedef struct lh_bare_binding {
    const struct lh_bare_lib *lib;
    const lh_bare_fn *fn; /* NULL for the callback plugin */
} lh_bare_binding;

struct lh_bare_lib {
    void *handle; /* borrowed dlopen handle; the caller closes it after lh_bare_close */
    char stem[128];
    lh_bare_spec spec;
    int32_t n_fns;
    lh_bare_fn fns[LH_BARE_MAX_DECLS];
    const lh_bare_fn *hook_fn[LH_HOOK_COUNT]; /* by LH_HOOK_*, NULL where not declared */
    int32_t n_hooks;

    /* Synthesized ABI v1.0 structs: plugin 0 is the callback (when n_hooks > 0), then one per
     * metric. Each plugin's create is a libffi closure bound to bindings[k]. */
    ffi_cif create_cif;
    ffi_type *create_atypes[4];
    uint32_t n_plugins;
    lhost_plugin_desc descs[1 + LH_BARE_MAX_DECLS];
    const lhost_plugin_desc *desc_ptrs[1 + LH_BARE_MAX_DECLS];
    lh_bare_binding bindings[1 + LH_BARE_MAX_DECLS];
    ffi_closure *closures[1 + LH_BARE_MAX_DECLS];
    char ids[1 + LH_BARE_MAX_DECLS][256];
    char descriptions[1 + LH_BARE_MAX_DECLS][1024];
    lhost_callback_vtable callback_vt;
    lhost_metric_vtable metric_vt[LH_BARE_MAX_DECLS];
    lhost_library library;
};

/* The closure body of every synthesized create(): user data is an lh_bare_binding. */
void lh_bare_create_closure(ffi_cif *cif, void *ret, void **args, void *user);

/* Fill the vtables' function members (bare_call.c). */
void lh_bare_fill_callback_vtable(lh_bare_lib *lib, lhost_callback_vtable *vt);
void lh_bare_fill_metric_vtable(lhost_metric_vtable *vt);

#endif
