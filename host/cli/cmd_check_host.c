/* host/cli/cmd_check_host.c — the checker's host (cmd_check_host.h): a real model and the
 * trainer's own services, so a plugin that reads tensors, gradients or logits is checked against
 * what `lhost train` answers, windows and refusals included, not against a stand-in.
 *
 * The model is built as the trainer builds one (lh_model_plan, lh_model_alloc, lh_model_init,
 * lh_optim_alloc on the CPU backend with one thread, so two hosts fed the same batches compute
 * the same bytes), and the trainer struct is filled only where the services read it. The
 * batches are generated: epoch e, batch b holds b == 0 ? 0 : b == 1 ? 1 : 32 samples of a
 * seeded pattern, targets i % 4 (the one-sample batch: class 0 only). */
#include "cmd_check_host.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define IN_C 1
#define IN_HW 6
#define CLASSES 4
#define SEED 17

static const char model_json[] =
    "{\"in_c\":1,\"in_h\":6,\"in_w\":6,\"layers\":["
    "{\"type\":\"conv2d\",\"name\":\"conv\",\"in_channels\":0,\"out_channels\":2,"
    "\"kernel_size\":3,\"stride\":1,\"padding\":0},"
    "{\"type\":\"relu\",\"name\":\"act\"},{\"type\":\"flatten\",\"name\":\"flat\"},"
    "{\"type\":\"linear\",\"name\":\"fc\",\"in_features\":0,\"out_features\":4}]}";

/* The trainer's request_stop and request_stop_flags, wrapped to be recorded. */
static int32_t (*trainer_request_stop)(void *, const char *, const char *);
static int32_t (*trainer_request_stop_flags)(void *, const char *, const char *, uint32_t);

void lh_check_host_note(lh_check_host *h, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    if (!h->rec)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n = n < 0 ? 0 : n >= (int)sizeof line ? (int)sizeof line - 1 : n;
    for (int i = 0; i < n; i++) /* FNV-1a over everything recorded */
        h->rec->hash = (h->rec->hash ^ (unsigned char)line[i]) * 0x100000001b3ull;
    h->rec->total += (uint64_t)n;
    if (h->rec->len + (size_t)n < sizeof h->rec->text) {
        memcpy(h->rec->text + h->rec->len, line, (size_t)n + 1);
        h->rec->len += (size_t)n;
    }
}

/* ---- the services the checker scripts ------------------------------------------------------ */

static int32_t c_get_value(void *u, const char *key, double *out)
{
    const lh_check_host *h = u;
    (void)key;
    if (h->phase == 0)
        return LHOST_ENOTFOUND;
    *out = h->phase == 1 ? NAN : h->phase == 2 ? INFINITY : 0.5 + 0.01 * (double)h->t.epoch;
    return LHOST_OK;
}

static int32_t c_log_value(void *u, const char *key, double value, uint32_t flags)
{
    lh_check_host_note(u, "value %s=%.17g/%u;", key, value, (unsigned)flags);
    return LHOST_OK;
}

static int32_t c_list_values(void *u, lhost_value_visitor visit, void *vu)
{
    double v;
    if (c_get_value(u, "val_loss", &v) == LHOST_OK)
        visit(vu, "val_loss", v);
    return LHOST_OK;
}

static int32_t c_request_stop(void *u, const char *who, const char *reason)
{
    lh_check_host_note(u, "stop %s;", reason ? reason : "");
    return trainer_request_stop(u, who, reason);
}

static int32_t c_request_stop_flags(void *u, const char *who, const char *reason, uint32_t fl)
{
    lh_check_host_note(u, "stop/%u %s;", (unsigned)fl, reason ? reason : "");
    return trainer_request_stop_flags(u, who, reason, fl);
}

/* A checkpoint without data: a small file where the plugin asked (the rule runs in a temporary
 * folder), so a checkpointing callback can do its bookkeeping. */
static int32_t c_save_checkpoint(void *u, const char *path, uint32_t flags, lh_error *err)
{
    FILE *f = fopen(path, "wb");
    lh_check_host_note(u, "save_checkpoint %s/%u;", path, (unsigned)flags);
    if (!f || fputs("lhost plugins check\n", f) < 0) {
        if (f)
            fclose(f);
        return lh_error_set(err, "cannot write %s", path);
    }
    return fclose(f) == 0 ? 0 : lh_error_set(err, "cannot write %s", path);
}

static void c_log(void *u, const char *who, int32_t level, const char *msg)
{
    (void)who; /* a checker prints verdicts, not chatter: the line is only recorded */
    lh_check_host_note(u, "log %d %s;", (int)level, msg);
}

/* ---- setting up ------------------------------------------------------------------------- */

int lh_check_host_init(lh_check_host *h, lh_error *err)
{
    lh_trainer *t = &h->t;
    lh_model_spec spec;
    lh_rng rng;
    memset(h, 0, sizeof *h);
    t->ckpt_hook = -1;
    h->nan_epoch = -1;
    t->opts.max_epochs = LH_CHECK_EPOCHS;
    t->opts.log_every_n_steps = 1;
    t->opts.seed = SEED;
    t->num_train_batches = t->num_val_batches = LH_CHECK_BATCHES;
    t->stage = LHOST_STAGE_FIT;
    lh_rng_seed(&rng, SEED, 0);
    if (lh_backend_select("cpu", 1, &t->be, &t->bctx, err))
        return -1;
    if (lh_model_spec_from_json(model_json, &spec, err) || lh_model_plan(&t->model, &spec, err) ||
        lh_model_alloc(&t->model, t->be, t->bctx, LH_CHECK_ROWS, err) ||
        lh_model_init(&t->model, &rng, err) || lh_optim_from_cfg(NULL, &t->optim, err) ||
        lh_optim_alloc(&t->optim, t->be, t->bctx, t->model.total_params, err) ||
        (!(h->zeros = calloc((size_t)t->model.total_params, sizeof *h->zeros)) &&
         lh_error_set(err, "out of memory"))) {
        lh_check_host_free(h);
        return -1;
    }
    lh_trainer_env_init(t);
    trainer_request_stop = t->env.request_stop;
    trainer_request_stop_flags = t->env.request_stop_flags;
    t->env.user = h;
    t->env.log = c_log;
    t->env.get_value = c_get_value;
    t->env.log_value = c_log_value;
    t->env.list_values = c_list_values;
    t->env.request_stop = c_request_stop;
    t->env.request_stop_flags = c_request_stop_flags;
    t->env.save_checkpoint = c_save_checkpoint;
    return 0;
}

void lh_check_host_free(lh_check_host *h)
{
    lh_trainer *t = &h->t;
    lh_optim_free(&t->optim);
    lh_model_free(&t->model);
    if (t->be && t->bctx)
        t->be->close(t->bctx);
    for (int i = 0; i < LH_MAX_SNAPSHOTS; i++)
        free(t->snapshots[i]);
    lh_trainer_ckpt_meta_clear(t);
    free(h->zeros);
    memset(h, 0, sizeof *h);
}

/* dst's device buffer `d` := src's `s` (`floats` of them). */
static int copy_dmem(const lh_check_host *src, const lh_dmem *s, lh_check_host *dst, lh_dmem *d,
                     int64_t floats, lh_error *err)
{
    float *tmp;
    int rc;
    if (!s || !d)
        return 0;
    if (!(tmp = malloc((size_t)floats * sizeof *tmp)))
        return lh_error_set(err, "out of memory");
    rc = src->t.be->download(src->t.bctx, tmp, s, (size_t)floats * 4) ||
         dst->t.be->upload(dst->t.bctx, d, tmp, (size_t)floats * 4);
    free(tmp);
    return rc ? lh_error_set(err, "cpu backend: %s", src->t.be->last_error(src->t.bctx)) : 0;
}

int lh_check_host_copy(lh_check_host *dst, const lh_check_host *src, lh_error *err)
{
    const lh_trainer *s = &src->t;
    lh_trainer *d = &dst->t;
    int64_t n = s->model.total_params;
    if (copy_dmem(src, s->model.param, dst, d->model.param, n, err) ||
        copy_dmem(src, s->optim.m, dst, d->optim.m, n, err) ||
        copy_dmem(src, s->optim.v, dst, d->optim.v, n, err))
        return -1;
    d->optim.step = s->optim.step, d->optim.lr = s->optim.lr;
    d->epoch = s->epoch, d->global_step = s->global_step, d->batch_idx = s->batch_idx;
    d->stop_requested = s->stop_requested, d->stop_now = s->stop_now;
    memcpy(d->stop_reason, s->stop_reason, sizeof d->stop_reason);
    for (int i = 0; i < LH_MAX_SNAPSHOTS; i++) {
        if (!s->snapshots[i])
            continue;
        if (!d->snapshots[i] && !(d->snapshots[i] = malloc((size_t)n * 4)))
            return lh_error_set(err, "out of memory");
        memcpy(d->snapshots[i], s->snapshots[i], (size_t)n * 4);
    }
    dst->phase = src->phase;
    memcpy(dst->seen, src->seen, sizeof dst->seen);
    return 0;
}

int lh_check_host_same_model(const lh_check_host *a, const lh_check_host *b, lh_error *err)
{
    size_t bytes = (size_t)a->t.model.total_params * 4;
    float *x = malloc(bytes), *y = malloc(bytes);
    int rc = -1;
    if (!x || !y)
        lh_error_set(err, "out of memory");
    else if (a->t.be->download(a->t.bctx, x, a->t.model.param, bytes) ||
             b->t.be->download(b->t.bctx, y, b->t.model.param, bytes))
        lh_error_set(err, "cpu backend: %s", a->t.be->last_error(a->t.bctx));
    else
        rc = memcmp(x, y, bytes) == 0;
    free(x), free(y);
    return rc;
}

/* ---- the fit ---------------------------------------------------------------------------- */

/* A hook's outcome: a legal status, and a message with every failure. A hook may refuse (a
 * missing monitor key) when it says why. */
static int judge(int32_t rc, const lh_error *err, lh_check_verdict *v)
{
    if (rc == LHOST_OK || rc == LHOST_STOP)
        return 0;
    if (strstr(err->msg, "failed without a message") || strstr(err->msg, "returned status"))
        return lh_cmd_check_fail(v, "%s", err->msg);
    return 0;
}

static int hook(lh_check_host *h, lh_dispatch *d, int32_t k, const lhost_batch_info *bi,
                lh_check_verdict *v)
{
    lh_error err;
    int32_t rc;
    err.msg[0] = '\0';
    h->seen[k] = 1;
    if (k == LH_HOOK_SAVE_CHECKPOINT || k == LH_HOOK_LOAD_CHECKPOINT)
        h->t.ckpt_hook = k; /* checkpoint_put / checkpoint_get answer inside these only */
    if (lh_dispatch_hook_kind(k) == LH_HOOK_KIND_BATCH && k != LH_HOOK_TRAIN_BATCH_START)
        h->t.batch_rows = (int32_t)bi->batch_size; /* after forward: the logits are there */
    rc = lh_dispatch_hook(d, k, bi, &err);
    h->t.ckpt_hook = -1, h->t.batch_rows = 0;
    if (k == LH_HOOK_SAVE_CHECKPOINT)
        lh_trainer_ckpt_meta_clear(&h->t); /* no checkpoint carries them: there is no data */
    lh_check_host_note(h, "%s=%d:%s;", lh_dispatch_hook_name(k), (int)rc,
                       rc == LHOST_ERROR ? err.msg : "");
    return judge(rc, &err, v);
}

int lh_check_host_hook(lh_check_host *h, lh_dispatch *d, int32_t k, const lhost_batch_info *bi,
                       lh_check_verdict *v)
{
    return hook(h, d, k, bi, v);
}

/* Batch b of epoch e into the model's input and targets, and its view. */
static int batch(lh_check_host *h, int64_t e, int32_t b, int32_t stage, lhost_batch_info *bi,
                 lh_error *err)
{
    lh_trainer *t = &h->t;
    int32_t n = b == 0 ? 0 : b == 1 ? 1 : LH_CHECK_ROWS, per = IN_C * IN_HW * IN_HW;
    lh_rng rng;
    lh_rng_seed(&rng, SEED + (uint64_t)e, (uint64_t)b + 1);
    for (int32_t i = 0; i < n * per; i++)
        h->inputs[i] = (float)lh_rng_next(&rng) / 4294967296.0f - 0.5f;
    for (int32_t i = 0; i < n; i++)
        h->targets[i] = n == 1 ? 0 : i % CLASSES, h->index[i] = b * LH_CHECK_ROWS + i;
    if (e == h->nan_epoch && b == LH_CHECK_BATCHES - 1)
        h->inputs[0] = NAN, h->inputs[1] = INFINITY;
    lh_trainer_batch_info(t, stage, b, n, h->index, 0, NAN, bi); /* as the trainer's hooks */
    bi->targets = h->targets;
    t->batch_idx = b;
    if (n > 0 && (t->be->upload(t->bctx, t->model.input, h->inputs, (size_t)(n * per) * 4) ||
                  t->be->upload(t->bctx, t->model.targets, h->targets, (size_t)n * 4)))
        return lh_error_set(err, "cpu backend: upload: %s", t->be->last_error(t->bctx));
    return 0;
}

/* Forward (training or eval) and the mean loss into bi->loss; training: backward too. An empty
 * batch has no forward; its gradient is zero. */
static int step(lh_check_host *h, int32_t training, lhost_batch_info *bi, lh_error *err)
{
    lh_trainer *t = &h->t;
    int32_t n = (int32_t)bi->batch_size;
    float loss;
    if (h->no_arithmetic)
        return 0;
    if (n == 0)
        return training && t->be->upload(t->bctx, t->model.grad, h->zeros,
                                         (size_t)t->model.total_params * 4)
                   ? lh_error_set(err, "cpu backend: %s", t->be->last_error(t->bctx))
                   : 0;
    if (lh_model_forward(&t->model, n, training, t->global_step, err) ||
        lh_model_loss(&t->model, n, training, err) ||
        (training && lh_model_backward(&t->model, n, err)))
        return -1;
    if (t->be->download(t->bctx, &loss, t->model.loss, sizeof loss))
        return lh_error_set(err, "cpu backend: %s", t->be->last_error(t->bctx));
    bi->loss = loss;
    return 0;
}

static int train_epoch(lh_check_host *h, lh_dispatch *d, lh_check_verdict *v)
{
    lh_trainer *t = &h->t;
    lhost_batch_info bi;
    lh_error err = {""};
    if (hook(h, d, LH_HOOK_TRAIN_EPOCH_START, NULL, v))
        return -1;
    for (int32_t b = 0; b < LH_CHECK_BATCHES; b++) {
        int rc;
        if (batch(h, t->epoch, b, LHOST_STAGE_FIT, &bi, &err) ||
            hook(h, d, LH_HOOK_TRAIN_BATCH_START, &bi, v) || step(h, 1, &bi, &err))
            goto failed;
        t->grads_valid = 1;
        rc = hook(h, d, LH_HOOK_AFTER_BACKWARD, NULL, v) ||
             hook(h, d, LH_HOOK_BEFORE_OPTIMIZER_STEP, NULL, v);
        t->grads_valid = 0;
        if (rc)
            return -1;
        if (lh_optim_step(&t->optim, t->model.param, t->model.grad, &err))
            goto failed;
        t->global_step++;
        if (hook(h, d, LH_HOOK_TRAIN_BATCH_END, &bi, v))
            return -1;
    }
    if (hook(h, d, LH_HOOK_VALIDATION_START, NULL, v))
        return -1;
    for (int32_t b = 0; b < LH_CHECK_BATCHES; b++)
        if (batch(h, t->epoch, b, LHOST_STAGE_FIT, &bi, &err) || step(h, 0, &bi, &err) ||
            hook(h, d, LH_HOOK_VALIDATION_BATCH_END, &bi, v))
            goto failed;
    t->batch_idx = -1;
    return hook(h, d, LH_HOOK_VALIDATION_EPOCH_END, NULL, v) ||
                   hook(h, d, LH_HOOK_VALIDATION_END, NULL, v) ||
                   hook(h, d, LH_HOOK_SAVE_CHECKPOINT, NULL, v) ||
                   hook(h, d, LH_HOOK_TRAIN_EPOCH_END, NULL, v)
               ? -1
               : 0;
failed:
    return err.msg[0] ? lh_cmd_check_fail(v, "the checker's model: %s", err.msg) : -1;
}

static int predict(lh_check_host *h, lh_dispatch *d, lh_check_verdict *v)
{
    lhost_batch_info bi;
    lh_error err = {""};
    h->t.stage = LHOST_STAGE_PREDICT;
    if (hook(h, d, LH_HOOK_PREDICT_START, NULL, v))
        return -1;
    for (int32_t b = 0; b < LH_CHECK_BATCHES; b++)
        if (batch(h, 0, b, LHOST_STAGE_PREDICT, &bi, &err) || step(h, 0, &bi, &err) ||
            hook(h, d, LH_HOOK_PREDICT_BATCH_END, &bi, v))
            return err.msg[0] ? lh_cmd_check_fail(v, "the checker's model: %s", err.msg) : -1;
    h->t.batch_idx = -1;
    return hook(h, d, LH_HOOK_PREDICT_END, NULL, v);
}

int lh_check_host_fit(lh_check_host *h, lh_dispatch *d, int64_t from, int64_t to, int start,
                      int end, lh_check_verdict *v)
{
    lh_trainer *t = &h->t;
    t->stage = LHOST_STAGE_FIT;
    if (start && (hook(h, d, LH_HOOK_FIT_START, NULL, v) ||
                  hook(h, d, LH_HOOK_TRAIN_START, NULL, v)))
        return -1;
    for (t->epoch = from; t->epoch < to; t->epoch++) {
        h->phase = (int32_t)t->epoch;
        if (train_epoch(h, d, v))
            return -1;
    }
    t->epoch = to - 1;
    if (!end)
        return 0;
    if (hook(h, d, LH_HOOK_TRAIN_END, NULL, v) || hook(h, d, LH_HOOK_FIT_END, NULL, v) ||
        predict(h, d, v))
        return -1;
    for (int32_t k = 0; k < LH_HOOK_COUNT; k++) {
        lhost_batch_info bi;
        lh_error err = {""};
        if (h->seen[k])
            continue;
        if (batch(h, 0, LH_CHECK_BATCHES - 1, LHOST_STAGE_FIT, &bi, &err))
            return lh_cmd_check_fail(v, "the checker's model: %s", err.msg);
        if (hook(h, d, k, &bi, v))
            return -1;
    }
    return 0;
}
