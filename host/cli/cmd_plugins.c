/* host/cli/cmd_plugins.c — `lhost plugins`: list every plugin found (id, kind, version, ABI,
 * source directory, status), or describe one with --verbose NAME as gst-inspect-1.0 does, as text
 * or --json. Files are scanned in child processes, so a broken plugin is a row, not a crash; the
 * verbose description (which calls create + state_layout for metrics) runs in a child too. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "child.h"
#include "cmd_check.h"
#include "dispatch.h"
#include "fmt.h"
#include "instance.h"
#include "registry.h"

#define MAX_DIRS 32

static const lh_arg_opt plugins_opts[] = {
    {"plugin-dir", 0, LH_ARG_LIST, "DIR", MAX_DIRS, "search DIR first"},
    {"allow-insecure-plugins", 0, LH_ARG_FLAG, NULL, 0,
     "load files and folders writable by group or others or owned by another user"},
    {"json", 0, LH_ARG_FLAG, NULL, 0, "machine-readable output"},
    {"verbose", 0, LH_ARG_VALUE, "NAME", 0,
     "describe one plugin (name or id): parameters, hooks, state"},
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_args_spec plugins_spec = {
    .usage = "[--plugin-dir DIR]... [--allow-insecure-plugins] [--json] [--verbose NAME]\n"
             "       lhost plugins check PATH.so [--json] [--rule RULE]",
    .about = "List the plugins lhost finds (search order: --plugin-dir, LHOST_PLUGIN_PATH,\n"
             "$XDG_DATA_HOME/lhost/plugins, the installed directory, the build tree's plugins).\n"
             "'lhost plugins check PATH.so' checks one file against the plugin ABI\n"
             "('lhost plugins check --help').\n",
    .opts = plugins_opts,
};

static void abi_text(lhost_version v, char *buf, size_t cap)
{
    if (v.major == 0 && v.minor == 0 && v.patch == 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%u.%u.%u", v.major, v.minor, v.patch);
}

static const char *status_word(int32_t s)
{
    return s == LH_PLUGIN_OK ? "ok" : s == LH_PLUGIN_SHADOWED ? "shadowed" : "broken";
}

static const char *row_label(const lh_plugin_row *r)
{
    const char *slash;
    if (r->id)
        return r->id;
    slash = strrchr(r->path, '/');
    return slash ? slash + 1 : r->path;
}

/* ---- the list ------------------------------------------------------------------------------ */

static void print_table(const lh_registry *reg)
{
    /* NAME is what a config writes (`callbacks: {early_stopping: ...}`), ID what --verbose and
     * a clash between two plugins of one name take. */
    static const char *const head[7] = {"ID",  "NAME",      "KIND",  "VERSION",
                                        "ABI", "DIRECTORY", "STATUS"};
    int w[6], k, i, n = lh_registry_count(reg);
    char abi[32];
    for (k = 0; k < 6; k++)
        w[k] = (int)strlen(head[k]);
    for (i = 0; i < n; i++) {
        const lh_plugin_row *r = lh_registry_row(reg, i);
        abi_text(r->abi, abi, sizeof abi);
        const char *cells[6] = {row_label(r), r->name ? r->name : "-",
                                lh_registry_kind_name(r->kind), r->version ? r->version : "-",
                                abi, r->dir};
        for (k = 0; k < 6; k++)
            if ((int)strlen(cells[k]) > w[k])
                w[k] = (int)strlen(cells[k]);
    }
    for (k = 0; k < 6; k++)
        printf("%-*s  ", w[k], head[k]);
    printf("%s\n", head[6]);
    for (i = 0; i < n; i++) {
        const lh_plugin_row *r = lh_registry_row(reg, i);
        abi_text(r->abi, abi, sizeof abi);
        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  ", w[0], row_label(r), w[1],
               r->name ? r->name : "-", w[2], lh_registry_kind_name(r->kind), w[3],
               r->version ? r->version : "-", w[4], abi, w[5], r->dir);
        if (r->status == LH_PLUGIN_OK)
            printf("ok\n");
        else if (r->status == LH_PLUGIN_SHADOWED)
            printf("%s\n", r->reason);
        else
            printf("broken: %s\n", r->reason ? r->reason : "unknown");
    }
    if (n == 0)
        printf("(no plugins found)\n");
}

static void json_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddItemToObject(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static int print_json_list(const lh_registry *reg)
{
    cJSON *arr = cJSON_CreateArray();
    char abi[32], *text;
    int i;
    for (i = 0; i < lh_registry_count(reg); i++) {
        const lh_plugin_row *r = lh_registry_row(reg, i);
        cJSON *o = cJSON_CreateObject();
        abi_text(r->abi, abi, sizeof abi);
        json_str(o, "id", r->id);
        json_str(o, "name", r->name);
        json_str(o, "kind", r->kind ? lh_registry_kind_name(r->kind) : NULL);
        json_str(o, "version", r->version);
        json_str(o, "abi", r->abi.major ? abi : NULL);
        json_str(o, "dir", r->dir);
        json_str(o, "path", r->path);
        json_str(o, "status", status_word(r->status));
        json_str(o, "reason", r->reason);
        cJSON_AddItemToArray(arr, o);
    }
    text = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!text)
        return -1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

/* ---- one plugin, described in a child ------------------------------------------------------ */

struct describe_job {
    const lh_plugin_row *row;
};

static const char *dtype_name(int32_t t)
{
    return t == LHOST_DTYPE_F64   ? "f64"
           : t == LHOST_DTYPE_I64 ? "i64"
           : t == LHOST_DTYPE_F32 ? "f32"
           : t == LHOST_DTYPE_I32 ? "i32"
                                  : "?";
}

static const char *reduce_name(int32_t r)
{
    return r == LHOST_REDUCE_SUM   ? "sum"
           : r == LHOST_REDUCE_MAX ? "max"
           : r == LHOST_REDUCE_MIN ? "min"
           : r == LHOST_REDUCE_CAT ? "cat"
                                   : "?";
}

/* The stages a callback runs in (lhost_callback_vtable.stages, ABI 1.1; 0 is fit only). */
static void add_stages(cJSON *o, uint32_t stages)
{
    cJSON *s = cJSON_AddArrayToObject(o, "stages");
    if (!stages || (stages & LHOST_STAGEF_FIT))
        cJSON_AddItemToArray(s, cJSON_CreateString("fit"));
    if (stages & LHOST_STAGEF_VALIDATE)
        cJSON_AddItemToArray(s, cJSON_CreateString("validate"));
    if (stages & LHOST_STAGEF_PREDICT)
        cJSON_AddItemToArray(s, cJSON_CreateString("predict"));
}

static void add_hooks(cJSON *o, const lhost_plugin_desc *d)
{
    cJSON *h = cJSON_AddArrayToObject(o, "hooks");
#define HOOK(vt, f) \
    if ((vt)->f)    \
    cJSON_AddItemToArray(h, cJSON_CreateString(#f))
    if (d->kind == LHOST_KIND_CALLBACK) {
        const lhost_callback_vtable *v = d->vtable;
        int32_t k;
        for (k = 0; k < LH_HOOK_COUNT; k++) /* the dispatched hooks, in fit order (hooks.h) */
            if (lh_dispatch_implements(v, k))
                cJSON_AddItemToArray(h, cJSON_CreateString(lh_dispatch_hook_name(k)));
        HOOK(v, on_exception); HOOK(v, state_save); HOOK(v, state_restore);
        add_stages(o, v->stages);
    } else if (d->kind == LHOST_KIND_METRIC) {
        const lhost_metric_vtable *v = d->vtable;
        HOOK(v, state_layout); HOOK(v, update); HOOK(v, compute);
    } else {
        const lhost_logger_vtable *v = d->vtable;
        HOOK(v, log_hparams); HOOK(v, log_row); HOOK(v, finalize);
    }
#undef HOOK
}

static void add_params(cJSON *o, const lhost_plugin_desc *d)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "params");
    uint32_t k;
    int c;
    for (k = 0; k < d->n_params; k++) {
        const lhost_param *p = &d->params[k];
        cJSON *po = cJSON_CreateObject();
        json_str(po, "name", p->name);
        json_str(po, "type", lh_params_type_name(p->type));
        json_str(po, "help", p->help);
        json_str(po, "default", p->default_value);
        if (p->type == LHOST_PARAM_ENUM) {
            cJSON *ch = cJSON_AddArrayToObject(po, "choices");
            for (c = 0; p->choices[c]; c++)
                cJSON_AddItemToArray(ch, cJSON_CreateString(p->choices[c]));
        }
        if (p->flags & LHOST_PARAM_HAS_MIN)
            cJSON_AddNumberToObject(po, "min", p->min);
        if (p->flags & LHOST_PARAM_HAS_MAX)
            cJSON_AddNumberToObject(po, "max", p->max);
        cJSON_AddBoolToObject(po, "required", (p->flags & LHOST_PARAM_REQUIRED) != 0);
        cJSON_AddBoolToObject(po, "identity", (p->flags & LHOST_PARAM_IDENTITY) != 0);
        cJSON_AddItemToArray(arr, po);
    }
}

/* Metric: make an instance with default parameters and ask for its state layout. */
static void add_metric_state(cJSON *o, const lh_plugin_row *row)
{
    const lhost_state_decl *decls = NULL;
    uint32_t n = 0, outs = 0, k;
    lh_instance *inst;
    lh_error err;
    cJSON *st = cJSON_AddObjectToObject(o, "state");
    const lhost_metric_vtable *v = row->desc->vtable;
    cJSON_AddBoolToObject(st, "higher_is_better", v->higher_is_better != 0);
    if (lh_instance_create(row, row->name, NULL, 0, NULL, &inst, &err) != 0) {
        json_str(st, "error", err.msg);
        return;
    }
    if (!v->state_layout ||
        v->state_layout(lh_instance_self(inst), &decls, &n, &outs) != LHOST_OK) {
        json_str(st, "error", "state_layout failed");
    } else {
        cJSON *arr = cJSON_AddArrayToObject(st, "buffers");
        cJSON_AddNumberToObject(st, "outputs", outs);
        /* the plugin's array has its own stride (its struct_size; 40 bytes in ABI 1.0) */
        size_t stride = n && decls[0].struct_size >= offsetof(lhost_state_decl, max_rows)
                            ? decls[0].struct_size
                            : offsetof(lhost_state_decl, max_rows);
        for (k = 0; k < n; k++) {
            const lhost_state_decl *d =
                (const lhost_state_decl *)(const void *)((const char *)decls + k * stride);
            cJSON *b = cJSON_CreateObject();
            json_str(b, "name", d->name);
            json_str(b, "dtype", dtype_name(d->dtype));
            json_str(b, "reduction", reduce_name(d->reduction));
            cJSON_AddNumberToObject(b, "length", (double)d->length);
            cJSON_AddNumberToObject(b, "init", d->init);
            if (d->reduction == LHOST_REDUCE_CAT && stride >= sizeof *d)
                cJSON_AddNumberToObject(b, "max_rows", (double)d->max_rows);
            cJSON_AddItemToArray(arr, b);
        }
    }
    lh_instance_destroy(inst);
}

/* [child] Load the row's file in this (child) process and describe the plugin as JSON. */
static int describe_child(int fd, void *arg)
{
    const lh_plugin_row *want = ((struct describe_job *)arg)->row, *row = NULL;
    lh_registry_opts opts = {0};
    lh_registry *reg;
    lh_error err;
    char abi[32], *text;
    cJSON *o;
    int32_t i;
    FILE *f;
    opts.allow_insecure = 1; /* the parent's scan already applied the check */
    if (lh_registry_open_file(&reg, want->path, &opts, NULL, &err) != 0)
        return 3;
    for (i = 0; i < lh_registry_count(reg); i++)
        if (lh_registry_row(reg, i)->desc && strcmp(lh_registry_row(reg, i)->id, want->id) == 0)
            row = lh_registry_row(reg, i);
    if (!row) {
        lh_registry_close(reg);
        return 4;
    }
    o = cJSON_CreateObject();
    abi_text(row->abi, abi, sizeof abi);
    json_str(o, "id", row->id);
    json_str(o, "name", row->name);
    json_str(o, "kind", lh_registry_kind_name(row->kind));
    json_str(o, "version", row->version);
    json_str(o, "abi", abi);
    json_str(o, "path", want->path);
    json_str(o, "description", row->desc->description);
    cJSON_AddNumberToObject(o, "priority", row->desc->priority);
    add_params(o, row->desc);
    add_hooks(o, row->desc);
    if (row->kind == LHOST_KIND_METRIC)
        add_metric_state(o, row);
    text = cJSON_Print(o);
    cJSON_Delete(o);
    lh_registry_close(reg);
    if (!text || !(f = fdopen(fd, "w")))
        return 5;
    fputs(text, f);
    cJSON_free(text);
    return fclose(f) == 0 ? 0 : 6;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The string member `k`, or "" when absent: for printing. */
static const char *jtext(const cJSON *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? s : "";
}

/* The label column: 18 wide, or wider when a parameter or buffer name needs it, so a long
 * name never runs into its type ("every_n_train_steps  int. ..."). */
static int label_width(const cJSON *o)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state"), *e;
    int w = 18;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "params"))
        if ((int)strlen(jtext(e, "name")) + 2 > w)
            w = (int)strlen(jtext(e, "name")) + 2;
    if (st)
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "buffers"))
            if ((int)strlen(jtext(e, "name")) + 2 > w)
                w = (int)strlen(jtext(e, "name")) + 2;
    return w;
}

static void print_describe(const cJSON *o)
{
    const cJSON *p, *h, *st = cJSON_GetObjectItemCaseSensitive(o, "state"), *b, *c;
    const int W = label_width(o);
    printf("Plugin Details:\n");
    printf("  %-*s%s\n", W, "ID", jtext(o, "id"));
    printf("  %-*s%s\n", W, "Name", jtext(o, "name"));
    printf("  %-*s%s\n", W, "Kind", jtext(o, "kind"));
    printf("  %-*s%s\n", W, "Version", jtext(o, "version"));
    printf("  %-*s%s\n", W, "ABI", jtext(o, "abi"));
    printf("  %-*s%s\n", W, "Filename", jtext(o, "path"));
    printf("  %-*s%s\n", W, "Description", jtext(o, "description"));
    printf("  %-*s%d\n", W, "Priority",
           (int)cJSON_GetObjectItemCaseSensitive(o, "priority")->valuedouble);
    printf("\nParameters:\n");
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "params")) == 0)
        printf("  (none)\n");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(o, "params"))
    {
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(p, "min");
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(p, "max");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(p, "choices");
        char lo[LH_FMT_CAP], hi[LH_FMT_CAP];
        printf("  %-*s%s. %s\n", W, jtext(p, "name"), jtext(p, "type"), jtext(p, "help"));
        if (ch) {
            printf("  %-*sAllowed: ", W, "");
            cJSON_ArrayForEach(c, ch) printf("%s%s", c == ch->child ? "" : ", ", c->valuestring);
            printf("\n");
        }
        if (mn)
            lh_fmt_double(lo, sizeof lo, mn->valuedouble);
        if (mx)
            lh_fmt_double(hi, sizeof hi, mx->valuedouble);
        if (mn && mx)
            printf("  %-*sRange: %s - %s\n", W, "", lo, hi);
        else if (mn)
            printf("  %-*sRange: >= %s\n", W, "", lo);
        else if (mx)
            printf("  %-*sRange: <= %s\n", W, "", hi);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "required")))
            printf("  %-*sRequired\n", W, "");
        else
            printf("  %-*sDefault: %s\n", W, "",
                   jstr(p, "default") ? jstr(p, "default") : "None");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "identity")))
            printf("  %-*sPart of the state key\n", W, "");
    }
    printf("\nHooks implemented:\n");
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(o, "hooks"))
        printf("  %s\n", h->valuestring);
    if (cJSON_GetObjectItemCaseSensitive(o, "stages")) {
        printf("\nStages:\n ");
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(o, "stages"))
            printf(" %s", h->valuestring);
        printf("\n");
    }
    if (st) {
        printf("\nMetric state:\n");
        printf("  %-*s%s\n", W, "Higher is better",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "higher_is_better")) ? "yes"
                                                                                      : "no");
        if (jstr(st, "error"))
            printf("  %-*s%s\n", W, "Layout", jtext(st, "error"));
        else {
            printf("  %-*s%d\n", W, "Outputs",
                   (int)cJSON_GetObjectItemCaseSensitive(st, "outputs")->valuedouble);
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(st, "buffers")) {
                char lo[LH_FMT_CAP];
                const cJSON *mr = cJSON_GetObjectItemCaseSensitive(b, "max_rows");
                double len = cJSON_GetObjectItemCaseSensitive(b, "length")->valuedouble;
                if (mr) /* a cat state: rows of `length`, at most max_rows of them */
                    printf("  %-*s%s[rows <= %.0f][%.0f], reduce cat\n", W, jtext(b, "name"),
                           jtext(b, "dtype"), mr->valuedouble, len);
                else
                    printf("  %-*s%s[%.0f], reduce %s, init %s\n", W, jtext(b, "name"),
                           jtext(b, "dtype"), len, jtext(b, "reduction"),
                           lh_fmt_double(lo, sizeof lo, jnum(b, "init")));
            }
        }
    }
}

static int describe(const lh_registry *reg, const char *name, int json)
{
    struct describe_job job;
    lh_error err;
    char *out = NULL;
    cJSON *o = NULL;
    if (!(job.row = lh_registry_find(reg, name, 0, &err))) {
        fprintf(stderr, "lhost: plugins: %s\n", err.msg);
        return 1;
    }
    if (lh_child_run(describe_child, &job, 10.0, &out, &err) == 0 && !(o = cJSON_Parse(out)))
        lh_error_set(&err, "the describing child sent no valid answer");
    if (!o) {
        fprintf(stderr, "lhost: plugins: %s: cannot describe: %s\n", job.row->path, err.msg);
        free(out);
        return 1;
    }
    free(out);
    if (json) {
        char *text = cJSON_Print(o);
        printf("%s\n", text ? text : "null");
        cJSON_free(text);
    } else
        print_describe(o);
    cJSON_Delete(o);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

int lh_cmd_plugins(int argc, char **argv)
{
    const char *dirs[MAX_DIRS], *verbose;
    lh_registry_opts opts = {0};
    lh_registry *reg;
    lh_error err;
    lh_args a;
    int json, rc;
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return lh_cmd_plugins_check(argc - 1, argv + 1);
    if ((rc = lh_args_parse(&a, &plugins_spec, argc, argv)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    opts.plugin_dirs = dirs;
    opts.n_plugin_dirs = lh_args_all(&a, "plugin-dir", dirs, MAX_DIRS);
    opts.allow_insecure = lh_args_get(&a, "allow-insecure-plugins") != NULL;
    opts.scan_in_child = 1;
    json = lh_args_get(&a, "json") != NULL;
    verbose = lh_args_get(&a, "verbose");
    if (lh_registry_open(&reg, &opts, NULL, &err) != 0) {
        fprintf(stderr, "lhost: plugins: %s\n", err.msg);
        lh_args_free(&a);
        return 1;
    }
    if (verbose)
        rc = describe(reg, verbose, json);
    else if (json)
        rc = print_json_list(reg) == 0 ? 0 : 1;
    else {
        print_table(reg);
        rc = 0;
    }
    lh_registry_close(reg);
    lh_args_free(&a);
    fflush(stdout);
    return rc;
}
