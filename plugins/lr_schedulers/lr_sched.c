/* plugins/lr_schedulers/lr_sched.c — the part of every learning-rate scheduler that is not its
 * arithmetic: Lightning's `interval` / `frequency`, the hooks that step, the state a checkpoint
 * keeps, and the lr / momentum through host->get_hparam / set_hparam (lr_sched.h).
 *
 * Resume: the state holds torch's counters, and the optimizer's lr (and momentum) comes back
 * with the checkpoint, so a resumed run steps exactly as an uninterrupted one. A checkpoint
 * written in on_validation_end (ModelCheckpoint's default) precedes that epoch's step, and the
 * run resumes at the next epoch: on_fit_start (and on_train_epoch_start) does the steps of the
 * epochs whose end the state has not seen yet, before any batch trains. Step-interval
 * schedulers step in on_train_batch_end before callbacks of LHOST_PRIORITY_MONITOR
 * (ModelCheckpoint) save. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lr_sched.h"

const char *const lhs_intervals[] = {"step", "epoch", NULL};

int32_t lhs_fail(lhs_sched *s, lhost_ctx *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

int32_t lhs_get_lr(lhs_sched *s, lhost_ctx *ctx, double *lr)
{
    if (s->host->get_hparam(ctx, "lr", lr) != LHOST_OK)
        return lhs_fail(s, ctx, "the trainer has no optimizer lr to schedule (get_hparam \"lr\")");
    return LHOST_OK;
}

int32_t lhs_set(lhs_sched *s, lhost_ctx *ctx, const char *name, double v)
{
    int32_t rc = s->host->set_hparam(ctx, name, v);
    if (rc == LHOST_OK)
        return LHOST_OK;
    if (rc == LHOST_ENOTFOUND && strcmp(name, "momentum") == 0)
        return lhs_fail(s, ctx, "this host cannot set the optimizer's momentum (set_hparam "
                                "\"momentum\"); set cycle_momentum: false");
    return lhs_fail(s, ctx, "the host refused %s = %.17g (set_hparam: %s)", name, v,
                    rc == LHOST_EINVAL ? "out of range" : "not supported");
}

int32_t lhs_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                   void **self, const lhs_ops *ops, int64_t kind)
{
    lhs_sched *s;
    if (!LHOST_HOST_HAS(host, set_hparam) || !host->get_hparam) {
        host->set_error(ctx, "this host has no get_hparam / set_hparam services");
        return LHOST_ERROR;
    }
    if (!(s = host->alloc(sizeof *s)))
        return LHOST_ENOMEM;
    memset(s, 0, sizeof *s);
    s->host = host;
    s->ops = ops;
    s->interval = (int32_t)lhost_param_int(p, "interval", LHS_EPOCH);
    s->frequency = lhost_param_int(p, "frequency", 1);
    s->st.kind = kind;
    if (ops->create(s, ctx, p) != LHOST_OK) {
        host->free(s);
        return LHOST_ERROR;
    }
    *self = s;
    return LHOST_OK;
}

void lhs_destroy(void *self)
{
    lhs_sched *s = self;
    s->host->free(s);
}

static void trainer(lhs_sched *s, lhost_ctx *ctx, lhost_trainer_state *ts)
{
    memset(ts, 0, sizeof *ts);
    ts->struct_size = sizeof *ts;
    ts->batch_idx = -1;
    s->host->trainer_state(ctx, ts);
}

static int32_t step(lhs_sched *s, lhost_ctx *ctx)
{
    s->st.last_epoch++;
    return s->ops->step(s, ctx);
}

/* The end of epoch `epoch` for an epoch-interval scheduler. */
static int32_t epoch_done(lhs_sched *s, lhost_ctx *ctx, int64_t epoch)
{
    s->st.epochs_done = epoch + 1;
    return (epoch + 1) % s->frequency == 0 ? step(s, ctx) : LHOST_OK;
}

/* Epoch-interval steps of the epochs before the trainer's current one that the state has not
 * seen end (the resumed checkpoint was written before their step). */
static int32_t catch_up(lhs_sched *s, lhost_ctx *ctx, const lhost_trainer_state *ts)
{
    if (s->interval != LHS_EPOCH)
        return LHOST_OK;
    while (s->st.epochs_done < ts->epoch)
        if (epoch_done(s, ctx, s->st.epochs_done) != LHOST_OK)
            return LHOST_ERROR;
    return LHOST_OK;
}

int32_t lhs_fit_start(void *self, lhost_ctx *ctx)
{
    lhs_sched *s = self;
    lhost_trainer_state ts;
    int32_t fresh = !s->st.started;
    trainer(s, ctx, &ts);
    if (fresh) {
        if (lhs_get_lr(s, ctx, &s->st.base_lr) != LHOST_OK)
            return LHOST_ERROR;
        s->st.seen_step = ts.global_step;
        s->st.epochs_done = ts.epoch;
        s->st.last_epoch = 0;
        s->st.started = 1;
    }
    /* caught up here, before any callback's on_train_epoch_start logs the lr */
    return s->ops->begin(s, ctx, fresh) != LHOST_OK ? LHOST_ERROR : catch_up(s, ctx, &ts);
}

int32_t lhs_train_epoch_start(void *self, lhost_ctx *ctx)
{
    lhs_sched *s = self;
    lhost_trainer_state ts;
    trainer(s, ctx, &ts);
    return catch_up(s, ctx, &ts);
}

int32_t lhs_train_epoch_end(void *self, lhost_ctx *ctx)
{
    lhs_sched *s = self;
    lhost_trainer_state ts;
    if (s->interval != LHS_EPOCH)
        return LHOST_OK;
    trainer(s, ctx, &ts);
    return s->st.epochs_done > ts.epoch ? LHOST_OK : epoch_done(s, ctx, ts.epoch);
}

int32_t lhs_train_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)
{
    lhs_sched *s = self;
    lhost_trainer_state ts;
    (void)batch;
    if (s->interval != LHS_STEP)
        return LHOST_OK;
    trainer(s, ctx, &ts);
    /* a batch that only accumulated gradients took no optimizer step: no scheduler step */
    if (ts.global_step == s->st.seen_step)
        return LHOST_OK;
    s->st.seen_step = ts.global_step;
    return (ts.batch_idx + 1) % s->frequency == 0 ? step(s, ctx) : LHOST_OK;
}

int32_t lhs_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    lhs_sched *s = self;
    (void)ctx;
    *data = &s->st;
    *size = sizeof s->st;
    return LHOST_OK;
}

int32_t lhs_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                          uint64_t size)
{
    lhs_sched *s = self;
    lhs_state st;
    if (version != LHS_STATE_VERSION || size != sizeof st)
        return lhs_fail(s, ctx, "saved state of version %u, %llu bytes: expected version %d, "
                                "%zu bytes",
                        version, (unsigned long long)size, LHS_STATE_VERSION, sizeof st);
    memcpy(&st, data, sizeof st);
    if (st.kind != s->st.kind)
        return lhs_fail(s, ctx, "the checkpoint holds another scheduler's state (kind %lld, "
                                "this is %s)",
                        (long long)st.kind, s->ops->name);
    if (st.last_epoch < 0 || st.epochs_done < 0 || st.num_bad_epochs < 0 ||
        st.cooldown_counter < 0 || st.total_steps < 0)
        return lhs_fail(s, ctx, "saved state holds a negative counter");
    s->st = st;
    return LHOST_OK;
}
