/* tests/unit/test_model_weights.c — model.init_weights (host/nn/model_weights.c): a safetensors
 * file under PyTorch's state_dict names loads every parameter, batchnorm buffer and batch count
 * exactly; strict loading names every missing and every unexpected key on one line and changes
 * nothing; non-strict loading keeps the init of missing keys and says which; a wrong dtype or
 * shape is refused either way; an lhost checkpoint's other sections are not "unexpected".
 * Run: ctest --test-dir build -R test_model_weights --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "config.h"
#include "model.h"
#include "model_weights.h"
#include "safetensors.h"

/* conv c 1 -> 2 (3x3, pad 1) on 1x4x4, batchnorm bn, flatten, linear fc 32 -> 3:
 * keys c.weight [2,1,3,3], c.bias [2], bn.weight, bn.bias, fc.weight [3,32], fc.bias [3],
 * bn.running_mean, bn.running_var, bn.num_batches_tracked. */
static const char yaml[] =
    "model:\n  layers:\n"
    "    - {type: conv2d, name: c, out_channels: 2, kernel_size: 3, padding: 1}\n"
    "    - {type: batchnorm2d, name: bn}\n"
    "    - flatten\n"
    "    - {type: linear, name: fc, out_features: 3}\n";

static const lh_backend *be;
static lh_backend_ctx *ctx;
static lh_model m;
static char path[64];

static void setup(void)
{
    lh_config *cfg;
    lh_model_spec s;
    lh_error err;
    lh_rng rng;
    char e[256];
    int fd;
    be = lh_cpu_backend();
    ck_assert_ptr_nonnull(ctx = be->open(0, 1, e, sizeof e));
    ck_assert_msg(lh_config_load_string(&cfg, "m.yaml", yaml, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_spec_from_cfg(lh_config_get(lh_config_root(cfg), "model"), 1, 4, 4,
                                         &s, &err) == 0, "%s", err.msg);
    lh_config_free(cfg);
    ck_assert_msg(lh_model_plan(&m, &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_model_alloc(&m, be, ctx, 2, &err) == 0, "%s", err.msg);
    lh_rng_seed(&rng, 7, 1);
    ck_assert_int_eq(lh_model_init(&m, &rng, &err), 0);
    snprintf(path, sizeof path, "/tmp/lh_weights_XXXXXX");
    ck_assert_int_ge(fd = mkstemp(path), 0);
    close(fd);
}

static void teardown(void)
{
    unlink(path);
    lh_model_free(&m);
    be->close(ctx);
}

/* The value file tensor `name` holds at element k: distinct from any init draw. */
static float value(int32_t tensor, int64_t k) { return 0.5f + (float)tensor + 0.001f * (float)k; }

/* A file with the model's tensors, as torch's state_dict would hold them, except: `skip` left
 * out (NULL: none), `extra` added (NULL: none), `f64` written as F64, `transpose` with its
 * two dimensions swapped; `meta_format` as __metadata__ "format" (NULL: none). */
static void write_file(const char *skip, const char *extra, const char *f64,
                       const char *transpose, const char *meta_format)
{
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_error err;
    int32_t i;
    int64_t k, one = 1, steps = 42;
    ck_assert_ptr_nonnull(w);
    for (i = 0; i < m.n_params; i++) {
        const lh_param_info *p = &m.params[i];
        int64_t shape[4];
        float *v = malloc((size_t)p->numel * sizeof *v);
        double *d = malloc((size_t)p->numel * sizeof *d);
        memcpy(shape, p->shape, sizeof shape);
        for (k = 0; k < p->numel; k++)
            v[k] = value(i, k), d[k] = v[k];
        if (transpose && strcmp(p->name, transpose) == 0)
            shape[0] = p->shape[1], shape[1] = p->shape[0];
        if (!skip || strcmp(p->name, skip) != 0) {
            int is64 = f64 && strcmp(p->name, f64) == 0;
            ck_assert_msg(lh_safetensors_add(w, p->name, is64 ? "F64" : "F32", p->ndim, shape,
                                             is64 ? (void *)d : (void *)v,
                                             (uint64_t)p->numel * (is64 ? 8 : 4), &err) == 0,
                          "%s", err.msg);
        }
        free(v);
        free(d);
    }
    for (i = 0; i < m.n_buffers; i++) {
        float v[2] = {0.25f, 4.0f};
        if (!m.buffers[i].persistent) /* kept for backward, not in a state_dict */
            continue;
        ck_assert_int_eq(m.buffers[i].numel, 2);
        ck_assert_int_eq(lh_safetensors_add(w, m.buffers[i].name, "F32", 1, &m.buffers[i].numel,
                                            v, 8, &err), 0);
    }
    ck_assert_int_eq(lh_safetensors_add(w, "bn.num_batches_tracked", "I64", 0, NULL, &steps, 8,
                                        &err), 0);
    if (extra) {
        float x = 1;
        ck_assert_int_eq(lh_safetensors_add(w, extra, "F32", 1, &one, &x, 4, &err), 0);
    }
    if (meta_format)
        ck_assert_int_eq(lh_safetensors_meta(w, "format", meta_format, &err), 0);
    ck_assert_msg(lh_safetensors_write_atomic(w, path, &err) == 0, "%s", err.msg);
    lh_safetensors_writer_free(w);
}

/* Every element of parameter i: the file's value (want_file) or `before`'s. */
static void expect_param(int32_t i, int want_file, const float *before)
{
    const lh_param_info *p = &m.params[i];
    float *got = malloc((size_t)p->numel * sizeof *got);
    lh_error err;
    ck_assert_msg(lh_model_tensor_read(&m, m.param, i, got, &err) == 0, "%s", err.msg);
    for (int64_t k = 0; k < p->numel; k++) {
        float want = want_file ? value(i, k) : before[p->offset + k];
        ck_assert_msg(got[k] == want, "%s[%lld]: got %.9g, expected %.9g", p->name,
                      (long long)k, got[k], want);
    }
    free(got);
}

static float *all_params(void)
{
    float *p = malloc((size_t)m.total_params * sizeof *p);
    ck_assert_int_eq(be->download(ctx, p, m.param, (size_t)m.total_params * 4), 0);
    return p;
}

START_TEST(loads_every_key_exactly)
{
    lh_model_weights_report rep;
    lh_error err;
    float buf[4];
    write_file(NULL, NULL, NULL, NULL, NULL);
    ck_assert_msg(lh_model_load_weights(&m, path, 1, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.loaded, m.n_params + 3);
    ck_assert_int_eq(rep.n_missing + rep.n_unexpected, 0);
    for (int32_t i = 0; i < m.n_params; i++)
        expect_param(i, 1, NULL);
    ck_assert_int_eq(be->download(ctx, buf, m.buf, 16), 0);
    ck_assert(buf[m.buffers[0].offset] == 0.25f && buf[m.buffers[1].offset + 1] == 4.0f);
    ck_assert_int_eq(m.batches_tracked[1], 42);
}
END_TEST

START_TEST(strict_names_every_missing_and_unexpected_key)
{
    lh_error err;
    float *before = all_params();
    write_file("fc.bias", "head.weight", NULL, NULL, NULL);
    ck_assert_int_eq(lh_model_load_weights(&m, path, 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "missing key(s) \"fc.bias\"") &&
                      strstr(err.msg, "unexpected key(s) \"head.weight\"") &&
                      strstr(err.msg, "model.init_strict: false") && !strchr(err.msg, '\n'),
                  "%s", err.msg);
    for (int32_t i = 0; i < m.n_params; i++)
        expect_param(i, 0, before);
    free(before);
}
END_TEST

START_TEST(non_strict_keeps_the_init_of_missing_keys)
{
    lh_model_weights_report rep;
    lh_error err;
    float *before = all_params();
    int32_t fc_bias = lh_model_tensor_find(&m, "fc.bias");
    write_file("fc.bias", "head.weight", NULL, NULL, NULL);
    ck_assert_msg(lh_model_load_weights(&m, path, 0, &rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.n_missing, 1);
    ck_assert_int_eq(rep.n_unexpected, 1);
    ck_assert_str_eq(rep.missing, "\"fc.bias\"");
    ck_assert_str_eq(rep.unexpected, "\"head.weight\"");
    for (int32_t i = 0; i < m.n_params; i++)
        expect_param(i, i != fc_bias, before);
    free(before);
}
END_TEST

START_TEST(dtype_and_shape_are_checked_even_when_not_strict)
{
    lh_error err;
    write_file(NULL, NULL, "c.weight", NULL, NULL);
    ck_assert_int_eq(lh_model_load_weights(&m, path, 0, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "\"c.weight\" has dtype F64 (expected F32)"), "%s", err.msg);
    write_file(NULL, NULL, NULL, "fc.weight", NULL);
    ck_assert_int_eq(lh_model_load_weights(&m, path, 0, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "\"fc.weight\": shape [32, 3] (expected [3, 32]"), "%s",
                  err.msg);
}
END_TEST

START_TEST(a_checkpoints_other_sections_are_not_unexpected)
{
    lh_error err;
    write_file(NULL, "optimizer.exp_avg.fc.bias", NULL, NULL, "lhost-checkpoint");
    ck_assert_msg(lh_model_load_weights(&m, path, 1, NULL, &err) == 0, "%s", err.msg);
    write_file(NULL, "optimizer.exp_avg.fc.bias", NULL, NULL, NULL);
    ck_assert_int_eq(lh_model_load_weights(&m, path, 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "unexpected key(s) \"optimizer.exp_avg.fc.bias\""), "%s",
                  err.msg);
}
END_TEST

START_TEST(a_file_of_other_names_or_none_is_refused)
{
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_error err;
    int64_t one = 1;
    float x = 1;
    ck_assert_int_eq(lh_safetensors_add(w, "model.fc.bias", "F32", 1, &one, &x, 4, &err), 0);
    ck_assert_int_eq(lh_safetensors_write_atomic(w, path, &err), 0);
    lh_safetensors_writer_free(w);
    ck_assert_int_eq(lh_model_load_weights(&m, path, 0, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "none of its 1 tensors is a key of the model") &&
                      strstr(err.msg, "\"c.weight\""), "%s", err.msg);
    ck_assert_int_eq(lh_model_load_weights(&m, "/nonexistent/w.safetensors", 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "/nonexistent/w.safetensors"), "%s", err.msg);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {loads_every_key_exactly,
                                  strict_names_every_missing_and_unexpected_key,
                                  non_strict_keeps_the_init_of_missing_keys,
                                  dtype_and_shape_are_checked_even_when_not_strict,
                                  a_checkpoints_other_sections_are_not_unexpected,
                                  a_file_of_other_names_or_none_is_refused, NULL};
    return check_main("model_weights", 30, setup, teardown, tests);
}
