/* plugins/lr_schedulers/step_lr.c — torch.optim.lr_scheduler.StepLR as a callback: every
 * `step_size` scheduler steps the lr is multiplied by `gamma`, in torch's chainable form (the
 * optimizer's current lr times gamma, so a change by another callback carries on, as in torch).
 * Config: callbacks: {step_lr: {step_size: 30, gamma: 0.1, interval: epoch}} */
#include "lr_sched.h"

static int32_t sl_create(lhs_sched *s, lhost_ctx *ctx, const lhost_param_values *p)
{
    (void)ctx;
    s->cfg.step.step_size = lhost_param_int(p, "step_size", 1);
    s->cfg.step.gamma = lhost_param_float(p, "gamma", 0.1);
    return LHOST_OK;
}

/* The constructor's step (last_epoch 0) leaves the lr as it is. */
static int32_t sl_begin(lhs_sched *s, lhost_ctx *ctx, int32_t fresh)
{
    (void)s, (void)ctx, (void)fresh;
    return LHOST_OK;
}

/* StepLR.get_lr: lr * gamma when last_epoch is a multiple of step_size, else lr. */
static int32_t sl_step(lhs_sched *s, lhost_ctx *ctx)
{
    double lr;
    if (s->st.last_epoch % s->cfg.step.step_size != 0)
        return LHOST_OK;
    if (lhs_get_lr(s, ctx, &lr) != LHOST_OK)
        return LHOST_ERROR;
    return lhs_set(s, ctx, "lr", lr * s->cfg.step.gamma);
}

static const lhs_ops ops = {"step_lr", sl_create, sl_begin, sl_step};

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                      void **self)
{
    return lhs_create(host, ctx, p, self, &ops, LHS_KIND_STEP_LR);
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "step_size",
     "period of the decay, in scheduler steps (torch's step_size)", NULL, NULL, 1, 0,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_REQUIRED},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "gamma", "multiplicative factor of the decay",
     "0.1", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    LHS_COMMON_PARAMS,
};

static const lhost_callback_vtable vtable = LHS_VTABLE(create);

const lhost_plugin_desc lhs_step_lr_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.step_lr", "step_lr", "1.0.0",
    "decay the lr by gamma every step_size steps or epochs (torch's StepLR)", params,
    sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};
