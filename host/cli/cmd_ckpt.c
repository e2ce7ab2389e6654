/* host/cli/cmd_ckpt.c — `lhost ckpt inspect PATH [--json] [--verbose]`: what a checkpoint holds.
 *
 * Prints the file size, every tensor (name, dtype, shape, bytes; the values of tiny numeric
 * tensors; min/max/mean of numeric tensors up to STATS_MAX elements) and the metadata (values cut
 * to VALUE_MAX characters unless --verbose). --json prints the same as one JSON object, with
 * metadata values whole. Exit status: 0 ok, 1 unreadable or invalid file, 2 usage. */
#include "cmd_ckpt.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "safetensors.h"

#define STATS_MAX (1 << 22) /* elements: every tensor of the tutorial's model and its optimizer */
#define VALUES_MAX 4        /* elements: step counters, flags, RNG words are printed whole */
#define VALUE_MAX 72        /* characters of a metadata value shown without --verbose */

static const lh_arg_opt inspect_opts[] = {
    {"json", 0, LH_ARG_FLAG, NULL, 0, "one JSON object on stdout (metadata values in full)"},
    {"verbose", 'v', LH_ARG_FLAG, NULL, 0, "do not shorten long metadata values"},
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_args_spec inspect_spec = {
    .cmd = "ckpt inspect",
    .usage = "PATH [--json] [--verbose]",
    .about = "Print the tensors and metadata of a safetensors checkpoint.\n",
    .opts = inspect_opts,
    .max_operands = 1,
    .operand = "PATH",
};

typedef struct stats {
    int ok; /* computed */
    double min, max, mean;
    int64_t nonfinite;
} stats;

/* Dtypes this command can print (F16, BF16 and F8 are shown by shape only). */
static int printable(const char *dtype)
{
    static const char *const ok[] = {"F32", "F64", "I64", "U64", "I32", "U32",
                                     "I16", "U16", "I8",  "U8",  "BOOL"};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        if (!strcmp(dtype, ok[k]))
            return 1;
    return 0;
}

static double elem_as_double(const char *dtype, const void *data, int64_t i, int *known)
{
    *known = 1;
    if (!strcmp(dtype, "F32")) return ((const float *)data)[i];
    if (!strcmp(dtype, "F64")) return ((const double *)data)[i];
    if (!strcmp(dtype, "I64")) return (double)((const int64_t *)data)[i];
    if (!strcmp(dtype, "U64")) return (double)((const uint64_t *)data)[i];
    if (!strcmp(dtype, "I32")) return ((const int32_t *)data)[i];
    if (!strcmp(dtype, "U32")) return ((const uint32_t *)data)[i];
    if (!strcmp(dtype, "I16")) return ((const int16_t *)data)[i];
    if (!strcmp(dtype, "U16")) return ((const uint16_t *)data)[i];
    if (!strcmp(dtype, "I8")) return ((const int8_t *)data)[i];
    if (!strcmp(dtype, "U8") || !strcmp(dtype, "BOOL")) return ((const uint8_t *)data)[i];
    *known = 0;
    return 0;
}

/* One element as text, exact for integers. */
static void elem_text(const char *dtype, const void *data, int64_t i, char *buf, size_t cap)
{
    int known;
    if (!strcmp(dtype, "I64"))
        snprintf(buf, cap, "%" PRId64, ((const int64_t *)data)[i]);
    else if (!strcmp(dtype, "U64"))
        snprintf(buf, cap, "%" PRIu64, ((const uint64_t *)data)[i]);
    else {
        double v = elem_as_double(dtype, data, i, &known);
        if (!known)
            snprintf(buf, cap, "?");
        else if (strcmp(dtype, "F32") && strcmp(dtype, "F64"))
            snprintf(buf, cap, "%.0f", v); /* integers below 64 bits are exact in a double */
        else {
            /* the shortest of %.9g / %.17g that reads back as the stored value */
            snprintf(buf, cap, "%.9g", v);
            if (!strcmp(dtype, "F64") && strtod(buf, NULL) != v)
                snprintf(buf, cap, "%.17g", v);
        }
    }
}

static stats value_stats(const lh_safetensors_file *f, int32_t i)
{
    stats s = {0};
    const char *dt = lh_safetensors_dtype(f, i);
    int64_t n = lh_safetensors_elems(f, i);
    if (!printable(dt) || n == 0 || n > STATS_MAX)
        return s;
    double sum = 0;
    int64_t finite = 0;
    int known;
    for (int64_t k = 0; k < n; k++) {
        double v = elem_as_double(dt, lh_safetensors_data(f, i), k, &known);
        if (!isfinite(v)) {
            s.nonfinite++;
            continue;
        }
        if (finite == 0 || v < s.min) s.min = v;
        if (finite == 0 || v > s.max) s.max = v;
        sum += v;
        finite++;
    }
    s.ok = finite > 0;
    s.mean = finite ? sum / (double)finite : 0;
    return s;
}

static void shape_text(const lh_safetensors_file *f, int32_t i, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int32_t d = 0; d < lh_safetensors_ndim(f, i) && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, d ? ", " : "",
                              lh_safetensors_shape(f, i)[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* A metadata value on one line: control characters escaped, cut at `max` characters (0 = all). */
static void print_value(const char *v, size_t max)
{
    size_t len = strlen(v), shown = max && len > max ? max : len;
    for (size_t k = 0; k < shown; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    if (shown < len)
        printf("... (%zu chars; --verbose shows all)", len);
}

static void print_text(const lh_safetensors_file *f, const char *path, int verbose)
{
    uint64_t data_size = lh_safetensors_file_size(f) - 8 - lh_safetensors_header_size(f);
    int32_t n = lh_safetensors_count(f);
    printf("checkpoint  %s\n", path);
    printf("file size   %" PRIu64 " bytes (header 8 + %" PRIu64 ", data %" PRIu64 ")\n",
           lh_safetensors_file_size(f), lh_safetensors_header_size(f), data_size);
    printf("tensors     %" PRId32 "\n", n);
    int w = 4;
    for (int32_t i = 0; i < n; i++) {
        int l = (int)strlen(lh_safetensors_name(f, i));
        if (l > w) w = l < 48 ? l : 48;
    }
    if (n)
        printf("  %-*s  %-5s  %-18s %12s  %s\n", w, "name", "dtype", "shape", "bytes", "values");
    for (int32_t i = 0; i < n; i++) {
        char shape[256];
        shape_text(f, i, shape, sizeof shape);
        printf("  %-*s  %-5s  %-18s %12" PRIu64, w, lh_safetensors_name(f, i),
               lh_safetensors_dtype(f, i), shape, lh_safetensors_nbytes(f, i));
        int64_t ne = lh_safetensors_elems(f, i);
        stats s = value_stats(f, i);
        if (printable(lh_safetensors_dtype(f, i)) && ne > 0 && ne <= VALUES_MAX) {
            for (int64_t k = 0; k < ne; k++) {
                char v[40];
                elem_text(lh_safetensors_dtype(f, i), lh_safetensors_data(f, i), k, v, sizeof v);
                printf("%s%s", k ? " " : "  = ", v);
            }
        } else if (s.ok) {
            printf("  min %.6g  max %.6g  mean %.6g", s.min, s.max, s.mean);
        }
        if (s.nonfinite)
            printf("  (%" PRId64 " non-finite)", s.nonfinite);
        putchar('\n');
    }
    printf("metadata    %" PRId32 " keys\n", lh_safetensors_meta_count(f));
    for (int32_t i = 0; i < lh_safetensors_meta_count(f); i++) {
        printf("  %s = ", lh_safetensors_meta_key(f, i));
        print_value(lh_safetensors_meta_value(f, i), verbose ? 0 : VALUE_MAX);
        putchar('\n');
    }
}

static cJSON *u64_json(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

static int print_json(const lh_safetensors_file *f, const char *path)
{
    cJSON *root = cJSON_CreateObject(), *tensors, *meta;
    if (!root)
        return -1;
    cJSON_AddStringToObject(root, "path", path);
    cJSON_AddItemToObject(root, "file_size", u64_json(lh_safetensors_file_size(f)));
    cJSON_AddItemToObject(root, "header_size", u64_json(lh_safetensors_header_size(f)));
    tensors = cJSON_AddArrayToObject(root, "tensors");
    for (int32_t i = 0; tensors && i < lh_safetensors_count(f); i++) {
        cJSON *t = cJSON_CreateObject(), *shape;
        if (!t || !cJSON_AddItemToArray(tensors, t))
            break;
        cJSON_AddStringToObject(t, "name", lh_safetensors_name(f, i));
        cJSON_AddStringToObject(t, "dtype", lh_safetensors_dtype(f, i));
        shape = cJSON_AddArrayToObject(t, "shape");
        for (int32_t d = 0; shape && d < lh_safetensors_ndim(f, i); d++)
            cJSON_AddItemToArray(shape, u64_json((uint64_t)lh_safetensors_shape(f, i)[d]));
        cJSON_AddItemToObject(t, "bytes", u64_json(lh_safetensors_nbytes(f, i)));
        cJSON_AddItemToObject(t, "offset", u64_json(lh_safetensors_offset(f, i)));
        int64_t ne = lh_safetensors_elems(f, i);
        if (printable(lh_safetensors_dtype(f, i)) && ne > 0 && ne <= VALUES_MAX) {
            cJSON *vals = cJSON_AddArrayToObject(t, "values");
            for (int64_t k = 0; vals && k < ne; k++) {
                char v[40];
                elem_text(lh_safetensors_dtype(f, i), lh_safetensors_data(f, i), k, v, sizeof v);
                /* "nan"/"inf" are not JSON numbers: keep them as strings. */
                cJSON_AddItemToArray(vals, strspn(v, "-0123456789.e+") == strlen(v)
                                               ? cJSON_CreateRaw(v)
                                               : cJSON_CreateString(v));
            }
        }
        stats s = value_stats(f, i);
        if (s.ok) {
            cJSON_AddNumberToObject(t, "min", s.min);
            cJSON_AddNumberToObject(t, "max", s.max);
            cJSON_AddNumberToObject(t, "mean", s.mean);
        }
        if (s.nonfinite)
            cJSON_AddNumberToObject(t, "nonfinite", (double)s.nonfinite);
    }
    meta = cJSON_AddObjectToObject(root, "metadata");
    for (int32_t i = 0; meta && i < lh_safetensors_meta_count(f); i++)
        cJSON_AddStringToObject(meta, lh_safetensors_meta_key(f, i),
                                lh_safetensors_meta_value(f, i));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -1;
    puts(text);
    free(text);
    return 0;
}

int lh_cmd_ckpt(int argc, char **argv)
{
    const char *path;
    int json, verbose, rc;
    lh_args a;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        lh_args_help(&inspect_spec, NULL, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "inspect") != 0) {
        fprintf(stderr, "lhost: ckpt: %s%s%s\nTry 'lhost ckpt --help'.\n",
                argc < 2 ? "expected a subcommand (inspect)" : "unknown subcommand '",
                argc < 2 ? "" : argv[1], argc < 2 ? "" : "' (expected inspect)");
        return 2;
    }
    if ((rc = lh_args_parse(&a, &inspect_spec, argc - 1, argv + 1)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    if (!(path = lh_args_operand(&a, 0)))
        return lh_args_error(&a, "expected a checkpoint PATH");
    json = lh_args_get(&a, "json") != NULL;
    verbose = lh_args_get(&a, "verbose") != NULL;
    lh_args_free(&a); /* path is argv's */
    lh_error err = {{0}};
    lh_safetensors_file *f;
    if (lh_safetensors_read(path, &f, &err)) {
        fprintf(stderr, "lhost: %s\n", err.msg);
        return 1;
    }
    rc = 0;
    if (json)
        rc = print_json(f, path);
    else
        print_text(f, path, verbose);
    lh_safetensors_close(f);
    if (rc || fflush(stdout) != 0) {
        fprintf(stderr, "lhost: ckpt inspect: cannot write the output\n");
        return 1;
    }
    return 0;
}
