/* tests/unit/test_early_stopping.c — the early_stopping.so reference plugin driven by scripted
 * metric sequences through the fake host (tests/unit/fake_host.h).
 * Run: ctest --test-dir build -R test_early_stopping --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "check_run.h"

static fh_plugin P;
static fh_params PV;

/* Load the plugin and create an instance from NULL-terminated "key=value" strings. */
static void *es_new(const char *first, ...)
{
    const char *kv[FH_MAX_PARAMS + 1];
    char err[512];
    void *self = NULL;
    int n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s && n < FH_MAX_PARAMS; s = va_arg(ap, const char *))
        kv[n++] = s;
    va_end(ap);
    kv[n] = NULL;
    ck_assert_int_eq(fh_load(&P, "early_stopping.so"), 0);
    ck_assert_msg(fh_params_build(&PV, P.desc, kv, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(P.vt->create(&fh_host, FH_CTX, &PV.pv, &self), LHOST_OK);
    ck_assert_ptr_nonnull(self);
    return self;
}

/* One validation check at `epoch` with key = v. */
static int32_t es_check(void *self, int64_t epoch, const char *key, double v)
{
    fh.ts.epoch = epoch;
    fh.ts.global_step = (epoch + 1) * 100;
    fh_set(key, v);
    return P.vt->on_validation_end(self, FH_CTX);
}

/* Feed v[0..n) as epochs first_epoch, first_epoch+1, ...; returns the index of the check that
 * returned LHOST_STOP (every earlier one must return LHOST_OK), or -1. */
static int es_run(void *self, int64_t first_epoch, const char *key, const double *v, int n)
{
    for (int k = 0; k < n; k++) {
        int32_t rc = es_check(self, first_epoch + k, key, v[k]);
        if (rc == LHOST_STOP)
            return k;
        ck_assert_msg(rc == LHOST_OK, "check %d returned %d (%s)", k, rc, fh.error);
    }
    return -1;
}

/* The saved state, decoded: i64 wait, f64 best, i64 stopped_epoch, i64 reason, i64 patience. */
typedef struct es_state {
    int64_t wait, stopped, reason, patience;
    double best;
} es_state;

static es_state es_state_of(void *self)
{
    const void *data = NULL;
    uint64_t size = 0;
    es_state s;
    const unsigned char *b;
    ck_assert_int_eq(P.vt->state_save(self, FH_CTX, &data, &size), LHOST_OK);
    ck_assert_uint_ge(size, 40);
    b = data;
    memcpy(&s.wait, b, 8);
    memcpy(&s.best, b + 8, 8);
    memcpy(&s.stopped, b + 16, 8);
    memcpy(&s.reason, b + 24, 8);
    memcpy(&s.patience, b + 32, 8);
    return s;
}

START_TEST(test_descriptor)
{
    const lhost_param *monitor = NULL, *mode = NULL;
    void *self = es_new("monitor=val_loss", NULL);
    ck_assert_str_eq(P.desc->id, "org.lhost.early_stopping");
    ck_assert_str_eq(P.desc->name, "early_stopping");
    ck_assert_int_eq(P.desc->kind, LHOST_KIND_CALLBACK);
    ck_assert_uint_eq(P.vt->state_version, 1);
    for (uint32_t k = 0; k < P.desc->n_params; k++) {
        if (!strcmp(P.desc->params[k].name, "monitor"))
            monitor = &P.desc->params[k];
        if (!strcmp(P.desc->params[k].name, "mode"))
            mode = &P.desc->params[k];
    }
    ck_assert_ptr_nonnull(monitor);
    ck_assert_ptr_nonnull(mode);
    ck_assert(monitor->flags & LHOST_PARAM_REQUIRED);
    ck_assert(monitor->flags & LHOST_PARAM_IDENTITY);
    ck_assert(mode->flags & LHOST_PARAM_IDENTITY);
    ck_assert_int_eq(es_state_of(self).patience, 3);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_improvement_never_stops)
{
    const double v[] = {1.0, 0.9, 0.8, 0.7, 0.6, 0.5};
    void *self = es_new("monitor=val_loss", "patience=1", NULL);
    es_state s;
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 6), -1);
    s = es_state_of(self);
    ck_assert_int_eq(s.wait, 0);
    ck_assert_double_eq(s.best, 0.5);
    ck_assert_int_eq(s.reason, 0);
    ck_assert_int_eq(s.stopped, -1);
    ck_assert_int_eq(fh.stop_calls, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_plateau_stops_after_patience)
{
    const double v[] = {1.0, 1.0, 1.0, 1.0, 1.0};
    void *self = es_new("monitor=val_loss", NULL); /* patience 3 */
    es_state s;
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 5), 3);
    s = es_state_of(self);
    ck_assert_int_eq(s.wait, 3);
    ck_assert_int_eq(s.stopped, 3);
    ck_assert_int_eq(s.reason, 3);
    ck_assert_int_eq(fh.stop_calls, 1);
    ck_assert_msg(strstr(fh.stop_reason, "did not improve in the last 3 records"), "%s",
                  fh.stop_reason);
    ck_assert_msg(strstr(fh.log, "INFO Monitored metric val_loss did not improve"), "%s", fh.log);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_ties_do_not_improve_mode_inferred_max)
{
    /* val_acc: mode omitted -> max. A tie is no improvement; 0.6 resets the count. */
    const double v[] = {0.5, 0.5, 0.6, 0.6, 0.6};
    void *self = es_new("monitor=val_acc", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_acc", v, 5), 4);
    ck_assert_double_eq(es_state_of(self).best, 0.6);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_mode_from_host_higher_is_better)
{
    /* "val_score" means nothing by its name; the host says larger is better: max. */
    const double v[] = {0.5, 0.6, 0.7, 0.7, 0.7};
    void *self;
    snprintf(fh.hib_key, sizeof fh.hib_key, "val_score");
    fh.hib = 1;
    self = es_new("monitor=val_score", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_score", v, 5), 4);
    ck_assert_double_eq(es_state_of(self).best, 0.7);
    P.vt->destroy(self);
    fh.hib_key[0] = 0;
}
END_TEST

START_TEST(test_explicit_mode_overrides_name)
{
    /* "val_acc" with mode=min: a rising value is no improvement. */
    const double v[] = {0.5, 0.6, 0.7};
    void *self = es_new("monitor=val_acc", "mode=min", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_acc", v, 3), 2);
    ck_assert_double_eq(es_state_of(self).best, 0.5);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_nan_check_finite_stops)
{
    const double v[] = {0.5, NAN};
    /* non-finite is checked before the thresholds */
    void *self = es_new("monitor=val_loss", "divergence_threshold=10", NULL);
    es_state s;
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 2), 1);
    s = es_state_of(self);
    ck_assert_int_eq(s.reason, 4);
    ck_assert_double_eq(s.best, 0.5);
    ck_assert_msg(strstr(fh.stop_reason, "is not finite"), "%s", fh.stop_reason);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_nan_without_check_finite_counts_as_no_improvement)
{
    const double v[] = {0.5, NAN, INFINITY};
    void *self = es_new("monitor=val_loss", "check_finite=false", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 3), -1);
    ck_assert_int_eq(es_state_of(self).wait, 2);
    ck_assert_double_eq(es_state_of(self).best, 0.5);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_stopping_threshold_is_strict)
{
    const double v[] = {0.5, 0.2, 0.1, 0.05};
    void *self = es_new("monitor=val_loss", "stopping_threshold=0.1", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 4), 3);
    ck_assert_int_eq(es_state_of(self).reason, 1);
    ck_assert_msg(strstr(fh.stop_reason, "Stopping threshold reached"), "%s", fh.stop_reason);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_divergence_threshold)
{
    const double v[] = {1.0, 5.0, 6.0};
    void *self = es_new("monitor=val_loss", "divergence_threshold=5", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 3), 2);
    ck_assert_int_eq(es_state_of(self).reason, 2);
    ck_assert_int_eq(es_state_of(self).stopped, 2);
    ck_assert_msg(strstr(fh.stop_reason, "Divergence threshold reached"), "%s", fh.stop_reason);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_divergence_threshold_max_mode)
{
    const double v[] = {0.8, 0.3, 0.1};
    void *self = es_new("monitor=val_acc", "divergence_threshold=0.2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_acc", v, 3), 2);
    ck_assert_int_eq(es_state_of(self).reason, 2);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_min_delta)
{
    /* 0.95 is better than 1.0 by less than 0.1: no improvement; 0.85 is one. */
    const double v[] = {1.0, 0.95, 0.85, 0.80, 0.79};
    void *self = es_new("monitor=val_loss", "min_delta=0.1", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 5), 4);
    ck_assert_double_eq(es_state_of(self).best, 0.85);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_baseline)
{
    const double below[] = {0.85, 0.88, 0.89};
    const double above[] = {0.85, 0.95, 0.94, 0.93};
    void *self = es_new("monitor=val_acc", "baseline=0.9", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_acc", below, 3), 1);
    ck_assert_double_eq(es_state_of(self).best, 0.9);
    P.vt->destroy(self);

    self = es_new("monitor=val_acc", "baseline=0.9", "patience=2", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_acc", above, 4), 3);
    ck_assert_double_eq(es_state_of(self).best, 0.95);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_start_from_epoch)
{
    /* Epochs 0 and 1 are not checked at all (not even for NaN). */
    const double v[] = {NAN, 9.0, 1.0, 1.0};
    void *self = es_new("monitor=val_loss", "start_from_epoch=2", "patience=1", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 4), 3);
    ck_assert_double_eq(es_state_of(self).best, 1.0);
    ck_assert_int_eq(es_state_of(self).stopped, 3);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_missing_monitor_strict)
{
    void *self = es_new("monitor=val_loss", NULL);
    fh_set("val_acc", 0.5);
    fh_set("loss", 0.3);
    ck_assert_int_eq(P.vt->on_validation_end(self, FH_CTX), LHOST_ERROR);
    ck_assert_int_eq(fh.error_calls, 1);
    ck_assert_msg(strstr(fh.error, "\"val_loss\""), "%s", fh.error);
    ck_assert_msg(strstr(fh.error, "loss, val_acc"), "%s", fh.error);
    ck_assert_int_eq(fh.stop_calls, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_missing_monitor_not_strict)
{
    void *self = es_new("monitor=val_loss", "strict=false", "patience=0", NULL);
    fh_set("val_acc", 0.5);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(P.vt->on_validation_end(self, FH_CTX), LHOST_OK);
    ck_assert_int_eq(fh.error_calls, 0);
    ck_assert_int_eq(fh.stop_calls, 0);
    ck_assert_msg(strstr(fh.log, "WARN monitor \"val_loss\" is not available"), "%s", fh.log);
    ck_assert_msg(strstr(fh.log, "available: val_acc"), "%s", fh.log);
    ck_assert_int_eq(es_state_of(self).wait, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_restore_best_weights)
{
    const double v[] = {1.0, 0.8, 0.9, 0.95};
    void *self = es_new("monitor=val_loss", "patience=2", "restore_best_weights=true", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 4), 3);
    ck_assert_int_eq(fh.snapshot_calls, 2); /* one per improvement */
    ck_assert_int_eq(fh.restore_calls, 0);
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_int_eq(fh.restore_calls, 1);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_restore_best_weights_at_end_without_stop)
{
    const double v[] = {1.0, 0.8, 0.9};
    void *self = es_new("monitor=val_loss", "restore_best_weights=true", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 3), -1);
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_int_eq(fh.snapshot_calls, 2);
    ck_assert_int_eq(fh.restore_calls, 1);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_no_restore_without_option_or_snapshot)
{
    const double v[] = {1.0, 0.8};
    void *self = es_new("monitor=val_loss", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 2), -1);
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_int_eq(fh.snapshot_calls, 0);
    ck_assert_int_eq(fh.restore_calls, 0);
    P.vt->destroy(self);

    /* The host cannot snapshot (no model): nothing to restore, no failure. */
    fh.snapshot_rc = LHOST_EUNSUPPORTED;
    self = es_new("monitor=val_loss", "restore_best_weights=true", NULL);
    ck_assert_int_eq(es_run(self, 0, "val_loss", v, 2), -1);
    ck_assert_int_eq(P.vt->on_fit_end(self, FH_CTX), LHOST_OK);
    ck_assert_int_eq(fh.restore_calls, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_state_resume_continues_count)
{
    const double first[] = {1.0, 1.1, 1.2};
    const void *data;
    uint64_t size;
    void *copy, *a, *b, *fresh;
    a = es_new("monitor=val_loss", NULL);
    ck_assert_int_eq(es_run(a, 0, "val_loss", first, 3), -1); /* wait 2 of 3 */
    ck_assert_int_eq(P.vt->state_save(a, FH_CTX, &data, &size), LHOST_OK);
    copy = malloc(size);
    memcpy(copy, data, size);
    P.vt->destroy(a);

    b = es_new("monitor=val_loss", NULL);
    ck_assert_int_eq(P.vt->state_restore(b, FH_CTX, 1, copy, size), LHOST_OK);
    ck_assert_int_eq(es_state_of(b).wait, 2);
    ck_assert_double_eq(es_state_of(b).best, 1.0);
    ck_assert_int_eq(es_check(b, 3, "val_loss", 1.05), LHOST_STOP);
    ck_assert_int_eq(es_state_of(b).stopped, 3);

    /* without the state the same value is a first improvement */
    fresh = es_new("monitor=val_loss", NULL);
    ck_assert_int_eq(es_check(fresh, 3, "val_loss", 1.05), LHOST_OK);

    /* wrong version, truncated bytes and another monitor are refused */
    ck_assert_int_eq(P.vt->state_restore(fresh, FH_CTX, 2, copy, size), LHOST_ERROR);
    ck_assert_int_eq(P.vt->state_restore(fresh, FH_CTX, 1, copy, size - 1), LHOST_ERROR);
    P.vt->destroy(fresh);
    fresh = es_new("monitor=loss", NULL);
    ck_assert_int_eq(P.vt->state_restore(fresh, FH_CTX, 1, copy, size), LHOST_ERROR);
    ck_assert_msg(strstr(fh.error, "not an early_stopping v1 state"), "%s", fh.error);
    P.vt->destroy(fresh);
    P.vt->destroy(b);
    free(copy);
}
END_TEST

START_TEST(test_no_check_outside_fit)
{
    void *self = es_new("monitor=val_loss", "patience=0", NULL);
    fh.ts.stage = LHOST_STAGE_VALIDATE;
    ck_assert_int_eq(es_check(self, 0, "val_loss", NAN), LHOST_OK);
    ck_assert_int_eq(es_state_of(self).reason, 0);
    P.vt->destroy(self);
}
END_TEST

START_TEST(test_required_monitor_and_bad_values)
{
    char err[256];
    ck_assert_int_eq(fh_load(&P, "early_stopping.so"), 0);
    ck_assert_int_ne(fh_params_build(&PV, P.desc, NULL, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "monitor"), "%s", err);
    {
        const char *kv[] = {"monitor=x", "patience=-1", NULL};
        ck_assert_int_ne(fh_params_build(&PV, P.desc, kv, err, sizeof err), 0);
    }
    {
        const char *kv[] = {"monitor=x", "mode=maz", NULL};
        ck_assert_int_ne(fh_params_build(&PV, P.desc, kv, err, sizeof err), 0);
    }
}
END_TEST

static Suite *es_suite(void)
{
    Suite *s = suite_create("early_stopping");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, fh_reset, NULL);
    tcase_add_test(tc, test_descriptor);
    tcase_add_test(tc, test_improvement_never_stops);
    tcase_add_test(tc, test_plateau_stops_after_patience);
    tcase_add_test(tc, test_ties_do_not_improve_mode_inferred_max);
    tcase_add_test(tc, test_mode_from_host_higher_is_better);
    tcase_add_test(tc, test_explicit_mode_overrides_name);
    tcase_add_test(tc, test_nan_check_finite_stops);
    tcase_add_test(tc, test_nan_without_check_finite_counts_as_no_improvement);
    tcase_add_test(tc, test_stopping_threshold_is_strict);
    tcase_add_test(tc, test_divergence_threshold);
    tcase_add_test(tc, test_divergence_threshold_max_mode);
    tcase_add_test(tc, test_min_delta);
    tcase_add_test(tc, test_baseline);
    tcase_add_test(tc, test_start_from_epoch);
    tcase_add_test(tc, test_missing_monitor_strict);
    tcase_add_test(tc, test_missing_monitor_not_strict);
    tcase_add_test(tc, test_restore_best_weights);
    tcase_add_test(tc, test_restore_best_weights_at_end_without_stop);
    tcase_add_test(tc, test_no_restore_without_option_or_snapshot);
    tcase_add_test(tc, test_state_resume_continues_count);
    tcase_add_test(tc, test_no_check_outside_fit);
    tcase_add_test(tc, test_required_monitor_and_bad_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(es_suite());
}
