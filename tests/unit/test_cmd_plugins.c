/* tests/unit/test_cmd_plugins.c — `lhost plugins` (lh_cmd_plugins) run in-process with stdout and
 * stderr captured: the table, --json, --verbose for a callback and a metric, exit codes.
 * Run: ctest --test-dir build -R test_cmd_plugins --output-on-failure */
#include <check.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "fixture_util.h"
#include "check_run.h"

static char out[65536], errtext[65536];

static void slurp(int fd, char *buf, size_t cap)
{
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* Run lh_cmd_plugins(argv) with stdout/stderr going to `out` / `errtext`; return its code. */
static int run(int argc, char **argv)
{
    char t1[] = "/tmp/lhost-out-XXXXXX", t2[] = "/tmp/lhost-err-XXXXXX";
    int f1 = mkstemp(t1), f2 = mkstemp(t2), save1 = dup(1), save2 = dup(2), rc;
    ck_assert(f1 >= 0 && f2 >= 0);
    unlink(t1);
    unlink(t2);
    fflush(stdout);
    fflush(stderr);
    dup2(f1, 1);
    dup2(f2, 2);
    rc = lh_cmd_plugins(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save1, 1);
    dup2(save2, 2);
    close(save1);
    close(save2);
    slurp(f1, out, sizeof out);
    slurp(f2, errtext, sizeof errtext);
    close(f1);
    close(f2);
    return rc;
}

static char *dir;

static void setup(void)
{
    unsetenv("LHOST_PLUGIN_PATH");
    setenv("XDG_DATA_HOME", "/nonexistent", 1);
    dir = fx_stage("good");
    fx_add_case(dir, "two");
    fx_add_case(dir, "segv");
    fx_add_case(dir, "wrong_major");
}

static void teardown(void) { fx_remove(dir); }

START_TEST(table)
{
    char *argv[] = {"plugins", "--plugin-dir", dir, NULL};
    ck_assert_int_eq(run(3, argv), 0);
    ck_assert_msg(strstr(out, "ID ") == out, "header missing:\n%s", out);
    ck_assert_ptr_nonnull(strstr(out, "KIND"));
    ck_assert_ptr_nonnull(strstr(out, "STATUS"));
    ck_assert_msg(strstr(out, "org.lhost.test.good ") != NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "org.lhost.test.two_metric"));
    ck_assert_ptr_nonnull(strstr(out, "metric"));
    ck_assert_msg(strstr(out, "broken: entry crashed: SIGSEGV\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "broken: built for ABI 2.0.0, host has ABI 1.1.0 (different major)\n"),
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "segv.so"));
}
END_TEST

START_TEST(json_list)
{
    char *argv[] = {"plugins", "--json", "--plugin-dir", dir, NULL};
    cJSON *root, *row;
    int ok = 0, broken = 0;
    ck_assert_int_eq(run(4, argv), 0);
    root = cJSON_Parse(out);
    ck_assert_msg(cJSON_IsArray(root), "not a JSON array:\n%s", out);
    /* Default directories (installed, build tree) may add rows: count only ours. */
    cJSON_ArrayForEach(row, root)
    {
        const char *st = cJSON_GetObjectItem(row, "status")->valuestring;
        if (strcmp(cJSON_GetObjectItem(row, "dir")->valuestring, dir) != 0)
            continue;
        ok += strcmp(st, "ok") == 0;
        broken += strcmp(st, "broken") == 0;
        if (strcmp(st, "ok") == 0)
            ck_assert_str_eq(cJSON_GetObjectItem(row, "abi")->valuestring, "1.1.0");
    }
    ck_assert_int_eq(ok, 3);
    ck_assert_int_eq(broken, 2);
    cJSON_Delete(root);
}
END_TEST

/* The NAME column holds what a config writes, beside the id. */
START_TEST(table_has_names)
{
    char *argv[] = {"plugins", "--plugin-dir", dir, NULL};
    const char *row;
    ck_assert_int_eq(run(3, argv), 0);
    ck_assert_msg(strncmp(out, "ID ", 3) == 0 && strstr(out, "  NAME ") &&
                      strstr(out, "  NAME ") < strstr(out, "  KIND "), "%s", out);
    ck_assert_msg((row = strstr(out, "org.lhost.test.good ")) != NULL, "%s", out);
    ck_assert_msg(strncmp(row + strcspn(row, " ") + strspn(row + strcspn(row, " "), " "),
                          "good ", 5) == 0, "no name after the id:\n%s", out);
}
END_TEST

/* A parameter name longer than the 18-column label keeps two spaces before its type. */
START_TEST(verbose_long_names_aligned)
{
    char *argv[] = {"plugins", "--plugin-dir", LH_REF_PLUGIN_DIR, "--verbose", "model_checkpoint",
                    NULL};
    const char *p, *id;
    ck_assert_int_eq(run(5, argv), 0);
    ck_assert_msg((p = strstr(out, "\n  every_n_train_steps  ")) != NULL, "%s", out);
    ck_assert_msg((id = strstr(out, "\n  ID ")) != NULL, "%s", out);
    /* the type starts in the column the ID's value does */
    ck_assert_msg(strstr(p, "int. ") - p == strstr(id, "org.lhost.") - id, "%s", out);
}
END_TEST

/* `plugins check --json`: one object per rule and plugin; exit 0 when all pass, 1 otherwise,
 * and the rule the fixture breaks is the one that fails. */
static int check_json(const char *fixture, const char *failing_rule)
{
    char path[1024];
    char *argv[] = {"plugins", "check", "--json", path, NULL};
    cJSON *root, *o;
    int rc, n = 0, failed_rule = 0;
    snprintf(path, sizeof path, "%s/%s/%s.so", LH_FIXTURE_PLUGIN_DIR, fixture, fixture);
    rc = run(4, argv);
    ck_assert_msg((root = cJSON_Parse(out)) != NULL, "not JSON:\n%s\n%s", out, errtext);
    cJSON_ArrayForEach(o, root)
    {
        const cJSON *rule = cJSON_GetObjectItem(o, "rule"), *pass = cJSON_GetObjectItem(o, "pass");
        ck_assert(cJSON_IsString(rule) && cJSON_IsBool(pass));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "reason")));
        if (failing_rule && strcmp(rule->valuestring, failing_rule) == 0 && cJSON_IsFalse(pass))
            failed_rule = 1;
        n++;
    }
    ck_assert_msg(n >= (failing_rule ? 1 : 8), "%s", out);
    ck_assert_msg(!failing_rule || failed_rule, "%s did not fail %s:\n%s", fixture, failing_rule,
                  out);
    cJSON_Delete(root);
    return rc;
}

START_TEST(check_json_verdicts)
{
    ck_assert_int_eq(check_json("good", NULL), 0);
    ck_assert_int_eq(check_json("bad_state", "state"), 1);
    ck_assert_int_eq(check_json("crash_hook", "hooks"), 1);
    ck_assert_int_eq(check_json("segv", "load"), 1);
}
END_TEST

START_TEST(verbose_callback)
{
    char *argv[] = {"plugins", "--plugin-dir", dir, "--verbose", "good", NULL};
    ck_assert_int_eq(run(5, argv), 0);
    ck_assert_msg(strstr(out, "  ID                org.lhost.test.good\n") != NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "  Description       a well-formed test callback\n"));
    ck_assert_ptr_nonnull(strstr(out, "  mode              enum. min or max\n"
                                      "                    Allowed: min, max\n"
                                      "                    Default: min\n"));
    ck_assert_ptr_nonnull(strstr(out, "  patience          int. epochs without improvement\n"
                                      "                    Range: >= 0\n"
                                      "                    Default: 3\n"));
    ck_assert_ptr_nonnull(strstr(out, "Hooks implemented:\n  on_fit_start\n  on_validation_end\n"
                                      "  on_fit_end\n"));
    ck_assert_ptr_null(strstr(out, "Metric state"));
}
END_TEST

/* A callback with every hook of ABI 1.0 (the dispatch fixture's cb_mid): they are listed in fit
 * order, then the members that are not dispatched hooks. */
START_TEST(verbose_lists_hooks_in_fit_order)
{
    char *d2 = fx_stage("dispatch");
    char *argv[] = {"plugins", "--plugin-dir", d2, "--verbose", "cb_mid", NULL};
    ck_assert_int_eq(run(5, argv), 0);
    ck_assert_msg(strstr(out, "Hooks implemented:\n  on_fit_start\n  on_train_epoch_start\n"
                              "  on_train_batch_end\n  on_validation_end\n  on_train_epoch_end\n"
                              "  on_fit_end\n  on_exception\n") != NULL, "%s", out);
    ck_assert_ptr_null(strstr(out, "state_save"));
    fx_remove(d2);
}
END_TEST

/* An ABI 1.1 callback (the hook_order fixture): every hook in fit order, then predict's and the
 * checkpoint hooks, and the stages it declared; a 1.0 callback is fit only. */
START_TEST(verbose_lists_abi_1_1_hooks_and_stages)
{
    char *d2 = fx_stage("hook_order");
    char *argv[] = {"plugins", "--plugin-dir", d2, "--verbose", "hook_order", NULL};
    char *good[] = {"plugins", "--plugin-dir", dir, "--verbose", "good", NULL};
    ck_assert_int_eq(run(5, argv), 0);
    ck_assert_msg(strstr(out, "  on_train_batch_start\n  on_after_backward\n"
                              "  on_before_optimizer_step\n  on_train_batch_end\n"
                              "  on_validation_start\n  on_validation_batch_end\n"
                              "  on_validation_epoch_end\n  on_validation_end\n") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "  on_fit_end\n  on_predict_start\n  on_predict_batch_end\n"
                              "  on_predict_end\n  on_save_checkpoint\n  on_load_checkpoint\n")
                      != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\nStages:\n  fit validate predict\n") != NULL, "%s", out);
    ck_assert_int_eq(run(5, good), 0);
    ck_assert_msg(strstr(out, "\nStages:\n  fit\n") != NULL, "%s", out);
    fx_remove(d2);
}
END_TEST

START_TEST(verbose_metric_json)
{
    char *argv[] = {"plugins", "--plugin-dir", dir, "--json", "--verbose", "org.lhost.test.two_metric",
                    NULL};
    cJSON *o, *st, *bufs;
    ck_assert_int_eq(run(6, argv), 0);
    o = cJSON_Parse(out);
    ck_assert_msg(o != NULL, "%s", out);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "metric");
    st = cJSON_GetObjectItem(o, "state");
    ck_assert_ptr_nonnull(st);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(st, "higher_is_better")));
    ck_assert_int_eq(cJSON_GetObjectItem(st, "outputs")->valueint, 1);
    bufs = cJSON_GetObjectItem(st, "buffers");
    ck_assert_int_eq(cJSON_GetArraySize(bufs), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(bufs, 1), "name")->valuestring, "total");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(bufs, 1), "reduction")->valuestring,
                     "sum");
    cJSON_Delete(o);
}
END_TEST

START_TEST(exit_codes)
{
    char *help[] = {"plugins", "--help", NULL};
    char *bad[] = {"plugins", "--frobnicate", NULL};
    char *nodir[] = {"plugins", "--plugin-dir", NULL};
    char *missing[] = {"plugins", "--plugin-dir", "/nonexistent/x", NULL};
    char *unknown[] = {"plugins", "--plugin-dir", dir, "--verbose", "nope", NULL};
    char *brokenv[] = {"plugins", "--plugin-dir", dir, "--verbose", "abi", NULL};
    ck_assert_int_eq(run(2, help), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: lhost plugins"));
    ck_assert_int_eq(run(2, bad), 2);
    ck_assert_ptr_nonnull(strstr(errtext, "unknown argument '--frobnicate'"));
    ck_assert_int_eq(run(2, nodir), 2);
    ck_assert_int_eq(run(3, missing), 1);
    ck_assert_str_eq(errtext, "lhost: plugins: plugin directory /nonexistent/x: No such file or "
                              "directory\n");
    /* the list of available names may include default directories' plugins after ours */
    ck_assert_int_eq(run(5, unknown), 1);
    ck_assert_msg(strncmp(errtext, "lhost: plugins: no plugin named 'nope' (available: good, "
                                   "two_cb, two_metric", 75) == 0, "%s", errtext);
    ck_assert_int_eq(run(5, brokenv), 1);
    ck_assert_msg(strncmp(errtext, "lhost: plugins: no plugin named 'abi' (available: good, "
                                   "two_cb, two_metric", 74) == 0, "%s", errtext);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmd_plugins");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, table);
    tcase_add_test(tc, json_list);
    tcase_add_test(tc, table_has_names);
    tcase_add_test(tc, check_json_verdicts);
    tcase_add_test(tc, verbose_long_names_aligned);
    tcase_add_test(tc, verbose_callback);
    tcase_add_test(tc, verbose_lists_hooks_in_fit_order);
    tcase_add_test(tc, verbose_lists_abi_1_1_hooks_and_stages);
    tcase_add_test(tc, verbose_metric_json);
    tcase_add_test(tc, exit_codes);
    suite_add_tcase(s, tc);
    return check_run(s);
}
