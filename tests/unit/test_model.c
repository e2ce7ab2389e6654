/* tests/unit/test_model.c — the sequential model: the table of layer kinds, specs from YAML and
 * through checkpoint JSON, PyTorch state_dict names and shapes, default init bounds, shape
 * errors, the summary, and the fused conv+relu+maxpool path giving the same forward and
 * backward as the single ops.
 * Run: ctest --test-dir build -R test_model --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "layer.h"
#include "model.h"
#include "check_run.h"

/* Every kind in LH_LAYER_MAP has a descriptor that can run, and its name finds it again. */
START_TEST(table_has_every_kind)
{
    int32_t t;
    char list[256] = "";
    ck_assert_ptr_null(lh_layer_kind_of(LH_LAYER_COUNT));
    ck_assert_ptr_null(lh_layer_kind_of(LH_LAYER_NONE));
    for (t = LH_LAYER_NONE + 1; t < LH_LAYER_COUNT; t++) {
        const lh_layer_kind *k = lh_layer_kind_of(t);
        int32_t nk = 0;
        ck_assert_ptr_nonnull(k);
        while (k->keys && k->keys[nk])
            nk++;
        ck_assert_int_le(nk, LH_LAYER_MAX_KEYS);
        ck_assert_str_eq(lh_layer_names()[t - 1], lh_layer_name(t));
        ck_assert_int_eq(lh_layer_find(lh_layer_name(t)), t);
        ck_assert_msg(k->torch_name && k->forward && k->backward, "%s", lh_layer_name(t));
        /* a kind with keys reads them, writes them to checkpoints and reads them back */
        ck_assert_msg(!k->keys || (k->from_cfg && k->to_json && k->from_json), "%s",
                      lh_layer_name(t));
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", t > 1 ? ", " : "",
                 lh_layer_name(t));
    }
    ck_assert_str_eq(lh_layer_name_list(), list);
    ck_assert_ptr_nonnull(strstr(list, "conv2d, relu, maxpool2d, flatten, linear, dropout"));
    ck_assert_ptr_null(lh_layer_names()[LH_LAYER_COUNT - 1]);
    ck_assert_int_eq(lh_layer_find("conv3d"), LH_LAYER_NONE);
}
END_TEST

static int spec_from_yaml(const char *layers, lh_model_spec *spec, lh_error *err)
{
    char yaml[2048];
    lh_config *cfg;
    int rc;
    snprintf(yaml, sizeof yaml, "model:\n  layers:\n%s", layers);
    ck_assert_msg(lh_config_load_string(&cfg, "m.yaml", yaml, err) == 0, "%s", err->msg);
    rc = lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 1, 28, 28, spec,
                                err);
    lh_config_free(cfg);
    return rc;
}

static const char every_kind[] =
    "    - {type: conv2d, name: c, out_channels: 4, kernel_size: 5, stride: 2, padding: 1}\n"
    "    - relu\n"
    "    - maxpool2d\n"
    "    - {type: maxpool2d, kernel_size: 3, stride: 1}\n"
    "    - dropout\n"
    "    - {type: dropout, p: 0.25}\n"
    "    - flatten\n"
    "    - {type: linear, name: fc, out_features: 10}\n";

START_TEST(yaml_fills_each_kinds_config)
{
    lh_model_spec s;
    lh_error err;
    ck_assert_msg(spec_from_yaml(every_kind, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n_layers, 8);
    ck_assert_int_eq(s.layers[0].type, LH_LAYER_CONV2D);
    ck_assert_str_eq(s.layers[0].name, "c");
    ck_assert_int_eq(s.layers[0].conv2d.in_ch, 0);
    ck_assert_int_eq(s.layers[0].conv2d.out_ch, 4);
    ck_assert_int_eq(s.layers[0].conv2d.kernel, 5);
    ck_assert_int_eq(s.layers[0].conv2d.stride, 2);
    ck_assert_int_eq(s.layers[0].conv2d.padding, 1);
    ck_assert_int_eq(s.layers[1].type, LH_LAYER_RELU);
    ck_assert_str_eq(s.layers[1].name, "1");
    /* a bare name takes the defaults: PyTorch's stride = kernel_size, p = 0.5 */
    ck_assert_int_eq(s.layers[2].maxpool2d.kernel, 2);
    ck_assert_int_eq(s.layers[2].maxpool2d.stride, 2);
    ck_assert_int_eq(s.layers[3].maxpool2d.kernel, 3);
    ck_assert_int_eq(s.layers[3].maxpool2d.stride, 1);
    ck_assert_float_eq(s.layers[4].dropout.p, 0.5f);
    ck_assert_float_eq(s.layers[5].dropout.p, 0.25f);
    ck_assert_int_eq(s.layers[6].type, LH_LAYER_FLATTEN);
    ck_assert_int_eq(s.layers[7].linear.in_features, 0);
    ck_assert_int_eq(s.layers[7].linear.out_features, 10);
}
END_TEST

START_TEST(yaml_errors_name_line_and_key)
{
    static const struct {
        const char *layers, *msg; /* %s: the list of kinds */
    } cases[] = {
        {"    - conv3d\n",
         "config m.yaml:3: model.layers.0: unknown layer \"conv3d\"; expected one of %s"},
        {"    - linear\n", "config m.yaml:3: model.layers.0: layer linear needs parameters"},
        {"    - {type: conv2d}\n", "config m.yaml:3: model.layers.0: conv2d needs out_channels"},
        {"    - {name: x}\n", "config m.yaml:3: model.layers.0: missing key `type` (one of %s)"},
        {"    - {type: relu, p: 0.5}\n",
         "config m.yaml:3: model.layers.0.p: unknown key; expected one of type, name"},
        {"    - {type: maxpool2d, size: 2}\n", "config m.yaml:3: model.layers.0.size: unknown "
                                             "key; expected one of type, name, kernel_size, "
                                             "stride"},
        {"    - relu\n    - {type: dropout, p: 1}\n",
         "config m.yaml:4: model.layers.1.p: expected a number from 0 to 0.999, got \"1\""},
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lh_model_spec s;
        lh_error err;
        char want[512];
        snprintf(want, sizeof want, cases[c].msg, lh_layer_name_list());
        ck_assert_int_eq(spec_from_yaml(cases[c].layers, &s, &err), -1);
        ck_assert_str_eq(err.msg, want);
    }
}
END_TEST

/* Checkpoints keep the spec as JSON; every kind's config survives the round trip. */
START_TEST(json_round_trip_keeps_every_kind)
{
    lh_model_spec s, back;
    lh_error err;
    char *a, *b;
    ck_assert_msg(spec_from_yaml(every_kind, &s, &err) == 0, "%s", err.msg);
    a = lh_model_spec_to_json(&s);
    ck_assert_msg(lh_model_spec_from_json(a, &back, &err) == 0, "%s", err.msg);
    b = lh_model_spec_to_json(&back);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(memcmp(&s, &back, sizeof s), 0);
    ck_assert_ptr_nonnull(strstr(a, "{\"type\":\"conv2d\",\"name\":\"c\",\"in_channels\":0,"
                                    "\"out_channels\":4,\"kernel_size\":5,\"stride\":2,"
                                    "\"padding\":1}"));
    ck_assert_ptr_nonnull(strstr(a, "{\"type\":\"dropout\",\"name\":\"5\",\"p\":0.25}"));
    free(a), free(b);
    ck_assert_int_eq(lh_model_spec_from_json("{\"in_c\":1,\"in_h\":2,\"in_w\":2,\"layers\":"
                                             "[{\"type\":\"conv3d\",\"name\":\"0\"}]}",
                                             &back, &err), -1);
    ck_assert_str_eq(err.msg, "model spec: layer 0: unknown type \"conv3d\"");
    ck_assert_int_eq(lh_model_spec_from_json("{\"in_c\":1,\"in_h\":2,\"in_w\":2,\"layers\":"
                                             "[{\"type\":\"dropout\",\"name\":\"0\","
                                             "\"p\":1}]}", &back, &err), -1);
    ck_assert_str_eq(err.msg, "model spec: layer 0: `p`: expected a number in [0, 1)");
}
END_TEST

START_TEST(summary_lines)
{
    lh_model m;
    lh_model_spec s;
    lh_error err;
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    ck_assert_msg(spec_from_yaml("    - {type: conv2d, name: c, out_channels: 8, kernel_size: 28}\n"
                                 "    - relu\n    - {type: maxpool2d, kernel_size: 1}\n"
                                 "    - flatten\n    - {type: linear, out_features: 10}\n",
                                 &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_plan(&m, &s, &err) == 0, "%s", err.msg);
    lh_model_summary(&m, f);
    fclose(f);
    /* a conv keeps its [C, H, W] even at 1x1, as Lightning prints it; the rest show [C]; every
     * column as wide as its widest cell */
    ck_assert_msg(strstr(buf, "  | Name | Type      | Params | Out shape\n"
                              "-----------------------------------------\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "0 | c    | Conv2d    | 6.3 K  | [8, 1, 1]\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "2 | 2    | MaxPool2d | 0      | [8]\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "4 | 4    | Linear    | 90     | [10]\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "6.4 K      Total params\n"), "%s", buf);
    /* a long name and a long type widen their columns rather than push the row out of line */
    memset(buf, 0, sizeof buf);
    f = fmemopen(buf, sizeof buf - 1, "w");
    ck_assert_msg(spec_from_yaml("    - {type: conv2d, name: a_rather_long_name, out_channels: 2,"
                                 " kernel_size: 3}\n    - batchnorm2d\n    - flatten\n"
                                 "    - {type: linear, out_features: 3}\n", &s, &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(lh_model_plan(&m, &s, &err) == 0, "%s", err.msg);
    lh_model_summary(&m, f);
    fclose(f);
    ck_assert_msg(strstr(buf, "  | Name               | Type        | Params | Out shape\n"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "1 | 1                  | BatchNorm2d | 4      | [2, 26, 26]\n"),
                  "%s", buf);
}
END_TEST

/* Small nets, each putting one kind (or the fused group) between layers with parameters, so
 * its backward shapes their gradients. Input (2, 6, 6), 4 classes. */
static const char *const grad_nets[] = {
    "    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1, stride: 2}\n"
    "    - flatten\n    - {type: linear, out_features: 4}\n",
    "    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n    - relu\n"
    "    - flatten\n    - {type: linear, out_features: 4}\n",
    "    - {type: conv2d, out_channels: 3, kernel_size: 3}\n"
    "    - {type: maxpool2d, kernel_size: 2, stride: 1}\n"
    "    - flatten\n    - {type: linear, out_features: 4}\n",
    "    - flatten\n    - {type: linear, out_features: 5}\n    - {type: dropout, p: 0.5}\n"
    "    - {type: linear, out_features: 4}\n",
    "    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n    - relu\n"
    "    - maxpool2d\n    - flatten\n    - {type: linear, out_features: 4}\n", /* fused */
    "    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n    - batchnorm2d\n"
    "    - tanh\n    - avgpool2d\n    - flatten\n    - {type: linear, out_features: 4}\n",
    "    - {type: conv2d, out_channels: 3, kernel_size: 3}\n    - sigmoid\n"
    "    - {type: adaptive_avgpool2d, output_size: 3}\n    - flatten\n"
    "    - {type: linear, out_features: 5}\n    - batchnorm1d\n    - gelu\n"
    "    - {type: linear, out_features: 4}\n",
    /* an identity block, then one whose shortcut is a strided 1x1 projection */
    "    - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n"
    "    - residual:\n        - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n"
    "        - silu\n        - {type: conv2d, out_channels: 3, kernel_size: 3, padding: 1}\n"
    "    - {type: leaky_relu, negative_slope: 0.2}\n"
    "    - residual:\n        - {type: conv2d, out_channels: 5, kernel_size: 3, padding: 1,"
    " stride: 2}\n        - batchnorm2d\n"
    "    - global_avgpool2d\n    - {type: linear, out_features: 4}\n",
};

static float loss_of(lh_model *m, int32_t n)
{
    lh_error err;
    float loss;
    ck_assert_msg(lh_model_forward(m, n, 1, 7, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_loss(m, n, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m->be->download(m->bctx, &loss, m->loss, 4), 0);
    return loss;
}

/* Plan, allocate and initialise m from s (rng seeded seed/stream) for batches of n, then one
 * training forward + loss + backward on inputs uniform in [-1, 1) (x, sized for the model's
 * input) and targets i % classes (tg). Leaves loss and gradients in m. */
static void train_step(lh_model *m, lh_model_spec *s, const lh_backend *be, lh_backend_ctx *ctx,
                       int32_t n, uint64_t seed, uint64_t stream, int32_t classes,
                       uint64_t dropout_seed, float *x, int32_t *tg)
{
    lh_error err;
    lh_rng rng;
    int64_t i, numel;
    ck_assert_msg(lh_model_plan(m, s, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_alloc(m, be, ctx, n, &err) == 0, "%s", err.msg);
    lh_rng_seed(&rng, seed, stream);
    ck_assert_int_eq(lh_model_init(m, &rng, &err), 0);
    numel = (int64_t)n * s->in_c * s->in_h * s->in_w;
    for (i = 0; i < numel; i++)
        x[i] = (float)lh_rng_uniform(&rng) * 2 - 1;
    for (i = 0; i < n; i++)
        tg[i] = (int32_t)(i % classes);
    ck_assert_int_eq(be->upload(ctx, m->input, x, (size_t)numel * sizeof *x), 0);
    ck_assert_int_eq(be->upload(ctx, m->targets, tg, (size_t)n * sizeof *tg), 0);
    ck_assert_msg(lh_model_forward(m, n, 1, dropout_seed, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_loss(m, n, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_backward(m, n, &err) == 0, "%s", err.msg);
}

/* Every kind's backward against central differences of the loss (dropout with a fixed seed,
 * so its mask stays put), on the CPU backend; every kind is in some net. */
START_TEST(each_kind_gradient_matches_finite_differences)
{
    const lh_backend *be = lh_cpu_backend();
    int32_t seen[LH_LAYER_COUNT] = {0}, t;
    size_t net;
    for (net = 0; net < sizeof grad_nets / sizeof grad_nets[0]; net++) {
        enum { N = 4 };
        lh_model_spec s;
        lh_model m;
        lh_error err;
        char e[256];
        float x[N * 72], *param, *grad;
        int32_t tg[N], i;
        int64_t j, stride;
        lh_backend_ctx *ctx = be->open(0, 1, e, sizeof e);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_msg(spec_from_yaml(grad_nets[net], &s, &err) == 0, "%s", err.msg);
        s.in_c = 2, s.in_h = s.in_w = 6;
        for (i = 0; i < s.n_layers; i++)
            seen[s.layers[i].type] = 1;
        train_step(&m, &s, be, ctx, N, 11 + net, 3, 4, 7, x, tg);
        param = malloc((size_t)m.total_params * 4), grad = malloc((size_t)m.total_params * 4);
        ck_assert_int_eq(be->download(ctx, param, m.param, (size_t)m.total_params * 4), 0);
        ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
        stride = m.total_params / 23 + 1;
        for (j = 0; j < m.total_params; j += stride) {
            const float eps = 1e-3f, keep = param[j];
            float up, down, fd;
            param[j] = keep + eps;
            ck_assert_int_eq(be->upload(ctx, m.param, param, (size_t)m.total_params * 4), 0);
            up = loss_of(&m, N);
            param[j] = keep - eps;
            ck_assert_int_eq(be->upload(ctx, m.param, param, (size_t)m.total_params * 4), 0);
            down = loss_of(&m, N);
            param[j] = keep;
            fd = (up - down) / (2 * eps);
            ck_assert_msg(fabsf(fd - grad[j]) <= 2e-3f + 5e-2f * fabsf(grad[j]),
                          "net %d, parameter %lld: backward %g, finite differences %g", (int)net,
                          (long long)j, grad[j], fd);
        }
        free(param), free(grad);
        lh_model_free(&m);
        be->close(ctx);
    }
    for (t = LH_LAYER_NONE + 1; t < LH_LAYER_COUNT; t++)
        ck_assert_msg(seen[t], "no net in grad_nets uses layer kind %s", lh_layer_name(t));
}
END_TEST

/* `residual:` lists expand into their body's layers (named "<block>.body.<k>") and a residual
 * layer spanning them; top-level default names stay the YAML index. */
START_TEST(residual_blocks_expand)
{
    lh_model_spec s;
    lh_model m;
    lh_error err;
    ck_assert_msg(spec_from_yaml("    - {type: conv2d, out_channels: 4, kernel_size: 3}\n"
                                 "    - residual:\n        - relu\n"
                                 "        - {type: conv2d, out_channels: 4, padding: 1}\n"
                                 "    - {type: maxpool2d}\n"
                                 "    - name: down\n      residual:\n"
                                 "        - {type: conv2d, out_channels: 8, padding: 1, stride: 2}\n"
                                 "    - flatten\n    - {type: linear, out_features: 3}\n",
                                 &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n_layers, 9);
    ck_assert_str_eq(s.layers[1].name, "1.body.0");
    ck_assert_str_eq(s.layers[2].name, "1.body.1");
    ck_assert_int_eq(s.layers[3].type, LH_LAYER_RESIDUAL);
    ck_assert_str_eq(s.layers[3].name, "1");
    ck_assert_int_eq(s.layers[3].residual.span, 2);
    ck_assert_str_eq(s.layers[4].name, "2");
    ck_assert_str_eq(s.layers[6].name, "down");
    ck_assert_str_eq(s.layers[7].name, "4");
    ck_assert_msg(lh_model_plan(&m, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m.plan[1].block_end, 3);
    ck_assert_int_eq(m.plan[5].block_end, 6);
    ck_assert_int_eq(m.spec.layers[3].residual.proj_stride, 0); /* same shape: identity */
    ck_assert_int_eq(m.spec.layers[6].residual.proj_stride, 2);
    ck_assert_str_eq(m.params[m.plan[6].param0].name, "down.proj.weight");
    {
        /* the relu starting block 1 must not overwrite the block's input in place */
        const lh_backend *be = lh_cpu_backend();
        char e[256];
        lh_backend_ctx *ctx = be->open(0, 1, e, sizeof e);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_msg(lh_model_alloc(&m, be, ctx, 2, &err) == 0, "%s", err.msg);
        ck_assert_ptr_ne(m.act[1], m.act[0]);
        ck_assert_ptr_nonnull(m.aux[3]); /* the skip path's gradient */
        lh_model_free(&m);
        be->close(ctx);
    }
}
END_TEST

START_TEST(residual_errors_name_the_block)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"    - residual:\n        - residual: [relu]\n    - flatten\n"
         "    - {type: linear, out_features: 2}\n", "residual blocks cannot nest"},
        {"    - residual: []\n    - flatten\n    - {type: linear, out_features: 2}\n",
         "expected a non-empty list of layers"},
        {"    - {residual: [relu], nam: x}\n    - flatten\n"
         "    - {type: linear, out_features: 2}\n", "nam"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lh_model_spec s;
        lh_error err = {{0}};
        ck_assert_int_ne(spec_from_yaml(cases[i].yaml, &s, &err), 0);
        ck_assert_msg(strstr(err.msg, cases[i].want), "case %d: %s", (int)i, err.msg);
    }
    {
        /* flat features the body changes: no 1x1 projection can match them */
        lh_model_spec s;
        lh_model m;
        lh_error err = {{0}};
        ck_assert_msg(spec_from_yaml("    - flatten\n    - residual:\n"
                                     "        - {type: linear, out_features: 5}\n"
                                     "    - {type: linear, out_features: 2}\n", &s, &err) == 0,
                      "%s", err.msg);
        ck_assert_int_ne(lh_model_plan(&m, &s, &err), 0);
        ck_assert_msg(strstr(err.msg, "model.layers.2 (residual 1)") &&
                      strstr(err.msg, "a 1x1 projection cannot match them"), "%s", err.msg);
    }
}
END_TEST

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
    lh_model_spec s = tutorial_spec();
    lh_backend_ctx *ctx;
    char e[256];
    enum { N = 8 };
    float x[N * 784];
    int32_t t[N];
    ctx = be->open(0, 2, e, sizeof e);
    ck_assert_ptr_nonnull(ctx);
    train_step(&m, &s, be, ctx, N, 5, 1, 10, 0, x, t);
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
    tcase_add_test(tc, table_has_every_kind);
    tcase_add_test(tc, yaml_fills_each_kinds_config);
    tcase_add_test(tc, yaml_errors_name_line_and_key);
    tcase_add_test(tc, json_round_trip_keeps_every_kind);
    tcase_add_test(tc, summary_lines);
    tcase_add_test(tc, each_kind_gradient_matches_finite_differences);
    tcase_add_test(tc, state_dict_names_and_shapes);
    tcase_add_test(tc, linear_mismatch_names_expected);
    tcase_add_test(tc, fused_equals_single_ops);
    tcase_add_test(tc, init_bounds);
    tcase_add_test(tc, residual_blocks_expand);
    tcase_add_test(tc, residual_errors_name_the_block);
    suite_add_tcase(s, tc);
    return check_run(s);
}
