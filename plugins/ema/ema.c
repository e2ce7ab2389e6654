/* plugins/ema/ema.c — Lightning's EMAWeightAveraging (its WeightAveraging callback with
 * torch's EMA avg_fn): an exponential moving average of the weights, kept in plugin memory,
 *
 *   first update: avg = w;  then avg = decay * avg + (1 - decay) * w   (float32, as torch)
 *
 * after the optimizer steps should_update picks: step_idx = global_step - 1 with
 * step_idx % update_every_n_steps == 0 and step_idx >= update_starting_at_step (when set), or at
 * the end of an epoch >= update_starting_at_epoch (when set). As Lightning's:
 *   - validation runs on the averaged weights (swapped in at on_validation_start, back at
 *     on_validation_epoch_end, where WeightAveraging swaps);
 *   - a checkpoint's model weights are the averaged ones (swapped in at on_save_checkpoint and
 *     back at this callback's next hook), and the training weights travel in this callback's
 *     state (Lightning's "current_model_state"), put back into the model on resume
 *     (on_load_checkpoint); a checkpoint validates and predicts with the EMA weights;
 *   - at on_train_end the model takes the averaged weights.
 * Buffers (batch norm's running_mean, running_var, num_batches_tracked) are averaged with the
 * parameters, as WeightAveraging's default use_buffers=True has AveragedModel do (float32; the
 * int64 count as torch computes it: the float32 average truncated), and swapped and saved with
 * them; use_buffers: false copies the model's buffers at each update instead (AveragedModel's
 * use_buffers=False keeps them in sync with the model).
 * Config: callbacks: {ema: {decay: 0.999, update_every_n_steps: 1}} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

#include "../common/state_bytes.h"
#include "../common/weights.h"

typedef struct ema {
    const lhost_host *host;
    double decay;
    int64_t every, start_step, start_epoch; /* start_*: -1 = None */
    int32_t use_buffers;
    lhp_layout lay;
    /* The parameters then the float buffers (nf = lay.total + lay.b_floats floats), and the
     * int64 counts (lay.b_counts); cur: the training weights while swapped. */
    float *avg, *cur;
    int64_t *avg_n, *cur_n;
    int64_t nf;
    int64_t n_averaged, latest_step, latest_epoch;
    int32_t swapped;      /* 1 in validation: the model holds avg, cur the training weights */
    int32_t ckpt_swapped; /* 1 after on_save_checkpoint swapped avg in, until the next hook */
    int32_t restored_cur; /* the state restored a checkpoint's training weights into cur */
    /* A restored state, kept until the model's layout is known (alloc_copies). */
    unsigned char *rest;
    uint64_t rest_size;
    uint32_t rest_version;
    lhp_wbuf state;
} ema;

static int32_t em_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    ema *e;
    if (!LHOST_HOST_HAS(host, tensor_write)) {
        host->set_error(ctx, "this host has no tensor services (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(e = host->alloc(sizeof *e)))
        return LHOST_ENOMEM;
    memset(e, 0, sizeof *e);
    e->host = host;
    e->decay = lhost_param_float(p, "decay", 0.999);
    e->every = lhost_param_int(p, "update_every_n_steps", 1);
    e->start_step = lhost_param_int(p, "update_starting_at_step", -1);
    e->start_epoch = lhost_param_int(p, "update_starting_at_epoch", -1);
    e->use_buffers = (int32_t)lhost_param_int(p, "use_buffers", 1);
    e->latest_epoch = -1;
    *self = e;
    return LHOST_OK;
}

static void em_destroy(void *self)
{
    ema *e = self;
    lhp_layout_free(e->host, &e->lay);
    e->host->free(e->avg);
    e->host->free(e->cur);
    e->host->free(e->avg_n);
    e->host->free(e->cur_n);
    e->host->free(e->rest);
    free(e->state.data);
    e->host->free(e);
}

/* The model's parameters and buffers into w / c, or from them (write = 1). */
static int32_t model_copy(ema *e, lhost_ctx *ctx, float *w, int64_t *c, int32_t write)
{
    int32_t rc = write ? lhp_weights_write(e->host, ctx, &e->lay, w)
                       : lhp_weights_read(e->host, ctx, &e->lay, w);
    return rc != LHOST_OK ? rc
                          : lhp_buffers_copy(e->host, ctx, &e->lay, w + e->lay.total, c, write);
}

/* u64 n_averaged, latest step, latest epoch, floats, has_current[, counts (version 2)];
 * avg[floats], avg counts[counts]; cur[floats], cur counts[counts] if has_current. A version-1
 * state (from before buffers) holds the parameters only: the buffers start from the model's. */
static int32_t parse_state(ema *e, lhost_ctx *ctx, int32_t *loaded)
{
    lhp_rbuf r = {e->rest, e->rest_size, 0, 0};
    int64_t floats, has_cur, counts = 0, want_f = e->rest_version >= 2 ? e->nf : e->lay.total;
    e->n_averaged = lhp_get_i64(&r);
    e->latest_step = lhp_get_i64(&r);
    e->latest_epoch = lhp_get_i64(&r);
    floats = lhp_get_i64(&r);
    has_cur = lhp_get_i64(&r);
    if (e->rest_version >= 2)
        counts = lhp_get_i64(&r);
    if (r.failed || floats < 0 || counts < 0) {
        e->host->set_error(ctx, "ema state: truncated or not an ema state");
        return LHOST_ERROR;
    }
    *loaded = floats > 0;
    if (floats == 0)
        return LHOST_OK;
    if (floats != want_f || (e->rest_version >= 2 && counts != e->lay.b_counts)) {
        e->host->set_error(ctx, "ema state: its averaged weights are not this model's size");
        return LHOST_ERROR;
    }
    lhp_get(&r, e->avg, (uint64_t)floats * 4);
    lhp_get(&r, e->avg_n, (uint64_t)counts * 8);
    if (has_cur) {
        lhp_get(&r, e->cur, (uint64_t)floats * 4);
        lhp_get(&r, e->cur_n, (uint64_t)counts * 8);
    }
    if (r.failed || r.pos != r.size) {
        e->host->set_error(ctx, "ema state: size does not match its header");
        return LHOST_ERROR;
    }
    if (e->rest_version < 2 && e->nf > e->lay.total) { /* no buffers saved: the model's */
        int32_t rc = lhp_buffers_copy(e->host, ctx, &e->lay, e->avg + e->lay.total, e->avg_n, 0);
        if (rc != LHOST_OK)
            return rc;
        memcpy(e->cur + e->lay.total, e->avg + e->lay.total,
               (size_t)(e->nf - e->lay.total) * 4);
        memcpy(e->cur_n, e->avg_n, (size_t)e->lay.b_counts * 8);
    }
    return LHOST_OK;
}

static int32_t alloc_copies(ema *e, lhost_ctx *ctx)
{
    int32_t rc;
    uint64_t nf, nc;
    if (e->lay.numel)
        return LHOST_OK;
    if ((rc = lhp_layout_get(e->host, ctx, &e->lay)) != LHOST_OK)
        return rc;
    e->nf = e->lay.total + e->lay.b_floats;
    nf = (uint64_t)(e->nf > 0 ? e->nf : 1), nc = (uint64_t)(e->lay.b_counts + 1);
    if (!(e->avg = e->host->alloc(nf * 4)) || !(e->cur = e->host->alloc(nf * 4)) ||
        !(e->avg_n = e->host->alloc(nc * 8)) || !(e->cur_n = e->host->alloc(nc * 8)))
        return LHOST_ENOMEM;
    if (e->rest) { /* restored from a checkpoint */
        int32_t loaded = 0;
        rc = parse_state(e, ctx, &loaded);
        e->host->free(e->rest);
        e->rest = NULL;
        if (rc != LHOST_OK || loaded)
            return rc;
    }
    /* Lightning makes its AveragedModel from the model at setup: validation before the first
     * update sees these weights. */
    return model_copy(e, ctx, e->avg, e->avg_n, 0);
}

/* The training weights back after a checkpoint took the averaged ones. */
static int32_t settle(ema *e, lhost_ctx *ctx)
{
    if (!e->ckpt_swapped)
        return LHOST_OK;
    e->ckpt_swapped = 0;
    return model_copy(e, ctx, e->cur, e->cur_n, 1);
}

/* AveragedModel.update_parameters with the EMA avg_fn, in float32 as torch computes it: the
 * parameters, and the buffers too with use_buffers (an int64 count's float32 result truncated
 * by copy_), else the buffers copied. */
static int32_t update(ema *e, lhost_ctx *ctx)
{
    const float d = (float)e->decay, omd = (float)(1.0 - e->decay);
    const int32_t first = e->n_averaged == 0, buffers = e->use_buffers && !first;
    int64_t k, averaged = first ? 0 : buffers ? e->nf : e->lay.total;
    int32_t rc;
    if ((rc = model_copy(e, ctx, e->cur, e->cur_n, 0)) != LHOST_OK)
        return rc;
    for (k = 0; k < averaged; k++) {
        float a = d * e->avg[k], b = omd * e->cur[k];
        e->avg[k] = a + b;
    }
    memcpy(e->avg + averaged, e->cur + averaged, (size_t)(e->nf - averaged) * 4);
    for (k = 0; k < e->lay.b_counts; k++) {
        float a = d * (float)e->avg_n[k], b = omd * (float)e->cur_n[k];
        e->avg_n[k] = buffers ? (int64_t)(a + b) : e->cur_n[k];
    }
    e->n_averaged++;
    return LHOST_OK;
}

static int32_t em_fit_start(void *self, lhost_ctx *ctx)
{
    return alloc_copies(self, ctx);
}

static int32_t em_batch_start(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    (void)b;
    return settle(self, ctx);
}

static int32_t em_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    ema *e = self;
    lhost_trainer_state st;
    int64_t step_idx;
    int32_t rc;
    (void)b;
    if ((rc = settle(e, ctx)) != LHOST_OK || (rc = alloc_copies(e, ctx)) != LHOST_OK)
        return rc;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    e->host->trainer_state(ctx, &st);
    step_idx = st.global_step - 1;
    if (st.global_step <= e->latest_step)
        return LHOST_OK;
    if (!(e->every > 0 && step_idx % e->every == 0 &&
          (e->start_step < 0 || step_idx >= e->start_step)))
        return LHOST_OK;
    if ((rc = update(e, ctx)) != LHOST_OK)
        return rc;
    e->latest_step = st.global_step;
    return LHOST_OK;
}

static int32_t em_epoch_end(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    lhost_trainer_state st;
    int32_t rc;
    if ((rc = settle(e, ctx)) != LHOST_OK)
        return rc;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    e->host->trainer_state(ctx, &st);
    if (e->start_epoch < 0 || st.epoch < e->start_epoch || st.epoch <= e->latest_epoch)
        return LHOST_OK;
    if ((rc = update(e, ctx)) != LHOST_OK)
        return rc;
    e->latest_epoch = st.epoch;
    return LHOST_OK;
}

static int32_t em_epoch_start(void *self, lhost_ctx *ctx)
{
    return settle(self, ctx);
}

static int32_t em_validation_start(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    int32_t rc;
    if ((rc = settle(e, ctx)) != LHOST_OK || !e->avg || e->swapped)
        return rc;
    if ((rc = model_copy(e, ctx, e->cur, e->cur_n, 0)) != LHOST_OK ||
        (rc = model_copy(e, ctx, e->avg, e->avg_n, 1)) != LHOST_OK)
        return rc;
    e->swapped = 1;
    return LHOST_OK;
}

static int32_t em_validation_epoch_end(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    if (!e->swapped)
        return LHOST_OK;
    e->swapped = 0;
    return model_copy(e, ctx, e->cur, e->cur_n, 1);
}

static int32_t em_train_end(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    int32_t rc;
    if ((rc = settle(e, ctx)) != LHOST_OK || !e->avg)
        return rc;
    return model_copy(e, ctx, e->avg, e->avg_n, 1);
}

/* The checkpoint gets the averaged weights; cur keeps the training ones for the state. */
static int32_t em_save_checkpoint(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    int32_t rc;
    if (!e->avg || e->swapped || e->ckpt_swapped)
        return LHOST_OK; /* before fit, or the model holds avg already */
    if ((rc = model_copy(e, ctx, e->cur, e->cur_n, 0)) != LHOST_OK ||
        (rc = model_copy(e, ctx, e->avg, e->avg_n, 1)) != LHOST_OK)
        return rc;
    e->ckpt_swapped = 1;
    return LHOST_OK;
}

/* Resumed: the model was loaded with the checkpoint's (averaged) weights; the training ones
 * come from the state, as Lightning loads current_model_state. */
static int32_t em_load_checkpoint(void *self, lhost_ctx *ctx)
{
    ema *e = self;
    int32_t rc;
    if (!e->restored_cur)
        return LHOST_OK;
    if ((rc = alloc_copies(e, ctx)) != LHOST_OK)
        return rc;
    e->restored_cur = 0;
    return model_copy(e, ctx, e->cur, e->cur_n, 1);
}

/* The layout parse_state reads (version 2). */
static int32_t em_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    ema *e = self;
    int64_t has_cur, counts;
    if (e->rest && e->rest_version == 2) { /* restored, not yet matched to the model: as it came */
        *data = e->rest;
        *size = e->rest_size;
        return LHOST_OK;
    }
    if (e->rest) { /* an older version: take it in (the model's layout) and save it as today's */
        int32_t rc = alloc_copies(e, ctx);
        if (rc != LHOST_OK)
            return rc;
    }
    has_cur = e->swapped || e->ckpt_swapped, counts = e->avg ? e->lay.b_counts : 0;
    e->state.size = 0;
    lhp_put_i64(&e->state, e->n_averaged);
    lhp_put_i64(&e->state, e->latest_step);
    lhp_put_i64(&e->state, e->latest_epoch);
    lhp_put_i64(&e->state, e->avg ? e->nf : 0);
    lhp_put_i64(&e->state, e->avg ? has_cur : 0);
    lhp_put_i64(&e->state, counts);
    if (e->avg) {
        lhp_put(&e->state, e->avg, (uint64_t)e->nf * 4);
        lhp_put(&e->state, e->avg_n, (uint64_t)counts * 8);
        if (has_cur) {
            lhp_put(&e->state, e->cur, (uint64_t)e->nf * 4);
            lhp_put(&e->state, e->cur_n, (uint64_t)counts * 8);
        }
    }
    if (e->state.failed)
        return LHOST_ENOMEM;
    *data = e->state.data;
    *size = e->state.size;
    return LHOST_OK;
}

/* Kept as bytes until the model's layout is known; the header is read now (on_load_checkpoint
 * needs has_current, and a broken state fails at once). */
static int32_t em_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    ema *e = self;
    lhp_rbuf r = {(const unsigned char *)data, size, 0, 0};
    int64_t i, head[6];
    for (i = 0; i < (version >= 2 ? 6 : 5); i++)
        head[i] = lhp_get_i64(&r);
    if (r.failed || version < 1 || version > 2 || head[3] < 0 ||
        (uint64_t)head[3] > (size - r.pos) / 4) {
        e->host->set_error(ctx, "ema state: truncated or not an ema state");
        return LHOST_ERROR;
    }
    e->host->free(e->rest);
    if (!(e->rest = e->host->alloc(size ? size : 1)))
        return LHOST_ENOMEM;
    memcpy(e->rest, data, (size_t)size);
    e->rest_size = size;
    e->rest_version = version;
    e->restored_cur = head[3] > 0 && head[4] != 0;
    if (e->lay.numel) { /* the model was read already: take the state in now */
        int32_t loaded = 0, rc = parse_state(e, ctx, &loaded);
        e->host->free(e->rest);
        e->rest = NULL;
        return rc;
    }
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "decay", "avg = decay * avg + (1 - decay) * w",
     "0.999", NULL, 0, 1, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX},
    {sizeof(lhost_param), LHOST_PARAM_INT, "update_every_n_steps",
     "update after every N-th optimizer step (0: never by steps)", "1", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "update_starting_at_step",
     "first step index (0-based) that updates; unset: from the start", NULL, NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_INT, "update_starting_at_epoch",
     "also update at the end of every epoch from this one (0-based); unset: never", NULL, NULL,
     0, 0, LHOST_PARAM_HAS_MIN},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "use_buffers",
     "average the buffers (batch norm's statistics) too; false: copy the model's", "true",
     NULL, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = 2, /* 2: with the buffers */
    .create = em_create,
    .destroy = em_destroy,
    .on_fit_start = em_fit_start,
    .on_train_epoch_start = em_epoch_start,
    .on_train_batch_end = em_batch_end,
    .on_train_epoch_end = em_epoch_end,
    .state_save = em_state_save,
    .state_restore = em_state_restore,
    .on_train_end = em_train_end,
    .on_train_batch_start = em_batch_start,
    .on_validation_start = em_validation_start,
    .on_validation_epoch_end = em_validation_epoch_end,
    .on_save_checkpoint = em_save_checkpoint,
    .on_load_checkpoint = em_load_checkpoint,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.ema", "ema", "1.0.0",
    "exponential moving average of the weights for validation and checkpoints "
    "(EMAWeightAveraging)",
    params, sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
