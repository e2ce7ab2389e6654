/* tests/unit/test_grad_clip.c — gradient norms and clipping (host/nn/model_tensors.c: what the
 * grad_norm / clip_grad_norm / clip_grad_value host services and trainer.gradient_clip_val run)
 * against torch.nn.utils on the same weights and batch: tests/golden/grad_clip.txt, written by
 * tests/golden/gen_grad_clip.py. Per-parameter norms and totals within 1e-5 relative for
 * p = 1, 2, 3.5 and inf; clipped gradients within 1e-5 relative (+1e-7 absolute). On the CPU
 * backend, and on the CUDA backend when its module loads and a device opens (test_grad_clip_emu
 * runs it on the emulation in tests/cuda_emu).
 * Run: ctest --test-dir build -R test_grad_clip --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_each.h"
#include "check_run.h"
#include "config.h"
#include "model.h"

#define N 6

static const char layers[] =
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - relu\n    - {type: maxpool2d, kernel_size: 2}\n    - flatten\n"
    "    - {type: linear, name: fc, out_features: 10}\n";

/* The golden file's lines: "norm P per... total", "clip_norm MAX g...", "clip_value V g...". */
typedef struct golden {
    double p[4], per[4][4], total[4];
    double max_norm, clip_value;
    double *clipped_norm, *clipped_value; /* total_params each */
} golden;

static void read_golden(golden *g, int64_t total_params)
{
    FILE *f = fopen(LH_SOURCE_DIR "/tests/golden/grad_clip.txt", "r");
    char word[32];
    int np = 0, i;
    ck_assert_msg(f != NULL, "cannot open tests/golden/grad_clip.txt");
    g->clipped_norm = malloc((size_t)total_params * sizeof(double));
    g->clipped_value = malloc((size_t)total_params * sizeof(double));
    while (fscanf(f, "%31s", word) == 1) {
        if (word[0] == '#') {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF)
                ;
        } else if (strcmp(word, "norm") == 0) {
            ck_assert_int_eq(fscanf(f, "%31s", word), 1);
            g->p[np] = strcmp(word, "inf") == 0 ? INFINITY : strtod(word, NULL);
            for (i = 0; i < 4; i++)
                ck_assert_int_eq(fscanf(f, "%lf", &g->per[np][i]), 1);
            ck_assert_int_eq(fscanf(f, "%lf", &g->total[np]), 1);
            np++;
        } else {
            int norm = strcmp(word, "clip_norm") == 0;
            double *dst = norm ? g->clipped_norm : g->clipped_value;
            ck_assert_int_eq(fscanf(f, "%lf", norm ? &g->max_norm : &g->clip_value), 1);
            for (i = 0; i < total_params; i++)
                ck_assert_int_eq(fscanf(f, "%lf", &dst[i]), 1);
        }
    }
    fclose(f);
    ck_assert_int_eq(np, 4);
}

/* The model with the generator's weights, one forward + loss + backward on its batch. */
static void fresh_grads(lh_model *m)
{
    lh_error err;
    float *w = malloc((size_t)m->total_params * 4), x[N * 64];
    int32_t t, tg[N];
    int64_t k;
    for (t = 0; t < m->n_params; t++)
        for (k = 0; k < m->params[t].numel; k++)
            w[m->params[t].offset + k] = (float)(0.3 * sin(0.37 * (double)k + 1 + t));
    for (k = 0; k < N * 64; k++)
        x[k] = (float)cos(0.11 * (double)k);
    for (t = 0; t < N; t++)
        tg[t] = (3 * t) % 10;
    ck_assert_int_eq(m->be->upload(m->bctx, m->param, w, (size_t)m->total_params * 4), 0);
    ck_assert_int_eq(m->be->upload(m->bctx, m->input, x, sizeof x), 0);
    ck_assert_int_eq(m->be->upload(m->bctx, m->targets, tg, sizeof tg), 0);
    ck_assert_msg(lh_model_forward(m, N, 1, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_loss(m, N, 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_backward(m, N, &err) == 0, "%s", err.msg);
    free(w);
}

static void near(double got, double want, double abs_tol, const char *what, int64_t i)
{
    ck_assert_msg(fabs(got - want) <= 1e-5 * fabs(want) + abs_tol,
                  "%s[%lld]: got %.9g, torch %.9g", what, (long long)i, got, want);
}

static void check_backend(const lh_backend *be, lh_backend_ctx *ctx)
{
    lh_config *cfg;
    lh_model_spec spec;
    lh_model m;
    lh_error err;
    golden g;
    double per[4], total;
    float *grad;
    int32_t c, i;
    int64_t k;
    ck_assert_msg(lh_config_load_string(&cfg, "m.yaml", layers, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 1, 8, 8,
                                         &spec, &err) == 0, "%s", err.msg);
    lh_config_free(cfg);
    memset(&m, 0, sizeof m);
    ck_assert_msg(lh_model_plan(&m, &spec, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_alloc(&m, be, ctx, N, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m.n_params, 4);
    ck_assert_str_eq(m.params[0].name, "conv.weight");
    read_golden(&g, m.total_params);
    grad = malloc((size_t)m.total_params * 4);

    fresh_grads(&m);
    for (c = 0; c < 4; c++) {
        ck_assert_msg(lh_model_grad_norm(&m, g.p[c], per, &total, &err) == 0, "%s", err.msg);
        for (i = 0; i < 4; i++)
            near(per[i], g.per[c][i], 0, m.params[i].name, c);
        near(total, g.total[c], 0, "total norm", c);
    }

    ck_assert_msg(lh_model_clip_grad_norm(&m, g.max_norm, 2.0, &total, &err) == 0, "%s",
                  err.msg);
    near(total, g.total[1], 0, "clip_grad_norm_ total", 0);
    ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
    for (k = 0; k < m.total_params; k++)
        near(grad[k], g.clipped_norm[k], 1e-7, "clip_grad_norm_ grad", k);
    /* Already within the norm now: a second clip is a no-op (clip_coef clamped to 1). */
    ck_assert_msg(lh_model_clip_grad_norm(&m, g.max_norm * 2, 2.0, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
    for (k = 0; k < m.total_params; k++)
        near(grad[k], g.clipped_norm[k], 1e-7, "clip_grad_norm_ grad after a no-op clip", k);

    fresh_grads(&m);
    ck_assert_msg(lh_model_clip_grad_value(&m, g.clip_value, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(be->download(ctx, grad, m.grad, (size_t)m.total_params * 4), 0);
    for (k = 0; k < m.total_params; k++)
        near(grad[k], g.clipped_value[k], 1e-7, "clip_grad_value_ grad", k);

    /* Scaling by 2 doubles the 2-norm. */
    fresh_grads(&m);
    ck_assert_msg(lh_model_grad_scale(&m, 2.0, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_grad_norm(&m, 2.0, NULL, &total, &err) == 0, "%s", err.msg);
    near(total, 2 * g.total[1], 0, "scaled total norm", 0);

    /* One tensor out and back in. */
    ck_assert_int_eq(lh_model_tensor_find(&m, "fc.bias"), 3);
    ck_assert_int_eq(lh_model_tensor_find(&m, "fc.nope"), -1);
    ck_assert_msg(lh_model_tensor_read(&m, m.param, 3, grad, &err) == 0, "%s", err.msg);
    near(grad[0], (float)(0.3 * sin(1 + 3)), 0, "fc.bias", 0);
    grad[0] = 42;
    ck_assert_msg(lh_model_tensor_write(&m, 3, grad, &err) == 0, "%s", err.msg);
    grad[0] = 0;
    ck_assert_msg(lh_model_tensor_read(&m, m.param, 3, grad, &err) == 0, "%s", err.msg);
    ck_assert(grad[0] == 42);

    free(grad);
    free(g.clipped_norm);
    free(g.clipped_value);
    lh_model_free(&m);
}

START_TEST(cpu_matches_torch)
{
    on_cpu_backend(check_backend);
}
END_TEST

START_TEST(cuda_matches_torch)
{
    on_cuda_backend("cuda_matches_torch", check_backend);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {cpu_matches_torch, cuda_matches_torch, NULL};
    return check_main("grad_clip", 120, NULL, NULL, tests);
}
