/* plugins/lr_schedulers/reduce_lr_on_plateau.c — torch.optim.lr_scheduler.ReduceLROnPlateau as
 * a callback, as Lightning drives it from a scheduler config with `monitor`: each scheduler
 * step reads the logged value `monitor` (val_loss, val_acc, loss, ...); once it has not
 * improved by `threshold` (rel: best * (1 -+ threshold); abs: best -+ threshold) for more than
 * `patience` steps, the lr becomes max(lr * factor, min_lr) (unless that changes it by eps or
 * less), and `cooldown` steps follow in which bad steps are not counted.
 *
 * With interval epoch (Lightning's default) it steps after on_train_epoch_end, reading the
 * epoch's val_<metric> or val_loss; with interval step after each optimizer step. A monitor
 * that was never logged fails the run naming the keys there are (Lightning's strict), or with
 * strict: false is skipped with a warning, as Lightning does.
 * Config: callbacks: {reduce_lr_on_plateau: {monitor: val_loss, patience: 2, factor: 0.5}} */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../common/monitor.h"
#include "lr_sched.h"

static int32_t pl_create(lhs_sched *s, lhost_ctx *ctx, const lhost_param_values *p)
{
    lhs_plateau_cfg *c = &s->cfg.pl;
    c->monitor = lhost_param_string(p, "monitor", "val_loss");
    c->maximize = lhost_param_int(p, "mode", 0) == 1;
    c->factor = lhost_param_float(p, "factor", 0.1);
    c->patience = lhost_param_int(p, "patience", 10);
    c->threshold = lhost_param_float(p, "threshold", 1e-4);
    c->abs_threshold = lhost_param_int(p, "threshold_mode", 0) == 1;
    c->cooldown = lhost_param_int(p, "cooldown", 0);
    c->min_lr = lhost_param_float(p, "min_lr", 0);
    c->eps = lhost_param_float(p, "eps", 1e-8);
    c->strict = (int32_t)lhost_param_int(p, "strict", 1);
    if (!c->monitor || !c->monitor[0])
        return lhs_fail(s, ctx, "monitor: expected the name of a logged value (val_loss)");
    if (!(c->factor < 1.0))
        return lhs_fail(s, ctx, "factor: expected a number below 1, got %g (torch: \"Factor "
                                "should be < 1.0.\")",
                        c->factor);
    return LHOST_OK;
}

/* The constructor's _reset: best is the mode's worst value. */
static int32_t pl_begin(lhs_sched *s, lhost_ctx *ctx, int32_t fresh)
{
    (void)ctx;
    if (fresh) {
        s->st.best = s->cfg.pl.maximize ? -INFINITY : INFINITY;
        s->st.num_bad_epochs = s->st.cooldown_counter = 0;
    }
    return LHOST_OK;
}

static int is_better(const lhs_plateau_cfg *c, double a, double best)
{
    if (!c->maximize)
        return c->abs_threshold ? a < best - c->threshold : a < best * (1. - c->threshold);
    return c->abs_threshold ? a > best + c->threshold : a > best * (c->threshold + 1.);
}

static int32_t missing(lhs_sched *s, lhost_ctx *ctx)
{
    char keys[1024], msg[1400];
    lhp_list_keys(s->host, ctx, keys, sizeof keys);
    if (s->cfg.pl.strict)
        return lhs_fail(s, ctx, "monitor \"%s\" is not logged; logged: %s (strict: false "
                                "skips such steps)",
                        s->cfg.pl.monitor, keys);
    snprintf(msg, sizeof msg, "monitor \"%s\" is not logged (logged: %s): step skipped",
             s->cfg.pl.monitor, keys);
    s->host->log(ctx, LHOST_LOG_WARN, msg);
    return LHOST_OK;
}

/* ReduceLROnPlateau.step(metrics) and _reduce_lr. */
static int32_t pl_step(lhs_sched *s, lhost_ctx *ctx)
{
    const lhs_plateau_cfg *c = &s->cfg.pl;
    lhs_state *st = &s->st;
    double current, old_lr, new_lr;
    char msg[320];
    if (s->host->get_value(ctx, c->monitor, &current) != LHOST_OK) {
        st->last_epoch--; /* Lightning calls no step then */
        return missing(s, ctx);
    }
    if (is_better(c, current, st->best)) {
        st->best = current;
        st->num_bad_epochs = 0;
    } else
        st->num_bad_epochs++;
    if (st->cooldown_counter > 0) {
        st->cooldown_counter--;
        st->num_bad_epochs = 0; /* bad steps in cooldown are ignored */
    }
    if (st->num_bad_epochs <= c->patience)
        return LHOST_OK;
    st->cooldown_counter = c->cooldown;
    st->num_bad_epochs = 0;
    if (lhs_get_lr(s, ctx, &old_lr) != LHOST_OK)
        return LHOST_ERROR;
    new_lr = old_lr * c->factor > c->min_lr ? old_lr * c->factor : c->min_lr;
    if (!(old_lr - new_lr > c->eps))
        return LHOST_OK;
    if (lhs_set(s, ctx, "lr", new_lr) != LHOST_OK)
        return LHOST_ERROR;
    snprintf(msg, sizeof msg, "%s did not improve for %lld steps: lr reduced to %.4e",
             c->monitor, (long long)c->patience + 1, new_lr);
    s->host->log(ctx, LHOST_LOG_INFO, msg);
    return LHOST_OK;
}

static const lhs_ops ops = {"reduce_lr_on_plateau", pl_create, pl_begin, pl_step};

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                      void **self)
{
    return lhs_create(host, ctx, p, self, &ops, LHS_KIND_PLATEAU);
}

static const char *const modes[] = {"min", "max", NULL};
static const char *const threshold_modes[] = {"rel", "abs", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "monitor",
     "the logged value to watch (Lightning's scheduler config monitor)", "val_loss", NULL, 0, 0,
     0},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "mode", "min: lower is better; max: higher",
     "min", modes, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "factor", "new lr = lr * factor (below 1)", "0.1",
     NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "patience",
     "steps without improvement before the lr is reduced", "10", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "threshold",
     "the least change that counts as an improvement", "0.0001", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "threshold_mode",
     "rel: relative to the best value; abs: absolute", "rel", threshold_modes, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "cooldown",
     "steps after a reduction in which bad steps are not counted", "0", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "min_lr", "the lr never goes below this", "0",
     NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "eps",
     "a reduction smaller than this is not applied", "1e-08", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "strict",
     "fail when monitor is not logged (false: skip the step with a warning)", "true", NULL, 0,
     0, 0},
    LHS_COMMON_PARAMS,
};

static const lhost_callback_vtable vtable = LHS_VTABLE(create);

const lhost_plugin_desc lhs_plateau_desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.reduce_lr_on_plateau",
    "reduce_lr_on_plateau", "1.0.0",
    "reduce the lr by factor when a monitored value stops improving (torch's ReduceLROnPlateau)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};
