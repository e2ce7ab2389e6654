/* plugins/lr_monitor/lr_monitor.c — Lightning's LearningRateMonitor: logs the optimizer's
 * learning rate as "lr-<Optimizer>" ("lr-Adam", "lr-SGD"), and with log_momentum its momentum as
 * "lr-<Optimizer>-momentum" (betas[0] for Adam / AdamW, momentum for SGD), read through
 * host->optimizer_name and host->get_hparam.
 *
 * logging_interval: "step" logs in on_train_batch_start on the steps Lightning's logger
 * connector writes (every trainer.log_every_n_steps), "epoch" in on_train_epoch_start, unset
 * (Lightning's None) both: an optimizer without a scheduler is logged at either, as Lightning
 * does. Config: callbacks: {lr_monitor: {logging_interval: step, log_momentum: true}} */
#include <stdio.h>
#include <string.h>

#include <lhost/lhost.h>

#define IV_STEP 0
#define IV_EPOCH 1
#define IV_NONE 2

typedef struct lrmon {
    const lhost_host *host;
    int32_t interval;
    int32_t log_momentum;
    char key[96], mkey[112];
} lrmon;

static int32_t lm_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    lrmon *m;
    if (!LHOST_HOST_HAS(host, optimizer_name)) {
        host->set_error(ctx, "this host cannot name its optimizer (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(m = host->alloc(sizeof *m)))
        return LHOST_ENOMEM;
    memset(m, 0, sizeof *m);
    m->host = host;
    m->interval = lhost_param_is_set(p, "logging_interval")
                      ? (int32_t)lhost_param_int(p, "logging_interval", 0)
                      : IV_NONE;
    m->log_momentum = (int32_t)lhost_param_int(p, "log_momentum", 0);
    *self = m;
    return LHOST_OK;
}

static void lm_destroy(void *self)
{
    lrmon *m = self;
    m->host->free(m);
}

static int32_t lm_fit_start(void *self, lhost_ctx *ctx)
{
    lrmon *m = self;
    char name[64];
    int32_t rc = m->host->optimizer_name(ctx, name, sizeof name);
    if (rc != LHOST_OK) {
        m->host->set_error(ctx, "the trainer has no optimizer to monitor");
        return LHOST_ERROR;
    }
    snprintf(m->key, sizeof m->key, "lr-%s", name);
    snprintf(m->mkey, sizeof m->mkey, "lr-%s-momentum", name);
    return LHOST_OK;
}

static int32_t log_stats(lrmon *m, lhost_ctx *ctx)
{
    double lr, mom;
    int32_t rc;
    if ((rc = m->host->get_hparam(ctx, "lr", &lr)) != LHOST_OK)
        return rc;
    m->host->log_value(ctx, m->key, lr, LHOST_LOGF_ON_STEP);
    /* an optimizer without momentum logs 0, as Lightning does */
    if (m->log_momentum)
        m->host->log_value(ctx, m->mkey,
                           m->host->get_hparam(ctx, "momentum", &mom) == LHOST_OK ? mom : 0.0,
                           LHOST_LOGF_ON_STEP);
    return LHOST_OK;
}

static int32_t lm_train_batch_start(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)
{
    lrmon *m = self;
    lhost_trainer_state st;
    double every = 1;
    (void)batch;
    if (m->interval == IV_EPOCH)
        return LHOST_OK;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    m->host->trainer_state(ctx, &st);
    m->host->get_hparam(ctx, "log_every_n_steps", &every);
    /* Lightning's should_update_logs: (steps taken + 1) % log_every_n_steps == 0 */
    if (every >= 1 && (st.global_step + 1) % (int64_t)every != 0 && !st.stop_requested)
        return LHOST_OK;
    return log_stats(m, ctx);
}

static int32_t lm_train_epoch_start(void *self, lhost_ctx *ctx)
{
    lrmon *m = self;
    return m->interval == IV_STEP ? LHOST_OK : log_stats(m, ctx);
}

static const char *const intervals[] = {"step", "epoch", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "logging_interval",
     "step or epoch; unset (Lightning's None) logs at both", NULL, intervals, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "log_momentum",
     "also log lr-<Optimizer>-momentum (Adam's betas[0], SGD's momentum)", "false", NULL, 0, 0,
     0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = lm_create,
    .destroy = lm_destroy,
    .on_fit_start = lm_fit_start,
    .on_train_epoch_start = lm_train_epoch_start,
    .on_train_batch_start = lm_train_batch_start,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.lr_monitor", "lr_monitor",
    "1.0.0", "log the learning rate (and momentum) as lr-<Optimizer> (LearningRateMonitor)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
