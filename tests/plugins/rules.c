/* tests/plugins/rules.c — fixture plugins that load fine but each break one rule of
 * `lhost plugins check` (host/cli/cmd_check.c), built once per FIX_* define
 * (tests/plugins/CMakeLists.txt); tests/check/tests.cmake expects each to fail its rule:
 *   FIX_NO_DESCRIPTION  descriptor: an empty description
 *   FIX_SILENT_ERROR    hooks: on_train_epoch_end returns LHOST_ERROR without set_error
 *   FIX_BAD_STATE       state: state_restore ignores the bytes, so a restored instance counts
 *                       from zero
 *   FIX_STALE_STATE     state: state_restore keeps the bytes to save them again but does not
 *                       use them, so the bytes round-trip while the restored instance counts
 *                       from zero (only its behaviour shows it)
 *   FIX_HIDDEN_STATE    order: a metric that keeps its count in its own struct, not in the
 *                       host's buffers, so two partial states do not reduce to the full one
 *   FIX_CAT_ORDER       order: a metric with a cat state whose compute reads the first row,
 *                       so it depends on the order ranks' rows are concatenated in
 *   FIX_LEAK            leaks: create allocates a block that destroy forgets
 *   FIX_NEEDS_MODEL     passes, but only against a host with a model: it fails silently (the
 *                       hooks rule) unless gradients answer in on_after_backward and are
 *                       refused in on_train_batch_start, and a non-empty batch's logits and
 *                       the model's first tensor can be read in on_train_batch_end
 *   FIX_ENTRY_TWICE     entry: the second call of the entry describes another plugin */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

typedef struct self_t {
    int64_t calls; /* on_train_batch_end calls, the state */
    void *block;
    const lhost_host *host;
    int64_t stale; /* FIX_STALE_STATE: the restored bytes, saved again until the next batch */
    int32_t has_stale;
} self_t;

#ifdef FIX_LEAK
static void *volatile leak_sink;
#endif

static int32_t create(const lhost_host *h, lhost_ctx *c, const lhost_param_values *p, void **s)
{
    self_t *me = calloc(1, sizeof *me);
    (void)h, (void)c, (void)p;
    if (!me)
        return LHOST_ERROR;
    me->host = h;
#ifdef FIX_LEAK
    /* the previous instance's block is lost when the next create overwrites the pointer */
    leak_sink = malloc(64 * 1024);
    if (leak_sink)
        memset(leak_sink, 1, 64 * 1024);
#endif
    *s = me;
    return LHOST_OK;
}

static void destroy(void *s)
{
    self_t *me = s;
    free(me->block);
    free(me);
}

static int32_t batch_end(void *s, lhost_ctx *c, const lhost_batch_info *b)
{
    (void)c, (void)b;
    ((self_t *)s)->calls++;
    ((self_t *)s)->has_stale = 0;
    return LHOST_OK;
}

static int32_t epoch_end(void *s, lhost_ctx *c)
{
    (void)c;
#ifdef FIX_SILENT_ERROR
    (void)s;
    return LHOST_ERROR;
#else
    /* ask to stop on a count only the state knows, so a lost state shows in behaviour */
    return ((self_t *)s)->calls % 7 == 3 ? LHOST_STOP : LHOST_OK;
#endif
}

static int32_t save(void *s, lhost_ctx *c, const void **data, uint64_t *size)
{
    self_t *me = s;
    (void)c;
    *data = me->has_stale ? &me->stale : &me->calls;
    *size = sizeof(int64_t);
    return LHOST_OK;
}

static int32_t restore(void *s, lhost_ctx *c, uint32_t version, const void *data, uint64_t size)
{
    (void)c, (void)version;
    if (size != sizeof(int64_t))
        return LHOST_ERROR;
#ifdef FIX_BAD_STATE
    (void)s, (void)data;
#elif defined(FIX_STALE_STATE)
    memcpy(&((self_t *)s)->stale, data, sizeof(int64_t));
    ((self_t *)s)->has_stale = 1;
#else
    memcpy(&((self_t *)s)->calls, data, sizeof(int64_t));
#endif
    return LHOST_OK;
}

static const lhost_callback_vtable cb_vt __attribute__((unused)) = {
    .struct_size = sizeof(lhost_callback_vtable), .state_version = 1, .create = create,
    .destroy = destroy, .on_train_batch_end = batch_end, .on_train_epoch_end = epoch_end,
    .state_save = save, .state_restore = restore};

#ifdef FIX_NO_DESCRIPTION
#define DESCRIPTION ""
#else
#define DESCRIPTION "a fixture for one rule of lhost plugins check"
#endif

#ifdef FIX_NEEDS_MODEL
static int32_t nm_batch_start(void *s, lhost_ctx *c, const lhost_batch_info *b)
{
    double total;
    (void)b;
    /* outside the gradients' window: refused */
    return ((self_t *)s)->host->grad_norm(c, 2.0, NULL, &total) == LHOST_EUNSUPPORTED
               ? LHOST_OK
               : LHOST_ERROR;
}

static int32_t nm_after_backward(void *s, lhost_ctx *c)
{
    double total;
    return ((self_t *)s)->host->grad_norm(c, 2.0, NULL, &total) == LHOST_OK ? LHOST_OK
                                                                             : LHOST_ERROR;
}

static int32_t nm_batch_end(void *s, lhost_ctx *c, const lhost_batch_info *b)
{
    const lhost_host *h = ((self_t *)s)->host;
    float logits[64 * 16], first[4096];
    lhost_tensor_info ti = {.struct_size = sizeof ti};
    int32_t n;
    uint64_t need = (uint64_t)b->batch_size * (uint64_t)b->num_classes;
    if (h->tensor_count(c, &n) != LHOST_OK || n < 1 || h->tensor_info(c, 0, &ti) != LHOST_OK ||
        ti.numel > 4096 ||
        h->tensor_read(c, 0, LHOST_TENSOR_PARAM, first, (uint64_t)ti.numel) != LHOST_OK)
        return LHOST_ERROR;
    if (need == 0 || need > 64 * 16)
        return need == 0 ? LHOST_OK : LHOST_ERROR;
    return h->batch_logits(c, logits, need) == LHOST_OK ? LHOST_OK : LHOST_ERROR;
}

static const lhost_callback_vtable nm_vt = {
    .struct_size = sizeof(lhost_callback_vtable), .create = create, .destroy = destroy,
    .on_train_batch_start = nm_batch_start, .on_after_backward = nm_after_backward,
    .on_train_batch_end = nm_batch_end};
#endif

#if !defined(FIX_HIDDEN_STATE) && !defined(FIX_CAT_ORDER)
static const lhost_plugin_desc cb = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                     "org.lhost.test.rules", "rules", "1.0.0", DESCRIPTION,
                                     NULL, 0, 0,
#ifdef FIX_NEEDS_MODEL
                                     &nm_vt};
#else
                                     &cb_vt};
#endif
#endif

#ifdef FIX_HIDDEN_STATE
/* FIX_HIDDEN_STATE: samples counted in the instance; compute reads the instance, not state. */
static const lhost_state_decl decls[] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "total", .dtype = LHOST_DTYPE_I64,
     .reduction = LHOST_REDUCE_SUM, .length = 1},
};

static int32_t m_layout(void *s, const lhost_state_decl **d, uint32_t *n, uint32_t *outs)
{
    (void)s;
    *d = decls, *n = 1, *outs = 1;
    return LHOST_OK;
}

static int32_t m_update(void *s, lhost_ctx *c, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    (void)c;
    ((int64_t *)st->buffers[0])[0] += b->n;
    ((self_t *)s)->calls = b->n; /* the last batch's size: hidden, and wrong to keep */
    return LHOST_OK;
}

static int32_t m_compute(void *s, lhost_ctx *c, const lhost_metric_state *st, double *out)
{
    (void)c;
    out[0] = (double)((self_t *)s)->calls / (double)(((int64_t *)st->buffers[0])[0] + 1);
    return LHOST_OK;
}

static const lhost_metric_vtable m_vt = {sizeof(lhost_metric_vtable), 1, create, destroy,
                                         m_layout, m_update, m_compute};

static const lhost_plugin_desc metric = {sizeof(lhost_plugin_desc), LHOST_KIND_METRIC,
                                         "org.lhost.test.hidden_state", "hidden_state", "1.0.0",
                                         "a metric keeping state outside its buffers", NULL, 0,
                                         0, &m_vt};
#endif

#ifdef FIX_CAT_ORDER
/* FIX_CAT_ORDER: every sample's first score appended to a cat state; compute returns the first
 * row's, which is the first batch's only while the rows keep the order of the updates. */
static const lhost_state_decl cat_decls[] = {
    {.struct_size = sizeof(lhost_state_decl), .name = "scores", .dtype = LHOST_DTYPE_F32,
     .reduction = LHOST_REDUCE_CAT, .length = 1, .max_rows = 1 << 20},
};

static int32_t c_layout(void *s, const lhost_state_decl **d, uint32_t *n, uint32_t *outs)
{
    (void)s;
    *d = cat_decls, *n = 1, *outs = 1;
    return LHOST_OK;
}

static int32_t c_update(void *s, lhost_ctx *c, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    (void)s, (void)c;
    for (int64_t i = 0; i < b->n; i++)
        if (st->append(st, 0, &b->scores[i * b->num_classes], 1) != LHOST_OK)
            return LHOST_ERROR;
    return LHOST_OK;
}

static int32_t c_compute(void *s, lhost_ctx *c, const lhost_metric_state *st, double *out)
{
    (void)s, (void)c;
    out[0] = st->rows[0] ? (double)((const float *)st->buffers[0])[0] : 0;
    return LHOST_OK;
}

static const lhost_metric_vtable c_vt = {sizeof(lhost_metric_vtable), 1, create, destroy,
                                         c_layout, c_update, c_compute};

static const lhost_plugin_desc metric = {sizeof(lhost_plugin_desc), LHOST_KIND_METRIC,
                                         "org.lhost.test.cat_order", "cat_order", "1.0.0",
                                         "a metric whose value depends on its rows' order", NULL,
                                         0, 0, &c_vt};
#endif

#ifdef FIX_ENTRY_TWICE
static const lhost_plugin_desc other = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                        "org.lhost.test.other", "other", "1.0.0",
                                        "what the second entry call describes", NULL, 0, 0,
                                        &cb_vt};
FIX_LIBRARY(second, &other);
#endif

#if defined(FIX_HIDDEN_STATE) || defined(FIX_CAT_ORDER)
FIX_LIBRARY(library, &metric);
#else
FIX_LIBRARY(library, &cb);
#endif

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    static int calls;
    (void)abi, (void)host;
#ifdef FIX_ENTRY_TWICE
    return calls++ ? &second : &library;
#else
    calls++;
    return &library;
#endif
}
