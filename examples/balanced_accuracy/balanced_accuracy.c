/* examples/balanced_accuracy — a custom metric plugin: balanced accuracy (the mean over classes
 * of per-class recall, scikit-learn's balanced_accuracy_score). Its state is two host-allocated
 * I64 sum buffers per class (correct, support), so the host resets, syncs and checkpoints it;
 * the plugin itself keeps only its parameters.
 * Build: see CMakeLists.txt (find_package) or Makefile (pkg-config). */
#include <lhost/lhost.h>

#include <math.h>
#include <stdlib.h>

typedef struct bacc {
    int32_t num_classes;
    lhost_state_decl decls[2];
} bacc;

static int32_t ba_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    bacc *b = (bacc *)calloc(1, sizeof *b);
    if (!b) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    b->num_classes = (int32_t)lhost_param_int(pv, "num_classes", 10);
    b->decls[0].struct_size = b->decls[1].struct_size = sizeof(lhost_state_decl);
    b->decls[0].name = "correct";
    b->decls[1].name = "support";
    b->decls[0].dtype = b->decls[1].dtype = LHOST_DTYPE_I64;
    b->decls[0].reduction = b->decls[1].reduction = LHOST_REDUCE_SUM;
    b->decls[0].length = b->decls[1].length = (uint64_t)b->num_classes;
    *self = b;
    return LHOST_OK;
}

static void ba_destroy(void *self) { free(self); }

static int32_t ba_layout(void *self, const lhost_state_decl **decls, uint32_t *n_decls,
                         uint32_t *n_outputs)
{
    *decls = ((bacc *)self)->decls;
    *n_decls = 2;
    *n_outputs = 1;
    return LHOST_OK;
}

static int32_t ba_update(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                         const lhost_metric_batch *batch)
{
    bacc *b = (bacc *)self;
    int64_t *correct = (int64_t *)state->buffers[0], *support = (int64_t *)state->buffers[1];
    int64_t i;
    int32_t c, C = batch->num_classes < b->num_classes ? batch->num_classes : b->num_classes;
    for (i = 0; i < batch->n; i++) {
        const float *row = batch->scores + i * batch->num_classes;
        int32_t t = batch->targets[i], best = 0;
        if (t < 0 || t >= b->num_classes)
            continue;
        for (c = 1; c < C; c++)
            if (row[c] > row[best])
                best = c;
        support[t]++;
        correct[t] += best == t;
    }
    return LHOST_OK;
}

static int32_t ba_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *state,
                          double *out)
{
    bacc *b = (bacc *)self;
    const int64_t *correct = (const int64_t *)state->buffers[0],
                  *support = (const int64_t *)state->buffers[1];
    double sum = 0;
    int32_t c, present = 0;
    for (c = 0; c < b->num_classes; c++)
        if (support[c]) {
            sum += (double)correct[c] / (double)support[c];
            present++;
        }
    out[0] = present ? sum / present : NAN;
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "num_classes", "number of classes", "10", NULL, 2,
     65536, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_STRING, "name", "log key (val_ is added in validation)",
     "balanced_accuracy", NULL, 0, 0, 0},
};

static const lhost_metric_vtable vtable = {
    sizeof(lhost_metric_vtable), 1, ba_create, ba_destroy, ba_layout, ba_update, ba_compute,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_METRIC, "org.lhost.examples.balanced_accuracy",
    "balanced_accuracy", "1.0.0", "mean per-class recall (scikit-learn's balanced accuracy)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
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
