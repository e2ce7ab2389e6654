/* tests/abi_1_0/compat.c — one library with a callback, a metric and a logger that use every
 * hook and service of ABI 1.0, built twice by tests/abi_1_0/tests.cmake: against the frozen 1.0
 * headers in tests/abi_1_0/include (compat_1_0/) and against today's SDK (compat_1_1/).
 * tests/unit/test_abi_compat.c runs both on this host and requires the same logged numbers,
 * and a resume through the callback's state_save / state_restore to continue exactly.
 *
 *   callback compat_cb: counts every hook into its state and logs the counts; reads values,
 *     the trainer state, hparams (lr set to itself), snapshots and restores weights, and saves
 *     a checkpoint at the end of each epoch (compat-e<epoch>.ckpt)
 *   metric compat_metric: top-1 hits (F64 SUM), samples (I64 SUM) and the largest score
 *     (F32 MAX): outputs accuracy and the max score
 *   logger compat_log: every row and the hparams into <run_dir>/compat_log.txt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

/* ---- callback ----------------------------------------------------------------------------- */

enum { H_FIT_START, H_EPOCH_START, H_BATCH_END, H_VAL_END, H_EPOCH_END, H_FIT_END, H_N };

typedef struct cb {
    const lhost_host *host;
    double scale;
    int64_t counts[H_N];
    double loss_sum; /* sum of batch losses seen (state) */
    char buf[256];   /* state_save's bytes */
    char path[64];   /* the checkpoint being saved (state_save runs during the save) */
} cb;

static int32_t cb_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    cb *c = host->alloc(sizeof *c);
    if (!c) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    memset(c, 0, sizeof *c);
    c->host = host;
    c->scale = lhost_param_float(p, "scale", 1.0);
    *self = c;
    return LHOST_OK;
}

static void cb_destroy(void *self)
{
    cb *c = self;
    c->host->free(c);
}

static int32_t count_values(void *user, const char *key, double value)
{
    (void)key;
    (void)value;
    ++*(int64_t *)user;
    return 0;
}

static int32_t counted(cb *c, lhost_ctx *ctx, int32_t h)
{
    lhost_trainer_state st;
    /* on_fit_start runs again in a resumed run: not counted, so the state equals a straight
     * run's. */
    c->counts[h] += h != H_FIT_START;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (c->host->trainer_state(ctx, &st) != LHOST_OK || st.stage != LHOST_STAGE_FIT ||
        st.world_size != 1) {
        c->host->set_error(ctx, "trainer_state failed");
        return LHOST_ERROR;
    }
    return LHOST_OK;
}

static int32_t cb_fit_start(void *self, lhost_ctx *ctx)
{
    cb *c = self;
    double lr;
    c->host->log(ctx, LHOST_LOG_DEBUG, "fit starts");
    if (c->host->get_hparam(ctx, "lr", &lr) != LHOST_OK ||
        c->host->set_hparam(ctx, "lr", lr) != LHOST_OK) {
        c->host->set_error(ctx, "lr hparam");
        return LHOST_ERROR;
    }
    return counted(c, ctx, H_FIT_START);
}

static int32_t cb_epoch_start(void *self, lhost_ctx *ctx)
{
    return counted(self, ctx, H_EPOCH_START);
}

static int32_t cb_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    cb *c = self;
    double loss = 0;
    if (c->host->get_value(ctx, "loss", &loss) != LHOST_OK || fabs(loss - b->loss) > 1e-6) {
        c->host->set_error(ctx, "get_value(loss) does not match the batch's loss");
        return LHOST_ERROR;
    }
    c->loss_sum += b->loss * c->scale;
    c->host->log_value(ctx, "compat_batches", (double)c->counts[H_BATCH_END] + 1,
                       LHOST_LOGF_ON_STEP);
    return counted(c, ctx, H_BATCH_END);
}

static int32_t cb_val_end(void *self, lhost_ctx *ctx)
{
    cb *c = self;
    double v;
    int32_t hib = -1;
    int64_t n = 0;
    if (c->host->get_value(ctx, "val_loss", &v) != LHOST_OK ||
        c->host->value_higher_is_better(ctx, "val_loss", &hib) != LHOST_OK || hib != 0 ||
        c->host->list_values(ctx, count_values, &n) != LHOST_OK || n < 2) {
        c->host->set_error(ctx, "validation values");
        return LHOST_ERROR;
    }
    /* A snapshot and its restore leave the weights as they were. */
    if (c->host->snapshot_weights(ctx, 1) != LHOST_OK ||
        c->host->restore_weights(ctx, 1) != LHOST_OK) {
        c->host->set_error(ctx, "snapshot/restore");
        return LHOST_ERROR;
    }
    return counted(c, ctx, H_VAL_END);
}

static int32_t cb_epoch_end(void *self, lhost_ctx *ctx)
{
    cb *c = self;
    lhost_trainer_state st;
    int32_t rc = counted(c, ctx, H_EPOCH_END);
    if (rc != LHOST_OK)
        return rc;
    c->host->log_value(ctx, "compat_loss_sum", c->loss_sum, LHOST_LOGF_ON_EPOCH);
    c->host->log_value(ctx, "compat_hooks",
                       (double)(c->counts[0] + c->counts[1] + c->counts[2] + c->counts[3] +
                                c->counts[4]),
                       LHOST_LOGF_ON_EPOCH);
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    c->host->trainer_state(ctx, &st);
    snprintf(c->path, sizeof c->path, "compat-e%lld.ckpt", (long long)st.epoch);
    if (c->host->save_checkpoint(ctx, c->path, 0) != LHOST_OK)
        return LHOST_ERROR; /* the host recorded why */
    return LHOST_OK;
}

static int32_t cb_fit_end(void *self, lhost_ctx *ctx) { return counted(self, ctx, H_FIT_END); }

static int32_t cb_exception(void *self, lhost_ctx *ctx, const char *message)
{
    cb *c = self;
    c->host->log(ctx, LHOST_LOG_ERROR, message);
    return LHOST_OK;
}

/* State: the counts and the loss sum, as text, so a version mix-up would show. */
static int32_t cb_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    cb *c = self;
    (void)ctx;
    snprintf(c->buf, sizeof c->buf, "%lld %lld %lld %lld %lld %lld %.17g",
             (long long)c->counts[0], (long long)c->counts[1], (long long)c->counts[2],
             (long long)c->counts[3], (long long)c->counts[4], (long long)c->counts[5],
             c->loss_sum);
    *data = c->buf;
    *size = strlen(c->buf);
    return LHOST_OK;
}

static int32_t cb_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                          uint64_t size)
{
    cb *c = self;
    char text[256];
    long long k[6];
    if (version != 3 || size >= sizeof text) {
        c->host->set_error(ctx, "state version");
        return LHOST_ERROR;
    }
    memcpy(text, data, size);
    text[size] = 0;
    if (sscanf(text, "%lld %lld %lld %lld %lld %lld %lg", &k[0], &k[1], &k[2], &k[3], &k[4],
               &k[5], &c->loss_sum) != 7) {
        c->host->set_error(ctx, "state text");
        return LHOST_ERROR;
    }
    for (int i = 0; i < H_N; i++)
        c->counts[i] = k[i];
    return LHOST_OK;
}

static const lhost_param cb_params[] = {
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "scale", "factor on the loss sum", "1.0", NULL, 0, 0,
     0},
};

static const lhost_callback_vtable cb_vt = {
    .struct_size = sizeof(lhost_callback_vtable), .state_version = 3, .create = cb_create,
    .destroy = cb_destroy, .on_fit_start = cb_fit_start, .on_train_epoch_start = cb_epoch_start,
    .on_train_batch_end = cb_batch_end, .on_validation_end = cb_val_end,
    .on_train_epoch_end = cb_epoch_end, .on_fit_end = cb_fit_end, .on_exception = cb_exception,
    .state_save = cb_save, .state_restore = cb_restore,
};

/* ---- metric ------------------------------------------------------------------------------- */

static const lhost_state_decl m_decls[] = {
    {sizeof(lhost_state_decl), "hits", LHOST_DTYPE_F64, LHOST_REDUCE_SUM, 1, 0.0},
    {sizeof(lhost_state_decl), "seen", LHOST_DTYPE_I64, LHOST_REDUCE_SUM, 1, 0.0},
    {sizeof(lhost_state_decl), "top", LHOST_DTYPE_F32, LHOST_REDUCE_MAX, 1, -INFINITY},
};

static int32_t m_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                        void **self)
{
    (void)host, (void)ctx, (void)p;
    *self = NULL;
    return LHOST_OK;
}

static void m_destroy(void *self) { (void)self; }

static int32_t m_layout(void *self, const lhost_state_decl **decls, uint32_t *n,
                        uint32_t *n_outputs)
{
    (void)self;
    *decls = m_decls;
    *n = 3;
    *n_outputs = 2;
    return LHOST_OK;
}

static int32_t m_update(void *self, lhost_ctx *ctx, const lhost_metric_state *st,
                        const lhost_metric_batch *b)
{
    double *hits = st->buffers[0];
    int64_t *seen = st->buffers[1];
    float *top = st->buffers[2];
    (void)self, (void)ctx;
    for (int64_t i = 0; i < b->n; i++) {
        const float *row = b->scores + i * b->num_classes;
        int32_t best = 0;
        for (int32_t k = 1; k < b->num_classes; k++)
            if (row[k] > row[best])
                best = k;
        *hits += best == b->targets[i];
        if (row[best] > *top)
            *top = row[best];
    }
    *seen += b->n;
    return LHOST_OK;
}

static int32_t m_compute(void *self, lhost_ctx *ctx, const lhost_metric_state *st, double *out)
{
    const int64_t seen = *(const int64_t *)st->buffers[1];
    (void)self, (void)ctx;
    out[0] = seen ? *(const double *)st->buffers[0] / (double)seen : 0.0;
    out[1] = *(const float *)st->buffers[2];
    return LHOST_OK;
}

static const lhost_metric_vtable m_vt = {sizeof(lhost_metric_vtable), 1, m_create, m_destroy,
                                         m_layout, m_update, m_compute};

/* ---- logger ------------------------------------------------------------------------------- */

typedef struct lg {
    const lhost_host *host;
    FILE *f;
} lg;

static int32_t l_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                        void **self)
{
    lg *l = calloc(1, sizeof *l);
    (void)ctx, (void)p;
    if (!l)
        return LHOST_ENOMEM;
    l->host = host;
    *self = l;
    return LHOST_OK;
}

static void l_destroy(void *self)
{
    lg *l = self;
    if (l->f)
        fclose(l->f);
    free(l);
}

static int32_t l_hparams(void *self, lhost_ctx *ctx, const char *run_dir, uint32_t count,
                         const char *const *keys, const char *const *values)
{
    lg *l = self;
    char path[4200];
    snprintf(path, sizeof path, "%s/compat_log.txt", run_dir);
    if (!(l->f = fopen(path, "a"))) {
        l->host->set_error(ctx, "cannot open compat_log.txt");
        return LHOST_ERROR;
    }
    for (uint32_t i = 0; i < count; i++)
        if (strcmp(keys[i], "data.path") != 0) /* differs between the two builds' folders */
            fprintf(l->f, "hparam %s=%s\n", keys[i], values[i]);
    return LHOST_OK;
}

static int32_t l_row(void *self, lhost_ctx *ctx, const lhost_log_row *row)
{
    lg *l = self;
    (void)ctx;
    fprintf(l->f, "row epoch=%lld step=%lld", (long long)row->epoch, (long long)row->step);
    for (uint32_t i = 0; i < row->count; i++)
        fprintf(l->f, " %s=%.9g", row->keys[i], row->values[i]);
    fputc('\n', l->f);
    return LHOST_OK;
}

static int32_t l_finalize(void *self, lhost_ctx *ctx, const char *status)
{
    lg *l = self;
    (void)ctx;
    fprintf(l->f, "finalize %s\n", status);
    fclose(l->f);
    l->f = NULL;
    return LHOST_OK;
}

static const lhost_logger_vtable l_vt = {sizeof(lhost_logger_vtable), l_create, l_destroy,
                                         l_hparams, l_row, l_finalize};

/* ---- library ------------------------------------------------------------------------------ */

static const lhost_plugin_desc cb_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.test.compat_cb", "compat_cb",
    "1.0.0", "every ABI 1.0 hook and service", cb_params, 1, LHOST_PRIORITY_DEFAULT, &cb_vt};
static const lhost_plugin_desc m_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_METRIC, "org.lhost.test.compat_metric",
    "compat_metric", "1.0.0", "sum, max and i64 states", NULL, 0, 0, &m_vt};
static const lhost_plugin_desc l_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_LOGGER, "org.lhost.test.compat_log", "compat_log",
    "1.0.0", "rows into compat_log.txt", NULL, 0, 0, &l_vt};
static const lhost_plugin_desc *const plugins[] = {&cb_desc, &m_desc, &l_desc};
static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 3,
                                      plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    (void)abi, (void)host;
    return &library;
}
