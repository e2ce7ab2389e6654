/* host/train/logstore.c — logged values, epoch means, metrics.csv rows and their checkpoint
 * section (see logstore.h). */
#include "logstore.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array.h"
#include "atomic.h"
#include "paths.h"

void lh_logstore_init(lh_logstore *s)
{
    memset(s, 0, sizeof *s);
}

static void row_free(lh_logrow *r)
{
    free(r->keys);
    free(r->values);
}

void lh_logstore_free(lh_logstore *s)
{
    int32_t i;
    for (i = 0; i < s->n_rows; i++)
        row_free(&s->rows[i]);
    row_free(&s->pending);
    free(s->rows);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

static lh_logvalue *find(const lh_logstore *s, const char *key)
{
    int32_t i;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->vals[i].key, key) == 0)
            return &s->vals[i];
    return NULL;
}

int lh_logstore_put(lh_logstore *s, const char *key, double value, double weight, uint32_t flags)
{
    lh_logvalue *v = find(s, key);
    if (!v) {
        lh_logvalue *nv;
        if (strlen(key) >= sizeof v->key)
            return -1;
        if (!(nv = lh_array_grow(s->vals, s->n, &s->cap, 32, sizeof *nv)))
            return -1;
        s->vals = nv;
        v = &s->vals[s->n++];
        memset(v, 0, sizeof *v);
        snprintf(v->key, sizeof v->key, "%s", key);
    }
    v->value = value;
    v->flags = flags;
    if (flags & 0x4u /* LHOST_LOGF_ON_EPOCH */) {
        v->sum += value * weight;
        v->weight += weight;
    }
    return 0;
}

int lh_logstore_get(const lh_logstore *s, const char *key, double *out)
{
    const lh_logvalue *v = find(s, key);
    if (!v)
        return -1;
    *out = v->value;
    return 0;
}

double lh_logstore_epoch_mean(const lh_logstore *s, const char *key)
{
    const lh_logvalue *v = find(s, key);
    if (!v)
        return NAN;
    return v->weight > 0 ? v->sum / v->weight : v->value;
}

void lh_logstore_reset_epoch(lh_logstore *s)
{
    int32_t i;
    for (i = 0; i < s->n; i++)
        s->vals[i].sum = s->vals[i].weight = 0;
}

void lh_logstore_clear_values(lh_logstore *s)
{
    s->n = 0;
}

int lh_logstore_row_add(lh_logstore *s, const char *key, double value)
{
    lh_logrow *r = &s->pending;
    int32_t i;
    for (i = 0; i < r->count; i++)
        if (strcmp(r->keys[i], key) == 0) {
            r->values[i] = value;
            return 0;
        }
    if (r->count == s->pending_cap) {
        int32_t cap = s->pending_cap ? 2 * s->pending_cap : 16;
        void *k = realloc(r->keys, (size_t)cap * sizeof *r->keys);
        if (!k)
            return -1;
        r->keys = k;
        k = realloc(r->values, (size_t)cap * sizeof *r->values);
        if (!k)
            return -1;
        r->values = k;
        s->pending_cap = cap;
    }
    snprintf(r->keys[r->count], sizeof r->keys[0], "%s", key);
    r->values[r->count++] = value;
    return 0;
}

int lh_logstore_commit_row(lh_logstore *s, int64_t epoch, int64_t step)
{
    lh_logrow *r;
    if (s->pending.count == 0)
        return 0;
    if (!(r = lh_array_grow(s->rows, s->n_rows, &s->cap_rows, 64, sizeof *r)))
        return -1;
    s->rows = r;
    r = &s->rows[s->n_rows++];
    *r = s->pending;
    r->epoch = epoch, r->step = step;
    memset(&s->pending, 0, sizeof s->pending);
    s->pending_cap = 0;
    return 0;
}

/* Lightning's CSVLogger header: the union of every row's keys and "epoch", "step", sorted as
 * Python sorts strings (by code point, which strcmp gives for UTF-8). */
static int key_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int32_t header_keys(const lh_logstore *s, char (**out)[96])
{
    int32_t n = 2, cap = 16, i, j, k;
    char(*keys)[96] = malloc((size_t)cap * sizeof *keys);
    if (!keys)
        return -1;
    snprintf(keys[0], sizeof keys[0], "epoch");
    snprintf(keys[1], sizeof keys[1], "step");
    for (i = 0; i < s->n_rows; i++)
        for (j = 0; j < s->rows[i].count; j++) {
            for (k = 0; k < n && strcmp(keys[k], s->rows[i].keys[j]); k++)
                ;
            if (k < n)
                continue;
            if (n == cap) {
                void *nk = realloc(keys, (size_t)(cap *= 2) * sizeof *keys);
                if (!nk) {
                    free(keys);
                    return -1;
                }
                keys = nk;
            }
            memcpy(keys[n++], s->rows[i].keys[j], sizeof keys[0]);
        }
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    *out = keys;
    return n;
}

void lh_logstore_format_value(double v, char *buf, size_t cap)
{
    int prec, exp;
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    /* the fewest significant digits that read back to v */
    for (prec = 1; prec < 17; prec++) {
        snprintf(buf, cap, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, cap, "%.*e", prec - 1, v);
    exp = atoi(strchr(buf, 'e') + 1);
    /* repr writes them positionally for exponents in [-4, 16), with a point ("20.0") */
    if (exp >= -4 && exp < 16) {
        snprintf(buf, cap, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
        if (!strchr(buf, '.') && strlen(buf) + 3 < cap)
            strcat(buf, ".0");
    }
}

/* A key as Python's csv module writes it (QUOTE_MINIMAL, which Lightning's CSVLogger uses):
 * in double quotes, inner quotes doubled, when it holds a comma, a quote, \r or \n. */
static void put_field(FILE *f, const char *key)
{
    if (!strpbrk(key, ",\"\r\n")) {
        fputs(key, f);
        return;
    }
    fputc('"', f);
    for (; *key; key++) {
        if (*key == '"')
            fputc('"', f);
        fputc(*key, f);
    }
    fputc('"', f);
}

int lh_logstore_write_csv(const lh_logstore *s, const char *path, lh_error *err)
{
    char (*keys)[96] = NULL, *text = NULL;
    size_t len = 0;
    int32_t nk = header_keys(s, &keys), i, j, k;
    FILE *f;
    if (nk < 0)
        return lh_error_set(err, "metrics %s: out of memory", path);
    /* Built in memory, then written atomically (host/util/atomic.h): a crash or a full disk
     * leaves the previous file whole, and the temporary file the usual name. */
    if (!(f = open_memstream(&text, &len))) {
        free(keys);
        return lh_error_set(err, "metrics %s: out of memory", path);
    }
    for (k = 0; k < nk; k++) {
        if (k)
            fputc(',', f);
        put_field(f, keys[k]);
    }
    fputc('\n', f);
    for (i = 0; i < s->n_rows; i++) {
        const lh_logrow *r = &s->rows[i];
        for (k = 0; k < nk; k++) {
            char num[40];
            if (k)
                fputc(',', f);
            if (strcmp(keys[k], "epoch") == 0) {
                fprintf(f, "%lld", (long long)r->epoch);
                continue;
            }
            if (strcmp(keys[k], "step") == 0) {
                fprintf(f, "%lld", (long long)r->step);
                continue;
            }
            for (j = 0; j < r->count; j++)
                if (strcmp(r->keys[j], keys[k]) == 0) {
                    lh_logstore_format_value(r->values[j], num, sizeof num);
                    fputs(num, f);
                    break;
                }
        }
        fputc('\n', f);
    }
    free(keys);
    if (fclose(f) != 0 || !text) {
        free(text);
        return lh_error_set(err, "metrics %s: out of memory", path);
    }
    int rc = lh_atomic_write(path, text, len, err);
    free(text);
    return rc ? lh_error_wrap(err, "metrics") : 0;
}

/* One CSV field at *p (quoted or not) into out[cap], moving *p past it. Returns the character
 * that ended it: ',', '\n' or '\0' (end of text). A quoted field may hold commas, doubled
 * quotes and line breaks. */
static int get_field(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    int quoted = *s == '"';
    if (quoted)
        s++;
    for (; *s; s++) {
        if (quoted && *s == '"') {
            if (s[1] != '"') {
                quoted = 0;
                continue;
            }
            s++;
        } else if (!quoted && (*s == ',' || *s == '\n' || *s == '\r')) {
            break;
        }
        if (n + 1 < cap)
            out[n++] = *s;
    }
    out[n] = '\0';
    int end = *s == '\r' && s[1] == '\n' ? (s++, '\n') : *s == '\r' ? '\n' : *s;
    *p = *s ? s + 1 : s;
    return end;
}

int lh_logstore_read_csv(lh_logstore *s, const char *path, lh_error *err)
{
    char why[300];
    FILE *f = lh_paths_fopen_regular(path, why, sizeof why); /* a FIFO would block the resume */
    char *text = NULL, (*keys)[96] = NULL, cell[96];
    size_t cap = 0, len = 0;
    int32_t nk = 0, lineno = 1, rc = -1;
    if (!f)
        return lh_error_set(err, "metrics %s: %s", path, why);
    /* Read whole: a quoted key may span lines. */
    for (;;) {
        if (len + 1 >= cap) {
            char *t = realloc(text, cap = cap ? 2 * cap : 8192);
            if (!t) {
                lh_error_set(err, "metrics %s: out of memory", path);
                goto done;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    text[len] = '\0';
    const char *p = text;
    int end = ',';
    int32_t epoch_col = -1, step_col = -1;
    for (int32_t col = 0; *p && end == ','; col++) {
        end = get_field(&p, cell, sizeof cell);
        if (strcmp(cell, "epoch") == 0)
            epoch_col = col;
        else if (strcmp(cell, "step") == 0)
            step_col = col;
        void *k = realloc(keys, (size_t)(nk + 1) * sizeof *keys);
        if (!k) {
            lh_error_set(err, "metrics %s: out of memory", path);
            goto done;
        }
        keys = k;
        snprintf(keys[nk++], sizeof keys[0], "%s", cell);
    }
    if (epoch_col < 0 || step_col < 0) {
        lh_error_set(err, "metrics %s:1: expected a header with `epoch` and `step` columns", path);
        goto done;
    }
    while (*p) {
        long long epoch = 0, step = 0;
        int32_t col;
        lineno++;
        end = ',';
        for (col = 0; *p && end == ','; col++) {
            end = get_field(&p, cell, sizeof cell);
            if (col == epoch_col)
                epoch = atoll(cell);
            else if (col == step_col)
                step = atoll(cell);
            else if (*cell && col < nk)
                lh_logstore_row_add(s, keys[col], strtod(cell, NULL));
        }
        if (col == 1 && !*cell)
            continue; /* an empty line */
        if (col < 2) {
            lh_error_set(err, "metrics %s:%d: expected epoch, step and values", path, lineno);
            goto done;
        }
        lh_logstore_commit_row(s, epoch, step);
    }
    rc = 0;
done:
    free(text);
    free(keys);
    fclose(f);
    return rc;
}

/* ---- checkpoint section ------------------------------------------------------------------ */

int lh_logstore_ckpt_save(const lh_logstore *s, lh_safetensors_writer *w, lh_error *err)
{
    cJSON *arr = cJSON_CreateArray();
    int32_t i;
    for (i = 0; i < s->n; i++) {
        cJSON *o = cJSON_CreateObject();
        char buf[64];
        cJSON_AddStringToObject(o, "key", s->vals[i].key);
        /* %.17g keeps doubles exact through text */
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].value);
        cJSON_AddStringToObject(o, "value", buf);
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].sum);
        cJSON_AddStringToObject(o, "sum", buf);
        snprintf(buf, sizeof buf, "%.17g", s->vals[i].weight);
        cJSON_AddStringToObject(o, "weight", buf);
        cJSON_AddNumberToObject(o, "flags", s->vals[i].flags);
        cJSON_AddItemToArray(arr, o);
    }
    return lh_safetensors_meta_json(w, "logged", arr, "logged values", err);
}

int lh_logstore_ckpt_load(lh_logstore *s, const lh_safetensors_file *f, lh_error *err)
{
    const char *json = lh_safetensors_meta_get(f, "logged");
    cJSON *arr = json ? cJSON_Parse(json) : NULL, *o;
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return lh_error_set(err, "metadata `logged`: expected a JSON array");
    }
    lh_logstore_clear_values(s);
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *k = cJSON_GetObjectItem(o, "key"), *v = cJSON_GetObjectItem(o, "value"),
                    *su = cJSON_GetObjectItem(o, "sum"), *w = cJSON_GetObjectItem(o, "weight"),
                    *fl = cJSON_GetObjectItem(o, "flags");
        lh_logvalue *lv;
        if (!cJSON_IsString(k) || !cJSON_IsString(v) || !cJSON_IsString(su) ||
            !cJSON_IsString(w) || !cJSON_IsNumber(fl) ||
            lh_logstore_put(s, k->valuestring, strtod(v->valuestring, NULL), 0,
                            (uint32_t)fl->valuedouble) ||
            !(lv = find(s, k->valuestring))) {
            cJSON_Delete(arr);
            return lh_error_set(err, "metadata `logged`: malformed entry");
        }
        lv->sum = strtod(su->valuestring, NULL);
        lv->weight = strtod(w->valuestring, NULL);
    }
    cJSON_Delete(arr);
    return 0;
}

/* ---- run folders ------------------------------------------------------------------------- */

int lh_logstore_next_version(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;
    long best = -1;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char *end, path[4400];
        struct stat st;
        long n;
        if (strncmp(e->d_name, "version_", 8) != 0 || !isdigit((unsigned char)e->d_name[8]))
            continue;
        n = strtol(e->d_name + 8, &end, 10);
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        /* Lightning counts folders whose suffix is all digits */
        if (*end || n > 1000000000L || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n > best)
            best = n;
    }
    closedir(d);
    return (int)(best + 1);
}
