/* tests/fuzz/fuzz_desc.h — a plugin library described by text, for fuzz_plugin_desc.c and
 * fuzz_params.c: what a plugin's entry could return, laid out in memory exactly as the text
 * claims (a struct_size of 8 gets an 8-byte allocation), so any read past what the plugin
 * declared is an AddressSanitizer report, while the pointers themselves are honest (a plugin
 * that lies about its pointers crashes any in-process loader; the child scan covers that).
 *
 *   lib SIZE MAJOR.MINOR.PATCH [ERROR]          the lhost_library (ERROR: its error text)
 *   plugin SIZE KIND ID NAME VERSION PRIORITY VTSIZE STRIDE    one descriptor (VTSIZE -: none)
 *   param TYPE FLAGS NAME MIN MAX DEFAULT CHOICES               a parameter of the last plugin
 *   null                                        a NULL entry in the plugin list
 *   kv KEY VALUE                                a user parameter (fuzz_params.c)
 * Words are separated by spaces; "-" is NULL, "''" the empty string; CHOICES is a
 * comma-separated list ("-": none, so a NULL choices pointer). SIZE, VTSIZE and STRIDE: a
 * number, or "=" (or nothing) for the host's sizeof (a STRIDE under 4 counts as 4). Up to
 * FD_MAX_PLUGINS plugins of FD_MAX_PARAMS parameters. */
#ifndef FUZZ_DESC_H
#define FUZZ_DESC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lhost/lhost.h"

#define FD_MAX_PLUGINS 8
#define FD_MAX_PARAMS 16
#define FD_MAX_KVS 32
#define FD_MAX_SIZE 4096 /* largest struct_size or stride honoured (bigger ones are clamped) */
#define FD_FAKE_FN UINT64_C(0xa5a5a5a5a5a5a5a5) /* what fake vtables hold in every pointer */

typedef struct fd_param {
    lhost_param p;
    char **choices; /* NULL-terminated, or NULL */
} fd_param;

typedef struct fd_plugin {
    uint32_t size, stride, vt_size;
    int has_vt;
    lhost_plugin_desc d;
    fd_param params[FD_MAX_PARAMS];
    uint32_t n_params;
    int is_null;
} fd_plugin;

typedef struct fd_world {
    char *text;                    /* the input, cut into words in place */
    void *allocs[1024];            /* everything built, freed by fd_free */
    int n_allocs;
    uint32_t lib_size;
    lhost_library lib;
    fd_plugin plugins[FD_MAX_PLUGINS];
    uint32_t n_plugins;
    const char *kv_key[FD_MAX_KVS], *kv_value[FD_MAX_KVS];
    int32_t n_kvs;
    const lhost_library *built; /* the plugin-sized library, or NULL ("lib" absent) */
} fd_world;

static void *fd_keep(fd_world *w, void *p)
{
    if (!p)
        abort(); /* out of memory while building the input: not a finding */
    if (w->n_allocs == (int)(sizeof w->allocs / sizeof w->allocs[0])) {
        free(p);
        return NULL;
    }
    w->allocs[w->n_allocs++] = p;
    return p;
}

/* An allocation of exactly n bytes (at least one, so a 0-size struct still has an address). */
static void *fd_alloc(fd_world *w, size_t n)
{
    return fd_keep(w, calloc(1, n ? n : 1));
}

static const char *fd_str(const char *word)
{
    if (!word || strcmp(word, "-") == 0)
        return NULL;
    if (strcmp(word, "''") == 0)
        return "";
    return word;
}

static uint32_t fd_size(const char *word, size_t host)
{
    unsigned long v;
    if (!word || strcmp(word, "=") == 0)
        return (uint32_t)host;
    v = strtoul(word, NULL, 0);
    return v > FD_MAX_SIZE ? FD_MAX_SIZE : (uint32_t)v;
}

static long long fd_int(const char *word)
{
    return word ? strtoll(word, NULL, 0) : 0;
}

static double fd_double(const char *word)
{
    return word ? strtod(word, NULL) : 0.0;
}

/* Copy the host-sized struct `src` into a block of `size` bytes as the plugin would have it
 * (at least its struct_size field, which every version has). */
static void *fd_sized(fd_world *w, const void *src, size_t host, uint32_t size)
{
    void *p = fd_alloc(w, size < 4 ? 4 : size);
    if (p)
        memcpy(p, src, size < host ? size : host);
    return p;
}

static char **fd_choices(fd_world *w, char *word)
{
    char **list;
    int n = 1, k = 0;
    char *s;
    if (!fd_str(word))
        return NULL;
    for (s = word; *s; s++)
        n += *s == ',';
    list = fd_alloc(w, sizeof *list * (size_t)(n + 1));
    if (!list)
        return NULL;
    list[k++] = word;
    for (s = word; *s; s++)
        if (*s == ',') {
            *s = '\0';
            list[k++] = s + 1;
        }
    list[k] = NULL;
    return list;
}

static void fd_line(fd_world *w, char **word, int n)
{
    fd_plugin *pl = w->n_plugins ? &w->plugins[w->n_plugins - 1] : NULL;
    if (strcmp(word[0], "lib") == 0) {
        w->lib_size = fd_size(n > 1 ? word[1] : NULL, sizeof(lhost_library));
        w->lib.abi.major = (uint16_t)(n > 2 ? fd_int(word[2]) : LHOST_ABI_VERSION_MAJOR);
        w->lib.abi.minor = LHOST_ABI_VERSION_MINOR;
        w->lib.abi.patch = 0;
        if (n > 2 && strchr(word[2], '.')) {
            char *dot = strchr(word[2], '.');
            w->lib.abi.minor = (uint16_t)fd_int(dot + 1);
            if ((dot = strchr(dot + 1, '.')))
                w->lib.abi.patch = (uint16_t)fd_int(dot + 1);
        }
        w->lib.error = n > 3 ? fd_str(word[3]) : NULL;
    } else if (strcmp(word[0], "plugin") == 0 && w->n_plugins < FD_MAX_PLUGINS) {
        pl = &w->plugins[w->n_plugins++];
        pl->size = fd_size(n > 1 ? word[1] : NULL, sizeof(lhost_plugin_desc));
        pl->d.kind = (int32_t)(n > 2 ? fd_int(word[2]) : LHOST_KIND_CALLBACK);
        pl->d.id = n > 3 ? fd_str(word[3]) : NULL;
        pl->d.name = n > 4 ? fd_str(word[4]) : NULL;
        pl->d.version = n > 5 ? fd_str(word[5]) : NULL;
        pl->d.description = "fuzzed";
        pl->d.priority = (int32_t)(n > 6 ? fd_int(word[6]) : 0);
        pl->has_vt = !(n > 7 && strcmp(word[7], "-") == 0);
        pl->vt_size = fd_size(n > 7 ? word[7] : NULL,
                              pl->d.kind == LHOST_KIND_METRIC ? sizeof(lhost_metric_vtable)
                              : pl->d.kind == LHOST_KIND_LOGGER ? sizeof(lhost_logger_vtable)
                                                                : sizeof(lhost_callback_vtable));
        /* Each element starts with its struct_size: a stride under 4 would overlap them. */
        pl->stride = fd_size(n > 8 ? word[8] : NULL, sizeof(lhost_param));
        if (pl->stride < 4)
            pl->stride = 4;
    } else if (strcmp(word[0], "null") == 0 && w->n_plugins < FD_MAX_PLUGINS) {
        w->plugins[w->n_plugins++].is_null = 1;
    } else if (strcmp(word[0], "param") == 0 && pl && !pl->is_null &&
               pl->n_params < FD_MAX_PARAMS) {
        fd_param *p = &pl->params[pl->n_params++];
        p->p.type = (int32_t)(n > 1 ? fd_int(word[1]) : LHOST_PARAM_INT);
        p->p.flags = (uint32_t)(n > 2 ? fd_int(word[2]) : 0);
        p->p.name = n > 3 ? fd_str(word[3]) : NULL;
        p->p.help = "fuzzed";
        p->p.min = n > 4 ? fd_double(word[4]) : 0.0;
        p->p.max = n > 5 ? fd_double(word[5]) : 0.0;
        p->p.default_value = n > 6 ? fd_str(word[6]) : NULL;
        p->choices = n > 7 ? fd_choices(w, word[7]) : NULL;
    } else if (strcmp(word[0], "kv") == 0 && w->n_kvs < FD_MAX_KVS) {
        w->kv_key[w->n_kvs] = n > 1 ? fd_str(word[1]) : NULL;
        w->kv_value[w->n_kvs++] = n > 2 ? fd_str(word[2]) : NULL;
        if (!w->kv_key[w->n_kvs - 1])
            w->kv_key[w->n_kvs - 1] = "";
    }
}

/* Lay the plugins out as the plugin would: descriptors of their own size, parameter arrays
 * with their own stride, vtables of their own size (function pointers NULL: the loader only
 * copies them). */
static void fd_build(fd_world *w)
{
    const lhost_plugin_desc **list;
    uint32_t k, j;
    list = fd_alloc(w, sizeof *list * (w->n_plugins ? w->n_plugins : 1));
    for (k = 0; list && k < w->n_plugins; k++) {
        fd_plugin *pl = &w->plugins[k];
        char *params = NULL;
        if (pl->is_null)
            continue;
        if (pl->n_params) {
            size_t bytes = (size_t)pl->stride * pl->n_params;
            params = fd_alloc(w, bytes < 4 ? 4 : bytes); /* params[0].struct_size exists */
            for (j = 0; params && j < pl->n_params; j++) {
                lhost_param p = pl->params[j].p;
                p.struct_size = pl->stride;
                p.choices = (const char *const *)pl->params[j].choices;
                memcpy(params + (size_t)j * pl->stride, &p,
                       pl->stride < sizeof p ? pl->stride : sizeof p);
            }
        }
        pl->d.struct_size = pl->size;
        pl->d.params = (const lhost_param *)params;
        pl->d.n_params = pl->n_params;
        if (pl->has_vt) {
            uint32_t *vt = fd_alloc(w, pl->vt_size < 4 ? 4 : pl->vt_size);
            if (vt) {
                /* fake function pointers (never called): FD_FAKE_FN in every word past the
                 * 8-byte head, so a copy that keeps half of one shows */
                if (pl->vt_size > 8)
                    memset((char *)vt + 8, 0xa5, pl->vt_size - 8);
                *vt = pl->vt_size;
            }
            pl->d.vtable = vt;
        }
        list[k] = fd_sized(w, &pl->d, sizeof pl->d, pl->size);
    }
    w->lib.struct_size = w->lib_size;
    w->lib.n_plugins = w->n_plugins;
    w->lib.plugins = list;
    w->built = fd_sized(w, &w->lib, sizeof w->lib, w->lib_size);
}

/* Parse `data` into w (zeroed by the caller); 0 when the input had no "lib" line. */
static int fd_parse(fd_world *w, const uint8_t *data, size_t size)
{
    char *line, *save = NULL;
    int have_lib = 0;
    w->text = fd_keep(w, malloc(size + 1));
    memcpy(w->text, data, size);
    w->text[size] = '\0';
    for (line = strtok_r(w->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *word[10], *s2 = NULL, *tok;
        int n = 0;
        for (tok = strtok_r(line, " ", &s2); tok && n < 10; tok = strtok_r(NULL, " ", &s2))
            word[n++] = tok;
        if (n == 0)
            continue;
        have_lib |= strcmp(word[0], "lib") == 0;
        fd_line(w, word, n);
    }
    if (have_lib)
        fd_build(w);
    return have_lib;
}

static void fd_free(fd_world *w)
{
    int k;
    for (k = 0; k < w->n_allocs; k++)
        free(w->allocs[k]);
}

#endif
