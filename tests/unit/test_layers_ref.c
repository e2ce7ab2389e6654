/* tests/unit/test_layers_ref.c — the layer kinds beyond the first six (batchnorm1d/2d,
 * avgpool2d, adaptive_avgpool2d, global_avgpool2d, tanh, sigmoid, gelu, silu, leaky_relu,
 * residual blocks with and without a projection) against PyTorch in-process: one net holding
 * all of them, its weights, batches and torch's results from tests/golden/layers_ref.safetensors
 * (written by tests/golden/gen_layers_ref.py). Checked within 1e-5 (absolute, plus 1e-5 of the
 * value): the training forward's logits and loss, every parameter gradient, the running
 * statistics and num_batches_tracked after one and two training batches, the eval forward
 * (running statistics in use), the state_dict names and order, and that a checkpoint keeps the
 * buffers and loads them back.
 * Run: ctest --test-dir build -R test_layers_ref --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "layer.h"
#include "model.h"
#include "model_ckpt.h"
#include "safetensors.h"

#define REF_PATH LH_SOURCE_DIR "/tests/golden/layers_ref.safetensors"
#define TOL 1e-5

static lh_safetensors_file *ref;
static const lh_backend *be;
static lh_backend_ctx *ctx;
static lh_model m;

static const float *ref_f32(const char *name, int64_t n)
{
    lh_error err = {{0}};
    const float *p = lh_safetensors_find(ref, name, "F32", n, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    return p;
}

/* The model from the fixture's YAML, planned, on the CPU, with torch's weights. */
static void setup(void)
{
    lh_error err = {{0}};
    char why[256];
    lh_config *cfg;
    lh_model_spec spec;
    float *host;
    int32_t i;
    ck_assert_msg(lh_safetensors_read(REF_PATH, &ref, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_config_load_string(&cfg, "layers.yaml", lh_safetensors_meta_get(ref, "yaml"),
                                        &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 2, 8, 8,
                                         &spec, &err) == 0, "%s", err.msg);
    lh_config_free(cfg);
    ck_assert_msg(lh_model_plan(&m, &spec, &err) == 0, "%s", err.msg);
    be = lh_cpu_backend();
    ctx = be->open(0, 1, why, sizeof why);
    ck_assert_msg(ctx != NULL, "%s", why);
    ck_assert_msg(lh_model_alloc(&m, be, ctx, 6, &err) == 0, "%s", err.msg);
    {
        lh_rng rng;
        lh_rng_seed(&rng, 1, 1);
        ck_assert_msg(lh_model_init(&m, &rng, &err) == 0, "%s", err.msg);
    }
    host = malloc((size_t)m.total_params * 4);
    for (i = 0; i < m.n_params; i++) {
        char key[128];
        snprintf(key, sizeof key, "init.%s", m.params[i].name);
        memcpy(host + m.params[i].offset, ref_f32(key, m.params[i].numel),
               (size_t)m.params[i].numel * 4);
    }
    ck_assert_int_eq(be->upload(ctx, m.param, host, (size_t)m.total_params * 4), 0);
    free(host);
}

static void teardown(void)
{
    lh_model_free(&m);
    if (ctx)
        be->close(ctx);
    lh_safetensors_close(ref);
}

/* |ours - torch| <= TOL (1 + |torch|) everywhere; prints the worst element. */
static void check_close(const char *what, const float *ours, const float *want, int64_t n)
{
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - want[i]) / (1.0 + fabs(want[i]));
        if (d > worst || d != d)
            worst = d, at = i;
    }
    printf("%-34s n=%-5lld worst %.2e at [%lld]: ours %.8g torch %.8g\n", what, (long long)n,
           worst, (long long)at, ours[at], want[at]);
    ck_assert_msg(worst <= TOL, "%s: element %lld is %.9g, torch %.9g", what, (long long)at,
                  ours[at], want[at]);
}

static void check_device(const char *what, const lh_dmem *d, const char *ref_name, int64_t n)
{
    float *h = malloc((size_t)n * 4);
    ck_assert_int_eq(be->download(ctx, h, d, (size_t)n * 4), 0);
    check_close(what, h, ref_f32(ref_name, n), n);
    free(h);
}

static void forward(const char *x, int32_t training)
{
    lh_error err = {{0}};
    ck_assert_int_eq(be->upload(ctx, m.input, ref_f32(x, 6 * 128), 6 * 128 * 4), 0);
    ck_assert_msg(lh_model_forward(&m, 6, training, 0, &err) == 0, "%s", err.msg);
}

/* Every persistent buffer and batch count of m against "<prefix><name>". */
static void check_buffers(const char *prefix)
{
    char key[160];
    int32_t i, counted = 0;
    for (i = 0; i < m.n_buffers; i++) {
        if (!m.buffers[i].persistent)
            continue;
        snprintf(key, sizeof key, "%s%s", prefix, m.buffers[i].name);
        check_device(key, lh_dmem_at(m.buf, (size_t)m.buffers[i].offset * 4), key,
                     m.buffers[i].numel);
    }
    for (i = 0; i < m.spec.n_layers; i++) {
        lh_error err = {{0}};
        const int64_t *want;
        if (!lh_layer_kind_of(m.spec.layers[i].type)->counts_batches)
            continue;
        snprintf(key, sizeof key, "%s%s.num_batches_tracked", prefix, m.spec.layers[i].name);
        want = lh_safetensors_find(ref, key, "I64", 1, &err);
        ck_assert_msg(want != NULL, "%s", err.msg);
        ck_assert_msg(m.batches_tracked[i] == *want, "%s: %lld, torch %lld", key,
                      (long long)m.batches_tracked[i], (long long)*want);
        counted++;
    }
    ck_assert_int_eq(counted, 4);
}

START_TEST(spec_and_state_dict_names_are_torchs)
{
    lh_error err = {{0}};
    lh_model_spec theirs;
    char *a, *b;
    cJSON *keys = cJSON_Parse(lh_safetensors_meta_get(ref, "keys")), *k;
    int32_t p = 0, bu = 0, l = 0;
    ck_assert_msg(lh_model_spec_from_json(lh_safetensors_meta_get(ref, "spec"), &theirs, &err) ==
                  0, "%s", err.msg);
    a = lh_model_spec_to_json(&m.spec), b = lh_model_spec_to_json(&theirs);
    ck_assert_str_eq(a, b);
    free(a), free(b);
    /* state_dict order: per module, parameters, then buffers, then num_batches_tracked */
    cJSON_ArrayForEach(k, keys)
    {
        const char *want = k->valuestring;
        size_t len = strlen(want);
        if (len > 20 && strcmp(want + len - 20, ".num_batches_tracked") == 0) {
            while (!lh_layer_kind_of(m.spec.layers[l].type)->counts_batches)
                l++;
            ck_assert_int_eq(strncmp(want, m.spec.layers[l].name, len - 20), 0);
            l++;
        } else if (p < m.n_params && strcmp(m.params[p].name, want) == 0) {
            p++;
        } else {
            while (bu < m.n_buffers && !m.buffers[bu].persistent)
                bu++;
            ck_assert_msg(bu < m.n_buffers, "torch's %s is neither a parameter nor a buffer",
                          want);
            ck_assert_str_eq(m.buffers[bu].name, want);
            bu++;
        }
    }
    while (bu < m.n_buffers && !m.buffers[bu].persistent)
        bu++;
    ck_assert_int_eq(p, m.n_params);
    ck_assert_int_eq(bu, m.n_buffers);
    cJSON_Delete(keys);
}
END_TEST

START_TEST(train_forward_backward_and_running_stats)
{
    lh_error err = {{0}};
    const float *t = NULL;
    int32_t tg[6], i;
    float *grad;
    t = lh_safetensors_find(ref, "t1", "I32", 6, &err);
    ck_assert_ptr_nonnull(t);
    memcpy(tg, t, sizeof tg);
    ck_assert_int_eq(be->upload(ctx, m.targets, tg, sizeof tg), 0);
    forward("x1", 1);
    check_device("logits1", lh_model_logits(&m), "logits1", 30);
    ck_assert_msg(lh_model_loss(&m, 6, 1, &err) == 0, "%s", err.msg);
    check_device("loss1", m.loss, "loss1", 1);
    check_buffers("step1.");
    ck_assert_msg(lh_model_backward(&m, 6, &err) == 0, "%s", err.msg);
    grad = malloc((size_t)m.total_params * 4);
    ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
    for (i = 0; i < m.n_params; i++) {
        char key[128];
        snprintf(key, sizeof key, "grad.%s", m.params[i].name);
        check_close(key, grad + m.params[i].offset, ref_f32(key, m.params[i].numel),
                    m.params[i].numel);
    }
    free(grad);
    forward("x2", 1);
    check_buffers("step2.");
}
END_TEST

START_TEST(eval_uses_running_stats)
{
    forward("x1", 1);
    forward("x2", 1);
    forward("x3", 0);
    check_device("logits3 (eval)", lh_model_logits(&m), "logits3", 30);
    check_buffers("step2."); /* eval moves nothing */
}
END_TEST

/* Buffers and batch counts go into checkpoints under PyTorch's names and come back. */
START_TEST(checkpoint_keeps_buffers)
{
    lh_error err = {{0}};
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_safetensors_file *f;
    uint8_t *bytes;
    uint64_t len;
    lh_rng rng;
    forward("x1", 1);
    forward("x2", 1);
    ck_assert_msg(lh_model_ckpt_save(&m, w, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_safetensors_serialize(w, &bytes, &len, &err) == 0, "%s", err.msg);
    lh_safetensors_writer_free(w);
    ck_assert_msg(lh_safetensors_parse("mem", bytes, len, &f, &err) == 0, "%s", err.msg);
    free(bytes);
    ck_assert_int_ge(lh_safetensors_index(f, "down.body.1.running_var"), 0);
    ck_assert_int_lt(lh_safetensors_index(f, "down.body.1.save_mean"), 0); /* not persistent */
    ck_assert_str_eq(lh_safetensors_dtype(f, lh_safetensors_index(f, "bn1.num_batches_tracked")),
                     "I64");
    lh_rng_seed(&rng, 2, 1);
    ck_assert_int_eq(lh_model_init(&m, &rng, &err), 0); /* buffers back to 0 and 1 */
    ck_assert_int_eq(m.batches_tracked[1], 0);
    ck_assert_msg(lh_model_ckpt_load(&m, f, &err) == 0, "%s", err.msg);
    lh_safetensors_close(f);
    check_buffers("step2.");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers_ref");
    TCase *tc = tcase_create("torch");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, spec_and_state_dict_names_are_torchs);
    tcase_add_test(tc, train_forward_backward_and_running_stats);
    tcase_add_test(tc, eval_uses_running_stats);
    tcase_add_test(tc, checkpoint_keeps_buffers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
