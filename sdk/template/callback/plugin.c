/* @NAME@ — an lhost callback plugin (a Lightning Callback).
 *
 * As generated it reports the monitored value every `every_n_epochs` epochs and keeps the best
 * value seen in its checkpointed state. Replace the hooks' bodies with your own; delete the hooks
 * you do not need (a NULL hook is never called). Change the id to one you own. */
/* POSIX.1-2008 (clock_gettime, strdup) under -std=c11, which alone hides them. */
#define _POSIX_C_SOURCE 200809L

#include <lhost/lhost.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_VERSION 1

typedef struct self_t {
    const lhost_host *host;
    const char *monitor; /* borrowed from the parameter values, valid until destroy */
    int64_t every_n_epochs;
    double best;         /* saved in checkpoints (state_save / state_restore) */
} self_t;

static int32_t cb_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *params,
                         void **out)
{
    self_t *s = (self_t *)calloc(1, sizeof *s);
    if (!s) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    s->host = host;
    s->monitor = lhost_param_string(params, "monitor", "val_acc");
    s->every_n_epochs = lhost_param_int(params, "every_n_epochs", 1);
    s->best = -INFINITY;
    *out = s;
    return LHOST_OK;
}

static void cb_destroy(void *self) { free(self); }

static int32_t cb_on_train_epoch_end(void *self, lhost_ctx *ctx)
{
    self_t *s = (self_t *)self;
    lhost_trainer_state ts;
    double v;
    char msg[256];

    memset(&ts, 0, sizeof ts);
    ts.struct_size = sizeof ts;
    if (s->host->trainer_state(ctx, &ts) != LHOST_OK)
        return LHOST_OK;
    if (s->host->get_value(ctx, s->monitor, &v) != LHOST_OK)
        return LHOST_OK; /* not logged (yet): nothing to report */
    if (v > s->best)
        s->best = v;
    if ((ts.epoch + 1) % s->every_n_epochs == 0) {
        snprintf(msg, sizeof msg, "epoch %lld: %s = %.5f (best %.5f)", (long long)ts.epoch,
                 s->monitor, v, s->best);
        s->host->log(ctx, LHOST_LOG_INFO, msg);
    }
    return LHOST_OK;
}

static int32_t cb_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    self_t *s = (self_t *)self;
    *data = &s->best;
    *size = sizeof s->best;
    return LHOST_OK;
}

static int32_t cb_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    self_t *s = (self_t *)self;
    if (version != STATE_VERSION || size != sizeof s->best) {
        s->host->set_error(ctx, "saved state has an unknown version or size");
        return LHOST_ERROR;
    }
    memcpy(&s->best, data, sizeof s->best);
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor", "logged value to report", "val_acc",
     NULL, 0, 0, LHOST_PARAM_IDENTITY},
    {sizeof(lhost_param), LHOST_PARAM_INT, "every_n_epochs", "report every N epochs", "1", NULL,
     1, 0, LHOST_PARAM_HAS_MIN},
};

/* Designated initializers: hooks you leave out are NULL (absent), and members a later ABI
 * minor appends (on_after_backward, stages, ... in 1.1) need no edit here. */
static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = STATE_VERSION,
    .create = cb_create,
    .destroy = cb_destroy,
    .on_train_epoch_end = cb_on_train_epoch_end,
    .state_save = cb_state_save,
    .state_restore = cb_state_restore,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc),
    LHOST_KIND_CALLBACK,
    "org.example.@NAME@", /* id: reverse-DNS, unique */
    "@NAME@",             /* name used in configs */
    "0.1.0",
    "reports a monitored value every N epochs",
    params,
    sizeof params / sizeof params[0],
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
