/* host/plugin/registry.c — find plugin directories, list their .so files in name order, load or
 * scan each (loader.c / scan.c), refuse insecure files and directories, and mark later duplicates
 * of an id as shadowed. Search order is documented in registry.h. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "array.h"
#include "bare.h"
#include "paths.h"
#include "registry_int.h"

#define INSECURE_HINT "refused without --allow-insecure-plugins"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void free_row(lh_plugin_row *r)
{
    free((char *)r->reason);
    free((char *)r->path);
    free((char *)r->dir);
    free((char *)r->id);
    free((char *)r->name);
    free((char *)r->version);
    if (r->desc) {
        lh_plugin_copy *c = (lh_plugin_copy *)r->desc;
        free(c->params);
        free(c);
    }
}

lh_plugin_row *lh_registry_add_row(lh_registry *reg, int32_t status, const char *reason,
                                   const char *path, const char *dir, const char *id,
                                   const char *name, const char *version, int32_t kind,
                                   lhost_version abi, lh_plugin_copy *copy)
{
    lh_plugin_row *r;
    if (!(r = lh_array_grow(reg->rows, reg->n, &reg->cap, 16, sizeof *r)))
        goto oom;
    reg->rows = r;
    r = &reg->rows[reg->n];
    memset(r, 0, sizeof *r);
    r->status = status;
    r->kind = kind;
    r->abi = abi;
    r->desc = copy ? &copy->desc : NULL;
    r->reason = dup_or_null(reason);
    r->path = dup_or_null(path);
    r->dir = dup_or_null(dir);
    r->id = dup_or_null(id);
    r->name = dup_or_null(name);
    r->version = dup_or_null(version);
    if ((reason && !r->reason) || (path && !r->path) || (dir && !r->dir) || (id && !r->id) ||
        (name && !r->name) || (version && !r->version)) {
        free_row(r);
        return NULL;
    }
    reg->n++;
    return r;
oom:
    if (copy) {
        free(copy->params);
        free(copy);
    }
    return NULL;
}

int lh_registry_keep_handle(lh_registry *reg, void *handle)
{
    void **nh = lh_array_grow(reg->handles, reg->n_handles, &reg->cap_handles, 8, sizeof *nh);
    if (!nh) {
        dlclose(handle);
        return -1;
    }
    reg->handles = nh;
    reg->handles[reg->n_handles++] = handle;
    return 0;
}

int lh_registry_keep_bare(lh_registry *reg, struct lh_bare_lib *lib)
{
    struct lh_bare_lib **nb = lh_array_grow(reg->bare, reg->n_bare, &reg->cap_bare, 4, sizeof *nb);
    if (!nb) {
        lh_bare_close(lib);
        return -1;
    }
    reg->bare = nb;
    reg->bare[reg->n_bare++] = lib;
    return 0;
}

static const lh_bare_spec *bare_spec(const lh_registry *reg, const char *id)
{
    int32_t k;
    uint32_t j;
    for (k = 0; k < reg->n_bare; k++) {
        const lhost_library *lib = lh_bare_library(reg->bare[k]);
        for (j = 0; j < lib->n_plugins; j++)
            if (strcmp(lib->plugins[j]->id, id) == 0)
                return lh_bare_lib_spec(reg->bare[k]);
    }
    return NULL;
}

int lh_registry_check_bindings(const lh_registry *reg, const char *id,
                               const char *const *known_keys, int32_t n_known,
                               const char *origin, lh_error *err)
{
    const lh_bare_spec *spec = bare_spec(reg, id);
    return spec ? lh_bare_check_names(spec, known_keys, n_known, origin, err) : 0;
}

void lh_registry_clear(lh_registry *reg)
{
    int32_t k;
    for (k = 0; k < reg->n; k++)
        free_row(&reg->rows[k]);
    free(reg->rows);
    for (k = reg->n_bare - 1; k >= 0; k--)
        lh_bare_close(reg->bare[k]);
    free(reg->bare);
    reg->bare = NULL;
    reg->n_bare = reg->cap_bare = 0;
    for (k = reg->n_handles - 1; k >= 0; k--)
        dlclose(reg->handles[k]);
    free(reg->handles);
    reg->rows = NULL;
    reg->handles = NULL;
    reg->n = reg->cap = reg->n_handles = reg->cap_handles = 0;
}

void lh_registry_close(lh_registry *reg)
{
    if (!reg)
        return;
    lh_registry_clear(reg);
    free(reg);
}

int32_t lh_registry_count(const lh_registry *reg) { return reg ? reg->n : 0; }

const lh_plugin_row *lh_registry_row(const lh_registry *reg, int32_t i)
{
    return (reg && i >= 0 && i < reg->n) ? &reg->rows[i] : NULL;
}

const char *lh_registry_kind_name(int32_t kind)
{
    switch (kind) {
    case LHOST_KIND_CALLBACK: return "callback";
    case LHOST_KIND_METRIC: return "metric";
    case LHOST_KIND_LOGGER: return "logger";
    default: return "-";
    }
}

/* ---- who may have written it ----------------------------------------------------------------
 * As the Vulkan loader and GStreamer decide whether to trust a module: the file and every
 * directory above it (of the path as given and of the path it resolves to) must be owned by root
 * or by the user running lhost, and none may be writable by group or others, except a directory
 * with the sticky bit (/tmp), where others cannot rename or remove what they do not own. The
 * plugin directory itself and the file keep the stricter rule: no group/world write at all. */

static int insecure_mode(mode_t m) { return (m & (S_IWGRP | S_IWOTH)) != 0; }

static int trusted_owner(uid_t uid) { return uid == 0 || uid == geteuid(); }

/* "" when `st` (of `what` at `path`) may be trusted, else the reason. */
static void owner_reason(const char *what, const char *path, const struct stat *st, char *why,
                         size_t cap)
{
    if (trusted_owner(st->st_uid))
        why[0] = '\0';
    else if (path)
        snprintf(why, cap, "%s %s is owned by uid %u, not by root or you (uid %u); "
                 INSECURE_HINT, what, path, (unsigned)st->st_uid, (unsigned)geteuid());
    else
        snprintf(why, cap, "%s is owned by uid %u, not by root or you (uid %u); " INSECURE_HINT,
                 what, (unsigned)st->st_uid, (unsigned)geteuid());
}

/* Every directory above `path` (not `path` itself). 0 when all may be trusted, else 1 with
 * `why` filled. A directory that cannot be stat'ed is left to the open that follows. */
static int ancestors_reason(const char *path, char *why, size_t cap)
{
    char buf[PATH_MAX], *slash;
    struct stat st;
    if (path[0] == '/')
        snprintf(buf, sizeof buf, "%s", path);
    else if (getcwd(buf, sizeof buf - 1)) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "/%s", path);
    } else
        return 0;
    for (;;) {
        while ((slash = strrchr(buf, '/')) && slash > buf && slash[1] == '\0')
            *slash = '\0'; /* "a/b/" is "a/b" */
        if (!(slash = strrchr(buf, '/')))
            return 0;
        slash[slash == buf ? 1 : 0] = '\0';
        if (stat(buf, &st) == 0) {
            owner_reason("directory", buf, &st, why, cap);
            if (why[0])
                return 1;
            if (insecure_mode(st.st_mode) && !(st.st_mode & S_ISVTX)) {
                snprintf(why, cap, "directory %s is writable by group or others (mode %04o); "
                         INSECURE_HINT, buf, (unsigned)(st.st_mode & 07777));
                return 1;
            }
        }
        if (strcmp(buf, "/") == 0)
            return 0;
    }
}

/* The ancestors of `path` as given, then of what it resolves to. */
static int chain_reason(const char *path, char *why, size_t cap)
{
    char *real;
    int bad;
    if (ancestors_reason(path, why, cap))
        return 1;
    if (!(real = realpath(path, NULL)))
        return 0;
    bad = ancestors_reason(real, why, cap);
    free(real);
    return bad;
}

/* 1 with `why` filled when the plugin file or directory `path` (`what`, stat'ed in `st`) is
 * refused by the rules above, unless allow_insecure. */
static int refused(const lh_registry *reg, const char *what, const char *path,
                   const struct stat *st, char *why, size_t cap)
{
    if (reg->allow_insecure)
        return 0;
    if (insecure_mode(st->st_mode)) {
        snprintf(why, cap, "%s is writable by group or others (mode %04o); " INSECURE_HINT, what,
                 (unsigned)(st->st_mode & 07777));
        return 1;
    }
    owner_reason(what, NULL, st, why, cap);
    return why[0] || chain_reason(path, why, cap);
}

/* ---- one file ------------------------------------------------------------------------------ */

static int add_file(lh_registry *reg, const char *path, const char *dir)
{
    const lhost_version none = {0, 0, 0};
    char why[PATH_MAX + 256];
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, sizeof why, "cannot stat: %s", strerror(errno));
        return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, why, path, dir, NULL, NULL, NULL, 0,
                                   none, NULL) ? 0 : -1;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    if (refused(reg, "file", path, &st, why, sizeof why))
        return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, why, path, dir, NULL, NULL, NULL, 0,
                                   none, NULL) ? 0 : -1;
    return reg->scan_in_child ? lh_scan_file(reg, path, dir) : lh_loader_load(reg, path, dir);
}

static int is_so(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

/* Every *.so in `dir`, in name order. A missing directory is skipped unless `explicit`. */
static int add_dir(lh_registry *reg, const char *dir, int explicit, lh_error *err)
{
    const lhost_version none = {0, 0, 0};
    struct dirent **names = NULL;
    struct stat st;
    char why[PATH_MAX + 256], *path;
    int n, k, rc = 0, e;
    e = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (e)
        return explicit ? lh_error_set(err, "plugin directory %s: %s", dir, strerror(e)) : 0;
    if (refused(reg, "directory", dir, &st, why, sizeof why))
        return lh_registry_add_row(reg, LH_PLUGIN_BROKEN, why, dir, dir, NULL, NULL, NULL, 0,
                                   none, NULL) ? 0 : lh_error_set(err, "out of memory");
    n = scandir(dir, &names, is_so, alphasort);
    if (n < 0) {
        if (!explicit)
            return 0;
        return lh_error_set(err, "plugin directory %s: %s", dir, strerror(errno));
    }
    for (k = 0; k < n; k++) {
        if (rc == 0) {
            size_t dl = strlen(dir);
            while (dl > 1 && dir[dl - 1] == '/')
                dl--; /* "dir/" + "x.so" -> "dir/x.so" */
            if (asprintf(&path, "%.*s/%s", (int)dl, dir, names[k]->d_name) < 0)
                rc = -1;
            else {
                rc = add_file(reg, path, dir);
                free(path);
            }
            if (rc != 0)
                lh_error_set(err, "out of memory while scanning %s", dir);
        }
        free(names[k]);
    }
    free(names);
    return rc;
}

/* ---- the search path ------------------------------------------------------------------------ */

#define LH_MAX_SEARCH_DIRS 64

typedef struct dir_list {
    char *v[LH_MAX_SEARCH_DIRS];
    char *real[LH_MAX_SEARCH_DIRS];
    int explicit[LH_MAX_SEARCH_DIRS];
    int n;
    int overflow; /* directories that did not fit */
} dir_list;

static void push_dir(dir_list *l, const char *d, int explicit)
{
    char *real;
    int k;
    if (!d || !*d)
        return;
    if (l->n == LH_MAX_SEARCH_DIRS) {
        l->overflow++;
        return;
    }
    real = realpath(d, NULL);
    for (k = 0; real && k < l->n; k++)
        if (l->real[k] && strcmp(l->real[k], real) == 0) {
            free(real);
            return; /* the same directory twice would shadow itself */
        }
    l->v[l->n] = strdup(d);
    l->real[l->n] = real;
    l->explicit[l->n] = explicit;
    l->n++;
}

static void push_path_var(dir_list *l, const char *value)
{
    char *copy, *save = NULL, *tok;
    if (!value || !(copy = strdup(value)))
        return;
    for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
        push_dir(l, tok, 0);
    free(copy);
}

static void default_dirs(dir_list *l, int skip_defaults)
{
    const char *xdg, *home;
    char buf[PATH_MAX];
    push_path_var(l, secure_getenv("LHOST_PLUGIN_PATH"));
    if (skip_defaults)
        return;
    xdg = secure_getenv("XDG_DATA_HOME");
    home = secure_getenv("HOME");
    if (xdg && *xdg) {
        snprintf(buf, sizeof buf, "%s/lhost/plugins", xdg);
        push_dir(l, buf, 0);
    } else if (home && *home) {
        snprintf(buf, sizeof buf, "%s/.local/share/lhost/plugins", home);
        push_dir(l, buf, 0);
    }
    lh_paths_installed(LH_PLUGIN_INSTALL_RELDIR, LH_PLUGIN_INSTALL_DIR, buf, sizeof buf);
    push_dir(l, buf, 0);
    if (lh_paths_in_build_tree())
        push_dir(l, LH_PLUGIN_BUILD_DIR, 0);
}

static void mark_shadowed(lh_registry *reg)
{
    char why[PATH_MAX + 32];
    int32_t i, j;
    for (i = 0; i < reg->n; i++) {
        lh_plugin_row *r = &reg->rows[i];
        if (r->status != LH_PLUGIN_OK)
            continue;
        for (j = 0; j < i; j++)
            if (reg->rows[j].status == LH_PLUGIN_OK && strcmp(reg->rows[j].id, r->id) == 0)
                break;
        if (j < i) {
            snprintf(why, sizeof why, "shadowed by %s", reg->rows[j].path);
            free((char *)r->reason);
            r->reason = strdup(why);
            r->status = LH_PLUGIN_SHADOWED;
        }
    }
}

static lh_registry *new_registry(const lh_registry_opts *opts, const lhost_host *host)
{
    lh_registry *reg = calloc(1, sizeof *reg);
    const lhost_version abi = LHOST_ABI_VERSION_INIT;
    if (!reg)
        return NULL;
    reg->host = host ? host : lh_services_table();
    reg->host_abi = (opts && opts->host_abi.major) ? opts->host_abi : abi;
    reg->allow_insecure = opts ? opts->allow_insecure : 0;
    reg->scan_in_child = opts ? opts->scan_in_child : 0;
    reg->scan_timeout_s = (opts && opts->scan_timeout_s > 0) ? opts->scan_timeout_s : 5.0;
    return reg;
}

int lh_registry_open(lh_registry **out, const lh_registry_opts *opts, const lhost_host *host,
                     lh_error *err)
{
    dir_list dirs = {{0}, {0}, {0}, 0, 0};
    lh_registry *reg;
    int32_t k;
    int rc = 0;
    *out = NULL;
    if (!(reg = new_registry(opts, host)))
        return lh_error_set(err, "out of memory");
    for (k = 0; opts && k < opts->n_plugin_dirs; k++)
        push_dir(&dirs, opts->plugin_dirs[k], 1);
    default_dirs(&dirs, opts ? opts->skip_default_dirs : 0);
    if (dirs.overflow)
        rc =
            lh_error_set(err,
                         "plugin search path: %d directories do not fit; at most %d "
                         "(--plugin-dir, plugin_dirs, LHOST_PLUGIN_PATH and the defaults together)",
                         dirs.overflow, LH_MAX_SEARCH_DIRS);
    for (k = 0; k < dirs.n && rc == 0; k++)
        rc = dirs.v[k] ? add_dir(reg, dirs.v[k], dirs.explicit[k], err) : 0;
    for (k = 0; k < dirs.n; k++) {
        free(dirs.v[k]);
        free(dirs.real[k]);
    }
    if (rc != 0) {
        lh_registry_close(reg);
        return -1;
    }
    mark_shadowed(reg);
    *out = reg;
    return 0;
}

int lh_registry_open_file(lh_registry **out, const char *path, const lh_registry_opts *opts,
                          const lhost_host *host, lh_error *err)
{
    lh_registry *reg;
    char *dir, *slash;
    int rc;
    *out = NULL;
    if (!(reg = new_registry(opts, host)) || !(dir = strdup(path))) {
        free(reg);
        return lh_error_set(err, "out of memory");
    }
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    rc = add_file(reg, path, slash ? dir : ".");
    free(dir);
    if (rc != 0) {
        lh_registry_close(reg);
        return lh_error_set(err, "out of memory loading %s", path);
    }
    *out = reg;
    return 0;
}

/* ---- finding a plugin by the name a config gives ------------------------------------------ */

static const char *section_of(int32_t kind)
{
    return kind == LHOST_KIND_CALLBACK ? "callbacks"
           : kind == LHOST_KIND_METRIC ? "metrics"
           : kind == LHOST_KIND_LOGGER ? "loggers"
                                       : "callbacks/metrics/loggers";
}

/* Does refused row `r` (no identity known) look like where `name` lives: a refused directory
 * (anything may be in it), or a file named after it (NAME.so, libNAME.so, or the last part of an
 * id: org.x.NAME)? */
static int may_hold(const lh_plugin_row *r, const char *name)
{
    const char *base = strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path;
    const char *last = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
    size_t n = strlen(last);
    if (strcmp(r->path, r->dir) == 0)
        return 1;
    if (strncmp(base, "lib", 3) == 0 && strncmp(base + 3, last, n) == 0 &&
        strcmp(base + 3 + n, ".so") == 0)
        return 1;
    return strncmp(base, last, n) == 0 && strcmp(base + n, ".so") == 0;
}

/* Up to 3 refused rows (likely == may_hold) as "PATH: REASON; ...". How many there were. */
static int32_t refused_list(const lh_registry *reg, const char *name, int likely, char *buf,
                            size_t cap)
{
    size_t used = 0;
    int32_t k, n = 0;
    buf[0] = '\0';
    for (k = 0; k < reg->n; k++) {
        const lh_plugin_row *r = &reg->rows[k];
        if (r->status != LH_PLUGIN_BROKEN || r->id || may_hold(r, name) != likely)
            continue;
        if (n++ < 3 && used < cap)
            used += (size_t)snprintf(buf + used, cap - used, "%s%s: %s", used ? "; " : "",
                                     r->path, r->reason);
    }
    if (n > 3 && used < cap)
        snprintf(buf + used, cap - used, "; and %d more ('lhost plugins' lists them)", (int)n - 3);
    return n;
}

/* Not found: the names there are, and the files and directories refused before anything in them
 * was known, with why. When one of them looks like the plugin's (may_hold), the refusal leads:
 * "no plugin named" would send the user looking for a typo. */
static void not_found(const lh_registry *reg, const char *name, int32_t kind, lh_error *err)
{
    char avail[1024] = "", refused[2048];
    const char *kname = kind ? lh_registry_kind_name(kind) : "", *sp = kind ? " " : "";
    size_t used = 0;
    int32_t k;
    for (k = 0; k < reg->n; k++) {
        const lh_plugin_row *r = &reg->rows[k];
        if ((kind && r->kind != kind) || r->status != LH_PLUGIN_OK || used >= sizeof avail)
            continue;
        used += (size_t)snprintf(avail + used, sizeof avail - used, "%s%s", used ? ", " : "",
                                 r->name);
    }
    if (refused_list(reg, name, 1, refused, sizeof refused))
        lh_error_set(err, "%s%splugin '%s' was refused: %s (usable: %s)", kname, sp, name,
                     refused, used ? avail : "none");
    else if (refused_list(reg, name, 0, refused, sizeof refused))
        lh_error_set(err, "no %s%splugin named '%s' (available: %s); refused, and maybe holding "
                     "it: %s", kname, sp, name, used ? avail : "none", refused);
    else
        lh_error_set(err, "no %s%splugin named '%s' (available: %s)", kname, sp, name,
                     used ? avail : "none");
}

const lh_plugin_row *lh_registry_find(const lh_registry *reg, const char *name, int32_t kind,
                                      lh_error *err)
{
    const lh_plugin_row *broken = NULL, *named = NULL, *other = NULL;
    int32_t k;
    /* An id names one plugin (later files with the same id are shadowed), so it wins. */
    for (k = 0; k < reg->n; k++) {
        const lh_plugin_row *r = &reg->rows[k];
        if ((!kind || r->kind == kind) && r->status == LH_PLUGIN_OK && r->id &&
            strcmp(r->id, name) == 0)
            return r;
    }
    for (k = 0; k < reg->n; k++) {
        const lh_plugin_row *r = &reg->rows[k];
        int match = (r->name && strcmp(r->name, name) == 0) || (r->id && strcmp(r->id, name) == 0);
        if (!match || (kind && r->kind != kind))
            continue;
        if (r->status == LH_PLUGIN_OK && !named)
            named = r;
        else if (r->status == LH_PLUGIN_OK && !other)
            other = r;
        else if (r->status == LH_PLUGIN_BROKEN && !broken)
            broken = r;
    }
    /* Two ids under one name: taking the first would let any file earlier on the search path
     * replace a plugin silently (a `model_checkpoint` that writes nothing). */
    if (named && other) {
        lh_error_set(err, "plugin name '%s' is taken by two plugins: %s (%s) and %s (%s); pick "
                     "one by id: %s: {%s: {plugin: %s}} or {plugin: %s}", name, named->id,
                     named->path, other->id, other->path, section_of(kind ? kind : named->kind),
                     name, named->id, other->id);
        return NULL;
    }
    if (named)
        return named;
    if (broken)
        lh_error_set(err, "plugin %s (%s) is broken: %s", name, broken->path, broken->reason);
    else
        not_found(reg, name, kind, err);
    return NULL;
}
