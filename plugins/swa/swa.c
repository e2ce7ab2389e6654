/* plugins/swa/swa.c — Lightning's StochasticWeightAveraging: from epoch swa_start on, the
 * learning rate follows torch's SWALR towards swa_lrs over annealing_epochs ("cos" or
 * "linear"; the scheduler steps at each epoch's end, through host->set_hparam "lr"), and the
 * weights at the start of every epoch swa_start..max_epochs-1 are averaged with equal weight
 *
 *   first: avg = w;  then avg = avg + (w - avg) / (n_averaged + 1)   (float32, as torch)
 *
 * (AveragedModel.update_parameters, as Lightning calls it in on_train_epoch_start); at
 * on_train_end after the last epoch the model takes the average. swa_epoch_start is an integer
 * epoch (1-based, as Lightning's: swa_start = max(swa_epoch_start - 1, 0)) or a fraction of
 * max_epochs when written with a point ("0.8": int(0.8 * max_epochs)). The average, the count
 * and the scheduler's step travel in the state, so a resumed fit continues the same schedule.
 * Only the parameters are averaged, as Lightning's; a model with batch norm then gets fresh
 * running statistics for the averaged weights from the host's update_bn (one train-mode pass
 * over the training set with momentum None), what Lightning's extra epoch computes, but
 * without that epoch's validation and logged row.
 * Config: callbacks: {swa: {swa_lrs: 0.01, swa_epoch_start: 0.8, annealing_epochs: 10}} */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

#include "../common/state_bytes.h"
#include "../common/weights.h"

#define SWA_PI 3.14159265358979323846 /* math.pi, as SWALR anneals with */

typedef struct swa {
    const lhost_host *host;
    double swa_lr;
    double start_value;   /* swa_epoch_start as given */
    int32_t start_is_fraction;
    int64_t anneal_epochs;
    int32_t linear;
    int64_t swa_start, swa_end; /* 0-based; swa_end -1 = unlimited */
    int32_t initialized;
    int64_t step_count;   /* the SWALR's _step_count */
    int64_t n_averaged, latest_epoch;
    lhp_layout lay;
    float *avg, *cur;
    int64_t restored_total;
    lhp_wbuf state;
} swa;

static int32_t sw_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    swa *s;
    const lhost_value *start = lhost_param_find(p, "swa_epoch_start");
    if (!LHOST_HOST_HAS(host, tensor_write)) {
        host->set_error(ctx, "this host has no tensor services (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(s = host->alloc(sizeof *s)))
        return LHOST_ENOMEM;
    memset(s, 0, sizeof *s);
    s->host = host;
    s->swa_lr = lhost_param_float(p, "swa_lrs", 0);
    s->start_value = lhost_param_float(p, "swa_epoch_start", 0.8);
    /* Lightning tells int from float by type; a config's text by its point or exponent */
    s->start_is_fraction = start && start->s && strpbrk(start->s, ".eE") != NULL;
    s->anneal_epochs = lhost_param_int(p, "annealing_epochs", 10);
    s->linear = lhost_param_int(p, "annealing_strategy", 0) == 1;
    s->latest_epoch = -1;
    double v = s->start_value;
    int32_t start_ok = s->start_is_fraction ? v >= 0 && v <= 1 : v >= 1 && v == floor(v);
    if (!(s->swa_lr > 0) || !start_ok) {
        host->set_error(ctx, !(s->swa_lr > 0)
                                 ? "swa_lrs: expected a positive float"
                                 : "swa_epoch_start: expected an integer >= 1 or a float "
                                   "between 0 and 1");
        host->free(s);
        return LHOST_ERROR;
    }
    *self = s;
    return LHOST_OK;
}

static void sw_destroy(void *self)
{
    swa *s = self;
    lhp_layout_free(s->host, &s->lay);
    s->host->free(s->avg);
    s->host->free(s->cur);
    free(s->state.data);
    s->host->free(s);
}

static double anneal(const swa *s, double t)
{
    return s->linear ? t : (1 - cos(SWA_PI * t)) / 2;
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* torch.optim.swa_utils.SWALR.get_lr for the current _step_count, from the current lr. */
static double swalr(const swa *s, double lr)
{
    int64_t step = s->step_count - 1;
    double a = (double)(s->anneal_epochs > 1 ? s->anneal_epochs : 1);
    double prev_alpha, prev_lr, alpha;
    if (s->anneal_epochs == 0)
        step = step > 1 ? step : 1;
    prev_alpha = anneal(s, clamp01((double)(step - 1) / a));
    prev_lr = prev_alpha == 1 ? s->swa_lr : (lr - prev_alpha * s->swa_lr) / (1 - prev_alpha);
    alpha = anneal(s, clamp01((double)step / a));
    return s->swa_lr * alpha + prev_lr * (1 - alpha);
}

/* scheduler.step(): count, then set the lr it computes. */
static int32_t lr_step(swa *s, lhost_ctx *ctx)
{
    double lr;
    int32_t rc;
    if ((rc = s->host->get_hparam(ctx, "lr", &lr)) != LHOST_OK)
        return rc;
    s->step_count++;
    return s->host->set_hparam(ctx, "lr", swalr(s, lr));
}

static int32_t sw_fit_start(void *self, lhost_ctx *ctx)
{
    swa *s = self;
    lhost_trainer_state st;
    int64_t start;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    s->host->trainer_state(ctx, &st);
    if (s->start_is_fraction && st.max_epochs < 0) {
        s->host->set_error(ctx, "swa_epoch_start as a fraction needs trainer.max_epochs; give "
                                "an integer epoch instead");
        return LHOST_ERROR;
    }
    start = s->start_is_fraction ? (int64_t)((double)st.max_epochs * s->start_value)
                                 : (int64_t)s->start_value;
    s->swa_start = start - 1 > 0 ? start - 1 : 0;
    s->swa_end = st.max_epochs < 0 ? -1 : st.max_epochs - 1;
    return LHOST_OK;
}

static int in_window(const swa *s, int64_t epoch)
{
    return s->swa_start <= epoch && (s->swa_end < 0 || epoch <= s->swa_end);
}

static int32_t update(swa *s, lhost_ctx *ctx)
{
    int64_t k;
    int32_t rc;
    if ((rc = lhp_weights_read(s->host, ctx, &s->lay, s->cur)) != LHOST_OK)
        return rc;
    if (s->n_averaged == 0)
        memcpy(s->avg, s->cur, (size_t)s->lay.total * 4);
    else {
        const float n1 = (float)(s->n_averaged + 1);
        for (k = 0; k < s->lay.total; k++) {
            float d = s->cur[k] - s->avg[k];
            d = d / n1;
            s->avg[k] = s->avg[k] + d;
        }
    }
    s->n_averaged++;
    return LHOST_OK;
}

static int32_t alloc_copies(swa *s, lhost_ctx *ctx)
{
    int32_t rc;
    if (s->lay.numel)
        return LHOST_OK;
    if ((rc = lhp_layout_get(s->host, ctx, &s->lay)) != LHOST_OK)
        return rc;
    if (s->avg) {
        if (s->restored_total == s->lay.total)
            return LHOST_OK;
        s->host->set_error(ctx, "swa state: its averaged weights are not this model's size");
        return LHOST_ERROR;
    }
    if (!(s->avg = s->host->alloc((uint64_t)(s->lay.total + 1) * 4)) ||
        !(s->cur = s->host->alloc((uint64_t)(s->lay.total + 1) * 4)))
        return LHOST_ENOMEM;
    return LHOST_OK;
}

static int32_t sw_epoch_start(void *self, lhost_ctx *ctx)
{
    swa *s = self;
    lhost_trainer_state st;
    int32_t rc;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    s->host->trainer_state(ctx, &st);
    if (!in_window(s, st.epoch))
        return LHOST_OK;
    if ((rc = alloc_copies(s, ctx)) != LHOST_OK)
        return rc;
    if (!s->initialized) {
        /* SWALR's constructor steps once (_step_count 1): the lr is kept, or becomes swa_lrs
         * at once with annealing_epochs 0. A resumed schedule goes on from its state (and the
         * lr the checkpoint restored). */
        s->initialized = 1;
        if ((rc = lr_step(s, ctx)) != LHOST_OK)
            return rc;
    }
    if (st.epoch > s->latest_epoch) {
        if ((rc = update(s, ctx)) != LHOST_OK)
            return rc;
        s->latest_epoch = st.epoch;
    }
    return LHOST_OK;
}

/* Lightning steps an epoch-interval scheduler after the epoch's hooks; here at its end. */
static int32_t sw_epoch_end(void *self, lhost_ctx *ctx)
{
    swa *s = self;
    return s->initialized ? lr_step(s, ctx) : LHOST_OK;
}

static int32_t sw_train_end(void *self, lhost_ctx *ctx)
{
    swa *s = self;
    lhost_trainer_state st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    s->host->trainer_state(ctx, &st);
    int32_t rc;
    /* the trainer counts the last epoch done by now: epoch - 1 is the last one trained */
    if (!s->avg || s->n_averaged == 0 || (s->swa_end >= 0 && st.epoch - 1 != s->swa_end))
        return LHOST_OK;
    if ((rc = lhp_weights_write(s->host, ctx, &s->lay, s->avg)) != LHOST_OK)
        return rc;
    /* With batch norm (and a max_epochs), Lightning trains one more epoch without backward or
     * optimizer steps so that the statistics fit the averaged weights: update_bn's pass. */
    if (s->lay.nb == 0 || s->swa_end < 0)
        return LHOST_OK;
    if (!LHOST_HOST_HAS(s->host, update_bn)) {
        s->host->set_error(ctx, "the model has batch norm and this host cannot recompute its "
                                "statistics (update_bn, ABI 1.1)");
        return LHOST_ERROR;
    }
    return s->host->update_bn(ctx);
}

/* i64 initialized, step_count, n_averaged, latest_epoch, floats; avg[] */
static int32_t sw_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    swa *s = self;
    /* a state restored and not yet matched to the model (no tensor call since) saves as it
     * came */
    int64_t total = !s->avg ? 0 : s->lay.numel ? s->lay.total : s->restored_total;
    (void)ctx;
    s->state.size = 0;
    lhp_put_i64(&s->state, s->initialized);
    lhp_put_i64(&s->state, s->step_count);
    lhp_put_i64(&s->state, s->n_averaged);
    lhp_put_i64(&s->state, s->latest_epoch);
    lhp_put_i64(&s->state, total);
    if (total)
        lhp_put(&s->state, s->avg, (uint64_t)total * 4);
    if (s->state.failed)
        return LHOST_ENOMEM;
    *data = s->state.data;
    *size = s->state.size;
    return LHOST_OK;
}

static int32_t sw_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    swa *s = self;
    lhp_rbuf r = {(const unsigned char *)data, size, 0, 0};
    int64_t total;
    (void)version;
    s->initialized = (int32_t)lhp_get_i64(&r);
    s->step_count = lhp_get_i64(&r);
    s->n_averaged = lhp_get_i64(&r);
    s->latest_epoch = lhp_get_i64(&r);
    total = lhp_get_i64(&r);
    if (r.failed || total < 0 || (uint64_t)total * 4 != size - r.pos) {
        s->host->set_error(ctx, "swa state: truncated or not a swa state");
        return LHOST_ERROR;
    }
    if (total == 0)
        return LHOST_OK;
    if (!(s->avg = s->host->alloc((uint64_t)(total + 1) * 4)) ||
        !(s->cur = s->host->alloc((uint64_t)(total + 1) * 4)))
        return LHOST_ENOMEM;
    lhp_get(&r, s->avg, (uint64_t)total * 4);
    s->restored_total = total;
    return LHOST_OK;
}

static const char *const strategies[] = {"cos", "linear", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "swa_lrs", "the SWA learning rate (> 0)", NULL,
     NULL, 0, 0, LHOST_PARAM_REQUIRED | LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "swa_epoch_start",
     "the epoch SWA starts (integer, 1-based) or a fraction of max_epochs (0.8)", "0.8", NULL,
     0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "annealing_epochs",
     "epochs the lr anneals over towards swa_lrs", "10", NULL, 0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "annealing_strategy", "cos or linear", "cos",
     strategies, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = 1,
    .create = sw_create,
    .destroy = sw_destroy,
    .on_fit_start = sw_fit_start,
    .on_train_epoch_start = sw_epoch_start,
    .on_train_epoch_end = sw_epoch_end,
    .state_save = sw_state_save,
    .state_restore = sw_state_restore,
    .on_train_end = sw_train_end,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.swa", "swa", "1.0.0",
    "stochastic weight averaging with the SWALR schedule (StochasticWeightAveraging)", params,
    sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
