/* host/plugin/bare/bare.c — loading a bare (SDK-free) plugin: find its signature text (exported
 * string or sidecar NAME.lhost), resolve each declared symbol, prepare a libffi call interface
 * per declaration, and synthesize ABI v1.0 descriptors so the registry and the trainer treat the
 * library like any other plugin. The calls themselves are in bare_call.c. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bare_impl.h"
#include "instance.h"

/* Longest signature text we accept (exported string or sidecar). */
#define LH_BARE_MAX_TEXT (64 * 1024)

static int read_sidecar(const char *path, char **text_out, lh_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f)
        return lh_error_set(err, "bare plugin manifest %s: cannot open: %s", path,
                            strerror(errno));
    buf = malloc(LH_BARE_MAX_TEXT + 1);
    if (!buf) {
        fclose(f);
        return lh_error_set(err, "bare plugin manifest %s: out of memory", path);
    }
    n = fread(buf, 1, LH_BARE_MAX_TEXT + 1, f);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return lh_error_set(err, "bare plugin manifest %s: cannot read: %s", path, strerror(e));
    }
    fclose(f);
    if (n > LH_BARE_MAX_TEXT) {
        free(buf);
        return lh_error_set(err, "bare plugin manifest %s: longer than %d bytes", path,
                            LH_BARE_MAX_TEXT);
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        return lh_error_set(err, "bare plugin manifest %s: contains a NUL byte", path);
    }
    buf[n] = 0;
    *text_out = buf;
    return 1;
}

int lh_bare_signatures_for(void *handle, const char *so_path, char **text_out, lh_error *err)
{
    const char *sym = handle ? dlsym(handle, LH_BARE_SYMBOL) : NULL;
    char path[4096];
    size_t len;
    struct stat st;
    *text_out = NULL;
    if (sym) {
        size_t n = strnlen(sym, LH_BARE_MAX_TEXT + 1);
        if (n > LH_BARE_MAX_TEXT)
            return lh_error_set(err, "bare plugin %s: %s is longer than %d bytes", so_path,
                                LH_BARE_SYMBOL, LH_BARE_MAX_TEXT);
        *text_out = strndup(sym, n);
        if (!*text_out)
            return lh_error_set(err, "bare plugin %s: out of memory", so_path);
        return 1;
    }
    if (!so_path)
        return 0;
    /* NAME.so -> NAME.lhost; any other file name gets ".lhost" appended. */
    len = strlen(so_path);
    if (len >= 3 && strcmp(so_path + len - 3, ".so") == 0)
        len -= 3;
    if (len + sizeof ".lhost" > sizeof path)
        return lh_error_set(err, "bare plugin %s: path too long", so_path);
    memcpy(path, so_path, len);
    memcpy(path + len, ".lhost", sizeof ".lhost");
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return lh_error_set(err, "bare plugin manifest %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return lh_error_set(err, "bare plugin manifest %s: not a regular file", path);
    return read_sidecar(path, text_out, err);
}

static ffi_type *ffi_type_of(int32_t t)
{
    switch (t) {
    case LH_BT_INT32: return &ffi_type_sint32;
    case LH_BT_INT64: return &ffi_type_sint64;
    case LH_BT_DOUBLE: return &ffi_type_double;
    case LH_BT_FLOAT: return &ffi_type_float;
    case LH_BT_BOOL: return &ffi_type_uint8; /* C _Bool, Rust bool: one byte, 0 or 1 */
    case LH_BT_STRING:
    case LH_BT_FLOAT_PTR:
    case LH_BT_INT32_PTR: return &ffi_type_pointer;
    default: return &ffi_type_void;
    }
}

typedef int32_t (*create_fn)(const lhost_host *, lhost_ctx *, const lhost_param_values *,
                            void **);

/* Make plugin k's create() a closure bound to bindings[k]. */
static int make_create(lh_bare_lib *lib, uint32_t k, create_fn *create, lh_error *err)
{
    void *code = NULL;
    lib->closures[k] = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (!lib->closures[k])
        return lh_error_set(err, "bare plugin %s: cannot allocate a libffi closure", lib->stem);
    if (ffi_prep_closure_loc(lib->closures[k], &lib->create_cif, lh_bare_create_closure,
                             &lib->bindings[k], code) != FFI_OK)
        return lh_error_set(err, "bare plugin %s: cannot prepare a libffi closure", lib->stem);
    *create = (create_fn)code; /* the closure's entry point has create's type */
    return 0;
}

static void add_desc(lh_bare_lib *lib, int32_t kind, const char *name, const void *vtable)
{
    lhost_plugin_desc *d = &lib->descs[lib->n_plugins];
    d->struct_size = sizeof *d;
    d->kind = kind;
    d->id = lib->ids[lib->n_plugins];
    d->name = name;
    d->version = "0.0.0";
    d->description = lib->descriptions[lib->n_plugins];
    d->priority = LHOST_PRIORITY_DEFAULT;
    d->vtable = vtable;
    lib->desc_ptrs[lib->n_plugins] = d;
    lib->n_plugins++;
}

/* Plugin k = the callback "bare.STEM" with every declared hook. Its description carries the
 * parsed signatures, for `lhost plugins --verbose`. */
static int synthesize_callback(lh_bare_lib *lib, lh_error *err)
{
    uint32_t k = lib->n_plugins;
    char *out = lib->descriptions[k], line[256];
    size_t cap = sizeof lib->descriptions[k], used;
    int32_t j;
    snprintf(lib->ids[k], sizeof lib->ids[k], "bare.%s", lib->stem);
    snprintf(out, cap, "SDK-free plugin %.200s.so (%d hook%s)", lib->stem, lib->n_hooks,
             lib->n_hooks == 1 ? "" : "s");
    for (j = 0; j < lib->n_fns; j++) {
        if (lib->fns[j].decl->is_metric)
            continue;
        lh_bare_format_line(lib->fns[j].decl, line, sizeof line);
        used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", j ? "; " : ": ", line);
    }
    lib->callback_vt.struct_size = sizeof lib->callback_vt;
    lh_bare_fill_callback_vtable(lib, &lib->callback_vt);
    lib->bindings[k].lib = lib;
    if (make_create(lib, k, &lib->callback_vt.create, err))
        return -1;
    add_desc(lib, LHOST_KIND_CALLBACK, lib->stem, &lib->callback_vt);
    return 0;
}

/* Plugin k = the metric "bare.STEM.NAME" of function fn, with vtable vt. */
static int synthesize_metric(lh_bare_lib *lib, const lh_bare_fn *fn, lhost_metric_vtable *vt,
                             lh_error *err)
{
    const lh_bare_decl *d = fn->decl;
    uint32_t k = lib->n_plugins;
    size_t used;
    snprintf(lib->ids[k], sizeof lib->ids[k], "bare.%.127s.%.63s", lib->stem, d->metric);
    snprintf(lib->descriptions[k], sizeof lib->descriptions[k],
             "SDK-free metric from %.100s.so (%s is better): ", lib->stem,
             d->higher_is_better ? "higher" : "lower");
    used = strlen(lib->descriptions[k]);
    lh_bare_format(d, lib->descriptions[k] + used, (int32_t)(sizeof lib->descriptions[k] - used));
    vt->struct_size = sizeof *vt;
    vt->higher_is_better = d->higher_is_better;
    lh_bare_fill_metric_vtable(vt);
    lib->bindings[k].lib = lib;
    lib->bindings[k].fn = fn;
    if (make_create(lib, k, &vt->create, err))
        return -1;
    add_desc(lib, LHOST_KIND_METRIC, d->metric, vt);
    return 0;
}

static int synthesize(lh_bare_lib *lib, lh_error *err)
{
    int32_t i, m = 0;
    lib->create_atypes[0] = lib->create_atypes[1] = &ffi_type_pointer;
    lib->create_atypes[2] = lib->create_atypes[3] = &ffi_type_pointer;
    if (ffi_prep_cif(&lib->create_cif, FFI_DEFAULT_ABI, 4, &ffi_type_sint32,
                     lib->create_atypes) != FFI_OK)
        return lh_error_set(err, "bare plugin %s: libffi cannot describe create()", lib->stem);
    if (lib->n_hooks > 0 && synthesize_callback(lib, err))
        return -1;
    for (i = 0; i < lib->n_fns; i++)
        if (lib->fns[i].decl->is_metric &&
            synthesize_metric(lib, &lib->fns[i], &lib->metric_vt[m++], err))
            return -1;
    lib->library.struct_size = sizeof lib->library;
    lib->library.abi = (lhost_version)LHOST_ABI_VERSION_INIT;
    lib->library.error = NULL;
    lib->library.n_plugins = lib->n_plugins;
    lib->library.plugins = lib->desc_ptrs;
    return 0;
}

int lh_bare_open(void *handle, const char *stem, const lh_bare_spec *spec, lh_bare_lib **out,
                 lh_error *err)
{
    lh_bare_lib *lib = calloc(1, sizeof *lib);
    int32_t i, k;
    *out = NULL;
    if (!lib)
        return lh_error_set(err, "bare plugin %s: out of memory", stem);
    lib->handle = handle;
    snprintf(lib->stem, sizeof lib->stem, "%s", stem);
    lib->spec = *spec;
    for (i = 0; i < lib->spec.n_decls; i++) {
        const lh_bare_decl *d = &lib->spec.decls[i];
        lh_bare_fn *fn = &lib->fns[lib->n_fns];
        dlerror();
        fn->sym = dlsym(handle, d->symbol);
        if (!fn->sym) {
            lh_error_set(err, "bare plugin %s: line %d: symbol '%s' not found in %s.so", stem,
                         d->line, d->symbol, stem);
            goto fail;
        }
        fn->decl = d;
        for (k = 0; k < d->n_args; k++) {
            int8_t f;
            fn->atypes[k] = ffi_type_of(d->args[k].type);
            for (f = 0; lh_bare_trainer_field(f) &&
                        strcmp(lh_bare_trainer_field(f), d->args[k].name) != 0; f++)
                ;
            fn->field[k] = lh_bare_trainer_field(f) ? f : -1;
        }
        if (ffi_prep_cif(&fn->cif, FFI_DEFAULT_ABI, (unsigned)d->n_args, ffi_type_of(d->ret),
                         fn->atypes) != FFI_OK) {
            lh_error_set(err, "bare plugin %s: line %d: libffi cannot describe %s", stem,
                         d->line, d->symbol);
            goto fail;
        }
        if (!d->is_metric) {
            lib->hook_fn[d->hook] = fn;
            lib->n_hooks++;
        }
        lib->n_fns++;
    }
    if (synthesize(lib, err))
        goto fail;
    *out = lib;
    return 0;
fail:
    lh_bare_close(lib);
    return -1;
}

void lh_bare_close(lh_bare_lib *lib)
{
    uint32_t k;
    if (!lib)
        return;
    for (k = 0; k < sizeof lib->closures / sizeof lib->closures[0]; k++)
        if (lib->closures[k])
            ffi_closure_free(lib->closures[k]);
    free(lib);
}

const lhost_library *lh_bare_library(const lh_bare_lib *lib)
{
    return &lib->library;
}

const lh_bare_spec *lh_bare_lib_spec(const lh_bare_lib *lib)
{
    return &lib->spec;
}

int lh_bare_load(void *handle, const char *so_path, const char *stem, lh_bare_lib **out,
                 lh_error *err)
{
    char *text = NULL;
    lh_bare_spec *spec;
    int rc = lh_bare_signatures_for(handle, so_path, &text, err);
    *out = NULL;
    if (rc <= 0)
        return rc;
    spec = malloc(sizeof *spec);
    if (!spec) {
        free(text);
        return lh_error_set(err, "bare plugin %s: out of memory", stem);
    }
    rc = lh_bare_parse(text, stem, spec, err);
    free(text);
    if (rc == 0)
        rc = lh_bare_open(handle, stem, spec, out, err);
    free(spec);
    return rc ? -1 : 1;
}

/* "a, b, c" into buf (truncated with "..." when it does not fit). */
static void join(char *buf, size_t len, const char *const *names, int32_t n)
{
    size_t at = 0;
    int32_t i;
    buf[0] = 0;
    for (i = 0; i < n; i++) {
        int w = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= len - at) {
            snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
            return;
        }
        at += (size_t)w;
    }
}

int lh_bare_check_names(const lh_bare_spec *spec, const char *const *known_keys,
                        int32_t n_known, const char *origin, lh_error *err)
{
    int32_t i, j, k, n_fields = 0;
    const char *fields[16];
    char fbuf[256], kbuf[512];
    while (n_fields < 16 && (fields[n_fields] = lh_bare_trainer_field(n_fields)))
        n_fields++;
    for (i = 0; i < spec->n_decls; i++) {
        const lh_bare_decl *d = &spec->decls[i];
        if (d->is_metric)
            continue;
        for (j = 0; j < d->n_args; j++) {
            const char *name = d->args[j].name;
            int32_t found = lh_bare_is_trainer_field(name);
            for (k = 0; !found && k < n_known; k++)
                found = strcmp(known_keys[k], name) == 0;
            if (found)
                continue;
            join(fbuf, sizeof fbuf, fields, n_fields);
            join(kbuf, sizeof kbuf, known_keys, n_known);
            return lh_error_set(err, "bare plugin %s: line %d: argument '%s' binds to nothing "
                                "(trainer fields: %s; logged values: %s)", origin, d->line,
                                name, fbuf, n_known ? kbuf : "none");
        }
    }
    return 0;
}
