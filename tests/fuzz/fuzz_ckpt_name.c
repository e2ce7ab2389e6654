/* tests/fuzz/fuzz_ckpt_name.c — fuzz target for checkpoint filename templates
 * (plugins/model_checkpoint/ckpt_name.c, "epoch={epoch}-{val_acc:.5f}"). The input is one byte
 * of options (auto_insert, output capacity, which values the keys have), then the template.
 * mc_name_format either fails with a one-line reason or writes, within the capacity, a single
 * path component; a spec whose width or precision is past the documented limits (64, 30) is
 * never accepted. Run: tests/fuzz/README.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_name.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_ckpt_name: %s:%d: invariant failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                                          \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static const double values[] = {0.91234567, -1.5e300, NAN, INFINITY, -INFINITY, 1e-320, 0.0, 42};

static int lookup(void *user, const char *key, int *is_int, int64_t *i, double *d)
{
    unsigned opt = *(const unsigned *)user;
    if (strcmp(key, "epoch") == 0 || strcmp(key, "step") == 0) {
        *is_int = 1;
        *i = opt & 1 ? INT64_MIN : (int64_t)opt * 1000003;
        return 0;
    }
    if (strncmp(key, "val", 3) == 0 || strncmp(key, "train", 5) == 0) {
        *is_int = 0;
        *d = values[(opt >> 1) % (sizeof values / sizeof values[0])];
        return 0;
    }
    return -1;
}

/* Is any number in a field's spec past the limits mc_name_format documents? */
static int spec_too_big(const char *tmpl)
{
    const char *s = tmpl;
    while ((s = strchr(s, '{'))) {
        const char *close = strchr(s, '}'), *colon = strchr(s, ':');
        if (!close)
            return 0;
        if (colon && colon < close) {
            const char *p = colon + 1;
            if (*p == '0')
                p++;
            if (*p >= '0' && *p <= '9' && strtoull(p, NULL, 10) > 64)
                return 1;
            while (*p >= '0' && *p <= '9')
                p++;
            if (*p == '.' && strtoull(p + 1, NULL, 10) > 30)
                return 1;
        }
        s = close;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[512 + 16], err[300], *tmpl;
    unsigned opt;
    size_t cap, k;
    if (size < 1)
        return 0;
    opt = data[0];
    cap = opt & 0x80 ? 512 : 1 + (opt & 0x7f) * 2;
    tmpl = malloc(size);
    if (!tmpl)
        return 0;
    memcpy(tmpl, data + 1, size - 1);
    tmpl[size - 1] = '\0';
    memset(out, 0x5a, sizeof out);
    err[0] = '\0';
    if (mc_name_format(tmpl, opt & 0x40, lookup, &opt, out, cap, err, sizeof err) == 0) {
        CHECK(memchr(out, 0, cap));
        CHECK(out[0] && strcmp(out, ".") && strcmp(out, ".."));
        CHECK(!strchr(out, '/') && !strchr(out, '\\'));
        CHECK(!spec_too_big(tmpl));
    } else {
        CHECK(err[0] && memchr(err, 0, sizeof err));
    }
    for (k = cap; k < sizeof out; k++)
        CHECK(out[k] == 0x5a);
    free(tmpl);
    return 0;
}
