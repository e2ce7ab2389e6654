/* tests/unit/test_dispatch.c — hook dispatch with the scripted callbacks of the `dispatch`
 * fixture (cb_early priority -10, cb_mid 0, cb_late 100): order by priority then config order,
 * LHOST_STOP and request_stop as actions, an error naming the plugin id and hook, on_exception;
 * plus instances (state key), the host services table routed through lh_host_env, and the hook
 * table (hooks.h): names, ids, kinds and vtable members agree.
 * Run: ctest --test-dir build -R test_dispatch --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_util.h"
#include "instance.h"
#include "dispatch.h"
#include "registry.h"
#include "check_run.h"

/* The env records every log_value key in order ("tag:hook") and every request_stop. */
typedef struct trace {
    char text[8192];
    int stops;
    char stop_who[128];
} trace;

static int32_t rec_log_value(void *user, const char *key, double v, uint32_t flags)
{
    trace *t = user;
    size_t n = strlen(t->text);
    snprintf(t->text + n, sizeof t->text - n, "%s%s", n ? " " : "", key);
    return LHOST_OK;
}

static int32_t rec_stop(void *user, const char *who, const char *reason)
{
    trace *t = user;
    t->stops++;
    snprintf(t->stop_who, sizeof t->stop_who, "%s", who);
    return LHOST_OK;
}

static trace tr;
static lh_host_env env = {.user = &tr, .log_value = rec_log_value, .request_stop = rec_stop};
static char *dir;
static lh_registry *reg;

static void setup(void)
{
    lh_registry_opts o = {0};
    const char *dirs[1];
    lh_error err;
    memset(&tr, 0, sizeof tr);
    dir = fx_stage("dispatch");
    fx_add_case(dir, "good");
    dirs[0] = dir;
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    unsetenv("LHOST_PLUGIN_PATH");
    ck_assert_msg(lh_registry_open(&reg, &o, NULL, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
    lh_registry_close(reg);
    fx_remove(dir);
}

static lh_instance *make(const char *name, const char *tag, const char *action)
{
    lh_kv kvs[2] = {{"tag", tag, NULL}, {"action", action, NULL}};
    lh_instance *inst;
    lh_error err;
    const lh_plugin_row *row = lh_registry_find(reg, name, LHOST_KIND_CALLBACK, &err);
    ck_assert_msg(row != NULL, "%s", err.msg);
    ck_assert_msg(lh_instance_create(row, name, kvs, 2, &env, &inst, &err) == 0, "%s", err.msg);
    return inst;
}

START_TEST(order_by_priority_then_config_order)
{
    lh_instance *in[4] = {make("cb_late", "late", "ok"), make("cb_mid", "mid1", "ok"),
                          make("cb_early", "early", "ok"), make("cb_mid", "mid2", "ok")};
    lh_dispatch *d;
    lh_error err;
    int k;
    ck_assert_int_eq(lh_dispatch_create(&d, in, 4, &err), 0);
    ck_assert_int_eq(lh_dispatch_count(d), 4);
    ck_assert_ptr_eq(lh_dispatch_at(d, 0), in[2]);
    ck_assert_ptr_eq(lh_dispatch_at(d, 3), in[0]);
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_VALIDATION_END, NULL, &err), LHOST_OK);
    ck_assert_str_eq(tr.text, "early:on_validation_end mid1:on_validation_end "
                              "mid2:on_validation_end late:on_validation_end");
    tr.text[0] = '\0';
    {
        lhost_batch_info b = {.struct_size = sizeof b,
                                .batch_idx = 7, .batch_size = 64, .loss = 0.5};
        ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_TRAIN_BATCH_END, &b, &err), LHOST_OK);
    }
    ck_assert_str_eq(tr.text, "early:on_train_batch_end:7 mid1:on_train_batch_end:7 "
                              "mid2:on_train_batch_end:7 late:on_train_batch_end:7");
    lh_dispatch_destroy(d);
    for (k = 0; k < 4; k++)
        lh_instance_destroy(in[k]);
}
END_TEST

START_TEST(stop_is_an_action)
{
    lh_instance *in[3] = {make("cb_early", "early", "stop"), make("cb_mid", "mid", "ok"),
                          make("cb_late", "late", "ok")};
    lh_dispatch *d;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_dispatch_create(&d, in, 3, &err), 0);
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_TRAIN_EPOCH_END, NULL, &err), LHOST_STOP);
    /* every callback still ran, and nothing was reported as an error */
    ck_assert_str_eq(tr.text, "early:on_train_epoch_end mid:on_train_epoch_end "
                              "late:on_train_epoch_end");
    ck_assert_str_eq(err.msg, "");
    tr.text[0] = '\0';
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_FIT_END, NULL, &err), LHOST_STOP);
    lh_dispatch_destroy(d);
    lh_instance_destroy(in[0]);
    lh_instance_destroy(in[1]);
    lh_instance_destroy(in[2]);
}
END_TEST

START_TEST(request_stop_service_is_an_action)
{
    lh_instance *in[2] = {make("cb_mid", "mid", "request_stop"), make("cb_late", "late", "ok")};
    lh_dispatch *d;
    lh_error err;
    ck_assert_int_eq(lh_dispatch_create(&d, in, 2, &err), 0);
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_VALIDATION_END, NULL, &err), LHOST_STOP);
    ck_assert_int_eq(tr.stops, 1);
    ck_assert_str_eq(tr.stop_who, "org.lhost.test.cb_mid");
    lh_dispatch_destroy(d);
    lh_instance_destroy(in[0]);
    lh_instance_destroy(in[1]);
}
END_TEST

START_TEST(error_names_plugin_and_hook)
{
    lh_instance *in[3] = {make("cb_early", "early", "ok"), make("cb_mid", "mid", "error"),
                          make("cb_late", "late", "ok")};
    lh_dispatch *d;
    lh_error err;
    ck_assert_int_eq(lh_dispatch_create(&d, in, 3, &err), 0);
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_TRAIN_EPOCH_START, NULL, &err), LHOST_ERROR);
    ck_assert_str_eq(err.msg,
                     "plugin org.lhost.test.cb_mid: on_train_epoch_start: mid failed on purpose");
    /* the callback after the failing one did not run */
    ck_assert_str_eq(tr.text, "early:on_train_epoch_start mid:on_train_epoch_start");
    ck_assert_str_eq(lh_instance_error(in[1]), "mid failed on purpose");
    tr.text[0] = '\0';
    lh_dispatch_exception(d, "plugin org.lhost.test.cb_mid failed");
    ck_assert_str_eq(tr.text, "early:on_exception:plugin org.lhost.test.cb_mid failed "
                              "mid:on_exception:plugin org.lhost.test.cb_mid failed "
                              "late:on_exception:plugin org.lhost.test.cb_mid failed");
    lh_dispatch_destroy(d);
    lh_instance_destroy(in[0]);
    lh_instance_destroy(in[1]);
    lh_instance_destroy(in[2]);
}
END_TEST

START_TEST(missing_hooks_are_skipped)
{
    lh_instance *in[2] = {make("cb_mid", "mid", "ok"), NULL};
    const lh_plugin_row *good = lh_registry_find(reg, "good", 0, NULL);
    lh_dispatch *d;
    lh_error err;
    ck_assert_ptr_nonnull(good);
    ck_assert_int_eq(lh_instance_create(good, "good", NULL, 0, &env, &in[1], &err), 0);
    ck_assert_int_eq(lh_dispatch_create(&d, in, 2, &err), 0);
    /* good has no on_train_epoch_start */
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_TRAIN_EPOCH_START, NULL, &err), LHOST_OK);
    ck_assert_str_eq(tr.text, "mid:on_train_epoch_start");
    lh_dispatch_exception(d, "boom"); /* good has no on_exception either */
    ck_assert_str_eq(lh_dispatch_hook_name(LH_HOOK_FIT_END), "on_fit_end");
    lh_dispatch_destroy(d);
    lh_instance_destroy(in[0]);
    lh_instance_destroy(in[1]);
}
END_TEST

START_TEST(non_callback_refused)
{
    char *two = fx_stage("two");
    const char *dirs[] = {two};
    lh_registry_opts o = {0};
    lh_registry *r2;
    lh_instance *m;
    lh_dispatch *d;
    lh_error err;
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    ck_assert_int_eq(lh_registry_open(&r2, &o, NULL, &err), 0);
    ck_assert_int_eq(lh_instance_create(lh_registry_find(r2, "two_metric", 0, &err), "acc", NULL,
                                        0, NULL, &m, &err), 0);
    ck_assert_ptr_nonnull(lh_instance_metric(m));
    ck_assert_ptr_null(lh_instance_callback(m));
    ck_assert_int_eq(lh_dispatch_create(&d, &m, 1, &err), -1);
    ck_assert_str_eq(err.msg, "plugin org.lhost.test.two_metric: not a callback (kind metric)");
    lh_instance_destroy(m);
    lh_registry_close(r2);
    fx_remove(two);
}
END_TEST

START_TEST(state_key_and_params)
{
    const lh_kv kvs[] = {{"mode", "max", NULL}, {"monitor", "val_acc", NULL},
                         {"patience", "5", NULL}};
    const lh_plugin_row *good = lh_registry_find(reg, "good", 0, NULL);
    lh_instance *inst;
    lh_error err;
    ck_assert_int_eq(lh_instance_create(good, "early_stopping", kvs, 3, NULL, &inst, &err), 0);
    ck_assert_str_eq(lh_instance_state_key(inst), "org.lhost.test.good{monitor=val_acc,mode=max}");
    ck_assert_str_eq(lh_instance_key(inst), "early_stopping");
    ck_assert_int_eq(lhost_param_int(lh_instance_params(inst), "patience", 0), 5);
    ck_assert_ptr_nonnull(lh_instance_self(inst));
    ck_assert_ptr_eq(lh_instance_desc(inst), good->desc);
    lh_instance_destroy(inst);
    {
        const lh_kv bad = {"mode", "maz", NULL};
        ck_assert_int_eq(lh_instance_create(good, "x", &bad, 1, NULL, &inst, &err), -1);
        ck_assert_str_eq(err.msg, "plugin good: parameter 'mode': expected one of min, max; got "
                                  "\"maz\"");
    }
}
END_TEST

static void fill_state(void *user, lhost_trainer_state *out)
{
    out->epoch = 4;
    out->global_step = 1234;
    out->world_size = 2;
}

START_TEST(services_route_through_env)
{
    const lh_plugin_row *good = lh_registry_find(reg, "good", 0, NULL);
    const lhost_host *h = lh_services_table();
    lh_host_env e = {.user = &tr, .trainer_state = fill_state};
    lh_instance *inst;
    lhost_trainer_state st;
    lh_error err;
    double v;
    ck_assert_uint_eq(h->struct_size, sizeof(lhost_host));
    ck_assert_uint_eq(h->abi.major, LHOST_ABI_VERSION_MAJOR);
    ck_assert_str_eq(h->name, "lhost");
    ck_assert_int_eq(lh_instance_create(good, "g", NULL, 0, &e, &inst, &err), 0);
    ck_assert_int_eq(h->get_value(inst, "val_acc", &v), LHOST_ENOTFOUND);
    ck_assert_int_eq(h->log_value(inst, "x", 1, 0), LHOST_EUNSUPPORTED);
    ck_assert_int_eq(h->save_checkpoint(inst, "/tmp/x.ckpt", 0), LHOST_EUNSUPPORTED);
    ck_assert_int_eq(h->snapshot_weights(inst, 0), LHOST_EUNSUPPORTED);
    memset(&st, 0x5a, sizeof st);
    st.struct_size = sizeof st;
    ck_assert_int_eq(h->trainer_state(inst, &st), LHOST_OK);
    ck_assert_int_eq(st.epoch, 4);
    ck_assert_int_eq(st.global_step, 1234);
    ck_assert_int_eq(st.world_size, 2);
    ck_assert_int_eq(st.rank, 0);
    /* A plugin with a smaller struct: nothing past its struct_size is written. */
    memset(&st, 0x5a, sizeof st);
    st.struct_size = offsetof(lhost_trainer_state, global_step);
    ck_assert_int_eq(h->trainer_state(inst, &st), LHOST_OK);
    ck_assert_int_eq(st.epoch, 4);
    ck_assert_int_ne(st.global_step, 1234);
    h->set_error(inst, "why it failed");
    ck_assert_str_eq(lh_instance_error(inst), "why it failed");
    ck_assert_int_eq(h->request_stop(inst, "done"), LHOST_OK);
    {
        void *p = h->alloc(32);
        ck_assert_ptr_nonnull(p);
        h->free(p);
    }
    lh_instance_destroy(inst);
}
END_TEST

/* ---- the hook table (hooks.h) ------------------------------------------------------------ */

START_TEST(hook_names_and_ids_round_trip)
{
    int32_t h;
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        ck_assert_str_ne(lh_dispatch_hook_name(h), "?");
        ck_assert_int_eq(lh_dispatch_hook_find(lh_dispatch_hook_name(h)), h);
        ck_assert_int_ge(lh_dispatch_hook_kind(h), 0);
    }
    ck_assert_str_eq(lh_dispatch_hook_name(LH_HOOK_FIT_START), "on_fit_start");
    ck_assert_str_eq(lh_dispatch_hook_name(LH_HOOK_TRAIN_BATCH_END), "on_train_batch_end");
    ck_assert_str_eq(lh_dispatch_hook_name(LH_HOOK_COUNT), "?");
    ck_assert_str_eq(lh_dispatch_hook_name(-1), "?");
    ck_assert_int_eq(lh_dispatch_hook_kind(LH_HOOK_TRAIN_BATCH_END), LH_HOOK_KIND_BATCH);
    ck_assert_int_eq(lh_dispatch_hook_kind(LH_HOOK_VALIDATION_END), LH_HOOK_KIND_CTX);
    ck_assert_int_eq(lh_dispatch_hook_kind(LH_HOOK_COUNT), -1);
    /* members that are not dispatched hooks have no id */
    ck_assert_int_eq(lh_dispatch_hook_find("on_exception"), -1);
    ck_assert_int_eq(lh_dispatch_hook_find("state_save"), -1);
    ck_assert_int_eq(lh_dispatch_hook_find("on_fit_star"), -1);
    ck_assert_int_eq(lh_dispatch_hook_find(""), -1);
    ck_assert_int_eq(lh_dispatch_hook_find(NULL), -1);
}
END_TEST

static int32_t dummy_ctx(void *self, lhost_ctx *ctx) { return LHOST_OK; }
static int32_t dummy_batch(void *self, lhost_ctx *ctx, const lhost_batch_info *b)
{
    return LHOST_OK;
}
static int32_t dummy_exception(void *self, lhost_ctx *ctx, const char *m) { return LHOST_OK; }
#define DUMMY_CTX dummy_ctx
#define DUMMY_BATCH dummy_batch

/* Each id reads its own vtable member and no other: a vtable with only that member set
 * implements only that id. */
START_TEST(each_hook_reads_its_member)
{
    lhost_callback_vtable vt;
    int32_t k, checked = 0;
#define ONE(ID, member, KIND)                                                                  \
    memset(&vt, 0, sizeof vt);                                                                 \
    vt.member = DUMMY_##KIND;                                                                  \
    ck_assert_str_eq(lh_dispatch_hook_name(LH_HOOK_##ID), #member);                           \
    for (k = 0; k < LH_HOOK_COUNT; k++)                                                        \
        ck_assert_msg(lh_dispatch_implements(&vt, k) == (k == LH_HOOK_##ID),                   \
                      "only " #member " set, hook %s implemented: %d", lh_dispatch_hook_name(k), \
                      (int)lh_dispatch_implements(&vt, k));                                    \
    checked++;
    LH_HOOK_MAP(ONE)
#undef ONE
    ck_assert_int_eq(checked, LH_HOOK_COUNT);
    memset(&vt, 0, sizeof vt);
    vt.on_exception = dummy_exception; /* not a dispatched hook: no id implements it */
    for (k = 0; k < LH_HOOK_COUNT; k++)
        ck_assert_int_eq(lh_dispatch_implements(&vt, k), 0);
    ck_assert_int_eq(lh_dispatch_implements(&vt, -1), 0);
    ck_assert_int_eq(lh_dispatch_implements(&vt, LH_HOOK_COUNT), 0);
}
END_TEST

/* Every id dispatched to a callback that implements it reaches the member the fixture wrote for
 * that name, and only hooks of kind BATCH see the batch info (the fixture logs ":7" for it). */
START_TEST(every_hook_reaches_its_member)
{
    lh_instance *in = make("cb_mid", "mid", "ok");
    const lhost_callback_vtable *vt = lh_instance_callback(in);
    lhost_batch_info b = {.struct_size = sizeof b, .batch_idx = 7, .batch_size = 64, .loss = 0.5};
    char want[2048] = "";
    lh_dispatch *d;
    lh_error err;
    int32_t h, n = 0;
    ck_assert_int_eq(lh_dispatch_create(&d, &in, 1, &err), 0);
    for (h = 0; h < LH_HOOK_COUNT; h++) {
        size_t used = strlen(want);
        ck_assert_int_eq(lh_dispatch_hook(d, h, &b, &err), LHOST_OK);
        if (!lh_dispatch_implements(vt, h))
            continue;
        snprintf(want + used, sizeof want - used, "%smid:%s%s", used ? " " : "",
                 lh_dispatch_hook_name(h),
                 lh_dispatch_hook_kind(h) == LH_HOOK_KIND_BATCH ? ":7" : "");
        n++;
    }
    ck_assert_int_ge(n, 6); /* the fixture implements every hook of ABI 1.0 */
    ck_assert_str_eq(tr.text, want);
    ck_assert_int_eq(lh_dispatch_hook(d, -1, &b, &err), LHOST_ERROR);
    ck_assert_str_eq(err.msg, "unknown hook -1");
    ck_assert_int_eq(lh_dispatch_hook(d, LH_HOOK_COUNT, &b, &err), LHOST_ERROR);
    lh_dispatch_destroy(d);
    lh_instance_destroy(in);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, order_by_priority_then_config_order);
    tcase_add_test(tc, stop_is_an_action);
    tcase_add_test(tc, request_stop_service_is_an_action);
    tcase_add_test(tc, error_names_plugin_and_hook);
    tcase_add_test(tc, missing_hooks_are_skipped);
    tcase_add_test(tc, non_callback_refused);
    tcase_add_test(tc, state_key_and_params);
    tcase_add_test(tc, services_route_through_env);
    tcase_add_test(tc, hook_names_and_ids_round_trip);
    tcase_add_test(tc, each_hook_reads_its_member);
    tcase_add_test(tc, every_hook_reaches_its_member);
    suite_add_tcase(s, tc);
    return check_run(s);
}
