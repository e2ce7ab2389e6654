/* tests/unit/test_model.c — the sequential model: PyTorch state_dict names and shapes, default
 * init bounds, shape errors, and the fused conv+relu+maxpool path giving the same forward and
 * backward as the single ops.
 * Run: ctest --test-dir build -R test_model --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "check_run.h"

static lh_model_spec tutorial_spec(void)
{
    lh_model_spec s;
    memset(&s, 0, sizeof s);
    s.in_c = 1, s.in_h = 28, s.in_w = 28;
    s.n_layers = 8;
    s.layers[0] = (lh_layer_spec){.type = LH_LAYER_CONV2D, .name = "conv1.0",
                                  .conv2d = {.out_ch = 64, .kernel = 3, .stride = 1, .padding = 1}};
    s.layers[1] = (lh_layer_spec){.type = LH_LAYER_RELU, .name = "conv1.1"};
    s.layers[2] = (lh_layer_spec){.type = LH_LAYER_MAXPOOL2D, .name = "conv1.2",
                                  .maxpool2d = {.kernel = 2, .stride = 2}};
    s.layers[3] = (lh_layer_spec){.type = LH_LAYER_CONV2D, .name = "conv2.0",
                                  .conv2d = {.out_ch = 128, .kernel = 3, .stride = 1,
                                             .padding = 1}};
    s.layers[4] = (lh_layer_spec){.type = LH_LAYER_RELU, .name = "conv2.1"};
    s.layers[5] = (lh_layer_spec){.type = LH_LAYER_MAXPOOL2D, .name = "conv2.2",
                                  .maxpool2d = {.kernel = 2, .stride = 2}};
    s.layers[6] = (lh_layer_spec){.type = LH_LAYER_FLATTEN, .name = "6"};
    s.layers[7] = (lh_layer_spec){.type = LH_LAYER_LINEAR, .name = "fc",
                                  .linear = {.out_features = 10}};
    return s;
}

START_TEST(state_dict_names_and_shapes)
{
    lh_model m;
    lh_error err;
    lh_model_spec s = tutorial_spec();
    static const char *const names[] = {"conv1.0.weight", "conv1.0.bias", "conv2.0.weight",
                                        "conv2.0.bias", "fc.weight", "fc.bias"};
    static const int64_t numel[] = {64 * 9, 64, 128 * 64 * 9, 128, 10 * 6272, 10};
    int32_t i;
    ck_assert_msg(lh_model_plan(&m, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m.n_params, 6);
    for (i = 0; i < 6; i++) {
        ck_assert_str_eq(m.params[i].name, names[i]);
        ck_assert_int_eq(m.params[i].numel, numel[i]);
    }
    ck_assert_int_eq(m.total_params, 137226);
    ck_assert_int_eq(m.params[4].shape[1], 6272);
}
END_TEST

START_TEST(linear_mismatch_names_expected)
{
    lh_model m;
    lh_error err;
    lh_model_spec s = tutorial_spec();
    s.layers[7].linear.in_features = 6000;
    ck_assert_int_eq(lh_model_plan(&m, &s, &err), -1);
    ck_assert_msg(strstr(err.msg, "expected 6272") && strstr(err.msg, "fc"), "%s", err.msg);
}
END_TEST

/* Run one forward+loss+backward on `be`, return logits, loss and gradients. */
static void step(const lh_backend *be, float *logits, float *loss, float *grad, float *params)
{
    lh_model m;
    lh_error err;
    lh_model_spec s = tutorial_spec();
    lh_rng rng;
    lh_backend_ctx *ctx;
    char e[256];
    enum { N = 8 };
    float x[N * 784];
    int32_t t[N], i;
    ctx = be->open(0, 2, e, sizeof e);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(lh_model_plan(&m, &s, &err), 0);
    ck_assert_msg(lh_model_alloc(&m, be, ctx, N, &err) == 0, "%s", err.msg);
    lh_rng_seed(&rng, 5, 1);
    ck_assert_int_eq(lh_model_init(&m, &rng, &err), 0);
    for (i = 0; i < N * 784; i++)
        x[i] = (float)lh_rng_uniform(&rng) * 2 - 1;
    for (i = 0; i < N; i++)
        t[i] = i % 10;
    ck_assert_int_eq(be->upload(ctx, m.input, x, sizeof x), 0);
    ck_assert_int_eq(be->upload(ctx, m.targets, t, sizeof t), 0);
    ck_assert_msg(lh_model_forward(&m, N, 1, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_loss(&m, N, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_backward(&m, N, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(be->download(ctx, logits, lh_model_logits(&m), N * 10 * 4), 0);
    ck_assert_int_eq(be->download(ctx, loss, m.loss, 4), 0);
    ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
    ck_assert_int_eq(be->download(ctx, params, m.param, (size_t)m.total_params * 4), 0);
    lh_model_free(&m);
    be->close(ctx);
}

START_TEST(fused_equals_single_ops)
{
    lh_backend plain = *lh_cpu_backend();
    float la[80], lb[80], lossa, lossb, *ga = malloc(137226 * 4), *gb = malloc(137226 * 4),
          *pa = malloc(137226 * 4), *pb = malloc(137226 * 4);
    double worst = 0;
    int32_t i;
    ck_assert_ptr_nonnull(lh_cpu_backend()->conv2d_relu_maxpool_forward);
    plain.conv2d_relu_maxpool_forward = NULL;
    plain.conv2d_relu_maxpool_backward = NULL;
    step(lh_cpu_backend(), la, &lossa, ga, pa);
    step(&plain, lb, &lossb, gb, pb);
    ck_assert_int_eq(memcmp(pa, pb, 137226 * 4), 0); /* same init */
    for (i = 0; i < 80; i++)
        ck_assert_msg(fabsf(la[i] - lb[i]) <= 1e-5f * (1 + fabsf(lb[i])), "logit %d: %g vs %g", i,
                      la[i], lb[i]);
    ck_assert_msg(fabsf(lossa - lossb) < 1e-6f, "loss %g vs %g", lossa, lossb);
    for (i = 0; i < 137226; i++) {
        double d = fabs(ga[i] - gb[i]) / (1e-6 + fabs(gb[i]));
        if (fabs(ga[i] - gb[i]) > 1e-7 && d > worst)
            worst = d;
    }
    ck_assert_msg(worst < 1e-4, "worst relative gradient difference %g", worst);
    free(ga), free(gb), free(pa), free(pb);
}
END_TEST

START_TEST(init_bounds)
{
    lh_model m;
    lh_error err;
    lh_model_spec s = tutorial_spec();
    lh_rng rng;
    lh_backend_ctx *ctx;
    const lh_backend *be = lh_cpu_backend();
    char e[256];
    float *p = malloc(137226 * 4);
    int32_t i;
    int64_t k;
    ctx = be->open(0, 1, e, sizeof e);
    ck_assert_int_eq(lh_model_plan(&m, &s, &err), 0);
    ck_assert_int_eq(lh_model_alloc(&m, be, ctx, 4, &err), 0);
    lh_rng_seed(&rng, 1, 1);
    ck_assert_int_eq(lh_model_init(&m, &rng, &err), 0);
    ck_assert_int_eq(be->download(ctx, p, m.param, 137226 * 4), 0);
    for (i = 0; i < m.n_params; i++) {
        /* kaiming_uniform(a=sqrt(5)): bound 1/sqrt(fan_in); biases the same bound */
        const lh_param_info *w = m.params[i].ndim == 1 ? &m.params[i - 1] : &m.params[i];
        double bound = 1.0 / sqrt((double)(w->numel / w->shape[0])), maxabs = 0;
        for (k = 0; k < m.params[i].numel; k++)
            maxabs = fmax(maxabs, fabs(p[m.params[i].offset + k]));
        ck_assert_msg(maxabs <= bound && maxabs > (m.params[i].numel < 100 ? 0.5 : 0.9) * bound,
                      "%s: max %g, bound %g", m.params[i].name, maxabs, bound);
    }
    free(p);
    lh_model_free(&m);
    be->close(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, state_dict_names_and_shapes);
    tcase_add_test(tc, linear_mismatch_names_expected);
    tcase_add_test(tc, fused_equals_single_ops);
    tcase_add_test(tc, init_bounds);
    suite_add_tcase(s, tc);
    return check_run(s);
}
