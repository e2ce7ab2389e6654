/* plugins/jsonl_logger — the reference logger plugin: every logged row (each logged step and
 * each epoch) as one JSON object per line, for scripts that would rather not parse CSV.
 *
 *   loggers:
 *     jsonl_logger: {path: metrics.jsonl}     # default: <run dir>/metrics.jsonl
 *
 * First line: {"hparams": {...}}; then {"epoch": E, "step": S, "<key>": value, ...} per row;
 * last line: {"status": "success"|"failed"}. Non-finite values are written as null (JSON has no
 * NaN). Lines are flushed as they are written, so a crashed run keeps what it logged. */
#include <lhost/lhost.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jsonl {
    const lhost_host *host;
    char path[4096];
    FILE *f;
} jsonl;

static int32_t fail(jsonl *j, lhost_ctx *ctx, const char *what)
{
    char msg[4300];
    snprintf(msg, sizeof msg, "%s: %s", what, j->path);
    j->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static int32_t jl_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    jsonl *j = (jsonl *)calloc(1, sizeof *j);
    if (!j) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    j->host = host;
    snprintf(j->path, sizeof j->path, "%s", lhost_param_string(pv, "path", ""));
    *self = j;
    return LHOST_OK;
}

static void jl_destroy(void *self)
{
    jsonl *j = (jsonl *)self;
    if (j->f)
        fclose(j->f);
    free(j);
}

static int32_t jl_hparams(void *self, lhost_ctx *ctx, const char *run_dir, uint32_t count,
                          const char *const *keys, const char *const *values)
{
    jsonl *j = (jsonl *)self;
    uint32_t k;
    if (!j->path[0])
        snprintf(j->path, sizeof j->path, "%s/metrics.jsonl", run_dir);
    /* Append: a resumed run continues the same file. */
    if (!(j->f = fopen(j->path, "a")))
        return fail(j, ctx, "cannot open for appending");
    fputs("{\"hparams\": {", j->f);
    for (k = 0; k < count; k++) {
        if (k)
            fputs(", ", j->f);
        put_string(j->f, keys[k]);
        fputs(": ", j->f);
        put_string(j->f, values[k]);
    }
    fputs("}}\n", j->f);
    return fflush(j->f) ? fail(j, ctx, "write failed") : LHOST_OK;
}

static int32_t jl_row(void *self, lhost_ctx *ctx, const lhost_log_row *row)
{
    jsonl *j = (jsonl *)self;
    uint32_t k;
    if (!j->f)
        return fail(j, ctx, "log_row before log_hparams");
    fprintf(j->f, "{\"epoch\": %lld, \"step\": %lld", (long long)row->epoch, (long long)row->step);
    for (k = 0; k < row->count; k++) {
        fputs(", ", j->f);
        put_string(j->f, row->keys[k]);
        fputs(": ", j->f);
        put_number(j->f, row->values[k]);
    }
    fputs("}\n", j->f);
    return fflush(j->f) ? fail(j, ctx, "write failed") : LHOST_OK;
}

static int32_t jl_finalize(void *self, lhost_ctx *ctx, const char *status)
{
    jsonl *j = (jsonl *)self;
    int bad;
    if (!j->f)
        return LHOST_OK;
    fputs("{\"status\": ", j->f);
    put_string(j->f, status);
    fputs("}\n", j->f);
    bad = fclose(j->f) != 0;
    j->f = NULL;
    return bad ? fail(j, ctx, "write failed") : LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "path",
     "file to append to (default: metrics.jsonl in the run's lightning_logs/version_N)", "", NULL,
     0, 0, LHOST_PARAM_IDENTITY},
};

static const lhost_logger_vtable vtable = {
    sizeof(lhost_logger_vtable), jl_create, jl_destroy, jl_hparams, jl_row, jl_finalize,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_LOGGER, "org.lhost.jsonl_logger", "jsonl_logger",
    "1.0.0", "every logged row as one JSON object per line (metrics.jsonl)", params, 1,
    LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
