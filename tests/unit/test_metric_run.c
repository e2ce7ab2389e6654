/* tests/unit/test_metric_run.c — the host side of metric state (host/train/metric_run.c): cat
 * states (append, growth past the first block, reset, the max_rows bound, reduction of two
 * rank states by concatenation next to sum / max buffers), a metric whose state declarations
 * have ABI 1.0's 40-byte layout (tests/plugins/metric_v10.c), and the log key: the config key,
 * or `name` where set.
 *
 * Cat states are exercised through the exact auroc of metrics.so (two cat buffers: preds and
 * target) and through the state's append() directly.
 * Run: ctest --test-dir build -R test_metric_run --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "instance.h"
#include "metric_run.h"
#include "registry.h"

#define METRICS_SO LH_REF_PLUGIN_DIR "/metrics.so"
#define V10_SO LH_FIXTURE_PLUGIN_DIR "/metric_v10/metric_v10.so"

static const lh_host_env env;
static lh_registry *reg;

static const lh_plugin_row *open_row(const char *file, const char *name)
{
    lh_registry_opts opts = {0};
    lh_error err;
    const lh_plugin_row *row;
    ck_assert_msg(lh_registry_open_file(&reg, file, &opts, NULL, &err) == 0, "%s", err.msg);
    row = lh_registry_find(reg, name, LHOST_KIND_METRIC, &err);
    ck_assert_msg(row != NULL, "%s", err.msg);
    return row;
}

/* An exact auroc with C = 3 under config key `key`, at most max_samples samples. */
static void auroc_run(const char *key, const char *max_samples, lh_instance **inst,
                      lh_metric_run *r)
{
    const lh_plugin_row *row = open_row(METRICS_SO, "auroc");
    lh_kv kv[2] = {{"num_classes", "3", NULL}, {"max_samples", max_samples, NULL}};
    lh_error err;
    ck_assert_msg(lh_instance_create(row, key, kv, 2, &env, inst, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_metric_run_init(r, *inst, &err) == 0, "%s", err.msg);
}

/* n samples with scores i, -i, 0 and target i % 3. */
static lhost_metric_batch batch(int64_t from, int64_t n, float *scores, int32_t *targets)
{
    lhost_metric_batch b = {sizeof b, n, 3, 0, scores, targets};
    int64_t i;
    for (i = 0; i < n; i++) {
        scores[3 * i] = (float)(from + i);
        scores[3 * i + 1] = -(float)(from + i);
        scores[3 * i + 2] = 0.0f;
        targets[i] = (int32_t)((from + i) % 3);
    }
    return b;
}

START_TEST(cat_state_grows_and_keeps_every_row_in_order)
{
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    float scores[3 * 37];
    int32_t targets[37];
    int64_t at = 0, i;
    int32_t k;
    auroc_run("auroc", "100000", &inst, &r);
    for (k = 0; k < 40; k++) { /* 1480 rows: the first block holds 64 */
        lhost_metric_batch b = batch(at, 37, scores, targets);
        ck_assert_msg(lh_metric_run_update(&r, &b, k % 2, &err) == 0, "%s", err.msg);
        at += 37;
    }
    ck_assert_uint_eq(r.epoch.rows[0], (uint64_t)at);
    ck_assert_uint_eq(r.epoch.rows[1], (uint64_t)at);
    ck_assert_uint_ge(r.epoch.cap[0], (uint64_t)at);
    ck_assert_uint_le(r.epoch.cap[0], 2 * (uint64_t)at); /* amortised doubling, not per row */
    ck_assert_uint_eq((uintptr_t)r.epoch.buf[0] % 64, 0);
    for (i = 0; i < at; i++) {
        const int32_t *t = r.epoch.buf[1];
        const double *p = r.epoch.buf[0];
        ck_assert_int_eq(t[i], (int32_t)(i % 3));
        ck_assert_msg(fabs(p[3 * i] + p[3 * i + 1] + p[3 * i + 2] - 1.0) < 1e-12,
                      "row %lld is not a softmax", (long long)i);
    }
    lh_metric_run_reset(&r);
    ck_assert_uint_eq(r.epoch.rows[0], 0);
    ck_assert_uint_eq(r.epoch.pub.rows[1], 0);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
}
END_TEST

START_TEST(append_checks_the_buffer_and_the_bound)
{
    lh_instance *inst;
    lh_metric_run r;
    int32_t t[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    const lhost_metric_state *st;
    auroc_run("auroc", "5", &inst, &r);
    st = &r.epoch.pub;
    ck_assert(LHOST_METRIC_STATE_HAS(st, append));
    ck_assert_int_eq(st->append(st, 1, t, 3), LHOST_OK);
    ck_assert_uint_eq(st->rows[1], 3);
    ck_assert_int_eq(st->append(st, 1, t, 3), LHOST_ERROR);
    ck_assert_msg(strstr(r.epoch.error, "metric auroc") && strstr(r.epoch.error, "\"target\"") &&
                      strstr(r.epoch.error, "3 + 3 rows") &&
                      strstr(r.epoch.error, "maximum of 5"),
                  "%s", r.epoch.error);
    ck_assert_uint_eq(st->rows[1], 3); /* nothing appended */
    ck_assert_int_eq(st->append(st, 2, t, 1), LHOST_ERROR);
    ck_assert_msg(strstr(r.epoch.error, "not a cat state"), "%s", r.epoch.error);
    ck_assert_int_eq(st->append(st, 1, t, 0), LHOST_OK);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
}
END_TEST

/* Two rank states of auroc: rank 1's rows follow rank 0's; past max_rows nothing changes. */
START_TEST(reduce_concatenates_cat_states)
{
    lh_instance *inst;
    lh_metric_run r;
    lh_metric_set rank[2];
    lh_error err;
    float scores[3 * 10];
    int32_t targets[10];
    lhost_metric_batch b0, b1;
    const int32_t *t;
    int32_t k;
    auroc_run("auroc", "12", &inst, &r);
    for (k = 0; k < 2; k++)
        ck_assert_int_eq(lh_metric_run_set_init(&r, &rank[k], &err), 0);
    b0 = batch(0, 4, scores, targets);
    ck_assert_int_eq(r.vt->update(lh_instance_self(inst), inst, &rank[0].pub, &b0), LHOST_OK);
    b1 = batch(100, 5, scores, targets);
    ck_assert_int_eq(r.vt->update(lh_instance_self(inst), inst, &rank[1].pub, &b1), LHOST_OK);
    ck_assert_int_eq(lh_metric_run_reduce(&rank[0], &rank[1], &err), 0);
    ck_assert_uint_eq(rank[0].rows[0], 9);
    ck_assert_uint_eq(rank[0].rows[1], 9);
    t = rank[0].buf[1];
    for (k = 0; k < 9; k++)
        ck_assert_int_eq(t[k], k < 4 ? k % 3 : (100 + k - 4) % 3);
    ck_assert_int_ne(lh_metric_run_reduce(&rank[0], &rank[1], &err), 0);
    ck_assert_msg(strstr(err.msg, "metric auroc") && strstr(err.msg, "9 + 5 rows") &&
                      strstr(err.msg, "maximum of 12"),
                  "%s", err.msg);
    ck_assert_uint_eq(rank[0].rows[0], 9);
    ck_assert_uint_eq(rank[0].rows[1], 9);
    for (k = 0; k < 2; k++)
        lh_metric_run_set_free(&rank[k]);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
}
END_TEST

/* A 1.0 plugin's 40-byte declarations read with its stride; fixed buffers reduce by sum and
 * max as before; no `name` parameter, so the key is the config key. */
START_TEST(abi_1_0_declarations_and_fixed_reduction)
{
    const lh_plugin_row *row = open_row(V10_SO, "metric_v10");
    lh_instance *inst;
    lh_metric_run r;
    lh_metric_set rank[2];
    lh_error err;
    float s0[2] = {1.0f, 5.0f}, s1[3] = {2.0f, 9.0f, 3.0f};
    int32_t t[3] = {0, 0, 0};
    lhost_metric_batch b0 = {sizeof b0, 2, 1, 0, s0, t}, b1 = {sizeof b1, 3, 1, 0, s1, t};
    char key[64];
    ck_assert_msg(lh_instance_create(row, "mean_score", NULL, 0, &env, &inst, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(lh_metric_run_init(&r, inst, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n_decls, 3);
    ck_assert_str_eq(r.decls[0].name, "sum");
    ck_assert_str_eq(r.decls[1].name, "best");
    ck_assert_str_eq(r.decls[2].name, "seen");
    ck_assert_int_eq(r.decls[1].reduction, LHOST_REDUCE_MAX);
    ck_assert(isinf(r.decls[1].init) && r.decls[1].init < 0);
    ck_assert_uint_eq(r.decls[0].length, 2);
    ck_assert_uint_eq(r.decls[2].max_rows, 0); /* unknown to 1.0: zero */
    lh_metric_run_name(&r, "val_", 1, key, sizeof key);
    ck_assert_str_eq(key, "val_mean_score_1");

    ck_assert_int_eq(lh_metric_run_update(&r, &b0, 1, &err), 0);
    ck_assert_int_eq(lh_metric_run_update(&r, &b1, 0, &err), 0);
    ck_assert_int_eq(lh_metric_run_compute(&r, &err), 0);
    ck_assert_double_eq(r.out[0], 4.0);
    ck_assert_double_eq(r.out[1], 9.0);
    ck_assert_double_eq(r.out[2], 5.0);

    ck_assert_int_eq(lh_metric_run_set_init(&r, &rank[0], &err), 0);
    ck_assert_int_eq(lh_metric_run_set_init(&r, &rank[1], &err), 0);
    ck_assert_int_eq(r.vt->update(NULL, inst, &rank[0].pub, &b1), LHOST_OK);
    ck_assert_int_eq(r.vt->update(NULL, inst, &rank[1].pub, &b0), LHOST_OK);
    ck_assert_int_eq(lh_metric_run_reduce(&rank[0], &rank[1], &err), 0);
    ck_assert_double_eq(((double *)rank[0].buf[0])[0], 20.0);
    ck_assert_double_eq(((double *)rank[0].buf[1])[0], 9.0);
    ck_assert_int_eq(((int64_t *)rank[0].buf[2])[0], 5);
    lh_metric_run_set_free(&rank[0]);
    lh_metric_run_set_free(&rank[1]);
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
}
END_TEST

/* `name`, where it is set, wins over the config key (the trainer sets it to the config key by
 * default, so `n: {plugin: auroc}` logs n; metric_v10 above has no `name` and logs its key). */
START_TEST(name_wins_over_the_config_key)
{
    const lh_plugin_row *row = open_row(METRICS_SO, "auroc");
    lh_instance *inst;
    lh_metric_run r;
    lh_error err;
    lh_kv named = {"name", "roc_area", NULL};
    ck_assert_int_eq(lh_instance_create(row, "n", &named, 1, &env, &inst, &err), 0);
    ck_assert_int_eq(lh_metric_run_init(&r, inst, &err), 0);
    ck_assert_str_eq(r.key, "roc_area");
    lh_metric_run_free(&r);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metric_run");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cat_state_grows_and_keeps_every_row_in_order);
    tcase_add_test(tc, append_checks_the_buffer_and_the_bound);
    tcase_add_test(tc, reduce_concatenates_cat_states);
    tcase_add_test(tc, abi_1_0_declarations_and_fixed_reduction);
    tcase_add_test(tc, name_wins_over_the_config_key);
    suite_add_tcase(s, tc);
    return check_run(s);
}
