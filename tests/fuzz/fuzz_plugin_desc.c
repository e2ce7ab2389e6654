/* tests/fuzz/fuzz_plugin_desc.c — fuzz target for the plugin loader's descriptor checks
 * (host/plugin/loader.c, lh_loader_add_library): the library an entry returns, built from the
 * fuzzed text (fuzz_desc.h) as a fake entry would lay it out, goes through the ABI check and the
 * copy and check of every descriptor, parameter table and vtable. Every outcome must be a row:
 * OK rows with a usable host-sized descriptor (defaults parse, names valid), BROKEN rows with a
 * one-line reason. Run: see tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_desc.h"
#include "params.h"
#include "registry_int.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_plugin_desc: %s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond);                                                   \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void check_ok_row(const lh_plugin_row *r)
{
    const lhost_plugin_desc *d = r->desc;
    lhost_param_values pv;
    lh_error err;
    uint32_t k;
    CHECK(d && d->struct_size == sizeof *d && d->vtable);
    CHECK(d->id && *d->id && lh_params_name_ok(d->name) && d->version);
    CHECK(r->id && strcmp(r->id, d->id) == 0);
    CHECK(d->kind >= LHOST_KIND_CALLBACK && d->kind <= LHOST_KIND_LOGGER);
    CHECK(d->n_params == 0 || d->params);
    /* Every function pointer of the copy is the fake one or NULL (not given), never half of
     * one copied from a struct_size that ends inside it. */
    {
        const uint64_t *word = (const uint64_t *)d->vtable;
        size_t host = d->kind == LHOST_KIND_CALLBACK ? sizeof(lhost_callback_vtable)
                      : d->kind == LHOST_KIND_METRIC ? sizeof(lhost_metric_vtable)
                                                     : sizeof(lhost_logger_vtable);
        for (k = 1; k < host / 8; k++)
            CHECK(word[k] == 0 || word[k] == FD_FAKE_FN);
    }
    for (k = 0; k < d->n_params; k++)
        CHECK(d->params[k].struct_size == sizeof d->params[k] &&
              lh_params_name_ok(d->params[k].name));
    /* An accepted schema's defaults parse. */
    err.msg[0] = '\0';
    if (lh_params_parse(d, NULL, 0, &pv, &err) == 0) {
        for (k = 0; k < pv.count; k++) {
            char buf[128];
            lh_params_format_value(&pv.values[k], buf, sizeof buf);
        }
        lh_params_values_free(&pv);
    } else {
        /* only a required parameter without a value may fail here */
        CHECK(strstr(err.msg, "required but not given"));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fd_world w;
    lh_registry *reg;
    int32_t i;
    int rc;
    memset(&w, 0, sizeof w);
    if (!fd_parse(&w, data, size)) {
        fd_free(&w);
        return 0;
    }
    reg = calloc(1, sizeof *reg);
    if (!reg)
        abort();
    reg->host_abi = (lhost_version)LHOST_ABI_VERSION_INIT;
    rc = lh_loader_add_library(reg, w.built, "fuzz.so", "fuzzdir");
    CHECK(rc >= 0 && rc <= (int)w.n_plugins);
    CHECK(reg->n >= 1);
    for (i = 0; i < reg->n; i++) {
        const lh_plugin_row *r = &reg->rows[i];
        if (r->status == LH_PLUGIN_OK) {
            check_ok_row(r);
        } else {
            CHECK(r->status == LH_PLUGIN_BROKEN && r->reason && *r->reason);
            CHECK(!strchr(r->reason, '\n'));
            CHECK(!r->desc);
        }
    }
    lh_registry_clear(reg);
    free(reg);
    fd_free(&w);
    return 0;
}
