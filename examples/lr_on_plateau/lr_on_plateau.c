/* examples/lr_on_plateau — a learning-rate scheduler as a callback plugin (PyTorch's
 * ReduceLROnPlateau): after each validation it reads `monitor`; when it has not improved for
 * `patience` validations, it multiplies the optimizer's lr by `factor` (not below `min_lr`)
 * through the host's set_hparam service, and logs the lr as "lr" each epoch.
 * Build: see CMakeLists.txt (find_package) or Makefile (pkg-config). */
#include <lhost/lhost.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plateau {
    const lhost_host *host;
    const char *monitor;
    int32_t maximize;
    double factor, min_lr;
    int64_t patience;
    /* state (checkpointed) */
    struct {
        double best;
        int64_t wait;
        int64_t reductions;
    } st;
} plateau;

static int32_t fail(const lhost_host *host, lhost_ctx *ctx, const char *msg)
{
    host->set_error(ctx, msg);
    return LHOST_ERROR;
}

static int32_t pl_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    plateau *p;
    if (!LHOST_HOST_HAS(host, set_hparam))
        return fail(host, ctx, "this host has no set_hparam service (needs ABI 1.0 with hparams)");
    p = (plateau *)calloc(1, sizeof *p);
    if (!p)
        return fail(host, ctx, "out of memory");
    p->host = host;
    p->monitor = lhost_param_string(pv, "monitor", "val_loss");
    p->maximize = strcmp(lhost_param_string(pv, "mode", "min"), "max") == 0;
    p->factor = lhost_param_float(pv, "factor", 0.1);
    p->patience = lhost_param_int(pv, "patience", 10);
    p->min_lr = lhost_param_float(pv, "min_lr", 0.0);
    p->st.best = p->maximize ? -INFINITY : INFINITY;
    *self = p;
    return LHOST_OK;
}

static void pl_destroy(void *self) { free(self); }

static int32_t pl_validation_end(void *self, lhost_ctx *ctx)
{
    plateau *p = (plateau *)self;
    double v, lr;
    char msg[256];
    if (p->host->get_value(ctx, p->monitor, &v) != LHOST_OK) {
        snprintf(msg, sizeof msg, "monitor '%s' was not logged", p->monitor);
        return fail(p->host, ctx, msg);
    }
    if (p->maximize ? v > p->st.best : v < p->st.best) {
        p->st.best = v;
        p->st.wait = 0;
        return LHOST_OK;
    }
    if (++p->st.wait <= p->patience)
        return LHOST_OK;
    p->st.wait = 0;
    if (p->host->get_hparam(ctx, "lr", &lr) != LHOST_OK)
        return fail(p->host, ctx, "cannot read lr");
    if (lr * p->factor >= p->min_lr) {
        lr *= p->factor;
        if (p->host->set_hparam(ctx, "lr", lr) != LHOST_OK)
            return fail(p->host, ctx, "cannot set lr");
        p->st.reductions++;
        snprintf(msg, sizeof msg, "%s did not improve: lr reduced to %g", p->monitor, lr);
        p->host->log(ctx, LHOST_LOG_INFO, msg);
    }
    return LHOST_OK;
}

static int32_t pl_epoch_end(void *self, lhost_ctx *ctx)
{
    plateau *p = (plateau *)self;
    double lr;
    if (p->host->get_hparam(ctx, "lr", &lr) != LHOST_OK)
        return fail(p->host, ctx, "cannot read lr");
    return p->host->log_value(ctx, "lr", lr, LHOST_LOGF_ON_EPOCH);
}

static int32_t pl_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    plateau *p = (plateau *)self;
    *data = &p->st;
    *size = sizeof p->st;
    return LHOST_OK;
}

static int32_t pl_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                          uint64_t size)
{
    plateau *p = (plateau *)self;
    if (version != 1 || size != sizeof p->st)
        return fail(p->host, ctx, "state: expected version 1");
    memcpy(&p->st, data, sizeof p->st);
    return LHOST_OK;
}

static const char *const modes[] = {"min", "max", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "logged value to watch", "val_loss",
     NULL, 0, 0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode", "min: lower is better; max: higher is better",
     "min", modes, 0, 0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "factor", "multiply lr by this on a plateau", "0.1",
     NULL, 0, 1, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience",
     "validations without improvement before lowering lr", "10", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "min_lr", "never go below this lr", "0", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = 1,
    .create = pl_create,
    .destroy = pl_destroy,
    .on_validation_end = pl_validation_end,
    .on_train_epoch_end = pl_epoch_end,
    .state_save = pl_save,
    .state_restore = pl_restore,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.examples.lr_on_plateau",
    "lr_on_plateau", "1.0.0", "lower the learning rate when a monitored value plateaus",
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
