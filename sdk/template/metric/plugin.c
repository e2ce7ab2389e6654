/* @NAME@ — an lhost metric plugin (a torchmetrics Metric).
 *
 * As generated it is top-1 accuracy: two state buffers the host allocates, resets, reduces
 * across ranks (sum) and checkpoints; update() adds to them and compute() divides. Replace the
 * buffers, update and compute with your own metric. Change the id to one you own. */
/* POSIX.1-2008 (clock_gettime, strdup) under -std=c11, which alone hides them. */
#define _POSIX_C_SOURCE 200809L

#include <lhost/lhost.h>

#include <stdlib.h>

enum { CORRECT, TOTAL, N_STATES };

static const lhost_state_decl states[N_STATES] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "correct", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
    {.struct_size = sizeof(lhost_state_decl), .name = "total", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
};

/* The metric keeps no running values of its own: everything lives in the host's buffers. */
static int32_t m_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                        void **out)
{
    *out = NULL;
    return LHOST_OK;
}

static void m_destroy(void *self) {}

static int32_t m_state_layout(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                              uint32_t *n_outputs)
{
    *decls = states;
    *n_decls = N_STATES;
    *n_outputs = 1;
    return LHOST_OK;
}

/* scores: (n, num_classes) row-major; targets: (n). Logits and probabilities share the argmax. */
static int32_t m_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                        const lhost_metric_batch *b)
{
    int64_t *correct = (int64_t *)state->buffers[CORRECT];
    int64_t *total = (int64_t *)state->buffers[TOTAL];
    int64_t i;
    int32_t c;
    for (i = 0; i < b->n; i++) {
        const float *row = b->scores + i * b->num_classes;
        int32_t best = 0;
        for (c = 1; c < b->num_classes; c++)
            if (row[c] > row[best])
                best = c;
        *correct += best == b->targets[i];
    }
    *total += b->n;
    return LHOST_OK;
}

static int32_t m_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state, double *out)
{
    const int64_t *correct = (const int64_t *)state->buffers[CORRECT];
    const int64_t *total = (const int64_t *)state->buffers[TOTAL];
    out[0] = *total ? (double)*correct / (double)*total : 0.0;
    return LHOST_OK;
}

static const lhost_metric_vtable vtable = {
    sizeof(lhost_metric_vtable),
    1, /* higher_is_better */
    m_create,
    m_destroy,
    m_state_layout,
    m_update,
    m_compute,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc),
    LHOST_KIND_METRIC,
    "org.example.@NAME@", /* id: reverse-DNS, unique */
    "@NAME@",             /* name used in configs; also the log key */
    "0.1.0",
    "top-1 accuracy (template)",
    NULL,
    0,
    LHOST_PRIORITY_DEFAULT,
    &vtable,
};

static const lhost_plugin_desc *const plugins[] = {&desc};

static const lhost_library library = {
    sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1, plugins,
};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *host_abi,
                                                    const lhost_host *host)
{
    return &library;
}
