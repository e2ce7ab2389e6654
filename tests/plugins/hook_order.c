/* tests/plugins/hook_order.c — an ABI 1.1 callback for tests/unit/test_hooks.c: every hook
 * appends a line to the file named by `out` ("on_train_batch_end 1"), in fit, validate and
 * predict (stages all three), and probes the 1.1 services in the hooks where each is valid or
 * refused:
 *   on_after_backward     tensor_info / tensor_read GRAD / grad_norm work (logs hk_grad_norm);
 *                         the optimizer states the run's optimizer (`optim`) has read, the
 *                         others are refused; tensor_write is refused
 *   on_train_batch_end    a parameter read and written back; tensor_read GRAD and grad_norm
 *                         are refused (LHOST_EUNSUPPORTED): "grad refused" once; at
 *                         global_step == stop_at_step, request_stop_flags(NOW)
 *   *_batch_end           batch_logits of batch_size x num_classes; sample_index checked
 *   on_validation_start   "(sanity)" added during the sanity check (trainer_state)
 *   on_train_epoch_end    save_checkpoint("hooks-e<epoch>.ckpt") when `save` is true
 *   on_fit_end            save_checkpoint("hooks-fit-end.ckpt") when `save_at_fit_end` is true
 *                         (the model as training left it, after every on_train_end)
 *   on_save_checkpoint    checkpoint_put("marker", "m<step>")
 *   on_load_checkpoint    checkpoint_get("marker"): "loaded m<step>" */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lhost/lhost.h>

typedef struct hk {
    const lhost_host *host;
    FILE *f;
    int64_t stop_at_step;
    int32_t save, save_at_fit_end, grad_refused_said;
    int64_t optim; /* what the run trains with: 0 Adam, 1 SGD with momentum, 2 SGD without */
} hk;

static int32_t fail(hk *h, lhost_ctx *ctx, const char *msg)
{
    h->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

static void line(hk *h, const char *name, int64_t batch)
{
    if (batch >= 0)
        fprintf(h->f, "%s %lld\n", name, (long long)batch);
    else
        fprintf(h->f, "%s\n", name);
    fflush(h->f);
}

static int64_t step_of(hk *h, lhost_ctx *ctx)
{
    lhost_trainer_state st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    h->host->trainer_state(ctx, &st);
    return st.global_step;
}

static int32_t create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                      void **self)
{
    hk *h = calloc(1, sizeof *h);
    if (!h || !(h->f = fopen(lhost_param_string(p, "out", "hooks.txt"), "a"))) {
        free(h);
        host->set_error(ctx, "cannot open the out file");
        return LHOST_ERROR;
    }
    h->host = host;
    h->stop_at_step = lhost_param_int(p, "stop_at_step", -1);
    h->save = (int32_t)lhost_param_int(p, "save", 0);
    h->save_at_fit_end = (int32_t)lhost_param_int(p, "save_at_fit_end", 0);
    h->optim = lhost_param_int(p, "optim", 0);
    *self = h;
    return LHOST_OK;
}

static void destroy(void *self)
{
    hk *h = self;
    fclose(h->f);
    free(h);
}

/* The batch view and the logits. */
static int32_t check_batch(hk *h, lhost_ctx *ctx, const lhost_batch_info *b, int32_t logits)
{
    float *buf;
    uint64_t n = (uint64_t)b->batch_size * (uint64_t)b->num_classes;
    int32_t rc;
    if (b->struct_size < sizeof *b || b->input_ndim != 4 || b->input_shape[0] != b->batch_size ||
        !b->targets || !b->sample_index || b->targets[0] < 0 || b->targets[0] >= b->num_classes)
        return fail(h, ctx, "batch view");
    if (b->stage != LHOST_STAGE_FIT && b->sample_index[0] != b->batch_idx * b->batch_size &&
        b->sample_index[b->batch_size - 1] < b->sample_index[0])
        return fail(h, ctx, "sample_index");
    if (!logits)
        return h->host->batch_logits(ctx, (float[1]){0}, 1) == LHOST_EUNSUPPORTED
                   ? LHOST_OK
                   : fail(h, ctx, "batch_logits before forward was not refused");
    buf = malloc(n * 4);
    rc = h->host->batch_logits(ctx, buf, n);
    if (rc == LHOST_OK && h->host->batch_logits(ctx, buf, n + 1) != LHOST_EINVAL)
        rc = LHOST_ERROR;
    if (rc == LHOST_OK && !isfinite(buf[0]))
        rc = LHOST_ERROR;
    free(buf);
    return rc == LHOST_OK ? LHOST_OK : fail(h, ctx, "batch_logits");
}

#define CTX_HOOK(name)                                                                         \
    static int32_t name(void *self, lhost_ctx *ctx)                                            \
    {                                                                                          \
        line(self, #name, -1);                                                                 \
        return LHOST_OK;                                                                       \
    }
CTX_HOOK(on_fit_start)
CTX_HOOK(on_train_start)
CTX_HOOK(on_train_epoch_start)
/* The sanity check's validation says so (trainer_state's sanity_checking, since ABI 1.1). */
static int32_t on_validation_start(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    lhost_trainer_state st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    h->host->trainer_state(ctx, &st);
    line(h, st.sanity_checking ? "on_validation_start (sanity)" : "on_validation_start", -1);
    return LHOST_OK;
}
CTX_HOOK(on_validation_epoch_end)
CTX_HOOK(on_validation_end)
CTX_HOOK(on_train_end)

static int32_t on_fit_end(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    line(h, "on_fit_end", -1);
    if (!h->save_at_fit_end)
        return LHOST_OK;
    return h->host->save_checkpoint(ctx, "hooks-fit-end.ckpt", 0) == LHOST_OK ? LHOST_OK
                                                                              : LHOST_ERROR;
}
CTX_HOOK(on_predict_start)
CTX_HOOK(on_predict_end)
CTX_HOOK(on_before_optimizer_step)

static int32_t on_train_batch_start(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    line(self, "on_train_batch_start", b->batch_idx);
    return isnan(b->loss) ? check_batch(self, ctx, b, 0) : fail(self, ctx, "loss before forward");
}

static int32_t on_after_backward(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    lhost_tensor_info ti;
    int32_t n = 0, idx = -1;
    double total = 0, per[64];
    float *g;
    line(h, "on_after_backward", -1);
    memset(&ti, 0, sizeof ti);
    ti.struct_size = sizeof ti;
    if (h->host->tensor_count(ctx, &n) != LHOST_OK || n < 2 || n > 64 ||
        h->host->tensor_info(ctx, 0, &ti) != LHOST_OK || ti.dtype != LHOST_TENSOR_F32 ||
        h->host->tensor_find(ctx, ti.name, &idx) != LHOST_OK || idx != 0)
        return fail(h, ctx, "tensor enumeration");
    g = malloc((size_t)ti.numel * 4);
    if (h->host->tensor_read(ctx, 0, LHOST_TENSOR_GRAD, g, (uint64_t)ti.numel) != LHOST_OK ||
        h->host->tensor_read(ctx, 0, LHOST_TENSOR_GRAD, g, (uint64_t)ti.numel + 1) !=
            LHOST_EINVAL ||
        h->host->tensor_read(ctx, 0, LHOST_TENSOR_MOMENTUM_BUFFER, g, (uint64_t)ti.numel) !=
            (h->optim == 1 ? LHOST_OK : LHOST_EUNSUPPORTED) ||
        h->host->tensor_read(ctx, 0, LHOST_TENSOR_EXP_AVG, g, (uint64_t)ti.numel) !=
            (h->optim == 0 ? LHOST_OK : LHOST_EUNSUPPORTED) ||
        h->host->tensor_read(ctx, 0, LHOST_TENSOR_EXP_AVG_SQ, g, (uint64_t)ti.numel) !=
            (h->optim == 0 ? LHOST_OK : LHOST_EUNSUPPORTED) ||
        h->host->tensor_write(ctx, 0, g, (uint64_t)ti.numel) != LHOST_EUNSUPPORTED) {
        free(g);
        return fail(h, ctx, "tensor_read in on_after_backward");
    }
    free(g);
    if (h->host->grad_norm(ctx, 2.0, per, &total) != LHOST_OK || !(total > 0))
        return fail(h, ctx, "grad_norm");
    h->host->log_value(ctx, "hk_grad_norm", total, LHOST_LOGF_ON_STEP);
    return LHOST_OK;
}

static int32_t on_train_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    hk *h = self;
    float bias[10];
    int32_t rc;
    line(h, "on_train_batch_end", b->batch_idx);
    if ((rc = check_batch(h, ctx, b, 1)) != LHOST_OK)
        return rc;
    /* tensor 1 is fc.bias (10 floats) in the test's model */
    if (h->host->grad_norm(ctx, 2.0, NULL, NULL) != LHOST_EUNSUPPORTED ||
        h->host->tensor_read(ctx, 1, LHOST_TENSOR_GRAD, bias, 10) != LHOST_EUNSUPPORTED ||
        h->host->tensor_read(ctx, 1, LHOST_TENSOR_PARAM, bias, 10) != LHOST_OK)
        return fail(h, ctx, "gradients were not refused after the optimizer step");
    /* A parameter read and written back unchanged (as an EMA swap would, twice). */
    {
        lhost_tensor_info ti;
        float *w;
        memset(&ti, 0, sizeof ti);
        ti.struct_size = sizeof ti;
        h->host->tensor_info(ctx, 1, &ti);
        w = malloc((size_t)ti.numel * 4);
        rc = h->host->tensor_read(ctx, 1, LHOST_TENSOR_PARAM, w, (uint64_t)ti.numel) ||
             h->host->tensor_write(ctx, 1, w, (uint64_t)ti.numel);
        free(w);
        if (rc)
            return fail(h, ctx, "tensor_read / tensor_write of a parameter");
    }
    if (!h->grad_refused_said) {
        h->grad_refused_said = 1;
        fprintf(h->f, "grad refused\n");
    }
    if (step_of(h, ctx) == h->stop_at_step)
        h->host->request_stop_flags(ctx, "stop now", LHOST_STOP_NOW);
    return LHOST_OK;
}

static int32_t on_validation_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    line(self, "on_validation_batch_end", b->batch_idx);
    return check_batch(self, ctx, b, 1);
}

static int32_t on_predict_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    line(self, "on_predict_batch_end", b->batch_idx);
    return check_batch(self, ctx, b, 1);
}

static int32_t on_train_epoch_end(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    lhost_trainer_state st;
    char path[64];
    line(h, "on_train_epoch_end", -1);
    if (!h->save)
        return LHOST_OK;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    h->host->trainer_state(ctx, &st);
    snprintf(path, sizeof path, "hooks-e%lld.ckpt", (long long)st.epoch);
    return h->host->save_checkpoint(ctx, path, 0) == LHOST_OK ? LHOST_OK : LHOST_ERROR;
}

static int32_t on_save_checkpoint(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    char v[32];
    line(h, "on_save_checkpoint", -1);
    snprintf(v, sizeof v, "m%lld", (long long)step_of(h, ctx));
    if (h->host->checkpoint_put(ctx, "Bad Key", v) != LHOST_EINVAL)
        return fail(h, ctx, "a bad metadata key was accepted");
    return h->host->checkpoint_put(ctx, "marker", v) == LHOST_OK ? LHOST_OK : LHOST_ERROR;
}

static int32_t on_load_checkpoint(void *self, lhost_ctx *ctx)
{
    hk *h = self;
    char v[32];
    line(h, "on_load_checkpoint", -1);
    if (h->host->checkpoint_get(ctx, "marker", v, sizeof v) != LHOST_OK)
        return fail(h, ctx, "marker missing");
    fprintf(h->f, "loaded %s\n", v);
    return LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "out", "file to append to", "hooks.txt", NULL, 0, 0,
     0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "stop_at_step", "request a stop now at this step",
     "-1", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "save", "save a checkpoint at every epoch end",
     "false", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "save_at_fit_end",
     "save hooks-fit-end.ckpt in on_fit_end", "false", NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_INT, "optim",
     "the run's optimizer: 0 Adam, 1 SGD with momentum, 2 SGD without", "0", NULL, 0, 0, 0},
};

static const lhost_callback_vtable vt = {
    .struct_size = sizeof(lhost_callback_vtable),
    .create = create,
    .destroy = destroy,
    .on_fit_start = on_fit_start,
    .on_train_epoch_start = on_train_epoch_start,
    .on_train_batch_end = on_train_batch_end,
    .on_validation_end = on_validation_end,
    .on_train_epoch_end = on_train_epoch_end,
    .on_fit_end = on_fit_end,
    .stages = LHOST_STAGEF_FIT | LHOST_STAGEF_VALIDATE | LHOST_STAGEF_PREDICT,
    .on_train_start = on_train_start,
    .on_train_end = on_train_end,
    .on_train_batch_start = on_train_batch_start,
    .on_after_backward = on_after_backward,
    .on_before_optimizer_step = on_before_optimizer_step,
    .on_validation_start = on_validation_start,
    .on_validation_batch_end = on_validation_batch_end,
    .on_validation_epoch_end = on_validation_epoch_end,
    .on_predict_start = on_predict_start,
    .on_predict_batch_end = on_predict_batch_end,
    .on_predict_end = on_predict_end,
    .on_save_checkpoint = on_save_checkpoint,
    .on_load_checkpoint = on_load_checkpoint,
};

static const lhost_plugin_desc desc = {sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK,
                                       "org.lhost.test.hook_order", "hook_order", "1.1.0",
                                       "logs every hook", params,
                                       sizeof params / sizeof params[0], 0, &vt};
static const lhost_plugin_desc *const plugins[] = {&desc};
static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL, 1,
                                      plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *abi,
                                                     const lhost_host *host)
{
    (void)abi, (void)host;
    return &library;
}
