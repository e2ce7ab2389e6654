/* tests/unit/test_registry.c — discovery, dlopen, ABI negotiation, shadowing and the permission
 * check, against the fixture plugins in tests/plugins (one case per folder). Each case runs with
 * the entry in this process and in a scanner child, and asserts the exact status and reason.
 * Run: ctest --test-dir build -R test_registry --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_util.h"
#include "instance.h"
#include "registry.h"
#include "check_run.h"

static lh_registry *open_dirs(const char *const *dirs, int n, int child, int insecure,
                              lhost_version abi)
{
    lh_registry_opts o = {0};
    lh_registry *reg = NULL;
    lh_error err = {{0}};
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = n;
    o.scan_in_child = child;
    o.allow_insecure = insecure;
    o.skip_default_dirs = 1;
    o.scan_timeout_s = 0.5;
    o.host_abi = abi;
    unsetenv("LHOST_PLUGIN_PATH");
    ck_assert_msg(lh_registry_open(&reg, &o, NULL, &err) == 0, "open failed: %s", err.msg);
    return reg;
}

static lh_registry *open_one(const char *dir, int child)
{
    const lhost_version real = {0, 0, 0};
    return open_dirs(&dir, 1, child, 0, real);
}

/* One row whose status and reason are exactly these. */
static void expect_single(const char *name, int child, int32_t status, const char *reason)
{
    char *dir = fx_stage(name);
    lh_registry *reg = open_one(dir, child);
    const lh_plugin_row *r;
    ck_assert_int_eq(lh_registry_count(reg), 1);
    r = lh_registry_row(reg, 0);
    ck_assert_int_eq(r->status, status);
    if (reason)
        ck_assert_str_eq(r->reason, reason);
    else
        ck_assert_ptr_null(r->reason);
    ck_assert_str_eq(r->dir, dir);
    ck_assert_ptr_null(r->desc); /* only usable plugins carry a descriptor */
    lh_registry_close(reg);
    fx_remove(dir);
}

/* _i = loop index: 0 in process, 1 in a scanner child. */
START_TEST(good_plugin)
{
    char *dir = fx_stage("good");
    lh_registry *reg = open_one(dir, _i);
    const lh_plugin_row *r = lh_registry_row(reg, 0);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(r->status, LH_PLUGIN_OK);
    ck_assert_ptr_null(r->reason);
    ck_assert_str_eq(r->id, "org.lhost.test.good");
    ck_assert_str_eq(r->name, "good");
    ck_assert_str_eq(r->version, "0.1.0");
    ck_assert_int_eq(r->kind, LHOST_KIND_CALLBACK);
    ck_assert_uint_eq(r->abi.major, 1);
    ck_assert_uint_eq(r->abi.minor, LHOST_ABI_VERSION_MINOR);
    if (_i) {
        ck_assert_ptr_null(r->desc);
    } else {
        ck_assert_ptr_nonnull(r->desc);
        ck_assert_uint_eq(r->desc->n_params, 5);
        ck_assert_str_eq(r->desc->params[1].name, "mode");
        ck_assert_uint_eq(r->desc->struct_size, sizeof(lhost_plugin_desc));
    }
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(two_plugins_in_one_library)
{
    char *dir = fx_stage("two");
    lh_registry *reg = open_one(dir, _i);
    ck_assert_int_eq(lh_registry_count(reg), 2);
    ck_assert_str_eq(lh_registry_row(reg, 0)->id, "org.lhost.test.two_cb");
    ck_assert_int_eq(lh_registry_row(reg, 0)->kind, LHOST_KIND_CALLBACK);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    ck_assert_str_eq(lh_registry_row(reg, 1)->id, "org.lhost.test.two_metric");
    ck_assert_int_eq(lh_registry_row(reg, 1)->kind, LHOST_KIND_METRIC);
    ck_assert_int_eq(lh_registry_row(reg, 1)->status, LH_PLUGIN_OK);
    ck_assert_str_eq(lh_registry_row(reg, 0)->path, lh_registry_row(reg, 1)->path);
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(no_entry_symbol)
{
    expect_single("no_entry", _i, LH_PLUGIN_BROKEN,
                  "not an lhost plugin: no symbol lhost_plugin_entry (nor lhost_bare_signatures or a NAME.lhost file)");
}
END_TEST

START_TEST(wrong_major)
{
    char *dir = fx_stage("wrong_major");
    lh_registry *reg = open_one(dir, _i);
    const lh_plugin_row *r = lh_registry_row(reg, 0);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(r->status, LH_PLUGIN_BROKEN);
    /* The fixture's create/destroy abort(): reaching this line proves neither ran. */
    ck_assert_str_eq(r->reason, "built for ABI 2.0.0, host has ABI 1.1.0 (different major)");
    ck_assert_uint_eq(r->abi.major, 2);
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(newer_minor)
{
    expect_single("newer_minor", _i, LH_PLUGIN_BROKEN,
                  "built for ABI 1.2.0, newer than the host's ABI 1.1.0");
}
END_TEST

START_TEST(newer_minor_loads_in_a_newer_host)
{
    const lhost_version v13 = {1, 3, 0};
    char *dir = fx_stage("newer_minor");
    const char *dirs[] = {dir};
    lh_registry *reg = open_dirs(dirs, 1, _i, 0, v13);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    ck_assert_uint_eq(lh_registry_row(reg, 0)->abi.minor, 2);
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

/* A plugin built against ABI 1.1 (the hook_order fixture) in a host that is 1.0: refused with
 * the same message, before anything but the entry runs. */
START_TEST(abi_1_1_plugin_refused_by_a_1_0_host)
{
    const lhost_version v10 = {1, 0, 0};
    char *dir = fx_stage("hook_order");
    const char *dirs[] = {dir};
    lh_registry *reg = open_dirs(dirs, 1, _i, 0, v10);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_BROKEN);
    ck_assert_str_eq(lh_registry_row(reg, 0)->reason,
                     "built for ABI 1.1.0, newer than the host's ABI 1.0.0");
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(older_minor_small_struct)
{
    const lhost_version v11 = {1, 1, 0};
    char *dir = fx_stage("older_minor");
    const char *dirs[] = {dir};
    lh_registry *reg = open_dirs(dirs, 1, 0, 0, v11);
    const lh_plugin_row *r = lh_registry_row(reg, 0);
    const lhost_callback_vtable *vt;
    lh_instance *inst;
    lh_error err;
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(r->status, LH_PLUGIN_OK);
    ck_assert_ptr_null(r->reason);
    ck_assert_uint_eq(r->abi.minor, 0);
    vt = r->desc->vtable;
    ck_assert_uint_eq(vt->struct_size, sizeof(lhost_callback_vtable));
    ck_assert_ptr_nonnull(vt->create);
    ck_assert_ptr_nonnull(vt->on_fit_start);
    ck_assert_ptr_nonnull(vt->on_train_epoch_start);
    /* Set in the fixture's static table but beyond its struct_size: absent. */
    ck_assert_ptr_null(vt->on_validation_end);
    ck_assert_ptr_null(vt->on_fit_end);
    ck_assert_ptr_null(vt->on_exception);
    ck_assert_int_eq(lh_instance_create(r, "older", NULL, 0, NULL, &inst, &err), 0);
    ck_assert_ptr_null(lh_instance_callback(inst)->on_validation_end);
    lh_instance_destroy(inst);
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(entry_segfaults)
{
    expect_single("segv", 1, LH_PLUGIN_BROKEN, "entry crashed: SIGSEGV");
}
END_TEST

START_TEST(entry_hangs)
{
    expect_single("hang", 1, LH_PLUGIN_BROKEN, "entry timed out after 0.5 s");
}
END_TEST

START_TEST(entry_returns_error)
{
    expect_single("entry_error", _i, LH_PLUGIN_BROKEN, "entry failed: needs libfoo 2, found 1");
}
END_TEST

START_TEST(entry_returns_null)
{
    expect_single("entry_null", _i, LH_PLUGIN_BROKEN, "entry failed: no licence key");
}
END_TEST

START_TEST(duplicate_id_is_shadowed)
{
    char *a = fx_stage("dup_a"), *b = fx_stage("dup_b"), want[4200];
    const char *dirs[] = {a, b};
    const lhost_version real = {0, 0, 0};
    lh_registry *reg = open_dirs(dirs, 2, _i, 0, real);
    lh_error err;
    ck_assert_int_eq(lh_registry_count(reg), 2);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    ck_assert_str_eq(lh_registry_row(reg, 0)->version, "1.0.0");
    ck_assert_int_eq(lh_registry_row(reg, 1)->status, LH_PLUGIN_SHADOWED);
    ck_assert_str_eq(lh_registry_row(reg, 1)->version, "2.0.0");
    snprintf(want, sizeof want, "shadowed by %s/good.so", a);
    ck_assert_str_eq(lh_registry_row(reg, 1)->reason, want);
    /* find returns the winner */
    ck_assert_ptr_eq(lh_registry_find(reg, "good", 0, &err), lh_registry_row(reg, 0));
    lh_registry_close(reg);
    fx_remove(a);
    fx_remove(b);
}
END_TEST

START_TEST(bad_parameter_schema)
{
    expect_single("bad_schema", _i, LH_PLUGIN_BROKEN,
                  "bad parameter schema: plugin bad_schema: parameter 'patience': default: "
                  "expected an integer >= 0; got \"abc\"");
}
END_TEST

START_TEST(unresolved_symbol)
{
    expect_single("unresolved", _i, LH_PLUGIN_BROKEN,
                  "cannot load: undefined symbol: lh_fixture_not_defined");
}
END_TEST

START_TEST(world_writable_file)
{
    char *dir = fx_stage("good"), path[4200];
    const char *dirs[] = {dir};
    const lhost_version real = {0, 0, 0};
    lh_registry *reg;
    snprintf(path, sizeof path, "%s/good.so", dir);
    ck_assert_int_eq(chmod(path, 0666), 0);
    reg = open_dirs(dirs, 1, _i, 0, real);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_BROKEN);
    ck_assert_str_eq(lh_registry_row(reg, 0)->reason,
                     "file is writable by group or others (mode 0666); refused without "
                     "--allow-insecure-plugins");
    ck_assert_str_eq(lh_registry_row(reg, 0)->path, path);
    lh_registry_close(reg);
    reg = open_dirs(dirs, 1, _i, 1, real);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(group_writable_directory)
{
    char *dir = fx_stage("good");
    const char *dirs[] = {dir};
    const lhost_version real = {0, 0, 0};
    lh_registry *reg;
    ck_assert_int_eq(chmod(dir, 0770), 0);
    reg = open_dirs(dirs, 1, _i, 0, real);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_BROKEN);
    ck_assert_str_eq(lh_registry_row(reg, 0)->path, dir);
    ck_assert_str_eq(lh_registry_row(reg, 0)->reason,
                     "directory is writable by group or others (mode 0770); refused without "
                     "--allow-insecure-plugins");
    lh_registry_close(reg);
    reg = open_dirs(dirs, 1, _i, 1, real);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    lh_registry_close(reg);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    fx_remove(dir);
}
END_TEST

START_TEST(non_elf_file)
{
    char *dir = fx_tmpdir(), path[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/readme.so", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("This is a text file that someone named .so; it has no ELF header at all.\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0644), 0);
    {
        lh_registry *reg = open_one(dir, _i);
        ck_assert_int_eq(lh_registry_count(reg), 1);
        ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_BROKEN);
        ck_assert_str_eq(lh_registry_row(reg, 0)->reason, "cannot load: invalid ELF header");
        ck_assert_ptr_null(lh_registry_row(reg, 0)->id);
        lh_registry_close(reg);
    }
    fx_remove(dir);
}
END_TEST

START_TEST(one_broken_file_does_not_hide_the_rest)
{
    char *dir = fx_stage("segv");
    lh_registry *reg;
    fx_add_case(dir, "good");
    fx_add_case(dir, "hang");
    reg = open_one(dir, 1);
    /* name order: good.so, hang.so, segv.so */
    ck_assert_int_eq(lh_registry_count(reg), 3);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    ck_assert_str_eq(lh_registry_row(reg, 1)->reason, "entry timed out after 0.5 s");
    ck_assert_str_eq(lh_registry_row(reg, 2)->reason, "entry crashed: SIGSEGV");
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

START_TEST(missing_explicit_dir_fails)
{
    lh_registry_opts o = {0};
    const char *dirs[] = {"/nonexistent/lhost-plugins"};
    lh_registry *reg = (lh_registry *)1;
    lh_error err;
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    ck_assert_int_eq(lh_registry_open(&reg, &o, NULL, &err), -1);
    ck_assert_ptr_null(reg);
    ck_assert_str_eq(err.msg,
                     "plugin directory /nonexistent/lhost-plugins: No such file or directory");
}
END_TEST

START_TEST(env_path_comes_after_flags)
{
    char *a = fx_stage("dup_a"), *b = fx_stage("dup_b"), env[9000];
    lh_registry_opts o = {0};
    const char *dirs[] = {b};
    lh_registry *reg;
    lh_error err;
    snprintf(env, sizeof env, "/nonexistent::%s", a);
    setenv("LHOST_PLUGIN_PATH", env, 1);
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    ck_assert_int_eq(lh_registry_open(&reg, &o, NULL, &err), 0);
    ck_assert_int_eq(lh_registry_count(reg), 2);
    ck_assert_str_eq(lh_registry_row(reg, 0)->dir, b);
    ck_assert_int_eq(lh_registry_row(reg, 0)->status, LH_PLUGIN_OK);
    ck_assert_str_eq(lh_registry_row(reg, 1)->dir, a);
    ck_assert_int_eq(lh_registry_row(reg, 1)->status, LH_PLUGIN_SHADOWED);
    lh_registry_close(reg);
    /* the same directory twice is searched once, so it cannot shadow itself */
    setenv("LHOST_PLUGIN_PATH", b, 1);
    ck_assert_int_eq(lh_registry_open(&reg, &o, NULL, &err), 0);
    ck_assert_int_eq(lh_registry_count(reg), 1);
    lh_registry_close(reg);
    unsetenv("LHOST_PLUGIN_PATH");
    fx_remove(a);
    fx_remove(b);
}
END_TEST

START_TEST(find_by_name_id_and_kind)
{
    char *dir = fx_stage("two");
    lh_registry *reg = open_one(dir, _i);
    lh_error err;
    ck_assert_ptr_eq(lh_registry_find(reg, "two_metric", LHOST_KIND_METRIC, &err),
                     lh_registry_row(reg, 1));
    ck_assert_ptr_eq(lh_registry_find(reg, "org.lhost.test.two_cb", 0, &err),
                     lh_registry_row(reg, 0));
    ck_assert_ptr_null(lh_registry_find(reg, "two_metric", LHOST_KIND_CALLBACK, &err));
    ck_assert_str_eq(err.msg, "no callback plugin named 'two_metric' (available: two_cb)");
    lh_registry_close(reg);
    fx_remove(dir);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *both = tcase_create("in_process_and_child"), *child = tcase_create("child_only");
    tcase_set_timeout(both, 60);
    tcase_set_timeout(child, 60);
    tcase_add_loop_test(both, good_plugin, 0, 2);
    tcase_add_loop_test(both, two_plugins_in_one_library, 0, 2);
    tcase_add_loop_test(both, no_entry_symbol, 0, 2);
    tcase_add_loop_test(both, wrong_major, 0, 2);
    tcase_add_loop_test(both, newer_minor, 0, 2);
    tcase_add_loop_test(both, newer_minor_loads_in_a_newer_host, 0, 2);
    tcase_add_loop_test(both, abi_1_1_plugin_refused_by_a_1_0_host, 0, 2);
    tcase_add_test(both, older_minor_small_struct);
    tcase_add_loop_test(both, entry_returns_error, 0, 2);
    tcase_add_loop_test(both, entry_returns_null, 0, 2);
    tcase_add_loop_test(both, duplicate_id_is_shadowed, 0, 2);
    tcase_add_loop_test(both, bad_parameter_schema, 0, 2);
    tcase_add_loop_test(both, unresolved_symbol, 0, 2);
    tcase_add_loop_test(both, world_writable_file, 0, 2);
    tcase_add_loop_test(both, group_writable_directory, 0, 2);
    tcase_add_loop_test(both, non_elf_file, 0, 2);
    tcase_add_test(both, missing_explicit_dir_fails);
    tcase_add_test(both, env_path_comes_after_flags);
    tcase_add_loop_test(both, find_by_name_id_and_kind, 0, 2);
    tcase_add_test(child, entry_segfaults);
    tcase_add_test(child, entry_hangs);
    tcase_add_test(child, one_broken_file_does_not_hide_the_rest);
    suite_add_tcase(s, both);
    suite_add_tcase(s, child);
    return s;
}

int main(void)
{
    return check_run(registry_suite());
}
