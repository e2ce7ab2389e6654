/* tests/unit/fake_host.h — a scripted lhost_host for the unit tests of callback plugins.
 *
 * Header-only, for one test file each (all functions static inline). It gives:
 *   - fh_host: an lhost_host whose get_value/list_values read a scripted key -> value table
 *     (fh_set/fh_unset), whose trainer_state returns scripted counters (fh.ts), whose
 *     request_stop, log, set_error, log_value, snapshot_weights and restore_weights record what
 *     they were asked, and whose save_checkpoint writes a small file atomically (temp + rename)
 *     and records the path and flags;
 *   - fh_load: dlopen a reference plugin from LH_REF_PLUGIN_DIR and call its entry;
 *   - fh_params_build: parse "key=value" strings against the plugin's schema into
 *     lhost_param_values (defaults through the same parser), as the host's config code does;
 *   - fh_tmpdir / fh_rmtree / fh_listdir: a scratch folder and its sorted listing.
 * Each Check test runs in its own process (CK_FORK), so this global state starts clean. */
#ifndef LH_TESTS_FAKE_HOST_H
#define LH_TESTS_FAKE_HOST_H

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <lhost/lhost.h>

#define FH_MAX_VALUES 64
#define FH_MAX_SAVES 256
#define FH_MAX_PARAMS 32

static struct fake_host_state {
    char keys[FH_MAX_VALUES][128];
    double vals[FH_MAX_VALUES];
    int n_values;
    lhost_trainer_state ts;
    int stop_calls;
    char stop_reason[2048];
    int error_calls;
    char error[4096];
    char log[1 << 16];
    size_t log_len;
    int n_saved;
    char saved[FH_MAX_SAVES][4096];
    uint32_t saved_flags[FH_MAX_SAVES];
    int log_value_calls;
    char logged_key[128];
    double logged_value;
    int snapshot_calls, restore_calls;
    int32_t snapshot_rc;
    char hib_key[128]; /* value_higher_is_better answers for this key only ("" = none) */
    int32_t hib;
} fh;

static int fh_ctx_tag;
#define FH_CTX ((lhost_ctx *)&fh_ctx_tag)

static inline void fh_log(lhost_ctx *ctx, int32_t level, const char *msg)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    int n = snprintf(fh.log + fh.log_len, sizeof fh.log - fh.log_len, "%s %s\n",
                     (level >= 0 && level <= 3) ? names[level] : "?", msg);
    (void)ctx;
    if (n > 0 && fh.log_len + (size_t)n < sizeof fh.log)
        fh.log_len += (size_t)n;
}

static inline void fh_set_error(lhost_ctx *ctx, const char *msg)
{
    (void)ctx;
    fh.error_calls++;
    snprintf(fh.error, sizeof fh.error, "%s", msg);
}

static inline int fh_find(const char *key)
{
    int k;
    for (k = 0; k < fh.n_values; k++)
        if (strcmp(fh.keys[k], key) == 0)
            return k;
    return -1;
}

static inline int32_t fh_get_value(lhost_ctx *ctx, const char *key, double *out)
{
    int k = fh_find(key);
    (void)ctx;
    if (k < 0)
        return LHOST_ENOTFOUND;
    *out = fh.vals[k];
    return LHOST_OK;
}

static inline int32_t fh_log_value(lhost_ctx *ctx, const char *key, double value, uint32_t flags)
{
    (void)ctx;
    (void)flags;
    fh.log_value_calls++;
    snprintf(fh.logged_key, sizeof fh.logged_key, "%s", key);
    fh.logged_value = value;
    return LHOST_OK;
}

static inline int32_t fh_request_stop(lhost_ctx *ctx, const char *reason)
{
    (void)ctx;
    fh.stop_calls++;
    snprintf(fh.stop_reason, sizeof fh.stop_reason, "%s", reason ? reason : "");
    return LHOST_OK;
}

/* Writes "fake checkpoint epoch=E step=S flags=F" to path.tmp, then renames it to path. */
static inline int32_t fh_save_checkpoint(lhost_ctx *ctx, const char *path, uint32_t flags)
{
    char tmp[4200];
    FILE *f;
    (void)ctx;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return LHOST_EIO;
    fprintf(f, "fake checkpoint epoch=%lld step=%lld flags=%u\n", (long long)fh.ts.epoch,
            (long long)fh.ts.global_step, flags);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return LHOST_EIO;
    if (fh.n_saved < FH_MAX_SAVES) {
        snprintf(fh.saved[fh.n_saved], sizeof fh.saved[0], "%s", path);
        fh.saved_flags[fh.n_saved] = flags;
        fh.n_saved++;
    }
    return LHOST_OK;
}

static inline int32_t fh_trainer_state(lhost_ctx *ctx, lhost_trainer_state *out)
{
    uint32_t n = out->struct_size < sizeof fh.ts ? out->struct_size : (uint32_t)sizeof fh.ts;
    (void)ctx;
    memcpy(out, &fh.ts, n);
    out->struct_size = n;
    return LHOST_OK;
}

static inline void *fh_alloc(uint64_t size) { return malloc((size_t)size); }
static inline void fh_free(void *p) { free(p); }

static inline int fh_key_cmp(const void *a, const void *b)
{
    return strcmp(fh.keys[*(const int *)a], fh.keys[*(const int *)b]);
}

static inline int32_t fh_list_values(lhost_ctx *ctx, lhost_value_visitor visit, void *user)
{
    int order[FH_MAX_VALUES], k;
    (void)ctx;
    for (k = 0; k < fh.n_values; k++)
        order[k] = k;
    qsort(order, (size_t)fh.n_values, sizeof order[0], fh_key_cmp);
    for (k = 0; k < fh.n_values; k++)
        if (visit(user, fh.keys[order[k]], fh.vals[order[k]]))
            break;
    return LHOST_OK;
}

static inline int32_t fh_snapshot_weights(lhost_ctx *ctx, int32_t slot)
{
    (void)ctx;
    (void)slot;
    fh.snapshot_calls++;
    return fh.snapshot_rc;
}

static inline int32_t fh_restore_weights(lhost_ctx *ctx, int32_t slot)
{
    (void)ctx;
    (void)slot;
    fh.restore_calls++;
    return LHOST_OK;
}

static inline int32_t fh_value_higher_is_better(lhost_ctx *ctx, const char *key, int32_t *out)
{
    (void)ctx;
    if (!fh.hib_key[0] || strcmp(key, fh.hib_key) != 0)
        return LHOST_ENOTFOUND;
    *out = fh.hib;
    return LHOST_OK;
}

static const lhost_host fh_host = {
    .struct_size = sizeof(lhost_host),
    .abi = LHOST_ABI_VERSION_INIT,
    .name = "fake-host",
    .version = "0",
    .log = fh_log,
    .set_error = fh_set_error,
    .get_value = fh_get_value,
    .log_value = fh_log_value,
    .request_stop = fh_request_stop,
    .save_checkpoint = fh_save_checkpoint,
    .trainer_state = fh_trainer_state,
    .alloc = fh_alloc,
    .free = fh_free,
    .list_values = fh_list_values,
    .snapshot_weights = fh_snapshot_weights,
    .restore_weights = fh_restore_weights,
    .value_higher_is_better = fh_value_higher_is_better,
};

/* Forget everything; the trainer is fitting, epoch 0, step 0, one rank. */
static inline void fh_reset(void)
{
    memset(&fh, 0, sizeof fh);
    fh.ts.struct_size = sizeof fh.ts;
    fh.ts.stage = LHOST_STAGE_FIT;
    fh.ts.batch_idx = -1;
    fh.ts.max_epochs = -1;
    fh.ts.world_size = 1;
    fh.ts.is_global_zero = 1;
    fh.snapshot_rc = LHOST_OK;
}

static inline void fh_set(const char *key, double v)
{
    int k = fh_find(key);
    if (k < 0 && fh.n_values < FH_MAX_VALUES) {
        k = fh.n_values++;
        snprintf(fh.keys[k], sizeof fh.keys[0], "%s", key);
    }
    if (k >= 0)
        fh.vals[k] = v;
}

static inline void fh_unset(const char *key)
{
    int k = fh_find(key);
    if (k < 0)
        return;
    fh.n_values--;
    memmove(fh.keys[k], fh.keys[k + 1], (size_t)(fh.n_values - k) * sizeof fh.keys[0]);
    memmove(&fh.vals[k], &fh.vals[k + 1], (size_t)(fh.n_values - k) * sizeof fh.vals[0]);
}

/* ---- loading a plugin ------------------------------------------------------------------- */

typedef struct fh_plugin {
    void *dl;
    const lhost_plugin_desc *desc;
    const lhost_callback_vtable *vt;
} fh_plugin;

/* dlopen LH_REF_PLUGIN_DIR/<file>, call the entry, take its first plugin. 0 or -1. */
static inline int fh_load(fh_plugin *p, const char *file)
{
    char path[4096];
    lhost_version abi = LHOST_ABI_VERSION_INIT;
    const lhost_library *lib;
    lhost_entry_fn entry;
    snprintf(path, sizeof path, "%s/%s", LH_REF_PLUGIN_DIR, file);
    memset(p, 0, sizeof *p);
    if (!(p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "fh_load: %s\n", dlerror());
        return -1;
    }
    *(void **)&entry = dlsym(p->dl, LHOST_ENTRY_SYMBOL);
    if (!entry || !(lib = entry(&abi, &fh_host)) || lib->error || lib->n_plugins < 1)
        return -1;
    p->desc = lib->plugins[0];
    p->vt = (const lhost_callback_vtable *)p->desc->vtable;
    return 0;
}

/* ---- parameters ------------------------------------------------------------------------- */

typedef struct fh_params {
    lhost_value v[FH_MAX_PARAMS];
    char text[FH_MAX_PARAMS][512];
    lhost_param_values pv;
} fh_params;

static inline int fh_parse_one(const lhost_param *p, const char *text, lhost_value *v, char *err,
                        size_t cap)
{
    char *end = NULL;
    v->s = text;
    switch (p->type) {
    case LHOST_PARAM_INT:
        v->i = strtoll(text, &end, 0);
        v->f = (double)v->i;
        break;
    case LHOST_PARAM_FLOAT:
        v->f = strtod(text, &end);
        break;
    case LHOST_PARAM_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1"))
            v->i = 1;
        else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
                 !strcasecmp(text, "off") || !strcmp(text, "0"))
            v->i = 0;
        else
            goto bad;
        return 0;
    case LHOST_PARAM_STRING:
        return 0;
    case LHOST_PARAM_ENUM: {
        int64_t k;
        for (k = 0; p->choices && p->choices[k]; k++)
            if (strcmp(p->choices[k], text) == 0) {
                v->i = k;
                return 0;
            }
        goto bad;
    }
    default:
        goto bad;
    }
    if (!end || end == text || *end != '\0')
        goto bad;
    if (((p->flags & LHOST_PARAM_HAS_MIN) && !(v->f >= p->min)) ||
        ((p->flags & LHOST_PARAM_HAS_MAX) && !(v->f <= p->max)))
        goto bad;
    return 0;
bad:
    snprintf(err, cap, "%s: bad value \"%s\"", p->name, text);
    return -1;
}

/* kv: NULL-terminated "key=value" strings. 0, or -1 with the reason in err. */
static inline int fh_params_build(fh_params *out, const lhost_plugin_desc *d, const char *const *kv,
                           char *err, size_t cap)
{
    uint32_t k;
    size_t j;
    memset(out, 0, sizeof *out);
    if (d->n_params > FH_MAX_PARAMS) {
        snprintf(err, cap, "too many parameters");
        return -1;
    }
    for (j = 0; kv && kv[j]; j++) {
        const char *eq = strchr(kv[j], '=');
        for (k = 0; eq && k < d->n_params; k++)
            if (strlen(d->params[k].name) == (size_t)(eq - kv[j]) &&
                strncmp(d->params[k].name, kv[j], (size_t)(eq - kv[j])) == 0)
                break;
        if (!eq || k == d->n_params) {
            snprintf(err, cap, "unknown parameter \"%s\"", kv[j]);
            return -1;
        }
    }
    for (k = 0; k < d->n_params; k++) {
        const lhost_param *p = &d->params[k];
        lhost_value *v = &out->v[k];
        const char *text = p->default_value;
        v->struct_size = sizeof *v;
        v->type = p->type;
        v->name = p->name;
        for (j = 0; kv && kv[j]; j++)
            if (strncmp(kv[j], p->name, strlen(p->name)) == 0 && kv[j][strlen(p->name)] == '=') {
                text = kv[j] + strlen(p->name) + 1;
                v->from_user = 1;
            }
        if (!text) {
            if (p->flags & LHOST_PARAM_REQUIRED) {
                snprintf(err, cap, "%s: required", p->name);
                return -1;
            }
            continue;
        }
        snprintf(out->text[k], sizeof out->text[k], "%s", text);
        if (fh_parse_one(p, out->text[k], v, err, cap) != 0)
            return -1;
        v->is_set = 1;
    }
    out->pv.struct_size = sizeof out->pv;
    out->pv.count = d->n_params;
    out->pv.values = out->v;
    return 0;
}

/* ---- scratch folders -------------------------------------------------------------------- */

/* mkdtemp under the build tree; returns dir (a static buffer per call site is the caller's). */
static inline void fh_tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/fh_tmp_XXXXXX", LH_TEST_BUILD_DIR);
    if (!mkdtemp(dir))
        dir[0] = '\0';
}

static inline int fh_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fh_rmtree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, fh_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int fh_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, joined with one space ("" when empty or missing). */
static inline void fh_listdir(const char *dir, char *out, size_t cap)
{
    char *names[256];
    int n = 0, k;
    DIR *d = opendir(dir);
    struct dirent *e;
    out[0] = '\0';
    if (!d)
        return;
    while ((e = readdir(d)) && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], fh_name_cmp);
    for (k = 0; k < n; k++) {
        if (k)
            strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, names[k], cap - strlen(out) - 1);
        free(names[k]);
    }
}

#endif
