/* tests/unit/test_ckpt_compat.c — checkpoints written by an older lhost still load and resume.
 *
 * tests/golden/ckpt_v1/ holds format-1 checkpoints (SGD's momentum saved as
 * optimizer.exp_avg.*) that tests/golden/ckpt_v1/make.sh wrote with the lhost of that format,
 * from sgd.yaml and adam.yaml on synth_data.h's data (64 training, 32 test images). In process:
 * lh_ckpt_load restores the weights, the optimizer state, the counters, the data order and the
 * generators exactly as the file holds them, and a new save keeps them under today's names.
 * Through the CLI: `train --resume` from the step-4 checkpoint reaches the weights and optimizer
 * state the old program reached at the end of the same run.
 * Run: ctest --test-dir build -R test_ckpt_compat --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "ckpt.h"
#include "cli_run.h"
#include "registry.h"
#include "safetensors.h"
#include "services.h"
#include "synth_data.h"
#include "trainer.h"

#define GOLDEN LH_SOURCE_DIR "/tests/golden/ckpt_v1"

static char dir[256];

/* <dir>/<opt>/cfg.yaml next to <dir>/data, as make.sh lays them out; returns the run folder. */
static const char *workdir(const char *opt, char *run, size_t len)
{
    char cmd[1200];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "ckpt_compat", 64, 32), 0);
    snprintf(run, len, "%s/%s", dir, opt);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp '" GOLDEN "/%s.yaml' '%s/cfg.yaml'", run, opt,
             run);
    ck_assert_int_eq(system(cmd), 0);
    return run;
}

static lh_safetensors_file *open_golden(const char *name)
{
    char path[1024];
    lh_safetensors_file *f;
    lh_error err = {{0}};
    snprintf(path, sizeof path, GOLDEN "/%s", name);
    ck_assert_msg(lh_safetensors_read(path, &f, &err) == 0, "%s", err.msg);
    return f;
}

/* Device buffer `buf` of the model's layout equals, parameter by parameter, the tensors
 * <prefix><name> of `f`, bit for bit. */
static void assert_buffer(lh_trainer *t, const lh_dmem *buf, const lh_safetensors_file *f,
                          const char *prefix)
{
    const lh_model *m = lh_trainer_model(t);
    float *host = malloc((size_t)m->total_params * 4);
    lh_error err = {{0}};
    int32_t i;
    ck_assert_ptr_nonnull(host);
    ck_assert_int_eq(m->be->download(m->bctx, host, buf, (size_t)m->total_params * 4), 0);
    ck_assert_int_gt(m->n_params, 0);
    for (i = 0; i < m->n_params; i++) {
        char key[256];
        const void *want;
        snprintf(key, sizeof key, "%s%s", prefix, m->params[i].name);
        want = lh_safetensors_find(f, key, "F32", m->params[i].numel, &err);
        ck_assert_msg(want != NULL, "%s", err.msg);
        ck_assert_msg(memcmp(host + m->params[i].offset, want, (size_t)m->params[i].numel * 4) == 0,
                      "%s differs from the checkpoint's", key);
    }
    free(host);
}

/* Tensor `name` of a and b: present in both, same bytes. */
static void assert_same_tensor(const lh_safetensors_file *a, const char *an,
                               const lh_safetensors_file *b, const char *bn)
{
    int32_t i = lh_safetensors_index(a, an), j = lh_safetensors_index(b, bn);
    ck_assert_msg(i >= 0 && j >= 0, "tensor %s / %s missing", an, bn);
    ck_assert_msg(lh_safetensors_nbytes(a, i) == lh_safetensors_nbytes(b, j) &&
                      memcmp(lh_safetensors_data(a, i), lh_safetensors_data(b, j),
                             lh_safetensors_nbytes(a, i)) == 0,
                  "tensor %s differs from %s", an, bn);
}

/* Tensor `name` of a and b: present in both, F32, the same length, every element within
 * 1e-5 relative (of the larger magnitude, or 1e-7 absolute near zero). Two training steps on
 * another CPU's kernels (sgemm's blocking and FMA order differ between AVX2, AVX-512 and AMX)
 * round differently, so what the old program reached is compared to a float's precision, not
 * by bytes; the bytes promise holds on one machine (test_resume). */
static void assert_close_tensor(const lh_safetensors_file *a, const char *an,
                                const lh_safetensors_file *b, const char *bn)
{
    int32_t i = lh_safetensors_index(a, an), j = lh_safetensors_index(b, bn);
    size_t k, n;
    const float *x, *y;
    ck_assert_msg(i >= 0 && j >= 0, "tensor %s / %s missing", an, bn);
    n = lh_safetensors_nbytes(a, i);
    ck_assert_msg(n == lh_safetensors_nbytes(b, j) && n % 4 == 0, "%s / %s: sizes differ", an,
                  bn);
    x = lh_safetensors_data(a, i);
    y = lh_safetensors_data(b, j);
    for (k = 0; k < n / 4; k++) {
        double d = fabs((double)x[k] - y[k]), big = fmax(fabs(x[k]), fabs(y[k]));
        ck_assert_msg(d <= 1e-5 * big || d <= 1e-7, "%s[%zu] = %.9g, %s[%zu] = %.9g", an, k,
                      x[k], bn, k, y[k]);
    }
}

/* Build the fit trainer of <run>/cfg.yaml in process, as `lhost train` does, and load `ckpt`. */
static void load_in_process(const char *run, const char *ckpt, const char *opt, int64_t lr_e3)
{
    lh_config *cfg = NULL;
    lh_registry *reg = NULL;
    lh_registry_opts ro;
    lh_trainer_opts o;
    lh_trainer t;
    lh_error err = {{0}};
    lh_safetensors_file *f = open_golden(ckpt), *g;
    char saved[600];
    const lh_optim *op;
    ck_assert_int_eq(chdir(run), 0);
    memset(&ro, 0, sizeof ro);
    ck_assert_msg(lh_config_load(&cfg, "cfg.yaml", &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_trainer_opts_from_cfg(cfg, &o, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_registry_open(&reg, &ro, lh_services_table(), &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_trainer_setup(&t, &o, cfg, reg, LHOST_STAGE_FIT, NULL, &err) == 0, "%s",
                  err.msg);
    snprintf(saved, sizeof saved, GOLDEN "/%s", ckpt);
    ck_assert_msg(lh_ckpt_load(&t, saved, 1, &err) == 0, "%s", err.msg);

    /* What make.sh's run wrote at step 4: inside epoch 1, after its first batch. */
    ck_assert_int_eq(t.global_step, 4);
    ck_assert_int_eq(t.resume_epoch, 1);
    ck_assert_int_eq(t.resume_batch, 1);
    ck_assert_int_eq(t.epoch, 1);
    op = lh_trainer_optim(&t);
    ck_assert_str_eq(lh_optim_name(op), opt);
    ck_assert_int_eq(op->step, 4);
    ck_assert_int_eq((int64_t)(op->lr * 1000 + 0.5), lr_e3);
    assert_buffer(&t, lh_trainer_model(&t)->param, f, "");
    assert_buffer(&t, op->m, f, "optimizer.exp_avg.");
    if (strcmp(opt, "adam") == 0)
        assert_buffer(&t, op->v, f, "optimizer.exp_avg_sq.");
    ck_assert_int_eq(memcmp(t.perm, lh_safetensors_find(f, "trainer.perm", "I32", 64, &err),
                            64 * 4), 0);
    {
        const uint64_t *r = lh_safetensors_find(f, "trainer.rng_shuffle", "U64", 2, &err);
        ck_assert(r && t.rng_shuffle.state == r[0] && t.rng_shuffle.inc == r[1]);
        r = lh_safetensors_find(f, "trainer.rng_init", "U64", 2, &err);
        ck_assert(r && t.rng_init.state == r[0] && t.rng_init.inc == r[1]);
    }

    /* Saved again: today's names, the same numbers. */
    ck_assert_msg(lh_ckpt_save(&t, "again.ckpt", 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_safetensors_read("again.ckpt", &g, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(lh_safetensors_meta_get(g, "format_version"), "2");
    ck_assert_str_eq(lh_safetensors_meta_get(g, "global_step"), "4");
    ck_assert_str_eq(lh_safetensors_meta_get(g, "resume_batch"), "1");
    assert_same_tensor(g, "fc.weight", f, "fc.weight");
    assert_same_tensor(g, "trainer.perm", f, "trainer.perm");
    assert_same_tensor(g, "metric.acc.tp", f, "metric.acc.tp");
    if (strcmp(opt, "sgd") == 0) {
        assert_same_tensor(g, "optimizer.momentum_buffer.fc.weight", f,
                           "optimizer.exp_avg.fc.weight");
        assert_same_tensor(g, "optimizer.momentum_buffer.conv1.0.bias", f,
                           "optimizer.exp_avg.conv1.0.bias");
        ck_assert_int_lt(lh_safetensors_index(g, "optimizer.exp_avg.fc.weight"), 0);
        ck_assert_int_lt(lh_safetensors_index(g, "optimizer.exp_avg_sq.fc.weight"), 0);
    } else {
        assert_same_tensor(g, "optimizer.exp_avg.fc.weight", f, "optimizer.exp_avg.fc.weight");
        assert_same_tensor(g, "optimizer.exp_avg_sq.fc.weight", f,
                           "optimizer.exp_avg_sq.fc.weight");
        ck_assert_int_lt(lh_safetensors_index(g, "optimizer.momentum_buffer.fc.weight"), 0);
    }
    /* The callbacks' saved bytes come back unchanged through their own restore and save. */
    ck_assert_int_eq(lh_safetensors_count(g), lh_safetensors_count(f) -
                     (strcmp(opt, "sgd") == 0 ? 4 : 0)); /* SGD drops the unused exp_avg_sq */
    lh_safetensors_close(g);
    lh_safetensors_close(f);
    lh_trainer_free(&t);
    lh_registry_close(reg);
    lh_config_free(cfg);
    synth_remove(dir);
}

START_TEST(sgd_v1_loads)
{
    char run[512];
    load_in_process(workdir("sgd", run, sizeof run), "sgd-step4.ckpt", "sgd", 50);
}
END_TEST

START_TEST(adam_v1_loads)
{
    char run[512];
    load_in_process(workdir("adam", run, sizeof run), "adam-step4.ckpt", "adam", 10);
}
END_TEST

/* `lhost train --resume` from the old step-4 checkpoint ends where the old program ended. */
static void resume_reaches_old_end(const char *opt)
{
    char run[512], cmd[1400], last[600], *out;
    const char *const names[] = {"conv1.0.weight", "conv1.0.bias", "fc.weight", "fc.bias"};
    lh_safetensors_file *old_end, *new_end;
    lh_error err = {{0}};
    int rc, i;
    workdir(opt, run, sizeof run);
    snprintf(cmd, sizeof cmd, "cp '" GOLDEN "/%s-step4.ckpt' '%s/old.ckpt'", opt, run);
    ck_assert_int_eq(system(cmd), 0);
    rc = cli_run(run, "train --config cfg.yaml --resume old.ckpt", &out);
    ck_assert_msg(rc == 0, "lhost train --resume old.ckpt: exit %d\n%s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "Resumed from old.ckpt at epoch 1, batch 1 (global step 4)"));
    free(out);
    snprintf(last, sizeof last, "%s-last.ckpt", opt);
    old_end = open_golden(last);
    snprintf(last, sizeof last, "%s/ckpt/last.ckpt", run);
    ck_assert_msg(lh_safetensors_read(last, &new_end, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(lh_safetensors_meta_get(new_end, "global_step"), "6");
    for (i = 0; i < 4; i++) {
        char a[128], b[128];
        int sgd = strcmp(opt, "sgd") == 0;
        assert_close_tensor(new_end, names[i], old_end, names[i]);
        /* SGD: today's momentum_buffer is the old exp_avg; Adam: both moments, same names. */
        snprintf(a, sizeof a, "optimizer.%s.%s", sgd ? "momentum_buffer" : "exp_avg", names[i]);
        snprintf(b, sizeof b, "optimizer.exp_avg.%s", names[i]);
        assert_close_tensor(new_end, a, old_end, b);
        if (!sgd) {
            snprintf(a, sizeof a, "optimizer.exp_avg_sq.%s", names[i]);
            assert_close_tensor(new_end, a, old_end, a);
        }
    }
    assert_same_tensor(new_end, "metric.acc.tp", old_end, "metric.acc.tp");
    lh_safetensors_close(new_end);
    lh_safetensors_close(old_end);
    synth_remove(dir);
}

START_TEST(sgd_v1_resumes)
{
    resume_reaches_old_end("sgd");
}
END_TEST

START_TEST(adam_v1_resumes)
{
    resume_reaches_old_end("adam");
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        sgd_v1_loads,
        adam_v1_loads,
        sgd_v1_resumes,
        adam_v1_resumes,
        NULL,
    };
    (void)write_text; /* cli_run.h's helper; the configs here are copied from the fixture */
    return check_main("ckpt_compat", 120, NULL, NULL, tests);
}
