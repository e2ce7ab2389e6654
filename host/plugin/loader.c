/* host/plugin/loader.c — load one plugin file in this process: dlopen(RTLD_NOW|RTLD_LOCAL), call
 * the entry, refuse a different major or a newer minor before touching anything else, then copy
 * every descriptor, parameter and vtable into host-sized zeroed structs (min(struct_size, sizeof)),
 * so a plugin built for an older minor loads with the fields it did not know as zero/NULL.
 * Counts and sizes the plugin gives are bounded before anything is read with them (LH_MAX_*),
 * so a library claiming 2^32-1 plugins or a parameter stride of gigabytes is refused, not followed;
 * an id is refused unless it is made of [A-Za-z0-9._-], since it appears in files, state keys and
 * messages. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bare.h"
#include "ctx.h"
#include "params.h"
#include "registry_int.h"

/* Far above what any plugin declares; beyond them the numbers are garbage or hostile. */
#define LH_MAX_PLUGINS_PER_LIBRARY 256
#define LH_MAX_PARAMS 256
#define LH_MAX_STRUCT_SIZE 4096 /* an lhost_param of a future minor stays far below */
#define LH_MAX_ID_LEN 128

/* A struct must at least reach the end of `field` (the fields every 1.0 plugin fills). */
#define COVERS(size, type, field) ((size) >= offsetof(type, field) + sizeof(((type *)0)->field))

static void copy_sized(void *dst, size_t dst_size, const void *src, uint32_t src_size)
{
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    *(uint32_t *)dst = (uint32_t)dst_size; /* struct_size is the first field of each */
}

static int vtable_ok(int32_t kind, const void *vt, char *why, size_t cap)
{
    uint32_t size = *(const uint32_t *)vt;
    switch (kind) {
    case LHOST_KIND_CALLBACK:
        if (COVERS(size, lhost_callback_vtable, destroy))
            return 1;
        break;
    case LHOST_KIND_METRIC:
        if (COVERS(size, lhost_metric_vtable, compute))
            return 1;
        break;
    case LHOST_KIND_LOGGER:
        if (COVERS(size, lhost_logger_vtable, destroy))
            return 1;
        break;
    }
    snprintf(why, cap, "vtable struct_size %u is too small", size);
    return 0;
}

static size_t vtable_host_size(int32_t kind)
{
    return kind == LHOST_KIND_CALLBACK ? sizeof(lhost_callback_vtable)
           : kind == LHOST_KIND_METRIC ? sizeof(lhost_metric_vtable)
                                       : sizeof(lhost_logger_vtable);
}

/* 1 when `id` is 1..LH_MAX_ID_LEN characters of [A-Za-z0-9._-]; else 0 with `why` filled. */
static int id_ok(const char *id, char *why, size_t cap)
{
    size_t k;
    for (k = 0; id[k] && k <= LH_MAX_ID_LEN; k++) {
        char c = id[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(why, cap, "plugin id \"%.*s\": character %u (0x%02x) is not one of "
                     "[A-Za-z0-9._-]", LH_MAX_ID_LEN, id, (unsigned)k + 1, (unsigned char)c);
            return 0;
        }
    }
    if (k > LH_MAX_ID_LEN) {
        snprintf(why, cap, "plugin id \"%.32s...\" is longer than %d characters", id,
                 LH_MAX_ID_LEN);
        return 0;
    }
    return 1;
}

/* Copy and check one descriptor. NULL with `why` filled when it is unusable. */
static lh_plugin_copy *copy_desc(const lhost_plugin_desc *src, char *why, size_t cap)
{
    lh_plugin_copy *c;
    lh_error err;
    uint32_t k, stride;
    if (!COVERS(src->struct_size, lhost_plugin_desc, vtable)) {
        snprintf(why, cap, "descriptor struct_size %u is too small", src->struct_size);
        return NULL;
    }
    if (!src->id || !*src->id || !lh_params_name_ok(src->name) || !src->version) {
        snprintf(why, cap, "descriptor needs an id, a name matching [a-z0-9_]+ and a version");
        return NULL;
    }
    if (!id_ok(src->id, why, cap))
        return NULL;
    if (src->kind < LHOST_KIND_CALLBACK || src->kind > LHOST_KIND_LOGGER) {
        snprintf(why, cap, "unknown kind %d", (int)src->kind);
        return NULL;
    }
    if (!src->vtable || !vtable_ok(src->kind, src->vtable, why, cap)) {
        if (!src->vtable)
            snprintf(why, cap, "descriptor has no vtable");
        return NULL;
    }
    if (src->n_params > LH_MAX_PARAMS) {
        snprintf(why, cap, "plugin %s declares %u parameters; at most %d", src->id,
                 src->n_params, LH_MAX_PARAMS);
        return NULL;
    }
    if (src->n_params &&
        (!src->params || !COVERS(src->params[0].struct_size, lhost_param, flags))) {
        snprintf(why, cap, "parameter table missing or its struct_size is too small");
        return NULL;
    }
    if (src->n_params && src->params[0].struct_size > LH_MAX_STRUCT_SIZE) {
        snprintf(why, cap, "plugin %s: parameter struct_size %u is too large (at most %d)",
                 src->id, src->params[0].struct_size, LH_MAX_STRUCT_SIZE);
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->params = calloc(src->n_params ? src->n_params : 1, sizeof *c->params))) {
        free(c);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    copy_sized(&c->desc, sizeof c->desc, src, src->struct_size);
    /* The plugin's params array has the plugin's element size as its stride. */
    stride = src->n_params ? src->params[0].struct_size : 0;
    for (k = 0; k < src->n_params; k++)
        copy_sized(&c->params[k], sizeof c->params[k],
                   (const char *)src->params + (size_t)k * stride, stride);
    /* A vtable is function pointers after an 8-byte head: whole pointers only, so a struct_size
     * ending inside one leaves it NULL rather than half a pointer. */
    copy_sized(&c->vt, vtable_host_size(src->kind), src->vtable,
               *(const uint32_t *)src->vtable & ~7u);
    c->desc.params = c->params;
    c->desc.vtable = &c->vt;
    if (lh_params_check_schema(&c->desc, &err) != 0) {
        snprintf(why, cap, "bad parameter schema: %s", err.msg);
        free(c->params);
        free(c);
        return NULL;
    }
    return c;
}

/* dlerror() starts with the path; the row already shows it. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg ? msg : "unknown dlopen error";
}

static int broken(lh_registry *reg, const char *path, const char *dir, lhost_version abi,
                  const char *fmt_reason)
{
    return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, fmt_reason, path, dir, NULL, NULL, NULL, 0,
                               abi, NULL)
               ? 0
               : -1;
}

/* What describe() answers when the loader goes on: *plib is the library the entry returned. */
#define DESCRIBED 1

/* An SDK-free plugin is named by its file: "foo" for foo.so, so foo.lhost sits beside it. */
static void bare_stem(const char *path, char *stem, size_t cap)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0)
        len -= 3;
    snprintf(stem, cap, "%.*s", (int)len, base);
}

/* No SDK entry: maybe an SDK-free plugin (exported signatures or a NAME.lhost file). Its
 * synthesised library goes through the same checks as an SDK one, so it answers like describe. */
static int describe_bare(lh_registry *reg, void *handle, const char *path, const char *dir,
                         const lhost_library **plib)
{
    const lhost_version none = {0, 0, 0};
    lh_bare_lib *bare = NULL;
    lh_error err;
    char stem[256];
    bare_stem(path, stem, sizeof stem);
    switch (lh_bare_load(handle, path, stem, &bare, &err)) {
    case 1:
        if (lh_registry_keep_bare(reg, bare)) {
            dlclose(handle);
            return -1;
        }
        *plib = lh_bare_library(bare);
        return DESCRIBED;
    case 0:
        dlclose(handle);
        return broken(reg, path, dir, none,
                      "not an lhost plugin: no symbol " LHOST_ENTRY_SYMBOL
                      " (nor " LH_BARE_SYMBOL " or a NAME.lhost file)");
    default:
        dlclose(handle);
        return broken(reg, path, dir, none, err.msg);
    }
}

/* Ask the plugin for its library: DESCRIBED with *plib set (NULL when the entry failed), or,
 * when there is nothing to describe, the loader's result (0 or -1) with the handle closed. */
static int describe(lh_registry *reg, void *handle, const char *path, const char *dir,
                    const lhost_library **plib)
{
    const lhost_version h = reg->host_abi;
    lhost_entry_fn entry;
    *(void **)&entry = dlsym(handle, LHOST_ENTRY_SYMBOL);
    if (!entry)
        return describe_bare(reg, handle, path, dir, plib);
    /* Cleared first so a message the entry records is this entry's, not an earlier file's. */
    lh_services_clear_entry_error();
    *plib = entry(&h, reg->host);
    return DESCRIBED;
}

/* Before reading any field past struct_size, the library must exist and reach its abi field;
 * these rows carry no ABI since none could be read. 0 with `why` filled when it cannot. */
static int library_readable(const lhost_library *plib, char *why, size_t cap)
{
    if (!plib) {
        snprintf(why, cap, "entry failed: %s",
                 *lh_services_entry_error() ? lh_services_entry_error() : "returned NULL");
        return 0;
    }
    if (!COVERS(plib->struct_size, lhost_library, abi)) {
        snprintf(why, cap, "library struct_size %u is too small", plib->struct_size);
        return 0;
    }
    return 1;
}

/* Refuse a different major or a newer minor before looking at anything else the plugin says,
 * then the library's own failure and an empty plugin list. `lib` is the host-sized copy and
 * `size` the plugin's struct_size. 0 with `why` filled when refused. */
static int abi_accepted(lhost_version h, const lhost_library *lib, uint32_t size, char *why,
                        size_t cap)
{
    switch (lhost_version_check(h, lib->abi)) {
    case LHOST_VERSION_MAJOR_MISMATCH:
        snprintf(why, cap, "built for ABI %u.%u.%u, host has ABI %u.%u.%u (different major)",
                 lib->abi.major, lib->abi.minor, lib->abi.patch, h.major, h.minor, h.patch);
        break;
    case LHOST_VERSION_PLUGIN_NEWER:
        snprintf(why, cap, "built for ABI %u.%u.%u, newer than the host's ABI %u.%u.%u",
                 lib->abi.major, lib->abi.minor, lib->abi.patch, h.major, h.minor, h.patch);
        break;
    default:
        why[0] = '\0';
        /* A struct_size ending inside `error` leaves half a pointer in the copy. */
        if (COVERS(size, lhost_library, error) && lib->error)
            snprintf(why, cap, "entry failed: %s", lib->error);
        else if (!COVERS(size, lhost_library, plugins))
            snprintf(why, cap, "library struct_size %u is too small", size);
        else if (lib->n_plugins == 0 || !lib->plugins)
            snprintf(why, cap, "library declares no plugins");
        else if (lib->n_plugins > LH_MAX_PLUGINS_PER_LIBRARY)
            snprintf(why, cap, "library declares %u plugins; at most %d", lib->n_plugins,
                     LH_MAX_PLUGINS_PER_LIBRARY);
    }
    return why[0] == '\0';
}

/* One row for descriptor k: OK with the host-sized copy, or broken with as much of its identity
 * as is safe to read. 1 when usable, 0 when broken, -1 when the row could not be added. */
static int add_plugin_row(lh_registry *reg, const char *path, const char *dir,
                          const lhost_library *lib, uint32_t k, char *why, size_t cap)
{
    const lhost_plugin_desc *d = lib->plugins[k];
    lh_plugin_copy *c = NULL;
    const lh_plugin_row *row;
    if (!d)
        snprintf(why, cap, "plugin %u: NULL descriptor", k);
    else
        c = copy_desc(d, why, cap);
    if (c)
        row = lh_registry_add_row(reg, LH_PLUGIN_OK, NULL, path, dir, c->desc.id, c->desc.name,
                                  c->desc.version, c->desc.kind, lib->abi, c);
    else if (d && COVERS(d->struct_size, lhost_plugin_desc, vtable))
        row = lh_registry_add_row(reg, LH_PLUGIN_BROKEN, why, path, dir, d->id, d->name,
                                  d->version, d->kind, lib->abi, NULL);
    else
        row = lh_registry_add_row(reg, LH_PLUGIN_BROKEN, why, path, dir, NULL, NULL, NULL, 0,
                                  lib->abi, NULL);
    if (!row)
        return -1;
    return c != NULL;
}

/* Every descriptor gets its own row, so one bad plugin does not hide its siblings. Returns how
 * many are usable, or -1 when a row could not be added. */
static int add_rows(lh_registry *reg, const char *path, const char *dir, const lhost_library *lib,
                    char *why, size_t cap)
{
    uint32_t k;
    int n_ok = 0, r;
    for (k = 0; k < lib->n_plugins; k++) {
        if ((r = add_plugin_row(reg, path, dir, lib, k, why, cap)) < 0)
            return -1;
        n_ok += r;
    }
    return n_ok;
}

int lh_loader_load(lh_registry *reg, const char *path, const char *dir)
{
    const lhost_version none = {0, 0, 0};
    char why[1200];
    const lhost_library *plib = NULL;
    void *handle;
    int rc;

    dlerror();
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, sizeof why, "cannot load: %s", strip_path(dlerror(), path));
        return broken(reg, path, dir, none, why);
    }
    if ((rc = describe(reg, handle, path, dir, &plib)) != DESCRIBED)
        return rc;
    rc = lh_loader_add_library(reg, plib, path, dir);
    if (rc <= 0) {
        /* Nothing usable (or out of memory): no row points into the code, so unload it. */
        dlclose(handle);
        return rc;
    }
    return lh_registry_keep_handle(reg, handle);
}

int lh_loader_add_library(lh_registry *reg, const lhost_library *plib, const char *path,
                          const char *dir)
{
    const lhost_version none = {0, 0, 0};
    char why[1200];
    lhost_library lib;
    if (!library_readable(plib, why, sizeof why))
        return broken(reg, path, dir, none, why);
    copy_sized(&lib, sizeof lib, plib, plib->struct_size);
    if (!abi_accepted(reg->host_abi, &lib, plib->struct_size, why, sizeof why))
        return broken(reg, path, dir, lib.abi, why);
    return add_rows(reg, path, dir, &lib, why, sizeof why);
}
