/* tests/unit/test_trainer.c — the trainer in-process against a PyTorch reference: a tiny
 * conv2d/relu/maxpool2d/flatten/linear model trains 2 epochs of 3 batches with Adam, SGD with
 * momentum and AdamW through lh_trainer_setup / lh_trainer_fit, and its initial weights, step
 * losses, epoch values, data order, final weights and optimizer moments must match what
 * tests/golden/gen_trainer_ref.py computed with torch (tests/golden/trainer_ref.safetensors,
 * which also holds the dataset and each case's lhost config). lh_trainer_validate on the
 * reference's trained weights must give its val loss and accuracy.
 * A mismatch names the worst element: tensor, index, value, expected value.
 * Run: ctest --test-dir build -R test_trainer --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "clock.h"
#include "config.h"
#include "registry.h"
#include "safetensors.h"
#include "trainer.h"

#define REF_PATH LH_SOURCE_DIR "/tests/golden/trainer_ref.safetensors"

/* How far lhost may be from torch. Both compute in float32 but sum in different orders (conv
 * and linear reductions, the batch mean), so after 6 steps losses differ by about 3e-7, weights
 * and first moments by about 1e-7, Adam's second moments by about 1.2e-6 relative. (They were
 * 1.3e-5 apart while the backend formed 1 - beta2 in float32, 1 - 0.999f = 0.00099998713,
 * where torch rounds the double 1 - 0.999 to 0.001f: TOL_V_REL holds that fix.) The bounds
 * leave a few times that; a wrong formula, batch order or normalisation moves the values in the
 * third significant digit or earlier. */
#define TOL_LOSS_ABS 5e-6
#define TOL_LOSS_REL 5e-6
#define TOL_W_ABS 1e-6
#define TOL_W_REL 1e-5
#define TOL_M_ABS 1e-6
#define TOL_M_REL 1e-4
#define TOL_V_ABS 1e-10
#define TOL_V_REL 5e-6
/* accuracy over 20 samples: steps of 0.05, so any tolerance below that asks for equal counts */
#define TOL_ACC 1e-6

static lh_safetensors_file *ref;
static char dir[256];

/* One tensor of the reference as doubles (malloc'ed); *n its element count. */
static double *ref_values(const char *name, int64_t *n)
{
    int32_t i = lh_safetensors_index(ref, name);
    const char *dt;
    double *out;
    int64_t k;
    ck_assert_msg(i >= 0, "%s: no tensor \"%s\"", REF_PATH, name);
    dt = lh_safetensors_dtype(ref, i);
    *n = lh_safetensors_elems(ref, i);
    out = malloc((size_t)(*n ? *n : 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    for (k = 0; k < *n; k++) {
        const void *d = lh_safetensors_data(ref, i);
        if (strcmp(dt, "F32") == 0)
            out[k] = ((const float *)d)[k];
        else if (strcmp(dt, "F64") == 0)
            out[k] = ((const double *)d)[k];
        else if (strcmp(dt, "I32") == 0)
            out[k] = ((const int32_t *)d)[k];
        else
            ck_abort_msg("%s: tensor \"%s\" has dtype %s, expected F32, F64 or I32", REF_PATH,
                         name, dt);
    }
    return out;
}

/* got[0..n) against expected[0..n): every |got - expected| <= atol + rtol * |expected|. On
 * failure name the element furthest over its bound; either way print the largest errors. */
static void expect_close(const char *what, const double *got, const double *expected, int64_t n,
                         double atol, double rtol)
{
    int64_t k, worst = -1, worst_abs_at = 0;
    double worst_excess = 0, max_abs = 0, max_rel = 0;
    for (k = 0; k < n; k++) {
        double d = fabs(got[k] - expected[k]);
        /* NaN is over any bound */
        double excess = isnan(d) ? INFINITY : d - (atol + rtol * fabs(expected[k]));
        if (isnan(d) || d > max_abs)
            max_abs = isnan(d) ? INFINITY : d, worst_abs_at = k;
        if (expected[k] != 0 && d / fabs(expected[k]) > max_rel)
            max_rel = d / fabs(expected[k]);
        if (excess > worst_excess)
            worst_excess = excess, worst = k;
    }
    printf("  %-26s %4lld values: max |diff| %.3g (at %lld), max rel %.3g\n", what, (long long)n,
           max_abs, (long long)worst_abs_at, max_rel);
    fflush(stdout); /* a failing check ends the test's process without flushing */
    ck_assert_msg(worst < 0,
                  "%s[%lld]: got %.9g, expected %.9g (|diff| %.3g > %.1g + %.1g * |expected|; "
                  "%lld values compared)",
                  what, (long long)worst, got[worst < 0 ? 0 : worst],
                  expected[worst < 0 ? 0 : worst],
                  fabs(got[worst < 0 ? 0 : worst] - expected[worst < 0 ? 0 : worst]), atol, rtol,
                  (long long)n);
}

/* Reference tensor `name` against got[0..n). */
static void expect_ref(const char *name, const double *got, int64_t n, double atol, double rtol)
{
    int64_t m;
    double *want = ref_values(name, &m);
    ck_assert_msg(m == n, "%s: %lld values in lhost, %lld in the reference", name, (long long)n,
                  (long long)m);
    expect_close(name, got, want, n, atol, rtol);
    free(want);
}

/* ---- the dataset, from the reference into IDX files ------------------------------------- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* <dir>/data/<file>: an IDX unsigned-byte file of the reference tensor `name`. */
static void write_idx(const char *file, const char *name)
{
    char path[512];
    uint8_t head[16];
    int32_t i = lh_safetensors_index(ref, name), d, nd;
    FILE *f;
    ck_assert_msg(i >= 0 && strcmp(lh_safetensors_dtype(ref, i), "U8") == 0,
                  "%s: expected a U8 tensor \"%s\"", REF_PATH, name);
    nd = lh_safetensors_ndim(ref, i);
    be32(head, 0x00000800u | (uint32_t)nd);
    for (d = 0; d < nd; d++)
        be32(head + 4 + 4 * d, (uint32_t)lh_safetensors_shape(ref, i)[d]);
    snprintf(path, sizeof path, "%s/data/%s", dir, file);
    f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(head, 1, 4 + 4 * (size_t)nd, f) == 4 + 4 * (size_t)nd);
    ck_assert(fwrite(lh_safetensors_data(ref, i), 1, lh_safetensors_nbytes(ref, i), f) ==
              lh_safetensors_nbytes(ref, i));
    ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
    lh_error err = {{0}};
    char data[300];
    ck_assert_msg(lh_safetensors_read(REF_PATH, &ref, &err) == 0, "%s", err.msg);
    snprintf(dir, sizeof dir, "/tmp/lhost_trainer_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    ck_assert_int_eq(mkdir(data, 0755), 0);
    write_idx("train-images-idx3-ubyte", "train.images");
    write_idx("train-labels-idx1-ubyte", "train.labels");
    write_idx("t10k-images-idx3-ubyte", "val.images");
    write_idx("t10k-labels-idx1-ubyte", "val.labels");
}

static void teardown(void)
{
    char cmd[300];
    lh_safetensors_close(ref);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
        /* nothing to do: a leftover temporary folder is harmless */
    }
}

/* ---- a trainer built as `lhost train` builds it --------------------------------------------- */

typedef struct run {
    lh_config *cfg;
    lh_registry *reg;
    lh_trainer *t; /* large: on the heap */
} run;

/* Set up the case's config (from the reference) for `stage` on the dataset in dir/data, with
 * the reference plugins (the accuracy metric) and a run directory under dir. */
static void run_setup(run *r, const char *c, int32_t stage)
{
    const char *dirs[] = {LH_REF_PLUGIN_DIR};
    char key[64], arg[400];
    const char *yaml;
    lh_registry_opts ro;
    lh_trainer_opts o;
    lh_error err = {{0}};
    snprintf(key, sizeof key, "%s.config", c);
    yaml = lh_safetensors_meta_get(ref, key);
    ck_assert_msg(yaml != NULL, "%s: no metadata %s", REF_PATH, key);
    ck_assert_msg(lh_config_load_string(&r->cfg, key, yaml, &err) == 0, "%s", err.msg);
    snprintf(arg, sizeof arg, "data.path=%s/data", dir);
    ck_assert_msg(lh_config_override(r->cfg, arg, &err) == 0, "%s", err.msg);
    snprintf(arg, sizeof arg, "trainer.default_root_dir=%s", dir);
    ck_assert_msg(lh_config_override(r->cfg, arg, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_trainer_opts_from_cfg(r->cfg, &o, &err) == 0, "%s", err.msg);
    memset(&ro, 0, sizeof ro);
    ro.plugin_dirs = dirs;
    ro.n_plugin_dirs = 1;
    ro.skip_default_dirs = 1;
    unsetenv("LHOST_PLUGIN_PATH");
    ck_assert_msg(lh_registry_open(&r->reg, &ro, NULL, &err) == 0, "%s", err.msg);
    r->t = calloc(1, sizeof *r->t);
    ck_assert_ptr_nonnull(r->t);
    ck_assert_msg(lh_trainer_setup(r->t, &o, r->cfg, r->reg, stage, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(lh_trainer_make_run_dir(r->t, &err) == 0, "%s", err.msg);
    r->t->t_start = lh_clock_now();
}

static void run_free(run *r)
{
    lh_trainer_free(r->t);
    free(r->t);
    lh_registry_close(r->reg);
    lh_config_free(r->cfg);
}

/* A device buffer of n floats, as doubles. */
static double *download(lh_trainer *t, const lh_dmem *buf, int64_t n)
{
    float *f = malloc((size_t)n * sizeof *f);
    double *d = malloc((size_t)n * sizeof *d);
    int64_t k;
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(t->be->download(t->bctx, f, buf, (size_t)n * 4) == 0, "download: %s",
                  t->be->last_error(t->bctx));
    for (k = 0; k < n; k++)
        d[k] = f[k];
    free(f);
    return d;
}

/* Put the reference tensors "<prefix>.<param>" into the model's parameters. */
static void upload_weights(lh_trainer *t, const char *prefix)
{
    const lh_model *m = &t->model;
    float *host = malloc((size_t)m->total_params * sizeof *host);
    lh_error err = {{0}};
    char name[160];
    int32_t i;
    ck_assert_ptr_nonnull(host);
    for (i = 0; i < m->n_params; i++) {
        const float *src;
        snprintf(name, sizeof name, "%s.%s", prefix, m->params[i].name);
        src = lh_safetensors_find(ref, name, "F32", m->params[i].numel, &err);
        ck_assert_msg(src != NULL, "%s", err.msg);
        memcpy(host + m->params[i].offset, src, (size_t)m->params[i].numel * 4);
    }
    ck_assert_msg(t->be->upload(t->bctx, m->param, host, (size_t)m->total_params * 4) == 0,
                  "upload: %s", t->be->last_error(t->bctx));
    free(host);
}

/* Compare a flat device buffer laid out like the parameters with "<prefix>.<param>". */
static void expect_params(lh_trainer *t, const lh_dmem *buf, const char *prefix, double atol,
                          double rtol)
{
    const lh_model *m = &t->model;
    double *all = download(t, buf, m->total_params);
    char name[160];
    int32_t i;
    for (i = 0; i < m->n_params; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, m->params[i].name);
        expect_ref(name, all + m->params[i].offset, m->params[i].numel, atol, rtol);
    }
    free(all);
}

/* The value of `key` in a committed metrics row; 0 when the row has none. */
static int row_value(const lh_logrow *row, const char *key, double *out)
{
    int32_t k;
    for (k = 0; k < row->count; k++)
        if (strcmp(row->keys[k], key) == 0) {
            *out = row->values[k];
            return 1;
        }
    return 0;
}

/* Every row's `key`, in order (malloc'ed); *n how many rows had it. */
static double *logged(const lh_trainer *t, const char *key, int64_t *n)
{
    double *v = malloc((size_t)(t->log.n_rows + 1) * sizeof *v);
    int32_t i;
    ck_assert_ptr_nonnull(v);
    *n = 0;
    for (i = 0; i < t->log.n_rows; i++)
        if (row_value(&t->log.rows[i], key, &v[*n]))
            (*n)++;
    return v;
}

static void expect_logged(const lh_trainer *t, const char *c, const char *key, const char *ref_key,
                          double atol, double rtol)
{
    char name[64];
    int64_t n;
    double *got = logged(t, key, &n);
    snprintf(name, sizeof name, "%s.%s", c, ref_key);
    expect_ref(name, got, n, atol, rtol);
    free(got);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Before any upload the model holds lhost's own initialisation: the reference drew it with the
 * same PCG32 stream, in double, rounded to float32, so it matches bit for bit. */
START_TEST(setup_draws_the_reference_init)
{
    run r;
    run_setup(&r, "adam", LHOST_STAGE_FIT);
    expect_params(r.t, r.t->model.param, "init", 0, 0);
    run_free(&r);
}
END_TEST

static void fit_case(const char *c)
{
    run r;
    lh_error err = {{0}};
    char name[64];
    double *perm;
    int64_t k;
    printf("%s:\n", c);
    run_setup(&r, c, LHOST_STAGE_FIT);
    upload_weights(r.t, "init");
    ck_assert_msg(lh_trainer_fit(r.t, &err) == 0, "fit: %s", err.msg);
    ck_assert_int_eq(r.t->global_step, 6);
    ck_assert_int_eq(r.t->optim.step, 6);

    /* The data order is lhost's shuffle, which the reference reproduced: exactly equal. */
    perm = malloc((size_t)r.t->train.count * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (k = 0; k < r.t->train.count; k++)
        perm[k] = r.t->perm[k];
    snprintf(name, sizeof name, "%s.perm", c);
    expect_ref(name, perm, r.t->train.count, 0, 0);
    free(perm);

    expect_logged(r.t, c, "loss", "losses", TOL_LOSS_ABS, TOL_LOSS_REL);
    expect_logged(r.t, c, "train_loss", "train_loss", TOL_LOSS_ABS, TOL_LOSS_REL);
    expect_logged(r.t, c, "val_loss", "val_loss", TOL_LOSS_ABS, TOL_LOSS_REL);
    expect_logged(r.t, c, "val_acc", "val_acc", TOL_ACC, 0);

    snprintf(name, sizeof name, "%s.final", c);
    expect_params(r.t, r.t->model.param, name, TOL_W_ABS, TOL_W_REL);
    snprintf(name, sizeof name, "%s.m", c);
    expect_params(r.t, r.t->optim.m, name, TOL_M_ABS, TOL_M_REL);
    snprintf(name, sizeof name, "%s.v", c);
    if (r.t->optim.type != LH_OPTIM_SGD) /* SGD keeps no second moment */
        expect_params(r.t, r.t->optim.v, name, TOL_V_ABS, TOL_V_REL);
    run_free(&r);
}

/* data.shuffle: false (DataLoader's shuffle=False): every epoch takes the samples in the
 * dataset's order, where the default run above took the reference's shuffled order. */
START_TEST(no_shuffle_keeps_the_dataset_order)
{
    run r;
    lh_error err = {{0}};
    int64_t k, moved = 0;
    run_setup(&r, "adam", LHOST_STAGE_FIT);
    r.t->opts.shuffle = 0;
    ck_assert_msg(lh_trainer_fit(r.t, &err) == 0, "fit: %s", err.msg);
    ck_assert_int_eq(r.t->epoch, 2);
    for (k = 0; k < r.t->train.count; k++)
        moved += r.t->perm[k] != k;
    ck_assert_msg(moved == 0, "%lld of %lld samples out of the dataset's order", (long long)moved,
                  (long long)r.t->train.count);
    run_free(&r);
}
END_TEST

START_TEST(fit_adam_matches_torch)
{
    fit_case("adam");
}
END_TEST

START_TEST(fit_sgd_momentum_matches_torch)
{
    fit_case("sgd");
}
END_TEST

START_TEST(fit_adamw_matches_torch)
{
    fit_case("adamw");
}
END_TEST

/* Validation alone (the `lhost validate` stage) on the reference's trained weights gives the
 * reference's last val loss and accuracy. */
START_TEST(validate_trained_weights_matches_torch)
{
    static const char *const cases[] = {"adam", "sgd", "adamw"};
    lh_error err = {{0}};
    int32_t i;
    for (i = 0; i < 3; i++) {
        run r;
        char name[64];
        double got[2];
        int64_t n;
        double *want;
        run_setup(&r, cases[i], LHOST_STAGE_VALIDATE);
        snprintf(name, sizeof name, "%s.final", cases[i]);
        upload_weights(r.t, name);
        ck_assert_msg(lh_trainer_validate(r.t, 0, &err) == 0, "validate: %s", err.msg);
        ck_assert_int_eq(lh_logstore_get(&r.t->log, "val_loss", &got[0]), 0);
        ck_assert_int_eq(lh_logstore_get(&r.t->log, "val_acc", &got[1]), 0);
        snprintf(name, sizeof name, "%s.val_loss", cases[i]);
        want = ref_values(name, &n);
        snprintf(name, sizeof name, "%s validate val_loss", cases[i]);
        expect_close(name, &got[0], &want[n - 1], 1, TOL_LOSS_ABS, TOL_LOSS_REL);
        free(want);
        snprintf(name, sizeof name, "%s.val_acc", cases[i]);
        want = ref_values(name, &n);
        snprintf(name, sizeof name, "%s validate val_acc", cases[i]);
        expect_close(name, &got[1], &want[n - 1], 1, TOL_ACC, 0);
        free(want);
        run_free(&r);
    }
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        setup_draws_the_reference_init,
        fit_adam_matches_torch,
        fit_sgd_momentum_matches_torch,
        fit_adamw_matches_torch,
        no_shuffle_keeps_the_dataset_order,
        validate_trained_weights_matches_torch,
        NULL,
    };
    return check_main("trainer", 120, setup, teardown, tests);
}
