/* tests/unit/test_auroc.c — the auroc and average_precision metrics (metrics.so) against
 * tests/golden/auroc_cases.txt (scikit-learn for thresholds=None, a numpy mirror of
 * torchmetrics' binned formulas for thresholds=T; written by tests/golden/gen_auroc_ref.py).
 *
 * The plugin is loaded through the registry and run by the host's own lh_metric_run, as the
 * trainer runs it: each case is fed in several update() batches (alternately with and without a
 * batch value, the two paths of a training step), saved to a checkpoint in the middle, resumed
 * in a fresh instance from it, and computed; once more split over two "ranks" whose states are
 * reduced with lh_metric_run_reduce (concatenation for the exact cat states, sum for the binned
 * counts). Then an end-to-end training run that logs val_auroc and resumes mid-epoch exactly.
 *
 * Run: ctest --test-dir build -R test_auroc --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_run.h"
#include "instance.h"
#include "metric_run.h"
#include "registry.h"
#include "safetensors.h"
#include "synth_data.h"

#define FIXTURE LH_SOURCE_DIR "/tests/golden/auroc_cases.txt"
#define PLUGIN LH_REF_PLUGIN_DIR "/metrics.so"
#define TOL 1e-12
#define MAX_DATASETS 16
#define MAX_BATCHES 16

typedef struct dataset {
    char name[32];
    int32_t C, probs;
    int64_t n;
    float *scores;    /* (n, C) */
    int32_t *targets; /* (n) */
} dataset;

typedef struct gcase {
    const dataset *ds;
    char metric[32], average[16], thresholds[16], ignore[16];
    int64_t sizes[MAX_BATCHES];
    int32_t n_batches, resume;
    uint32_t n_out;
    double want[64];
    int line;
} gcase;

static dataset datasets[MAX_DATASETS];
static int n_datasets;
static gcase *cases;
static int n_cases;
static lh_registry *reg;
static const lh_host_env env; /* no services: the metrics need none */

static void load_fixture(void)
{
    FILE *f = fopen(FIXTURE, "r");
    char line[16384];
    int lineno = 0;
    static int cap;
    ck_assert_msg(f != NULL, "cannot open %s", FIXTURE);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (strncmp(line, "dataset ", 8) == 0) {
            dataset *d = &datasets[n_datasets++];
            long long n;
            int64_t i;
            int32_t j;
            ck_assert_int_le(n_datasets, MAX_DATASETS);
            ck_assert_int_eq(sscanf(line + 8, "%31s %d %lld %d", d->name, &d->C, &n, &d->probs),
                             4);
            d->n = n;
            d->scores = malloc(sizeof(float) * (size_t)(n * d->C));
            d->targets = malloc(sizeof(int32_t) * (size_t)n);
            for (i = 0; i < n; i++) {
                char *p = line, *end;
                ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
                lineno++;
                d->targets[i] = (int32_t)strtol(p, &end, 10);
                for (j = 0; j < d->C; j++) {
                    p = end;
                    d->scores[i * d->C + j] = (float)strtod(p, &end);
                    ck_assert_msg(end != p, "%s:%d: short row", FIXTURE, lineno);
                }
            }
        } else if (strncmp(line, "case ", 5) == 0) {
            gcase *c;
            char ds[32], sizes[256], *tok, *save;
            int used, k;
            if (n_cases == cap) {
                cap = cap ? 2 * cap : 64;
                cases = realloc(cases, sizeof *cases * (size_t)cap);
            }
            c = &cases[n_cases++];
            memset(c, 0, sizeof *c);
            c->line = lineno;
            ck_assert_int_eq(sscanf(line + 5, "%31s %31s %15s %15s %15s %255s %d %u%n", ds,
                                    c->metric, c->average, c->thresholds, c->ignore, sizes,
                                    &c->resume, &c->n_out, &used),
                             8);
            for (k = 0; k < n_datasets; k++)
                if (strcmp(datasets[k].name, ds) == 0)
                    c->ds = &datasets[k];
            ck_assert_msg(c->ds != NULL, "%s:%d: unknown dataset %s", FIXTURE, lineno, ds);
            for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                c->sizes[c->n_batches++] = atoll(tok);
            {
                char *p = line + 5 + used, *end;
                uint32_t o;
                ck_assert_uint_le(c->n_out, 64);
                for (o = 0; o < c->n_out; o++, p = end) {
                    c->want[o] = strtod(p, &end);
                    ck_assert_msg(end != p, "%s:%d: short case", FIXTURE, lineno);
                }
            }
        }
    }
    fclose(f);
    ck_assert_int_gt(n_cases, 100);
}

static void setup(void)
{
    lh_registry_opts opts = {0};
    lh_error err;
    if (reg) /* CK_FORK=no runs every test in this process: set up once */
        return;
    load_fixture();
    ck_assert_msg(lh_registry_open_file(&reg, PLUGIN, &opts, NULL, &err) == 0, "%s", err.msg);
}

/* A metric instance of `c`'s parameters (max_samples as text or NULL) and its host run. */
static void make_run(const gcase *c, const char *max_samples, lh_instance **inst,
                     lh_metric_run *r)
{
    char num[16];
    lh_kv kv[6];
    int32_t n = 0;
    lh_error err;
    const lh_plugin_row *row = lh_registry_find(reg, c->metric, LHOST_KIND_METRIC, &err);
    ck_assert_msg(row != NULL, "%s", err.msg);
    snprintf(num, sizeof num, "%d", (int)c->ds->C);
    kv[n++] = (lh_kv){"num_classes", num, NULL};
    kv[n++] = (lh_kv){"average", c->average, NULL};
    kv[n++] = (lh_kv){"thresholds", c->thresholds, NULL};
    if (strcmp(c->ignore, "none") != 0)
        kv[n++] = (lh_kv){"ignore_index", c->ignore, NULL};
    if (max_samples)
        kv[n++] = (lh_kv){"max_samples", max_samples, NULL};
    ck_assert_msg(lh_instance_create(row, c->metric, kv, n, &env, inst, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(lh_metric_run_init(r, *inst, &err) == 0, "%s", err.msg);
}

static lhost_metric_batch batch_of(const dataset *d, int64_t from, int64_t n)
{
    lhost_metric_batch b;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.n = n;
    b.num_classes = d->C;
    b.scores_are_probs = d->probs;
    b.scores = d->scores + from * d->C;
    b.targets = d->targets + from;
    return b;
}

static void check_out(const gcase *c, const double *got, const char *how)
{
    uint32_t o;
    for (o = 0; o < c->n_out; o++) {
        double w = c->want[o], g = got[o];
        int ok = (isnan(w) && isnan(g)) || fabs(w - g) <= TOL;
        ck_assert_msg(ok, "%s:%d (%s %s average=%s thresholds=%s, %s): output %u = %.17g, "
                      "expected %.17g (|diff| %.3g)", FIXTURE, c->line, c->ds->name, c->metric,
                      c->average, c->thresholds, how, o, g, w, fabs(w - g));
    }
}

/* Feed every batch, with a checkpoint save and resume after c->resume of them. */
static void run_with_resume(const gcase *c)
{
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    int64_t at = 0;
    int32_t b;
    make_run(c, NULL, &inst, &r);
    for (b = 0; b < c->n_batches; b++) {
        lhost_metric_batch mb = batch_of(c->ds, at, c->sizes[b]);
        if (b == c->resume) {
            lh_safetensors_writer *w = lh_safetensors_writer_new();
            lh_safetensors_file *f;
            uint8_t *bytes;
            uint64_t len;
            ck_assert_msg(lh_metric_run_ckpt_save(&r, 1, w, &err) == 0, "%s", err.msg);
            ck_assert_msg(lh_safetensors_serialize(w, &bytes, &len, &err) == 0, "%s", err.msg);
            lh_safetensors_writer_free(w);
            lh_metric_run_free(&r);
            lh_instance_destroy(inst);
            make_run(c, NULL, &inst, &r); /* a fresh process, as a resume is */
            ck_assert_msg(lh_safetensors_parse("mid", bytes, len, &f, &err) == 0, "%s",
                          err.msg);
            ck_assert_msg(lh_metric_run_ckpt_load(&r, 1, f, &err) == 0, "%s", err.msg);
            lh_safetensors_close(f);
            free(bytes);
        }
        ck_assert_msg(lh_metric_run_update(&r, &mb, b % 2, &err) == 0, "%s:%d: %s", FIXTURE,
                      c->line, err.msg);
        at += c->sizes[b];
    }
    ck_assert_int_eq(at, c->ds->n);
    ck_assert_msg(lh_metric_run_compute(&r, &err) == 0, "%s", err.msg);
    check_out(c, r.out, "resumed");
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
}

/* Even batches on rank 0, odd on rank 1; rank 1 reduced into rank 0. */
static void run_two_ranks(const gcase *c)
{
    lh_instance *inst;
    lh_metric_run r;
    lh_metric_set rank[2];
    lh_error err;
    int64_t at = 0;
    int32_t b, k;
    double out[64];
    make_run(c, NULL, &inst, &r);
    for (k = 0; k < 2; k++)
        ck_assert_msg(lh_metric_run_set_init(&r, &rank[k], &err) == 0, "%s", err.msg);
    for (b = 0; b < c->n_batches; b++) {
        lhost_metric_batch mb = batch_of(c->ds, at, c->sizes[b]);
        ck_assert_int_eq(r.vt->update(lh_instance_self(inst), inst, &rank[b % 2].pub, &mb),
                         LHOST_OK);
        at += c->sizes[b];
    }
    ck_assert_msg(lh_metric_run_reduce(&rank[0], &rank[1], &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.vt->compute(lh_instance_self(inst), inst, &rank[0].pub, out), LHOST_OK);
    check_out(c, out, "two ranks");
    for (k = 0; k < 2; k++)
        lh_metric_run_set_free(&rank[k]);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
}

START_TEST(golden_cases_across_batches_and_a_resume)
{
    int i, exact = 0, binned = 0;
    for (i = 0; i < n_cases; i++) {
        run_with_resume(&cases[i]);
        if (strcmp(cases[i].thresholds, "None") == 0)
            exact++;
        else
            binned++;
    }
    ck_assert_int_gt(exact, 20);
    ck_assert_int_gt(binned, 60);
}
END_TEST

START_TEST(golden_cases_over_two_ranks)
{
    int i;
    for (i = 0; i < n_cases; i++)
        run_two_ranks(&cases[i]);
}
END_TEST

/* Exact state: two cat buffers, preds (rows, C) F64 and target (rows, 1) I32, bounded by
 * max_samples; binned: one fixed SUM buffer of T * C * 4 counts. */
START_TEST(state_layout_follows_thresholds)
{
    gcase c = cases[0];
    lh_instance *inst;
    lh_metric_run r;
    strcpy(c.thresholds, "None");
    make_run(&c, "123", &inst, &r);
    ck_assert_uint_eq(r.n_decls, 2);
    ck_assert_str_eq(r.decls[0].name, "preds");
    ck_assert_int_eq(r.decls[0].reduction, LHOST_REDUCE_CAT);
    ck_assert_uint_eq(r.decls[0].length, (uint64_t)c.ds->C);
    ck_assert_uint_eq(r.decls[0].max_rows, 123);
    ck_assert_int_eq(r.decls[1].dtype, LHOST_DTYPE_I32);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    strcpy(c.thresholds, "7");
    make_run(&c, NULL, &inst, &r);
    ck_assert_uint_eq(r.n_decls, 1);
    ck_assert_int_eq(r.decls[0].reduction, LHOST_REDUCE_SUM);
    ck_assert_uint_eq(r.decls[0].length, (uint64_t)(7 * c.ds->C * 4));
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
}
END_TEST

START_TEST(bad_thresholds_are_refused)
{
    static const char *const bad[] = {"1", "x", "3.5", "-4"};
    const lh_plugin_row *row;
    lh_instance *inst;
    lh_error err;
    size_t k;
    row = lh_registry_find(reg, "auroc", LHOST_KIND_METRIC, &err);
    ck_assert_ptr_nonnull(row);
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        lh_kv kv = {"thresholds", bad[k], NULL};
        ck_assert_int_ne(lh_instance_create(row, "auroc", &kv, 1, &env, &inst, &err), 0);
        ck_assert_msg(strstr(err.msg, "thresholds") && strstr(err.msg, "integer >= 2"), "%s",
                      err.msg);
    }
    {
        lh_kv kv = {"thresholds", "", NULL}; /* YAML null: exact */
        lh_metric_run r;
        ck_assert_msg(lh_instance_create(row, "auroc", &kv, 1, &env, &inst, &err) == 0, "%s",
                      err.msg);
        ck_assert_int_eq(lh_metric_run_init(&r, inst, &err), 0);
        ck_assert_int_eq(r.decls[0].reduction, LHOST_REDUCE_CAT);
        lh_metric_run_free(&r);
        lh_instance_destroy(inst);
    }
}
END_TEST

/* More samples than max_samples: the error names the metric, the state and the bound, and the
 * state keeps what it had. */
START_TEST(max_samples_bounds_the_exact_state)
{
    gcase c = cases[0];
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    lhost_metric_batch b = batch_of(c.ds, 0, 6);
    strcpy(c.thresholds, "None");
    make_run(&c, "10", &inst, &r);
    ck_assert_int_eq(lh_metric_run_update(&r, &b, 0, &err), 0);
    ck_assert_int_ne(lh_metric_run_update(&r, &b, 0, &err), 0);
    ck_assert_msg(strstr(err.msg, "org.lhost.auroc") && strstr(err.msg, "metric auroc") &&
                      strstr(err.msg, "\"preds\"") && strstr(err.msg, "maximum of 10") &&
                      strstr(err.msg, "max_rows"),
                  "%s", err.msg);
    ck_assert_uint_eq(r.epoch.rows[0], 6);
    ck_assert_uint_eq(r.epoch.rows[1], 6);
    /* the batch path: the batch fits, the merge into the epoch does not */
    ck_assert_int_ne(lh_metric_run_update(&r, &b, 1, &err), 0);
    ck_assert_msg(strstr(err.msg, "metric auroc") && strstr(err.msg, "maximum of 10"), "%s",
                  err.msg);
    ck_assert_uint_eq(r.epoch.rows[0], 6);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
}
END_TEST

/* A checkpoint holding more rows than the resuming run allows is refused, naming the bound. */
START_TEST(resume_beyond_max_samples_is_refused)
{
    gcase c = cases[0];
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    lhost_metric_batch b = batch_of(c.ds, 0, 15);
    lh_safetensors_writer *w = lh_safetensors_writer_new();
    lh_safetensors_file *f;
    uint8_t *bytes;
    uint64_t len;
    strcpy(c.thresholds, "None");
    make_run(&c, "20", &inst, &r);
    ck_assert_int_eq(lh_metric_run_update(&r, &b, 1, &err), 0);
    ck_assert_int_eq(lh_metric_run_ckpt_save(&r, 1, w, &err), 0);
    ck_assert_int_eq(lh_safetensors_serialize(w, &bytes, &len, &err), 0);
    lh_safetensors_writer_free(w);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    ck_assert_int_eq(lh_safetensors_parse("big", bytes, len, &f, &err), 0);
    ck_assert_int_eq(lh_safetensors_shape(f, lh_safetensors_index(f, "metric.auroc.preds"))[0],
                     15);
    make_run(&c, "10", &inst, &r);
    ck_assert_int_ne(lh_metric_run_ckpt_load(&r, 1, f, &err), 0);
    ck_assert_msg(strstr(err.msg, "metric.auroc.preds") && strstr(err.msg, "maximum of 10"),
                  "%s", err.msg);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_safetensors_close(f);
    free(bytes);
}
END_TEST

/* ---- end to end ---------------------------------------------------------------------------- */

static char dir[256];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = 0;
    fclose(f);
    return buf;
}

static void run_ok(const char *sub, const char *args)
{
    char cwd[400], *out;
    int rc;
    snprintf(cwd, sizeof cwd, "%s/%s", dir, sub);
    rc = cli_run(cwd, args, &out);
    ck_assert_msg(rc == 0, "lhost %s (in %s): exit %d\n%s", args, sub, rc, out);
    free(out);
}

/* `auroc: {plugin: auroc}` logs auroc / val_auroc, `ap10` (average_precision, binned) logs
 * ap10 / val_ap10; a run resumed from a checkpoint taken inside epoch 0 (the exact state then
 * holds that epoch's first rows) ends byte-identical to the straight run. */
START_TEST(training_logs_val_auroc_and_resumes_mid_epoch)
{
    static const char cfg[] =
        "seed: 3\n"
        "data: {path: ../data, batch_size: 16}\n"
        "model:\n  layers:\n"
        "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
        "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
        "    - {type: flatten}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "trainer: {max_epochs: 2, limit_train_batches: 6, limit_val_batches: 2, "
        "log_every_n_steps: 2, enable_progress_bar: false, default_root_dir: .}\n"
        "metrics:\n"
        "  auroc: {plugin: auroc, num_classes: 10, thresholds: null}\n"
        "  ap10: {plugin: average_precision, num_classes: 10, thresholds: 10, average: weighted}\n"
        "callbacks:\n"
        "  model_checkpoint: {dirpath: ckpt, every_n_train_steps: 4, save_top_k: -1, "
        "save_last: true}\n";
    char path[1400], *a, *b, *header_end;
    lh_safetensors_file *f;
    lh_error err;
    int32_t t;
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "auroc", 256, 64), 0);
    snprintf(path, sizeof path, "%s/A", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/A/cfg.yaml", dir);
    write_text(path, cfg);
    run_ok("A", "train --config cfg.yaml");
    snprintf(path, sizeof path, "%s/A/lightning_logs/version_0/metrics.csv", dir);
    a = slurp(path);
    ck_assert_ptr_nonnull(a);
    header_end = strchr(a, '\n');
    ck_assert_ptr_nonnull(header_end);
    *header_end = 0;
    ck_assert_msg(strstr(a, ",val_auroc") && strstr(a, ",val_ap10") && strstr(a, ",auroc"),
                  "metrics.csv header: %s", a);
    *header_end = '\n';
    /* the step-4 checkpoint holds epoch 0's first 4 batches of probabilities and targets */
    snprintf(path, sizeof path, "%s/A/ckpt/epoch=0-step=4.ckpt", dir);
    ck_assert_msg(lh_safetensors_read(path, &f, &err) == 0, "%s", err.msg);
    t = lh_safetensors_index(f, "metric.auroc.preds");
    ck_assert_int_ge(t, 0);
    ck_assert_int_eq(lh_safetensors_ndim(f, t), 2);
    ck_assert_int_eq(lh_safetensors_shape(f, t)[0], 4 * 16);
    ck_assert_int_eq(lh_safetensors_shape(f, t)[1], 10);
    ck_assert_int_ge(lh_safetensors_index(f, "metric.ap10.confmat"), 0);
    lh_safetensors_close(f);

    snprintf(path, sizeof path,
             "cp -r '%s/A' '%s/B' && rm '%s/B/ckpt/last.ckpt' '%s/B/ckpt/'epoch=1-*", dir, dir,
             dir, dir);
    ck_assert_int_eq(system(path), 0);
    run_ok("B", "train --config cfg.yaml --resume ckpt/epoch=0-step=4.ckpt");
    snprintf(path, sizeof path, "%s/B/lightning_logs/version_0/metrics.csv", dir);
    b = slurp(path);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(strcmp(a, b) == 0, "metrics.csv differs after a mid-epoch resume:\n--- "
                  "straight\n%s\n--- resumed\n%s", a, b);
    free(a);
    free(b);
    synth_remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auroc");
    TCase *tc = tcase_create("golden");
    TCase *e2e = tcase_create("train");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, golden_cases_across_batches_and_a_resume);
    tcase_add_test(tc, golden_cases_over_two_ranks);
    tcase_add_test(tc, state_layout_follows_thresholds);
    tcase_add_test(tc, bad_thresholds_are_refused);
    tcase_add_test(tc, max_samples_bounds_the_exact_state);
    tcase_add_test(tc, resume_beyond_max_samples_is_refused);
    suite_add_tcase(s, tc);
    tcase_set_timeout(e2e, 300);
    tcase_add_test(e2e, training_logs_val_auroc_and_resumes_mid_epoch);
    suite_add_tcase(s, e2e);
    return check_run(s);
}
