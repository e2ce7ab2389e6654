/* tests/fuzz/fuzz_params.c — fuzz target for plugin parameter parsing (host/plugin/params.c):
 * a schema (the first "plugin" of the fuzzed text, fuzz_desc.h, host-sized) is checked with
 * lh_params_check_schema; an accepted one parses the "kv" lines with lh_params_parse. A parse
 * either fails with one line naming the plugin or gives values that format, and whose formatted
 * text parses back to the same value. Run: see tests/fuzz/README.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_desc.h"
#include "params.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_params: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static void check_message(const lh_error *err, const char *name)
{
    CHECK(memchr(err->msg, 0, sizeof err->msg));
    CHECK(strstr(err->msg, "plugin "));
    (void)name;
}

/* The canonical text of a value parses back to the same value. */
static void check_roundtrip(const lhost_plugin_desc *d, uint32_t k, const lhost_value *v)
{
    lhost_param_values again;
    lh_kv kv;
    lh_error err;
    char buf[256];
    lh_params_format_value(v, buf, sizeof buf);
    CHECK(memchr(buf, 0, sizeof buf));
    if (!v->is_set || v->type == LHOST_PARAM_STRING || strlen(buf) + 1 >= sizeof buf)
        return;
    kv.key = d->params[k].name;
    kv.value = buf;
    kv.where = NULL;
    if (lh_params_parse(d, &kv, 1, &again, &err) != 0)
        return; /* another parameter may be required: not this one's business */
    CHECK(again.values[k].is_set);
    if (v->type == LHOST_PARAM_FLOAT)
        CHECK(again.values[k].f == v->f || (isnan(again.values[k].f) && isnan(v->f)));
    else
        CHECK(again.values[k].i == v->i);
    lh_params_values_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fd_world w;
    lhost_plugin_desc d;
    lhost_param params[FD_MAX_PARAMS];
    lhost_param_values pv;
    lh_kv kvs[FD_MAX_KVS];
    lh_error err;
    uint32_t k;
    int32_t j;
    memset(&w, 0, sizeof w);
    fd_parse(&w, data, size);
    if (w.n_plugins == 0 || w.plugins[0].is_null) {
        fd_free(&w);
        return 0;
    }
    d = w.plugins[0].d;
    d.struct_size = sizeof d;
    if (!lh_params_name_ok(d.name))
        d.name = "fuzz";
    for (k = 0; k < w.plugins[0].n_params; k++) {
        params[k] = w.plugins[0].params[k].p;
        params[k].struct_size = sizeof params[k];
        params[k].choices = (const char *const *)w.plugins[0].params[k].choices;
    }
    d.params = params;
    d.n_params = w.plugins[0].n_params;
    err.msg[0] = '\0';
    if (lh_params_check_schema(&d, &err) != 0) {
        check_message(&err, d.name);
        fd_free(&w);
        return 0;
    }
    for (j = 0; j < w.n_kvs; j++) {
        kvs[j].key = w.kv_key[j];
        kvs[j].value = w.kv_value[j];
        kvs[j].where = j & 1 ? "fuzz.yaml:1" : NULL;
    }
    if (lh_params_parse(&d, kvs, w.n_kvs, &pv, &err) != 0) {
        check_message(&err, d.name);
        CHECK(pv.values == NULL && pv.count == 0);
    } else {
        CHECK(pv.count == d.n_params);
        for (k = 0; k < pv.count; k++) {
            const lhost_value *v = &pv.values[k];
            CHECK(v->type == params[k].type && strcmp(v->name, params[k].name) == 0);
            if (v->is_set)
                CHECK(v->s);
            if (v->is_set && v->type == LHOST_PARAM_ENUM)
                CHECK(v->i >= 0 && strcmp(params[k].choices[v->i], v->s) == 0);
            if (v->is_set && v->type == LHOST_PARAM_BOOL)
                CHECK(v->i == 0 || v->i == 1);
            check_roundtrip(&d, k, v);
        }
        lh_params_values_free(&pv);
    }
    fd_free(&w);
    return 0;
}
