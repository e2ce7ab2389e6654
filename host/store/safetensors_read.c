/* host/store/safetensors_read.c — read and validate a safetensors file (format in safetensors.h).
 *
 * Nothing is trusted: sizes, the JSON, dtypes, shapes and offsets are all checked before the file
 * is handed out, and each error says which check failed and what was expected. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic.h"
#include "paths.h"
#include "strmap.h"

typedef struct st_tensor {
    char *name;
    char dtype[16];
    int32_t size, ndim;
    int64_t *shape;
    int64_t elems;
    uint64_t begin, end;
    const void *data;
    void *copy; /* aligned copy when the file left the tensor misaligned */
} st_tensor;

struct lh_safetensors_file {
    char *label;
    uint64_t file_size, header_size;
    uint8_t *data; /* the data area, malloc'd (so aligned for any dtype) */
    uint64_t data_len;
    st_tensor *t;
    int32_t n;
    lh_strmap meta;
};

static const struct {
    const char *name;
    int32_t size;
} dtypes[] = {
    {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4}, {"F16", 2},
    {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1},
    {"F8_E5M2", 1},
};

int32_t lh_safetensors_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, dtype) == 0)
            return dtypes[i].size;
    return 0;
}

/* "checkpoint LABEL: <formatted>". Returns -1. */
static int fail(lh_error *err, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(lh_error *err, const char *label, const char *fmt, ...)
{
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return lh_error_set(err, "checkpoint %s: %s", label, what);
}

/* Files people mistake for safetensors checkpoints, by their first bytes. */
static const char *foreign_kind(const uint8_t *p, uint64_t n)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } kinds[] = {
        {"\x89PNG\r\n\x1a\n", 8, "PNG image"},
        {"PK\x03\x04", 4, "ZIP archive, e.g. a torch.save() file: load it with torch.load and save "
                          "with safetensors.torch.save_file"},
        {"\x1f\x8b", 2, "gzip data"},
        {"\x7f" "ELF", 4, "ELF binary"},
        {"\x93NUMPY", 6, "NumPy .npy array"},
        {"\x89HDF\r\n\x1a\n", 8, "HDF5 file"},
        {"GGUF", 4, "GGUF model"},
        {"\xff\xd8\xff", 3, "JPEG image"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (n >= kinds[i].len && memcmp(p, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].what;
    if (n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5)
        return "Python pickle, e.g. a legacy torch.save() file";
    return NULL;
}

static const char *json_kind(const cJSON *j)
{
    static const struct {
        cJSON_bool (*is)(const cJSON *);
        const char *what;
    } kinds[] = {
        {cJSON_IsObject, "an object"}, {cJSON_IsArray, "an array"}, {cJSON_IsString, "a string"},
        {cJSON_IsNumber, "a number"}, {cJSON_IsBool, "a boolean"}, {cJSON_IsNull, "null"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].is(j))
            return kinds[i].what;
    return "invalid";
}

/* A JSON number that is an exact non-negative integer <= 2^53. */
static int json_u64(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double v = j->valuedouble;
    if (!isfinite(v) || v < 0 || v > 9007199254740992.0 || floor(v) != v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

void lh_safetensors_close(lh_safetensors_file *f)
{
    if (!f)
        return;
    for (int32_t i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].shape);
        free(f->t[i].copy);
    }
    free(f->t);
    lh_strmap_free(&f->meta);
    free(f->data);
    free(f->label);
    free(f);
}

static int parse_meta(lh_safetensors_file *f, const cJSON *m, lh_error *err)
{
    if (cJSON_IsNull(m))
        return 0;
    if (!cJSON_IsObject(m))
        return fail(err, f->label, "__metadata__ is %s (expected an object of strings)",
                    json_kind(m));
    const cJSON *kv;
    cJSON_ArrayForEach(kv, m) {
        if (!cJSON_IsString(kv))
            return fail(err, f->label, "__metadata__ \"%s\" is %s (expected a string)", kv->string,
                        json_kind(kv));
        if (lh_strmap_find(&f->meta, kv->string) >= 0)
            return fail(err, f->label, "__metadata__ \"%s\" appears twice (expected unique keys)",
                        kv->string);
        if (lh_strmap_put(&f->meta, kv->string, kv->valuestring))
            return fail(err, f->label, "out of memory");
    }
    return 0;
}

static int parse_tensor(lh_safetensors_file *f, st_tensor *t, const cJSON *o, lh_error *err)
{
    const char *nm = o->string;
    if (!cJSON_IsObject(o))
        return fail(err, f->label, "tensor \"%s\" is %s (expected an object with dtype, shape, "
                    "data_offsets)", nm, json_kind(o));
    if (!(t->name = strdup(nm)))
        return fail(err, f->label, "out of memory");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dt))
        return fail(err, f->label, "tensor \"%s\": dtype is %s (expected a string such as \"F32\")",
                    nm, dt ? json_kind(dt) : "missing");
    t->size = lh_safetensors_dtype_size(dt->valuestring);
    if (t->size == 0)
        return fail(err, f->label,
                    "tensor \"%s\": unknown dtype \"%.40s\" (expected F64, F32, F16, BF16, "
                    "I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3 or F8_E5M2)",
                    nm, dt->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    if (!cJSON_IsArray(sh))
        return fail(err, f->label, "tensor \"%s\": shape is %s (expected an array of sizes)", nm,
                    sh ? json_kind(sh) : "missing");
    t->ndim = cJSON_GetArraySize(sh);
    t->shape = calloc((size_t)t->ndim + 1, sizeof(int64_t));
    if (!t->shape)
        return fail(err, f->label, "out of memory");
    uint64_t elems = 1;
    int32_t d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, sh) {
        uint64_t x;
        if (json_u64(v, &x))
            return fail(err, f->label,
                        "tensor \"%s\": shape[%" PRId32 "] is not a size (expected an "
                        "integer >= 0)",
                        nm, d);
        if (__builtin_mul_overflow(elems, x, &elems) || elems > (uint64_t)INT64_MAX)
            return fail(err, f->label, "tensor \"%s\": shape has too many elements", nm);
        t->shape[d++] = (int64_t)x;
    }
    t->elems = (int64_t)elems;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        json_u64(cJSON_GetArrayItem(off, 0), &t->begin) ||
        json_u64(cJSON_GetArrayItem(off, 1), &t->end))
        return fail(err, f->label, "tensor \"%s\": data_offsets is not [begin, end] (expected two "
                    "integers >= 0)", nm);
    if (t->end < t->begin)
        return fail(err, f->label,
                    "tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64 "] end before "
                    "they begin (expected begin <= end)",
                    nm, t->begin, t->end);
    uint64_t nbytes;
    if (__builtin_mul_overflow(elems, (uint64_t)t->size, &nbytes) || nbytes != t->end - t->begin)
        return fail(
            err, f->label,
            "tensor \"%s\": shape holds %" PRIu64 " %s elements = %" PRIu64 " bytes "
            "but data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes (expected equal)",
            nm, elems, t->dtype, elems * (uint64_t)t->size, t->begin, t->end, t->end - t->begin);
    if (t->end > f->data_len)
        return fail(err, f->label,
                    "tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64 "] run past the end "
                    "of the %" PRIu64 "-byte data area (expected end <= %" PRIu64
                    "; truncated file?)",
                    nm, t->begin, t->end, f->data_len, f->data_len);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Names unique; [begin, end) ranges tile the data area exactly. */
static int check_layout(lh_safetensors_file *f, lh_error *err)
{
    st_tensor **ix = malloc(((size_t)f->n + 1) * sizeof *ix);
    if (!ix)
        return fail(err, f->label, "out of memory");
    for (int32_t i = 0; i < f->n; i++)
        ix[i] = &f->t[i];
    qsort(ix, (size_t)f->n, sizeof *ix, cmp_name);
    int rc = 0;
    for (int32_t i = 1; i < f->n && rc == 0; i++)
        if (strcmp(ix[i - 1]->name, ix[i]->name) == 0)
            rc = fail(err, f->label,
                      "tensor \"%s\" appears twice in the header (expected unique names)",
                      ix[i]->name);
    qsort(ix, (size_t)f->n, sizeof *ix, cmp_offsets);
    uint64_t pos = 0;
    for (int32_t i = 0; i < f->n && rc == 0; i++) {
        if (ix[i]->begin < pos)
            rc = fail(err, f->label,
                      "tensor \"%s\" data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor "
                      "\"%s\" [%" PRIu64 ", %" PRIu64 "] (expected disjoint ranges)",
                      ix[i]->name, ix[i]->begin, ix[i]->end, ix[i - 1]->name, ix[i - 1]->begin,
                      ix[i - 1]->end);
        else if (ix[i]->begin > pos)
            rc = fail(err, f->label,
                      "%" PRIu64 " unused bytes at data offset %" PRIu64 " before tensor "
                      "\"%s\" (expected tensors to cover the data area without gaps)",
                      ix[i]->begin - pos, pos, ix[i]->name);
        pos = ix[i]->end;
    }
    if (rc == 0 && pos != f->data_len)
        rc = fail(err, f->label,
                  "%" PRIu64 " unused bytes after the last tensor (expected the data area "
                  "to end at byte %" PRIu64 " of the data area)",
                  f->data_len - pos, pos);
    free(ix);
    return rc;
}

/* Point each tensor at its bytes, copying the rare misaligned one. */
static int bind_data(lh_safetensors_file *f, lh_error *err)
{
    for (int32_t i = 0; i < f->n; i++) {
        st_tensor *t = &f->t[i];
        const uint8_t *p = f->data + t->begin;
        if ((uintptr_t)p % (uintptr_t)t->size != 0) {
            if (!(t->copy = malloc(t->end - t->begin)))
                return fail(err, f->label, "out of memory");
            memcpy(t->copy, p, t->end - t->begin);
            p = t->copy;
        }
        t->data = p;
    }
    return 0;
}

/* Parse `hlen` header bytes (NUL-terminated buffer) against f->data. */
static int parse_header(lh_safetensors_file *f, const char *header, uint64_t hlen, lh_error *err)
{
    if (hlen == 0)
        return fail(err, f->label, "header length is 0 (expected at least 2 bytes for \"{}\")");
    if (header[0] != '{')
        return fail(err, f->label,
                    "not a safetensors file (expected the JSON header to start with '{' "
                    "at byte 8, found 0x%02x)",
                    (unsigned)(uint8_t)header[0]);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)hlen, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        uint64_t pos = at && at >= header && at <= header + hlen ? (uint64_t)(at - header) : 0;
        return fail(err, f->label,
                    "header is not valid JSON (error near header byte %" PRIu64 " of %" PRIu64
                    ": \"%.24s\")",
                    pos, hlen, header + pos);
    }
    int rc = 0;
    for (const char *p = end; p && p < header + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = fail(err, f->label,
                      "header has bytes after the JSON object at header byte %td (expected "
                      "only space padding)",
                      p - header);
            break;
        }
    if (rc == 0 && !cJSON_IsObject(root))
        rc = fail(err, f->label, "header is %s (expected a JSON object)", json_kind(root));
    int32_t count = rc == 0 ? cJSON_GetArraySize(root) : 0;
    if (rc == 0 && !(f->t = calloc((size_t)count + 1, sizeof *f->t)))
        rc = fail(err, f->label, "out of memory");
    int seen_meta = 0;
    const cJSON *item;
    if (rc == 0)
        cJSON_ArrayForEach(item, root) {
            if (strcmp(item->string, "__metadata__") == 0) {
                if (seen_meta++)
                    rc = fail(err, f->label, "__metadata__ appears twice (expected at most once)");
                else
                    rc = parse_meta(f, item, err);
            } else {
                rc = parse_tensor(f, &f->t[f->n++], item, err);
            }
            if (rc)
                break;
        }
    cJSON_Delete(root);
    if (rc == 0)
        rc = check_layout(f, err);
    if (rc == 0)
        rc = bind_data(f, err);
    return rc;
}

/* Checks on the first 8 bytes; `have` is how many of them exist. */
static int check_prefix(const char *label, const uint8_t *p, uint64_t have, uint64_t file_size,
                        uint64_t *hlen, lh_error *err)
{
    const char *kind = foreign_kind(p, have);
    if (kind)
        return fail(err, label, "not a safetensors file (it looks like a %s)", kind);
    if (file_size < 8)
        return fail(err, label, "file is %" PRIu64 " bytes, too short for the 8-byte header length "
                    "(expected a safetensors file; truncated?)", file_size);
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--)
        n = n << 8 | p[b];
    if (n > LH_ST_MAX_HEADER)
        return fail(err, label, "header length %" PRIu64 " is absurd (expected at most %llu bytes; "
                    "not a safetensors file?)", n, LH_ST_MAX_HEADER);
    if (n > file_size - 8)
        return fail(err, label,
                    "header length %" PRIu64 " runs past the end of the %" PRIu64 "-byte file "
                    "(expected at most %" PRIu64 "; truncated file?)",
                    n, file_size, file_size - 8);
    *hlen = n;
    return 0;
}

static lh_safetensors_file *new_file(const char *label, uint64_t file_size, lh_error *err)
{
    lh_safetensors_file *f = calloc(1, sizeof *f);
    if (f && !(f->label = strdup(label))) {
        free(f);
        f = NULL;
    }
    if (!f)
        fail(err, label, "out of memory");
    else
        f->file_size = file_size;
    return f;
}

int lh_safetensors_parse(const char *label, const void *bytes, uint64_t len,
                         lh_safetensors_file **out, lh_error *err)
{
    const uint8_t *b = bytes;
    uint64_t hlen;
    *out = NULL;
    if (check_prefix(label, b, len < 8 ? len : 8, len, &hlen, err))
        return -1;
    lh_safetensors_file *f = new_file(label, len, err);
    if (!f)
        return -1;
    f->header_size = hlen;
    f->data_len = len - 8 - hlen;
    char *header = malloc((size_t)hlen + 1);
    f->data = malloc((size_t)f->data_len + 1);
    if (!header || !f->data) {
        free(header);
        lh_safetensors_close(f);
        return fail(err, label, "out of memory");
    }
    memcpy(header, b + 8, (size_t)hlen);
    header[hlen] = '\0';
    memcpy(f->data, b + 8 + hlen, (size_t)f->data_len);
    int rc = parse_header(f, header, hlen, err);
    free(header);
    if (rc) {
        lh_safetensors_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

static int read_exact(FILE *fp, void *p, uint64_t n)
{
    return n == 0 || fread(p, 1, (size_t)n, fp) == n ? 0 : -1;
}

/* Why read_exact failed: the system's reason (EIO, ...), else `eof` (the end came first). */
static const char *read_cause(FILE *fp, const char *eof)
{
    return ferror(fp) && errno ? strerror(errno) : eof;
}

int lh_safetensors_read(const char *path, lh_safetensors_file **out, lh_error *err)
{
    *out = NULL;
    /* A temporary file of host/util/atomic.c may hold half a save: never read one. */
    if (lh_atomic_is_temp_name(path, NULL))
        return fail(err, path, "a temporary file left by an unfinished save (.NAME.tmp.PID.N), "
                               "not a checkpoint; use the file NAME it was to become");
    char why[300];
    FILE *fp = lh_paths_fopen_regular(path, why, sizeof why);
    if (!fp)
        return fail(err, path, "%s%s", why,
                    strncmp(why, "not a", 5) == 0 ? ", expected a safetensors file" : "");
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        fclose(fp);
        return fail(err, path, "cannot stat: %s", strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size, hlen;
    uint8_t prefix[8] = {0};
    uint64_t have = size < 8 ? size : 8;
    if (read_exact(fp, prefix, have)) {
        fail(err, path, "read failed: %s", read_cause(fp, "unexpected end of file"));
        fclose(fp);
        return -1;
    }
    if (check_prefix(path, prefix, have, size, &hlen, err)) {
        fclose(fp);
        return -1;
    }
    lh_safetensors_file *f = new_file(path, size, err);
    char *header = f ? malloc((size_t)hlen + 1) : NULL;
    int rc = -1;
    if (!f)
        goto done;
    f->header_size = hlen;
    f->data_len = size - 8 - hlen;
    f->data = malloc((size_t)f->data_len + 1);
    if (!header || !f->data) {
        fail(err, path, "out of memory (%" PRIu64 " bytes)", size);
        goto done;
    }
    if (read_exact(fp, header, hlen) || read_exact(fp, f->data, f->data_len)) {
        fail(err, path, "read failed: %s",
             read_cause(fp, "unexpected end of file (the file changed size while being read?)"));
        goto done;
    }
    header[hlen] = '\0';
    rc = parse_header(f, header, hlen, err);
done:
    free(header);
    fclose(fp);
    if (rc) {
        lh_safetensors_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

/* ---- accessors ---------------------------------------------------------------------------- */

uint64_t lh_safetensors_file_size(const lh_safetensors_file *f) { return f->file_size; }
uint64_t lh_safetensors_header_size(const lh_safetensors_file *f) { return f->header_size; }
int32_t lh_safetensors_count(const lh_safetensors_file *f) { return f->n; }
const char *lh_safetensors_name(const lh_safetensors_file *f, int32_t i) { return f->t[i].name; }
const char *lh_safetensors_dtype(const lh_safetensors_file *f, int32_t i) { return f->t[i].dtype; }
int32_t lh_safetensors_ndim(const lh_safetensors_file *f, int32_t i) { return f->t[i].ndim; }
const int64_t *lh_safetensors_shape(const lh_safetensors_file *f, int32_t i)
{
    return f->t[i].shape;
}
int64_t lh_safetensors_elems(const lh_safetensors_file *f, int32_t i) { return f->t[i].elems; }
uint64_t lh_safetensors_nbytes(const lh_safetensors_file *f, int32_t i)
{
    return f->t[i].end - f->t[i].begin;
}
uint64_t lh_safetensors_offset(const lh_safetensors_file *f, int32_t i) { return f->t[i].begin; }
const void *lh_safetensors_data(const lh_safetensors_file *f, int32_t i) { return f->t[i].data; }
int32_t lh_safetensors_meta_count(const lh_safetensors_file *f) { return f->meta.n; }

const char *lh_safetensors_meta_key(const lh_safetensors_file *f, int32_t i)
{
    return f->meta.items[i].key;
}

const char *lh_safetensors_meta_value(const lh_safetensors_file *f, int32_t i)
{
    return f->meta.items[i].value;
}

int32_t lh_safetensors_index(const lh_safetensors_file *f, const char *name)
{
    for (int32_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return i;
    return -1;
}

const char *lh_safetensors_meta_get(const lh_safetensors_file *f, const char *key)
{
    int32_t i = lh_strmap_find(&f->meta, key);
    return i >= 0 ? f->meta.items[i].value : NULL;
}

const void *lh_safetensors_find(const lh_safetensors_file *f, const char *name, const char *dtype,
                                int64_t expected_elems, lh_error *err)
{
    int32_t i = lh_safetensors_index(f, name);
    if (i < 0) {
        fail(err, f->label, "tensor \"%s\" not found (expected a %s tensor)", name, dtype);
        return NULL;
    }
    const st_tensor *t = &f->t[i];
    if (strcmp(t->dtype, dtype) != 0) {
        fail(err, f->label, "tensor \"%s\" has dtype %s (expected %s)", name, t->dtype, dtype);
        return NULL;
    }
    if (expected_elems >= 0 && t->elems != expected_elems) {
        char shape[200] = "";
        size_t k = 0;
        for (int32_t d = 0; d < t->ndim && k < sizeof shape - 24; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRId64, d ? ", " : "",
                                  t->shape[d]);
        fail(err, f->label,
             "tensor \"%s\" has shape [%s] = %" PRId64 " elements (expected %" PRId64 ")", name,
             shape, t->elems, expected_elems);
        return NULL;
    }
    return t->data;
}

const void *lh_safetensors_find_1d(const lh_safetensors_file *f, const char *name,
                                   const char *dtype, int64_t n, lh_error *err)
{
    const void *data = lh_safetensors_find(f, name, dtype, n, err);
    int32_t i = lh_safetensors_index(f, name);
    if (data && f->t[i].ndim != 1) {
        fail(err, f->label, "tensor \"%s\" has %d dimensions (expected a vector of %" PRId64
             ")", name, (int)f->t[i].ndim, n);
        return NULL;
    }
    return data;
}
