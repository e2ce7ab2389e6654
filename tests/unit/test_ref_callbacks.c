/* tests/unit/test_ref_callbacks.c — the reference callbacks' arithmetic and schedules through a
 * scripted host with tensor services (a two-tensor "model" the test sets before each hook),
 * against tests/golden/ref_callbacks.txt from tests/golden/gen_ref_callbacks.py (torch):
 *   ema: the average after 12 steps within 1e-6 of AveragedModel with Lightning's EMA avg_fn
 *        and EMAWeightAveraging's should_update, also across a checkpoint; the swaps for
 *        validation and checkpoints; with batch norm, the buffers averaged as
 *        AveragedModel(use_buffers=True) does (count exact), or copied (use_buffers=false);
 *   swa: the lr of every epoch equal to torch's SWALR (1e-12 relative) and the final weights
 *        within 1e-6 of AveragedModel on StochasticWeightAveraging's schedule, also resumed;
 *        with batch norm, update_bn asked once at the end (its numbers: test_update_bn);
 *   grad_norm: Lightning's keys ("grad_2.0_norm/fc.weight", "grad_inf_norm_total") and the
 *        logged norms within 1e-5 relative of torch's;
 *   lr_monitor: "lr-Adam" / "lr-SGD-momentum" at the intervals Lightning logs them;
 *   timer: durations as Lightning parses them, the stop at the first batch end past the limit,
 *        the elapsed time across a checkpoint.
 * The trainer runs of these plugins are test_ref_callbacks_run.
 * Run: ctest --test-dir build -R test_ref_callbacks --output-on-failure */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "fake_host.h"

#define NW 15 /* fc.weight (3, 4) + fc.bias (3) */
#define MAX_LOGGED 512

static struct {
    float w[NW], g[NW];
    double lr, momentum, log_every;
    const char *optimizer;
    int set_lr_calls;
    int stop_calls;
    uint32_t stop_flags;
    int n_logged;
    char keys[MAX_LOGGED][96];
    double vals[MAX_LOGGED];
    /* with_bn: a BatchNorm1d(3, affine=False) beside the tensors: its buffers running_mean
     * and running_var (bn[0..5]) and num_batches_tracked (count) */
    int with_bn, update_bn_calls;
    float bn[6];
    int64_t count;
} th;

static const char *const th_names[] = {"fc.weight", "fc.bias"};
static const int64_t th_numel[] = {12, 3};
static const int64_t th_off[] = {0, 12};

static int32_t th_tensor_count(lhost_ctx *ctx, int32_t *out)
{
    (void)ctx;
    *out = 2;
    return LHOST_OK;
}

static int32_t th_tensor_info(lhost_ctx *ctx, int32_t i, lhost_tensor_info *out)
{
    (void)ctx;
    if (i < 0 || i > 1)
        return LHOST_EINVAL;
    out->dtype = LHOST_TENSOR_F32;
    out->name = th_names[i];
    out->ndim = i == 0 ? 2 : 1;
    out->index = i;
    out->shape[0] = 3;
    out->shape[1] = i == 0 ? 4 : 0;
    out->numel = th_numel[i];
    return LHOST_OK;
}

static int32_t th_tensor_read(lhost_ctx *ctx, int32_t i, int32_t what, float *dst, uint64_t n)
{
    (void)ctx;
    if (i < 0 || i > 1 || n != (uint64_t)th_numel[i])
        return LHOST_EINVAL;
    memcpy(dst, (what == LHOST_TENSOR_GRAD ? th.g : th.w) + th_off[i], n * 4);
    return LHOST_OK;
}

static int32_t th_tensor_write(lhost_ctx *ctx, int32_t i, const float *src, uint64_t n)
{
    (void)ctx;
    if (i < 0 || i > 1 || n != (uint64_t)th_numel[i])
        return LHOST_EINVAL;
    memcpy(th.w + th_off[i], src, n * 4);
    return LHOST_OK;
}

static const char *const th_bn_names[] = {"bn.running_mean", "bn.running_var",
                                           "bn.num_batches_tracked"};

static int32_t th_buffer_count(lhost_ctx *ctx, int32_t *out)
{
    (void)ctx;
    *out = th.with_bn ? 3 : 0;
    return LHOST_OK;
}

static int32_t th_buffer_info(lhost_ctx *ctx, int32_t i, lhost_tensor_info *out)
{
    (void)ctx;
    if (!th.with_bn || i < 0 || i > 2)
        return LHOST_EINVAL;
    out->dtype = i == 2 ? LHOST_TENSOR_I64 : LHOST_TENSOR_F32;
    out->name = th_bn_names[i];
    out->ndim = i == 2 ? 0 : 1;
    out->index = i;
    out->shape[0] = i == 2 ? 0 : 3;
    out->numel = i == 2 ? 1 : 3;
    return LHOST_OK;
}

/* Buffer i's storage in th, or NULL when i or n is not a buffer's. */
static void *th_buffer(int32_t i, uint64_t n)
{
    if (!th.with_bn || i < 0 || i > 2 || n != (i == 2 ? 1u : 3u))
        return NULL;
    return i == 2 ? (void *)&th.count : (void *)(th.bn + 3 * i);
}

static int32_t th_buffer_read(lhost_ctx *ctx, int32_t i, void *dst, uint64_t n)
{
    void *b = th_buffer(i, n);
    (void)ctx;
    if (!b)
        return LHOST_EINVAL;
    memcpy(dst, b, i == 2 ? 8 : 12);
    return LHOST_OK;
}

static int32_t th_buffer_write(lhost_ctx *ctx, int32_t i, const void *src, uint64_t n)
{
    void *b = th_buffer(i, n);
    (void)ctx;
    if (!b)
        return LHOST_EINVAL;
    memcpy(b, src, i == 2 ? 8 : 12);
    return LHOST_OK;
}

static int32_t th_update_bn(lhost_ctx *ctx)
{
    (void)ctx;
    th.update_bn_calls++;
    return LHOST_OK;
}

static double pnorm(const double *v, int n, double p)
{
    double s = 0;
    int k;
    for (k = 0; k < n; k++)
        s = isinf(p) ? (fabs(v[k]) > s ? fabs(v[k]) : s) : s + pow(fabs(v[k]), p);
    return isinf(p) ? s : pow(s, 1 / p);
}

/* As the host's: per-tensor p-norms of the gradients, then the p-norm of those. */
static int32_t th_grad_norm(lhost_ctx *ctx, double p, double *per, double *total)
{
    double g[NW], norms[2];
    int i, k;
    (void)ctx;
    for (k = 0; k < NW; k++)
        g[k] = th.g[k];
    for (i = 0; i < 2; i++)
        norms[i] = pnorm(g + th_off[i], (int)th_numel[i], p);
    if (per)
        memcpy(per, norms, sizeof norms);
    if (total)
        *total = pnorm(norms, 2, p);
    return LHOST_OK;
}

static int32_t th_get_hparam(lhost_ctx *ctx, const char *name, double *out)
{
    (void)ctx;
    if (strcmp(name, "lr") == 0)
        *out = th.lr;
    else if (strcmp(name, "momentum") == 0)
        *out = th.momentum;
    else if (strcmp(name, "log_every_n_steps") == 0)
        *out = th.log_every;
    else
        return LHOST_ENOTFOUND;
    return LHOST_OK;
}

static int32_t th_set_hparam(lhost_ctx *ctx, const char *name, double v)
{
    (void)ctx;
    if (strcmp(name, "lr") != 0)
        return LHOST_ENOTFOUND;
    th.lr = v;
    th.set_lr_calls++;
    return LHOST_OK;
}

static int32_t th_optimizer_name(lhost_ctx *ctx, char *buf, uint64_t cap)
{
    (void)ctx;
    snprintf(buf, (size_t)cap, "%s", th.optimizer);
    return LHOST_OK;
}

static int32_t th_log_value(lhost_ctx *ctx, const char *key, double v, uint32_t flags)
{
    (void)ctx;
    (void)flags;
    ck_assert_int_lt(th.n_logged, MAX_LOGGED);
    snprintf(th.keys[th.n_logged], sizeof th.keys[0], "%s", key);
    th.vals[th.n_logged++] = v;
    return LHOST_OK;
}

static int32_t th_request_stop_flags(lhost_ctx *ctx, const char *reason, uint32_t flags)
{
    (void)ctx;
    (void)reason;
    th.stop_calls++;
    th.stop_flags = flags;
    return LHOST_OK;
}

static lhost_host th_host;

static void th_setup(void)
{
    fh_reset();
    memset(&th, 0, sizeof th);
    th.log_every = 1;
    th.optimizer = "Adam";
    th_host = fh_host;
    th_host.log_value = th_log_value;
    th_host.tensor_count = th_tensor_count;
    th_host.tensor_info = th_tensor_info;
    th_host.tensor_read = th_tensor_read;
    th_host.tensor_write = th_tensor_write;
    th_host.grad_norm = th_grad_norm;
    th_host.get_hparam = th_get_hparam;
    th_host.set_hparam = th_set_hparam;
    th_host.optimizer_name = th_optimizer_name;
    th_host.request_stop_flags = th_request_stop_flags;
    th_host.buffer_count = th_buffer_count;
    th_host.buffer_info = th_buffer_info;
    th_host.buffer_read = th_buffer_read;
    th_host.buffer_write = th_buffer_write;
    th_host.update_bn = th_update_bn;
}

/* ---- the golden file -------------------------------------------------------------------- */

/* The numbers after the line's first word `name` (up to cap); their count. */
static int golden(const char *name, double *out, int cap)
{
    FILE *f = fopen(LH_SOURCE_DIR "/tests/golden/ref_callbacks.txt", "r");
    char line[8192];
    int n = -1;
    ck_assert_msg(f != NULL, "cannot open tests/golden/ref_callbacks.txt");
    while (n < 0 && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        size_t len = strlen(name);
        if (strncmp(line, name, len) != 0 || line[len] != ' ')
            continue;
        p += len;
        for (n = 0; n < cap; n++) {
            while (*p == ' ')
                p++;
            if (strncmp(p, "inf", 3) == 0) {
                out[n] = INFINITY;
                p += 3;
                continue;
            }
            out[n] = strtod(p, &end);
            if (end == p)
                break;
            p = end;
        }
    }
    fclose(f);
    ck_assert_msg(n > 0, "golden line \"%s\" missing", name);
    return n;
}

/* Model weights w_t. */
static void set_weights(int t)
{
    char name[16];
    double v[NW];
    int k;
    snprintf(name, sizeof name, "w %d", t);
    ck_assert_int_eq(golden(name, v, NW), NW);
    for (k = 0; k < NW; k++)
        th.w[k] = (float)v[k];
}

static void expect_weights(const char *name, double tol)
{
    double v[NW];
    int k;
    ck_assert_int_eq(golden(name, v, NW), NW);
    for (k = 0; k < NW; k++)
        ck_assert_msg(fabs(th.w[k] - v[k]) <= tol, "%s[%d]: got %.9g, torch %.9g", name, k,
                      (double)th.w[k], v[k]);
}

/* ---- plugins ---------------------------------------------------------------------------- */

static fh_plugin P;

/* Parameter values live as long as their instance, which tests keep to their end: freed at
 * exit (before LeakSanitizer's check, which registered its handler first). */
static fh_params *made[64];
static int n_made;

static void free_made(void)
{
    while (n_made > 0)
        free(made[--n_made]);
}

static void *make(const char *file, const char *const *kv)
{
    fh_params *pv = calloc(1, sizeof *pv);
    char err[256];
    ck_assert_ptr_nonnull(pv);
    ck_assert_int_lt(n_made, 64);
    if (n_made == 0)
        atexit(free_made);
    made[n_made++] = pv;
    void *self = NULL;
    int32_t rc;
    ck_assert_int_eq(fh_load(&P, file), 0);
    ck_assert_msg(fh_params_build(pv, P.desc, kv, err, sizeof err) == 0, "%s", err);
    rc = P.vt->create(&th_host, FH_CTX, &pv->pv, &self);
    ck_assert_msg(rc == LHOST_OK, "create: %d %s", rc, fh.error);
    return self;
}

static void ok(int32_t rc, const char *what)
{
    ck_assert_msg(rc == LHOST_OK, "%s: %d (%s)", what, rc, fh.error);
}

/* Steps first..last of an EMA run: weights w_t after optimizer step t. */
static void ema_steps(void *e, int first, int last)
{
    lhost_batch_info b;
    int t;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    for (t = first; t <= last; t++) {
        ok(P.vt->on_train_batch_start(e, FH_CTX, &b), "on_train_batch_start");
        set_weights(t);
        fh.ts.global_step = t;
        ok(P.vt->on_train_batch_end(e, FH_CTX, &b), "on_train_batch_end");
    }
}

/* The average, seen as validation sees it; the training weights back afterwards. */
static void expect_ema(void *e, const char *name, int t_now)
{
    float train[NW];
    memcpy(train, th.w, sizeof train);
    ok(P.vt->on_validation_start(e, FH_CTX), "on_validation_start");
    expect_weights(name, 1e-6);
    ok(P.vt->on_validation_epoch_end(e, FH_CTX), "on_validation_epoch_end");
    ck_assert_msg(memcmp(train, th.w, sizeof train) == 0, "training weights not put back");
    (void)t_now;
}

START_TEST(ema_matches_averaged_model)
{
    static const char *const a[] = {"decay=0.9", NULL};
    static const char *const b[] = {"decay=0.75", "update_every_n_steps=2",
                                    "update_starting_at_step=3", NULL};
    void *e = make("ema.so", a);
    set_weights(0);
    ok(P.vt->on_fit_start(e, FH_CTX), "on_fit_start");
    ema_steps(e, 1, 12);
    expect_ema(e, "ema_a", 12);
    /* on_train_end: the model takes the average */
    ok(P.vt->on_train_end(e, FH_CTX), "on_train_end");
    expect_weights("ema_a", 1e-6);
    P.vt->destroy(e);

    e = make("ema.so", b);
    set_weights(0);
    ok(P.vt->on_fit_start(e, FH_CTX), "on_fit_start");
    ema_steps(e, 1, 12);
    expect_ema(e, "ema_b", 12);
    P.vt->destroy(e);
}
END_TEST

/* Batch norm's buffers b_t, count 3 t + 1 (the golden "b t" lines). */
static void set_buffers(int t)
{
    char name[16];
    double v[7];
    int k;
    snprintf(name, sizeof name, "b %d", t);
    ck_assert_int_eq(golden(name, v, 7), 7);
    for (k = 0; k < 6; k++)
        th.bn[k] = (float)v[k];
    th.count = (int64_t)v[6];
}

static void expect_buffers(const char *name)
{
    double v[7];
    int k;
    ck_assert_int_eq(golden(name, v, 7), 7);
    for (k = 0; k < 6; k++)
        ck_assert_msg(fabs(th.bn[k] - v[k]) <= 1e-6, "%s[%d]: got %.9g, torch %.9g", name, k,
                      (double)th.bn[k], v[k]);
    ck_assert_msg(th.count == (int64_t)v[6], "%s: num_batches_tracked %lld, torch %lld", name,
                  (long long)th.count, (long long)v[6]);
}

/* With batch norm: AveragedModel(use_buffers=True) averages the running statistics and the
 * count too (Lightning's default); validation, checkpoints and the end of training see the
 * averaged buffers, training gets its own back. use_buffers=false: the model's buffers as at
 * the last update. */
START_TEST(ema_averages_batchnorm_buffers)
{
    static const char *const a[] = {"decay=0.9", NULL};
    static const char *const nobuf[] = {"decay=0.9", "use_buffers=false", NULL};
    lhost_batch_info b;
    float train[6];
    int64_t train_count;
    void *e;
    int t;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    th.with_bn = 1;
    for (int pass = 0; pass < 2; pass++) {
        e = make("ema.so", pass == 0 ? a : nobuf);
        set_weights(0);
        set_buffers(0);
        ok(P.vt->on_fit_start(e, FH_CTX), "on_fit_start");
        for (t = 1; t <= 12; t++) {
            ok(P.vt->on_train_batch_start(e, FH_CTX, &b), "on_train_batch_start");
            set_weights(t);
            set_buffers(t);
            fh.ts.global_step = t;
            ok(P.vt->on_train_batch_end(e, FH_CTX, &b), "on_train_batch_end");
        }
        memcpy(train, th.bn, sizeof train);
        train_count = th.count;
        ok(P.vt->on_validation_start(e, FH_CTX), "on_validation_start");
        expect_weights(pass == 0 ? "ema_bn" : "ema_a", 1e-6);
        if (pass == 0) {
            expect_buffers("ema_bn_buffers");
        } else {
            ck_assert_msg(memcmp(train, th.bn, sizeof train) == 0 && th.count == train_count,
                          "use_buffers=false: the buffers are not the model's at the update");
            th.bn[0] = -7; /* so that the swap back shows */
        }
        ok(P.vt->on_validation_epoch_end(e, FH_CTX), "on_validation_epoch_end");
        ck_assert_msg(memcmp(train, th.bn, sizeof train) == 0 && th.count == train_count,
                      "training buffers not put back");
        ok(P.vt->on_train_end(e, FH_CTX), "on_train_end");
        if (pass == 0)
            expect_buffers("ema_bn_buffers");
        P.vt->destroy(e);
    }
}
END_TEST

/* A checkpoint after step 6: its model weights are the average, the training weights return at
 * the next hook; a resumed instance (the model loaded with the checkpoint's weights) puts the
 * training weights back and ends where the uninterrupted run does. */
START_TEST(ema_checkpoint_and_resume)
{
    static const char *const a[] = {"decay=0.9", NULL};
    void *e = make("ema.so", a), *r;
    float train[NW], ckpt_w[NW];
    const void *data;
    uint64_t size;
    void *copy;
    lhost_batch_info b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    set_weights(0);
    ok(P.vt->on_fit_start(e, FH_CTX), "on_fit_start");
    ema_steps(e, 1, 6);
    memcpy(train, th.w, sizeof train);
    ok(P.vt->on_save_checkpoint(e, FH_CTX), "on_save_checkpoint");
    ck_assert_msg(memcmp(train, th.w, sizeof train) != 0, "checkpoint weights are not the EMA");
    memcpy(ckpt_w, th.w, sizeof ckpt_w);
    ok(P.vt->state_save(e, FH_CTX, &data, &size), "state_save");
    copy = malloc((size_t)size);
    memcpy(copy, data, (size_t)size);
    ok(P.vt->on_train_batch_start(e, FH_CTX, &b), "on_train_batch_start");
    ck_assert_msg(memcmp(train, th.w, sizeof train) == 0, "training weights not put back");
    P.vt->destroy(e);

    r = make("ema.so", a);
    memcpy(th.w, ckpt_w, sizeof ckpt_w); /* the checkpoint's model weights */
    ok(P.vt->state_restore(r, FH_CTX, P.vt->state_version, copy, size), "state_restore");
    ok(P.vt->on_load_checkpoint(r, FH_CTX), "on_load_checkpoint");
    ck_assert_msg(memcmp(train, th.w, sizeof train) == 0, "resume: training weights not back");
    ok(P.vt->on_fit_start(r, FH_CTX), "on_fit_start");
    ema_steps(r, 7, 12);
    expect_ema(r, "ema_a", 12);
    P.vt->destroy(r);
    free(copy);
}
END_TEST

/* One SWA case: epochs first..last; lr checked against torch's SWALR per epoch. */
static void swa_epochs(void *s, const char *name, int first, int last)
{
    char key[32];
    double lrs[16];
    int e;
    snprintf(key, sizeof key, "%s_lr", name);
    golden(key, lrs, 16);
    for (e = first; e <= last; e++) {
        fh.ts.epoch = e;
        set_weights(e);
        ok(P.vt->on_train_epoch_start(s, FH_CTX), "on_train_epoch_start");
        ck_assert_msg(fabs(th.lr - lrs[e]) <= 1e-12 * lrs[e], "%s epoch %d: lr %.17g, SWALR %.17g",
                      name, e, th.lr, lrs[e]);
        ok(P.vt->on_train_epoch_end(s, FH_CTX), "on_train_epoch_end");
    }
}

static void swa_case(const char *name, double lr0, int max_epochs, const char *const *kv)
{
    void *s = make("swa.so", kv);
    th.lr = lr0;
    fh.ts.max_epochs = max_epochs;
    ok(P.vt->on_fit_start(s, FH_CTX), "on_fit_start");
    swa_epochs(s, name, 0, max_epochs - 1);
    fh.ts.epoch = max_epochs;
    th.update_bn_calls = 0;
    ok(P.vt->on_train_end(s, FH_CTX), "on_train_end");
    expect_weights(name, 1e-6);
    /* with batch norm, Lightning's extra epoch: update_bn once, after the average is in */
    ck_assert_int_eq(th.update_bn_calls, th.with_bn);
    P.vt->destroy(s);
}

START_TEST(swa_matches_swalr_and_averaged_model)
{
    static const char *const cos_kv[] = {"swa_lrs=0.05", "swa_epoch_start=3",
                                         "annealing_epochs=2", NULL};
    static const char *const lin_kv[] = {"swa_lrs=0.02", "swa_epoch_start=0.5",
                                         "annealing_epochs=3", "annealing_strategy=linear", NULL};
    static const char *const zero_kv[] = {"swa_lrs=0.01", "swa_epoch_start=1",
                                          "annealing_epochs=0", NULL};
    swa_case("swa_cos", 0.1, 6, cos_kv);
    swa_case("swa_lin", 0.1, 6, lin_kv);
    swa_case("swa_zero", 0.2, 4, zero_kv);
}
END_TEST

/* A model with batch norm: only the parameters are averaged (as Lightning's), then the host
 * recomputes the statistics for them (update_bn); the buffers the plugin never touches. */
START_TEST(swa_batchnorm_updates_bn)
{
    static const char *const cos_kv[] = {"swa_lrs=0.05", "swa_epoch_start=3",
                                         "annealing_epochs=2", NULL};
    th.with_bn = 1;
    set_buffers(4);
    swa_case("swa_cos", 0.1, 6, cos_kv);
    expect_buffers("b 4");
}
END_TEST

/* State saved after epoch 3 (mid-anneal); a fresh instance goes on with the same lr and
 * average. The checkpoint restores the lr the scheduler set (the host's "lr"). */
START_TEST(swa_resume)
{
    static const char *const kv[] = {"swa_lrs=0.05", "swa_epoch_start=3", "annealing_epochs=2",
                                     NULL};
    void *s = make("swa.so", kv), *r;
    const void *data;
    uint64_t size;
    void *copy;
    th.lr = 0.1;
    fh.ts.max_epochs = 6;
    ok(P.vt->on_fit_start(s, FH_CTX), "on_fit_start");
    swa_epochs(s, "swa_cos", 0, 3);
    ok(P.vt->state_save(s, FH_CTX, &data, &size), "state_save");
    copy = malloc((size_t)size);
    memcpy(copy, data, (size_t)size);
    P.vt->destroy(s);
    r = make("swa.so", kv);
    ok(P.vt->state_restore(r, FH_CTX, P.vt->state_version, copy, size), "state_restore");
    ok(P.vt->on_fit_start(r, FH_CTX), "on_fit_start");
    swa_epochs(r, "swa_cos", 4, 5);
    fh.ts.epoch = 6;
    ok(P.vt->on_train_end(r, FH_CTX), "on_train_end");
    expect_weights("swa_cos", 1e-6);
    P.vt->destroy(r);
    free(copy);
}
END_TEST

START_TEST(swa_refuses_bad_starts)
{
    static const char *const zero[] = {"swa_lrs=0.05", "swa_epoch_start=0", NULL};
    static const char *const big[] = {"swa_lrs=0.05", "swa_epoch_start=1.5", NULL};
    fh_params pv;
    char err[256];
    void *self = NULL;
    ck_assert_int_eq(fh_load(&P, "swa.so"), 0);
    ck_assert_int_eq(fh_params_build(&pv, P.desc, zero, err, sizeof err), 0);
    ck_assert_int_eq(P.vt->create(&th_host, FH_CTX, &pv.pv, &self), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "swa_epoch_start") != NULL, "%s", fh.error);
    ck_assert_int_eq(fh_params_build(&pv, P.desc, big, err, sizeof err), 0);
    ck_assert_int_eq(P.vt->create(&th_host, FH_CTX, &pv.pv, &self), LHOST_ERROR);
}
END_TEST

static double logged(const char *key)
{
    int i;
    for (i = th.n_logged - 1; i >= 0; i--)
        if (strcmp(th.keys[i], key) == 0)
            return th.vals[i];
    ck_abort_msg("\"%s\" not logged (%d values logged, the last \"%s\")", key, th.n_logged,
                 th.n_logged ? th.keys[th.n_logged - 1] : "");
    return NAN;
}

START_TEST(grad_norm_keys_and_values)
{
    static const char *const types[][2] = {{"norm_type=2", "2.0"}, {"norm_type=1.5", "1.5"},
                                           {"norm_type=inf", "inf"}};
    double g[NW], want[3];
    char key[96];
    int c, k;
    ck_assert_int_eq(golden("g", g, NW), NW);
    for (k = 0; k < NW; k++)
        th.g[k] = (float)g[k];
    for (c = 0; c < 3; c++) {
        const char *kv[] = {types[c][0], NULL};
        void *s = make("grad_norm.so", kv);
        snprintf(key, sizeof key, "norm %s", types[c][1]);
        ck_assert_int_eq(golden(key, want, 3), 3);
        th.n_logged = 0;
        ok(P.vt->on_before_optimizer_step(s, FH_CTX), "on_before_optimizer_step");
        ck_assert_int_eq(th.n_logged, 3);
        snprintf(key, sizeof key, "grad_%s_norm/fc.weight", types[c][1]);
        ck_assert_msg(fabs(logged(key) - want[0]) <= 1e-5 * want[0], "%s", key);
        snprintf(key, sizeof key, "grad_%s_norm/fc.bias", types[c][1]);
        ck_assert_msg(fabs(logged(key) - want[1]) <= 1e-5 * want[1], "%s", key);
        snprintf(key, sizeof key, "grad_%s_norm_total", types[c][1]);
        ck_assert_msg(fabs(logged(key) - want[2]) <= 1e-5 * want[2], "%s", key);
        P.vt->destroy(s);
    }
}
END_TEST

/* Python's str(float(p)) in the keys; norm_type 0 refused as Lightning refuses it. */
START_TEST(grad_norm_key_spelling)
{
    static const char *const cases[][2] = {{"norm_type=1", "grad_1.0_norm_total"},
                                           {"norm_type=100", "grad_100.0_norm_total"},
                                           {"norm_type=0.25", "grad_0.25_norm_total"},
                                           {"norm_type=1e-5", "grad_1e-05_norm_total"},
                                           {"norm_type=1e20", "grad_1e+20_norm_total"}};
    const char *zero[] = {"norm_type=0", NULL};
    fh_params pv;
    char err[256];
    void *self = NULL;
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *kv[] = {cases[c][0], NULL};
        void *s = make("grad_norm.so", kv);
        th.n_logged = 0;
        ok(P.vt->on_before_optimizer_step(s, FH_CTX), "on_before_optimizer_step");
        ck_assert_int_eq(th.n_logged, 3);
        ck_assert_str_eq(th.keys[2], cases[c][1]);
        P.vt->destroy(s);
    }
    ck_assert_int_eq(fh_params_build(&pv, P.desc, zero, err, sizeof err), 0);
    ck_assert_int_eq(P.vt->create(&th_host, FH_CTX, &pv.pv, &self), LHOST_ERROR);
}
END_TEST

/* Only the steps the trainer writes a row for (log_every_n_steps 3: steps 3, 6: global_step
 * 2 and 5 before the optimizer step). */
START_TEST(grad_norm_on_logged_steps_only)
{
    const char *kv[] = {NULL};
    void *s = make("grad_norm.so", kv);
    int64_t gs;
    th.log_every = 3;
    for (gs = 0; gs < 6; gs++) {
        fh.ts.global_step = gs;
        ok(P.vt->on_before_optimizer_step(s, FH_CTX), "on_before_optimizer_step");
        ck_assert_int_eq(th.n_logged, gs < 2 ? 0 : gs < 5 ? 3 : 6);
    }
    P.vt->destroy(s);
}
END_TEST

static void lm_run(void *m, int64_t steps)
{
    lhost_batch_info b;
    int64_t s;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    ok(P.vt->on_fit_start(m, FH_CTX), "on_fit_start");
    ok(P.vt->on_train_epoch_start(m, FH_CTX), "on_train_epoch_start");
    for (s = 0; s < steps; s++) {
        fh.ts.global_step = s;
        ok(P.vt->on_train_batch_start(m, FH_CTX, &b), "on_train_batch_start");
    }
}

START_TEST(lr_monitor_keys_and_intervals)
{
    static const char *const step[] = {"logging_interval=step", "log_momentum=true", NULL};
    static const char *const epoch[] = {"logging_interval=epoch", NULL};
    static const char *const none[] = {NULL};
    void *m;
    th.lr = 0.01;
    th.momentum = 0.9;
    th.log_every = 2;
    m = make("lr_monitor.so", step);
    lm_run(m, 4); /* steps taken 0..3: logged before steps 2 and 4 */
    ck_assert_int_eq(th.n_logged, 4);
    ck_assert_str_eq(th.keys[0], "lr-Adam");
    ck_assert_str_eq(th.keys[1], "lr-Adam-momentum");
    ck_assert(th.vals[0] == 0.01 && th.vals[1] == 0.9);
    P.vt->destroy(m);

    th.n_logged = 0;
    m = make("lr_monitor.so", epoch);
    lm_run(m, 4);
    ck_assert_int_eq(th.n_logged, 1);
    P.vt->destroy(m);

    th.n_logged = 0;
    th.optimizer = "SGD";
    th.momentum = 0;
    m = make("lr_monitor.so", none);
    lm_run(m, 4);
    ck_assert_int_eq(th.n_logged, 3); /* epoch start and two steps */
    ck_assert_str_eq(th.keys[0], "lr-SGD");
    P.vt->destroy(m);
}
END_TEST

START_TEST(timer_durations)
{
    static const char *const good[] = {"00:00:00:03", " 1:02:03:04 ", "12:00:00:00",
                                       "{hours: 1, minutes: 30}", "days=1, seconds=5",
                                       "{seconds: 2.5}"};
    static const char *const bad[] = {"3s", "00:0:00:03", "00:00:00:3", "{hour: 1}", "1:2",
                                      "{hours 1}"};
    fh_params pv;
    char err[256], arg[128];
    size_t c;
    void *self;
    ck_assert_int_eq(fh_load(&P, "timer.so"), 0);
    for (c = 0; c < sizeof good / sizeof good[0]; c++) {
        const char *kv[] = {arg, NULL};
        snprintf(arg, sizeof arg, "duration=%s", good[c]);
        ck_assert_int_eq(fh_params_build(&pv, P.desc, kv, err, sizeof err), 0);
        self = NULL;
        ck_assert_msg(P.vt->create(&th_host, FH_CTX, &pv.pv, &self) == LHOST_OK, "%s: %s",
                      good[c], fh.error);
        P.vt->destroy(self);
    }
    for (c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        const char *kv[] = {arg, NULL};
        snprintf(arg, sizeof arg, "duration=%s", bad[c]);
        ck_assert_int_eq(fh_params_build(&pv, P.desc, kv, err, sizeof err), 0);
        ck_assert_msg(P.vt->create(&th_host, FH_CTX, &pv.pv, &self) == LHOST_ERROR,
                      "%s accepted", bad[c]);
        ck_assert_msg(strstr(fh.error, "DD:HH:MM:SS") != NULL, "%s", fh.error);
    }
}
END_TEST

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Batches of 40 ms against a 1 s limit: the stop comes at the first batch end past 1 s (the
 * test's clock brackets the plugin's), after that batch (LHOST_STOP_NOW). */
START_TEST(timer_stops_at_the_first_batch_past_the_limit)
{
    static const char *const kv[] = {"duration=00:00:00:01", NULL};
    const struct timespec batch = {0, 40 * 1000 * 1000};
    void *t = make("timer.so", kv), *r;
    lhost_batch_info b;
    double t0, t1, before = 0, prev_before = 0, after = 0;
    const void *data;
    uint64_t size;
    double saved;
    int k;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    ok(P.vt->on_fit_start(t, FH_CTX), "on_fit_start");
    ck_assert_int_eq(th.stop_calls, 0);
    t0 = mono();
    ok(P.vt->on_train_start(t, FH_CTX), "on_train_start");
    t1 = mono();
    for (k = 0; k < 100 && th.stop_calls == 0; k++) {
        nanosleep(&batch, NULL);
        prev_before = before;
        before = mono();
        ok(P.vt->on_train_batch_end(t, FH_CTX, &b), "on_train_batch_end");
        after = mono();
    }
    ck_assert_int_eq(th.stop_calls, 1);
    ck_assert_uint_eq(th.stop_flags, LHOST_STOP_NOW);
    ck_assert_msg(after - t0 >= 1.0, "stopped %.3f s after the start", after - t0);
    ck_assert_msg(k < 2 || prev_before - t1 < 1.0,
                  "the batch before ended %.3f s after the start: the stop came late",
                  prev_before - t1);
    /* the elapsed time travels in the state; a restored, depleted timer stops at once */
    ok(P.vt->state_save(t, FH_CTX, &data, &size), "state_save");
    ck_assert_uint_eq(size, 8);
    memcpy(&saved, data, 8);
    ck_assert_msg(saved >= 1.0 && saved < 10, "saved %.3f s", saved);
    P.vt->destroy(t);
    r = make("timer.so", kv);
    ok(P.vt->state_restore(r, FH_CTX, 1, &saved, 8), "state_restore");
    ok(P.vt->on_fit_start(r, FH_CTX), "on_fit_start");
    ck_assert_int_eq(th.stop_calls, 2);
    P.vt->destroy(r);
}
END_TEST

/* interval epoch: batch ends never stop; the epoch's end does, without LHOST_STOP_NOW. */
START_TEST(timer_epoch_interval)
{
    static const char *const kv[] = {"duration={milliseconds: 1}", "interval=epoch", NULL};
    const struct timespec ms5 = {0, 5 * 1000 * 1000};
    void *t = make("timer.so", kv);
    lhost_batch_info b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    ok(P.vt->on_train_start(t, FH_CTX), "on_train_start");
    nanosleep(&ms5, NULL);
    ok(P.vt->on_train_batch_end(t, FH_CTX, &b), "on_train_batch_end");
    ck_assert_int_eq(th.stop_calls, 0);
    ok(P.vt->on_train_epoch_end(t, FH_CTX), "on_train_epoch_end");
    ck_assert_int_eq(th.stop_calls, 1);
    ck_assert_uint_eq(th.stop_flags, 0);
    P.vt->destroy(t);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {ema_matches_averaged_model,
                                  ema_averages_batchnorm_buffers,
                                  ema_checkpoint_and_resume, swa_batchnorm_updates_bn,
                                  swa_matches_swalr_and_averaged_model,
                                  swa_resume,
                                  swa_refuses_bad_starts,
                                  grad_norm_keys_and_values,
                                  grad_norm_key_spelling,
                                  grad_norm_on_logged_steps_only,
                                  lr_monitor_keys_and_intervals,
                                  timer_durations,
                                  timer_stops_at_the_first_batch_past_the_limit,
                                  timer_epoch_interval,
                                  NULL};
    return check_main("ref_callbacks", 60, th_setup, NULL, tests);
}
