/* tests/plugins/two.c — two plugins in one library: a callback and a metric (with a state
 * layout, for `lhost plugins --verbose`). */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

static int32_t cb_create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void cb_destroy(void *s) {}
static int32_t cb_hook(void *s, lhost_ctx *c) { return LHOST_OK; }

static const lhost_callback_vtable cb_vt = {
    .struct_size = sizeof(lhost_callback_vtable), .create = cb_create, .destroy = cb_destroy,
    .on_train_epoch_end = cb_hook};

static const lhost_plugin_desc cb = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                     "org.lhost.test.two_cb", "two_cb", "1.0.0",
                                     "first plugin of two", NULL, 0, 0, &cb_vt};

static const lhost_state_decl decls[] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "correct", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
    {.struct_size = sizeof(lhost_state_decl), .name = "total", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
};

static int32_t m_create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void m_destroy(void *s) {}
static int32_t m_layout(void *s, const lhost_state_decl **d, uint32_t *n, uint32_t *outs)
{
    *d = decls;
    *n = 2;
    *outs = 1;
    return LHOST_OK;
}
static int32_t m_update(void *s, lhost_ctx *c, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    return LHOST_OK;
}
static int32_t m_compute(void *s, lhost_ctx *c, const lhost_metric_state *st, double *out)
{
    out[0] = 0;
    return LHOST_OK;
}

static const lhost_metric_vtable m_vt = {sizeof(lhost_metric_vtable), 1, m_create, m_destroy,
                                         m_layout, m_update, m_compute};

static const lhost_plugin_desc metric = {sizeof(lhost_plugin_desc), LHOST_KIND_METRIC,
                                         "org.lhost.test.two_metric", "two_metric", "1.0.0",
                                         "second plugin of two", NULL, 0, 0, &m_vt};

FIX_LIBRARY(library, &cb, &metric);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    return &library;
}
