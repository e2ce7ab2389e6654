/* tests/plugins/metric_v10.c — a metric whose state declarations have ABI 1.0's layout: an
 * array of 40-byte lhost_state_decl (no max_rows), as a plugin built against the 1.0 headers
 * hands over. The host must walk it with the plugin's stride (struct_size), not its own.
 * Buffers: "sum" (2 x F64, sum: score sum, sample count), "best" (F64, max, init -inf) and
 * "seen" (I64, sum). compute() writes sum[0] / sum[1], best and seen. No `name` parameter, so
 * the metric logs under its config key. */
#include <math.h>

#include "fixture.h"

/* lhost_state_decl as ABI 1.0 defined it */
typedef struct decl_v10 {
    uint32_t struct_size;
    const char *name;
    int32_t dtype;
    int32_t reduction;
    uint64_t length;
    double init;
} decl_v10;

static const decl_v10 decls[3] = {
    {sizeof(decl_v10), "sum", LHOST_DTYPE_F64, LHOST_REDUCE_SUM, 2, 0.0},
    {sizeof(decl_v10), "best", LHOST_DTYPE_F64, LHOST_REDUCE_MAX, 1, -INFINITY},
    {sizeof(decl_v10), "seen", LHOST_DTYPE_I64, LHOST_REDUCE_SUM, 1, 0.0},
};

static int32_t m_create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    *s = NULL;
    return LHOST_OK;
}
static void m_destroy(void *s) {}
static int32_t m_layout(void *s, const lhost_state_decl **d, uint32_t *n, uint32_t *outs)
{
    *d = (const lhost_state_decl *)(const void *)decls;
    *n = 3;
    *outs = 3;
    return LHOST_OK;
}
/* Folds the first score column in: its sum, the count, the largest value. */
static int32_t m_update(void *s, lhost_ctx *c, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    double *sum = st->buffers[0], *best = st->buffers[1];
    int64_t *seen = st->buffers[2], i;
    for (i = 0; i < b->n; i++) {
        double v = b->scores[i * b->num_classes];
        sum[0] += v;
        sum[1] += 1.0;
        if (v > *best)
            *best = v;
    }
    *seen += b->n;
    return LHOST_OK;
}
static int32_t m_compute(void *s, lhost_ctx *c, const lhost_metric_state *st, double *out)
{
    const double *sum = st->buffers[0], *best = st->buffers[1];
    out[0] = sum[1] > 0 ? sum[0] / sum[1] : NAN;
    out[1] = *best;
    out[2] = (double)*(const int64_t *)st->buffers[2];
    return LHOST_OK;
}

static const lhost_metric_vtable m_vt = {sizeof(lhost_metric_vtable), 1, m_create, m_destroy,
                                         m_layout, m_update, m_compute};

static const lhost_plugin_desc metric = {sizeof(lhost_plugin_desc), LHOST_KIND_METRIC,
                                         "org.lhost.test.metric_v10", "metric_v10", "1.0.0",
                                         "a metric with ABI 1.0 state declarations", NULL, 0, 0,
                                         &m_vt};

FIX_LIBRARY(library, &metric);

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *v, const lhost_host *h)
{
    return &library;
}
