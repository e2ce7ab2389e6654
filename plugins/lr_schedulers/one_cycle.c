/* plugins/lr_schedulers/one_cycle.c — torch.optim.lr_scheduler.OneCycleLR as a callback: the
 * lr rises from max_lr / div_factor to max_lr over the first pct_start of total_steps, then
 * falls to max_lr / div_factor / final_div_factor (cos or linear annealing); three_phase goes
 * back to the start lr first, then down. With cycle_momentum the momentum moves the other way
 * between max_momentum and base_momentum: Adam's and AdamW's betas[0], SGD's momentum, through
 * set_hparam("momentum") (a host that cannot set it is refused with that reason).
 *
 * total_steps, or epochs × steps_per_epoch, as torch takes them; a missing one is the
 * trainer's (Lightning's estimated_stepping_batches): steps per epoch = ceil(train batches /
 * accumulate_grad_batches) / frequency with interval step, max_epochs / frequency epochs with
 * interval epoch. Stepping past total_steps fails, as torch's does ("Tried to step ..."); the
 * step to total_steps itself (after the last optimizer step) is torch's too, except that a
 * negative lr linear annealing can overshoot to there is set as 0.
 * Config: callbacks: {one_cycle: {max_lr: 0.01, interval: step}} */
#include <math.h>

#include "lr_sched.h"

typedef struct phase {
    double end_step;
    int32_t lr_from, lr_to, mom_from, mom_to; /* indices into the anchors below */
} phase;

enum { INITIAL_LR, MAX_LR, MIN_LR, MAX_MOM, BASE_MOM };

static int32_t oc_create(lhs_sched *s, lhost_ctx *ctx, const lhost_param_values *p)
{
    lhs_oc_cfg *c = &s->cfg.oc;
    int32_t has_total = lhost_param_is_set(p, "total_steps");
    c->max_lr = lhost_param_float(p, "max_lr", 0.01);
    c->pct_start = lhost_param_float(p, "pct_start", 0.3);
    c->linear = lhost_param_int(p, "anneal_strategy", 0) == 1;
    c->cycle_momentum = (int32_t)lhost_param_int(p, "cycle_momentum", 1);
    c->base_momentum = lhost_param_float(p, "base_momentum", 0.85);
    c->max_momentum = lhost_param_float(p, "max_momentum", 0.95);
    c->div_factor = lhost_param_float(p, "div_factor", 25);
    c->final_div_factor = lhost_param_float(p, "final_div_factor", 1e4);
    c->three_phase = (int32_t)lhost_param_int(p, "three_phase", 0);
    if (has_total && (lhost_param_is_set(p, "epochs") || lhost_param_is_set(p, "steps_per_epoch")))
        return lhs_fail(s, ctx, "give total_steps, or epochs and steps_per_epoch, not both");
    c->total_steps = has_total ? lhost_param_int(p, "total_steps", 1) : 0;
    /* epochs / steps_per_epoch: 0 = the trainer's, resolved in on_fit_start */
    c->epochs = lhost_param_int(p, "epochs", 0);
    c->steps_per_epoch = lhost_param_int(p, "steps_per_epoch", 0);
    if (!(c->div_factor > 0) || !(c->final_div_factor > 0))
        return lhs_fail(s, ctx, "div_factor and final_div_factor: expected numbers > 0, got %g "
                                "and %g",
                        c->div_factor, c->final_div_factor);
    return LHOST_OK;
}

/* The trainer's scheduler steps per epoch and epochs, for what the user left out. */
static int32_t trainer_total(lhs_sched *s, lhost_ctx *ctx, int64_t *total)
{
    const lhs_oc_cfg *c = &s->cfg.oc;
    lhost_trainer_state ts = {.struct_size = sizeof ts};
    double acc = 1;
    int64_t per_epoch, epochs = c->epochs;
    s->host->trainer_state(ctx, &ts);
    if (s->host->get_hparam(ctx, "accumulate_grad_batches", &acc) != LHOST_OK || !(acc >= 1))
        acc = 1;
    per_epoch = s->interval == LHS_EPOCH
                    ? 1
                    : ((ts.num_train_batches + (int64_t)acc - 1) / (int64_t)acc) / s->frequency;
    if (c->steps_per_epoch)
        per_epoch = c->steps_per_epoch;
    if (!epochs) {
        if (ts.max_epochs < 0)
            return lhs_fail(s, ctx, "give total_steps (or epochs): the trainer's max_epochs is "
                                    "unlimited, so the cycle has no length");
        epochs = s->interval == LHS_EPOCH && !c->steps_per_epoch ? ts.max_epochs / s->frequency
                                                                  : ts.max_epochs;
    }
    *total = per_epoch * epochs;
    if (*total < 1)
        return lhs_fail(s, ctx, "the trainer's %lld epochs of %lld scheduler steps give no "
                                "steps; give total_steps",
                        (long long)epochs, (long long)per_epoch);
    return LHOST_OK;
}

/* OneCycleLR's _schedule_phases for `total` steps; the number of phases. */
static int32_t phases(const lhs_oc_cfg *c, int64_t total, phase *ph)
{
    double pt = c->pct_start * (double)total;
    if (c->three_phase) {
        ph[0] = (phase){pt - 1, INITIAL_LR, MAX_LR, MAX_MOM, BASE_MOM};
        ph[1] = (phase){2 * c->pct_start * (double)total - 2, MAX_LR, INITIAL_LR, BASE_MOM,
                        MAX_MOM};
        ph[2] = (phase){(double)(total - 1), INITIAL_LR, MIN_LR, MAX_MOM, MAX_MOM};
        return 3;
    }
    ph[0] = (phase){pt - 1, INITIAL_LR, MAX_LR, MAX_MOM, BASE_MOM};
    ph[1] = (phase){(double)(total - 1), MAX_LR, MIN_LR, BASE_MOM, MAX_MOM};
    return 2;
}

static double anneal(const lhs_oc_cfg *c, double start, double end, double pct)
{
    const double pi = 3.141592653589793;
    if (c->linear)
        return (end - start) * pct + start;
    return end + (start - end) / 2.0 * (cos(pi * pct) + 1);
}

/* OneCycleLR.get_lr at step_num last_epoch: set the lr and, with cycle_momentum, momentum. */
static int32_t apply(lhs_sched *s, lhost_ctx *ctx)
{
    const lhs_oc_cfg *c = &s->cfg.oc;
    int64_t step_num = s->st.last_epoch, total = s->st.total_steps;
    double a[5], start_step = 0, pct, lr;
    phase ph[3];
    int32_t n = phases(c, total, ph), i;
    if (step_num > total)
        return lhs_fail(s, ctx, "scheduler step %lld is past total_steps %lld (torch's "
                                "OneCycleLR raises \"Tried to step %lld times\" here too): give "
                                "a larger total_steps",
                        (long long)step_num, (long long)total, (long long)step_num + 1);
    a[INITIAL_LR] = c->max_lr / c->div_factor;
    a[MAX_LR] = c->max_lr;
    a[MIN_LR] = a[INITIAL_LR] / c->final_div_factor;
    a[MAX_MOM] = c->max_momentum;
    a[BASE_MOM] = c->base_momentum;
    for (i = 0; i < n; i++) {
        if ((double)step_num <= ph[i].end_step || i == n - 1)
            break;
        start_step = ph[i].end_step;
    }
    pct = ((double)step_num - start_step) / (ph[i].end_step - start_step);
    lr = anneal(c, a[ph[i].lr_from], a[ph[i].lr_to], pct);
    /* step total_steps, after the last optimizer step, overshoots the end: linear annealing
     * can go below 0 there, which the host refuses; no step trains with it */
    if (lr < 0 && step_num == total)
        lr = 0;
    if (lhs_set(s, ctx, "lr", lr) != LHOST_OK)
        return LHOST_ERROR;
    if (!c->cycle_momentum)
        return LHOST_OK;
    return lhs_set(s, ctx, "momentum", anneal(c, a[ph[i].mom_from], a[ph[i].mom_to], pct));
}

static int32_t oc_begin(lhs_sched *s, lhost_ctx *ctx, int32_t fresh)
{
    const lhs_oc_cfg *c = &s->cfg.oc;
    phase ph[3];
    double start = 0;
    int32_t n, i;
    if (fresh) {
        s->st.total_steps = c->total_steps;
        if (!c->total_steps && trainer_total(s, ctx, &s->st.total_steps) != LHOST_OK)
            return LHOST_ERROR;
    }
    n = phases(c, s->st.total_steps, ph);
    for (i = 0; i < n; start = ph[i++].end_step)
        if (ph[i].end_step == start)
            return lhs_fail(s, ctx, "pct_start %g with %lld total steps leaves phase %d of the "
                                    "cycle empty (torch's OneCycleLR divides by zero there)",
                            c->pct_start, (long long)s->st.total_steps, i + 1);
    /* the constructor's step (step_num 0), or the resumed step's lr and momentum again (the
     * momentum is the optimizer's, which a checkpoint of an older host may lack) */
    return apply(s, ctx);
}

static int32_t oc_step(lhs_sched *s, lhost_ctx *ctx) { return apply(s, ctx); }

static const lhs_ops ops = {"one_cycle", oc_create, oc_begin, oc_step};

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                      void **self)
{
    return lhs_create(host, ctx, p, self, &ops, LHS_KIND_ONE_CYCLE);
}

static const char *const strategies[] = {"cos", "linear", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "max_lr", "the peak lr of the cycle", NULL, NULL,
     0, 0, LHOST_PARAM_HAS_MIN | LHOST_PARAM_REQUIRED},
    {sizeof(lhost_param), LHOST_PARAM_INT, "total_steps",
     "scheduler steps in the cycle; unset: epochs x steps_per_epoch", NULL, NULL, 1, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "epochs", "epochs in the cycle; unset: max_epochs",
     NULL, NULL, 1, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "steps_per_epoch",
     "scheduler steps per epoch; unset: the trainer's", NULL, NULL, 1, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "pct_start",
     "fraction of the cycle spent raising the lr", "0.3", NULL, 0, 1,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "anneal_strategy", "cos or linear annealing",
     "cos", strategies, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "cycle_momentum",
     "cycle the momentum (Adam's betas[0]) inversely to the lr", "true", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "base_momentum",
     "the momentum at the lr's peak", "0.85", NULL, 0, 1,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "max_momentum",
     "the momentum at the cycle's ends", "0.95", NULL, 0, 1,
     LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "div_factor",
     "the first lr is max_lr / div_factor", "25", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "final_div_factor",
     "the last lr is the first / final_div_factor", "10000", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "three_phase",
     "back down to the first lr before the final annealing", "false", NULL, 0, 0, 0},
    LHS_COMMON_PARAMS,
};

static const lhost_callback_vtable vtable = LHS_VTABLE(create);

const lhost_plugin_desc lhs_one_cycle_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.one_cycle", "one_cycle", "1.0.0",
    "the 1cycle policy: lr up to max_lr and down, momentum the other way (torch's OneCycleLR)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};
