/* plugins/lr_schedulers/cosine_annealing.c — torch.optim.lr_scheduler.CosineAnnealingLR as a
 * callback, with an optional linear warmup defined as torch composes one:
 *
 *   SequentialLR(opt, [LinearLR(opt, start_factor=warmup_start_factor, end_factor=1.0,
 *                               total_iters=warmup_iters),
 *                      CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)],
 *                milestones=[warmup_iters])
 *
 * The lr starts at lr * warmup_start_factor, rises linearly to the optimizer's lr over
 * warmup_iters steps, then follows the cosine from the lr down to eta_min over t_max more
 * steps (t_max is torch's T_max and counts the cosine phase only; past it the cosine rises
 * again, as torch's does).
 * warmup_iters 0 is plain CosineAnnealingLR. Both phases use torch's chainable (recursive)
 * formulas, so the values are torch's to rounding.
 * Config: callbacks: {cosine_annealing: {t_max: 90, warmup_iters: 10, interval: step}} */
#include <math.h>

#include "lr_sched.h"

static int32_t ca_create(lhs_sched *s, lhost_ctx *ctx, const lhost_param_values *p)
{
    lhs_cos_cfg *c = &s->cfg.cos;
    c->t_max = lhost_param_int(p, "t_max", 1);
    c->eta_min = lhost_param_float(p, "eta_min", 0);
    c->warmup_iters = lhost_param_int(p, "warmup_iters", 0);
    c->warmup_start_factor = lhost_param_float(p, "warmup_start_factor", 1.0 / 3);
    if (!(c->warmup_start_factor > 0))
        return lhs_fail(s, ctx, "warmup_start_factor: expected a number in (0, 1], got %g "
                                "(torch's LinearLR divides by it)",
                        c->warmup_start_factor);
    return LHOST_OK;
}

/* LinearLR's first step: lr * start_factor; CosineAnnealingLR's leaves the lr. */
static int32_t ca_begin(lhs_sched *s, lhost_ctx *ctx, int32_t fresh)
{
    if (!fresh || s->cfg.cos.warmup_iters == 0)
        return LHOST_OK;
    return lhs_set(s, ctx, "lr", s->st.base_lr * s->cfg.cos.warmup_start_factor);
}

static int64_t py_mod(int64_t a, int64_t m) { return ((a % m) + m) % m; }

static int32_t ca_step(lhs_sched *s, lhost_ctx *ctx)
{
    const lhs_cos_cfg *c = &s->cfg.cos;
    const double pi = 3.141592653589793, eta = c->eta_min, base = s->st.base_lr;
    const double w = (double)c->warmup_iters, T = (double)c->t_max;
    int64_t t = s->st.last_epoch, e = t - c->warmup_iters;
    double lr;
    if (lhs_get_lr(s, ctx, &lr) != LHOST_OK)
        return LHOST_ERROR;
    if (e < 0) /* LinearLR.get_lr at last_epoch t <= total_iters, end_factor 1 */
        return lhs_set(s, ctx, "lr",
                       lr * (1. + (1.0 - c->warmup_start_factor) /
                                      (w * c->warmup_start_factor +
                                       (double)(t - 1) * (1.0 - c->warmup_start_factor))));
    if (e == 0) /* SequentialLR's milestone: CosineAnnealingLR.step(0), the closed form */
        return lhs_set(s, ctx, "lr", eta + (base - eta) * (1 + cos(pi * 0.0 / T)) / 2);
    if (py_mod(e - 1 - c->t_max, 2 * c->t_max) == 0)
        return lhs_set(s, ctx, "lr", lr + (base - eta) * (1 - cos(pi / T)) / 2);
    return lhs_set(s, ctx, "lr",
                   (1 + cos(pi * (double)e / T)) / (1 + cos(pi * (double)(e - 1) / T)) *
                           (lr - eta) +
                       eta);
}

static const lhs_ops ops = {"cosine_annealing", ca_create, ca_begin, ca_step};

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                      void **self)
{
    return lhs_create(host, ctx, p, self, &ops, LHS_KIND_COSINE);
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_INT, "t_max",
     "torch's T_max: steps of the cosine from the lr to eta_min, after the warmup", NULL,
     NULL, 1, 0, LHOST_PARAM_HAS_MIN | LHOST_PARAM_REQUIRED},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "eta_min", "the lowest lr", "0", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "warmup_iters",
     "linear warmup steps before the cosine (torch's LinearLR total_iters); 0: none", "0", NULL,
     0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "warmup_start_factor",
     "the warmup's first lr as a fraction of the lr (LinearLR's start_factor), in (0, 1]",
     "0.3333333333333333", NULL, 0, 1, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    LHS_COMMON_PARAMS,
};

static const lhost_callback_vtable vtable = LHS_VTABLE(create);

const lhost_plugin_desc lhs_cosine_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.cosine_annealing",
    "cosine_annealing", "1.0.0",
    "cosine lr decay to eta_min over t_max steps, after an optional linear warmup "
    "(torch's SequentialLR(LinearLR, CosineAnnealingLR))",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};
