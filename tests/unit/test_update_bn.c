/* tests/unit/test_update_bn.c — the model's buffers one at a time and its batch-norm statistics
 * pass (host/nn/model_tensors.c: what the buffer_* and update_bn host services run, and so the
 * swa plugin with a batch-norm model and ema's buffers) against torch.optim.swa_utils.update_bn
 * on the same weights and batches: tests/golden/update_bn.txt, written by
 * tests/golden/gen_update_bn.py. Running statistics within 1e-6 relative (a 1e-9 floor for the
 * near-zero variances), counts exact, after the pass and after one more training forward with
 * the momentum back. On the CPU backend, and on the CUDA backend when its module loads and a
 * device opens (test_update_bn_emu runs it on the emulation in tests/cuda_emu).
 * Run: ctest --test-dir build -R test_update_bn --output-on-failure */
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

#define NSTAT 16 /* 3 + 3 + 1 + 4 + 4 + 1 */

static const char layers[] =
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv, out_channels: 3, kernel_size: 3, padding: 1}\n"
    "    - {type: batchnorm2d, name: bn}\n    - relu\n    - flatten\n"
    "    - {type: linear, name: fc, out_features: 4}\n"
    "    - {type: batchnorm1d, name: bn1}\n";

static const int32_t sizes[] = {5, 3, 4};

static void read_golden(const char *word, double *v)
{
    FILE *f = fopen(LH_SOURCE_DIR "/tests/golden/update_bn.txt", "r");
    char w[32];
    int found = 0, i;
    ck_assert_msg(f != NULL, "cannot open tests/golden/update_bn.txt");
    while (!found && fscanf(f, "%31s", w) == 1) {
        if (strcmp(w, word) != 0) {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF)
                ;
            continue;
        }
        for (i = 0; i < NSTAT; i++)
            ck_assert_int_eq(fscanf(f, "%lf", &v[i]), 1);
        found = 1;
    }
    fclose(f);
    ck_assert_msg(found, "tests/golden/update_bn.txt: no line \"%s\"", word);
}

static void load_batch(lh_model *m, int b)
{
    int64_t n = (int64_t)sizes[b] * 36, k;
    float *x = malloc((size_t)n * 4);
    for (k = 0; k < n; k++)
        x[k] = (float)(sin(0.91 * (double)k + 0.7 * b) * (1 + 0.5 * sin(1.3 * (double)(k / 36))) +
                       0.2 * b);
    ck_assert_int_eq(m->be->upload(m->bctx, m->input, x, (size_t)n * 4), 0);
    free(x);
}

/* Every buffer through lh_model_buffer_read, in the golden line's order, against it. */
static void expect_stats(const lh_model *m, const char *word)
{
    double want[NSTAT];
    float f[4];
    int64_t count;
    int32_t i, at = 0;
    lh_model_buffer b;
    lh_error err;
    read_golden(word, want);
    for (i = 0; i < lh_model_buffer_count(m); i++) {
        ck_assert_int_eq(lh_model_buffer_get(m, i, &b), 0);
        if (b.is_count) {
            ck_assert_msg(lh_model_buffer_read(m, i, &count, &err) == 0, "%s", err.msg);
            ck_assert_msg(count == (int64_t)want[at], "%s %s: %lld, torch %lld", word, b.name,
                          (long long)count, (long long)want[at]);
            at++;
            continue;
        }
        ck_assert_msg(lh_model_buffer_read(m, i, f, &err) == 0, "%s", err.msg);
        for (int64_t k = 0; k < b.numel; k++, at++)
            ck_assert_msg(fabs(f[k] - want[at]) <= 1e-6 * fabs(want[at]) + 1e-9,
                          "%s %s[%lld]: got %.9g, torch %.9g", word, b.name, (long long)k,
                          (double)f[k], want[at]);
    }
    ck_assert_int_eq(at, NSTAT);
}

static void check_backend(const lh_backend *be, lh_backend_ctx *ctx)
{
    static const char *const names[] = {"bn.running_mean", "bn.running_var",
                                        "bn.num_batches_tracked", "bn1.running_mean",
                                        "bn1.running_var", "bn1.num_batches_tracked"};
    lh_config *cfg;
    lh_model_spec spec;
    lh_model m;
    lh_model_buffer b;
    lh_error err;
    float *w, v[4] = {0.5f, 0.5f, 0.5f, 0.5f}, two[4] = {2, 2, 2, 2};
    int64_t seven = 7, k;
    int32_t t, i;
    ck_assert_msg(lh_config_load_string(&cfg, "m.yaml", layers, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 1, 6, 6,
                                         &spec, &err) == 0, "%s", err.msg);
    lh_config_free(cfg);
    memset(&m, 0, sizeof m);
    ck_assert_msg(lh_model_plan(&m, &spec, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_alloc(&m, be, ctx, 5, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m.n_params, 8);
    ck_assert_int_eq(lh_model_buffer_count(&m), 6);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(lh_model_buffer_get(&m, i, &b), 0);
        ck_assert_str_eq(b.name, names[i]);
        ck_assert_int_eq(b.is_count, i % 3 == 2);
    }
    ck_assert_int_eq(lh_model_buffer_get(&m, 6, &b), -1);

    w = malloc((size_t)m.total_params * 4);
    for (t = 0; t < m.n_params; t++)
        for (k = 0; k < m.params[t].numel; k++)
            w[m.params[t].offset + k] = (float)(0.3 * sin(0.37 * (double)k + 1 + t));
    ck_assert_int_eq(be->upload(ctx, m.param, w, (size_t)m.total_params * 4), 0);
    free(w);
    /* statistics away from their init, as the generator's: update_bn must reset them */
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(lh_model_buffer_get(&m, i, &b), 0);
        ck_assert_msg(lh_model_buffer_write(&m, i, b.is_count ? (void *)&seven
                                                   : i % 3 == 0 ? (void *)v : (void *)two,
                                            &err) == 0, "%s", err.msg);
    }

    ck_assert_msg(lh_model_update_bn(&m, 1, &err) == 0, "%s", err.msg);
    for (i = 0; i < 3; i++) {
        load_batch(&m, i);
        ck_assert_msg(lh_model_forward(&m, sizes[i], 1, 0, &err) == 0, "%s", err.msg);
    }
    ck_assert_msg(lh_model_update_bn(&m, 0, &err) == 0, "%s", err.msg);
    expect_stats(&m, "bn");
    load_batch(&m, 0);
    ck_assert_msg(lh_model_forward(&m, sizes[0], 1, 0, &err) == 0, "%s", err.msg);
    expect_stats(&m, "after");
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
    return check_main("update_bn", 120, NULL, NULL, tests);
}
