/* tests/unit/test_new_plugin.c — `lhost new-plugin`: name validation, template lookup, rendering,
 * refusal to overwrite and clean-up after a failed render (host/cmd_new_plugin.c).
 * Run: ctest --test-dir build -R test_new_plugin --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_new_plugin.h"

static char tmp[256];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/lh_cmd_new_plugin_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *dir, const char *file)
{
    char path[1200];
    FILE *f;
    char *buf = calloc(1, 1 << 16);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    ck_assert_msg(fread(buf, 1, (1 << 16) - 1, f) > 0 || !ferror(f), "%s unreadable", path);
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_name_rules)
{
    static const char *good[] = {"a", "early_stop", "acc2", "x_1_y", "z0"};
    static const char *bad[] = {"", "1abc", "_abc", "Abc", "ab-c", "ab c", "a.b", "ab/c",
                                "caf\xc3\xa9", "aB"};
    char longest[66];
    size_t k;
    for (k = 0; k < sizeof good / sizeof *good; k++)
        ck_assert_msg(lh_cmd_new_plugin_name_ok(good[k]), "'%s' should be valid", good[k]);
    for (k = 0; k < sizeof bad / sizeof *bad; k++)
        ck_assert_msg(!lh_cmd_new_plugin_name_ok(bad[k]), "'%s' should be refused", bad[k]);
    ck_assert(!lh_cmd_new_plugin_name_ok(NULL));
    memset(longest, 'a', 64);
    longest[64] = '\0';
    ck_assert(lh_cmd_new_plugin_name_ok(longest));
    longest[64] = 'a';
    longest[65] = '\0';
    ck_assert(!lh_cmd_new_plugin_name_ok(longest));
}
END_TEST

START_TEST(test_template_found_in_source_tree)
{
    char dir[4096];
    lh_error err = {{0}};
    ck_assert_int_eq(lh_cmd_new_plugin_template_dir(dir, sizeof dir, &err), 0);
    ck_assert_str_eq(dir, LH_SOURCE_DIR "/sdk/template");
}
END_TEST

START_TEST(test_render_callback_and_metric)
{
    static const char *files[] = {"CMakeLists.txt", "Makefile", "README.md", "plugin.c"};
    const char *kinds[] = {"callback", "metric"};
    const char *marks[] = {"LHOST_KIND_CALLBACK", "LHOST_KIND_METRIC"};
    char tdir[4096], out[512];
    lh_error err = {{0}};
    int k, f;

    ck_assert_int_eq(lh_cmd_new_plugin_template_dir(tdir, sizeof tdir, &err), 0);
    for (k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/my_%s", tmp, kinds[k]);
        ck_assert_msg(lh_cmd_new_plugin_create(tdir, "my_plug", kinds[k], out, &err) == 0, "%s",
                      err.msg);
        for (f = 0; f < 4; f++) {
            char *text = slurp(out, files[f]);
            ck_assert_msg(strstr(text, "@NAME@") == NULL, "%s/%s: placeholder left", out,
                          files[f]);
            ck_assert_msg(strstr(text, "my_plug") != NULL, "%s/%s: name missing", out, files[f]);
            free(text);
        }
        {
            char *c = slurp(out, "plugin.c");
            ck_assert_ptr_nonnull(strstr(c, marks[k]));
            ck_assert_ptr_nonnull(strstr(c, "\"org.example.my_plug\""));
            free(c);
        }
        {
            char *cm = slurp(out, "CMakeLists.txt");
            ck_assert_ptr_nonnull(strstr(cm, "lhost_add_plugin(my_plug plugin.c)"));
            free(cm);
        }
    }
}
END_TEST

START_TEST(test_refuses_existing_dir)
{
    char tdir[4096], out[512], path[600];
    lh_error err = {{0}};
    struct stat st;

    ck_assert_int_eq(lh_cmd_new_plugin_template_dir(tdir, sizeof tdir, &err), 0);
    snprintf(out, sizeof out, "%s/taken", tmp);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    ck_assert_int_eq(lh_cmd_new_plugin_create(tdir, "taken", "callback", out, &err), -1);
    ck_assert_msg(strstr(err.msg, "already exists; refusing to overwrite it") != NULL, "%s",
                  err.msg);
    snprintf(path, sizeof path, "%s/plugin.c", out);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(test_bad_kind_and_name)
{
    char tdir[4096], out[512];
    lh_error err = {{0}};
    struct stat st;

    ck_assert_int_eq(lh_cmd_new_plugin_template_dir(tdir, sizeof tdir, &err), 0);
    snprintf(out, sizeof out, "%s/x", tmp);
    ck_assert_int_eq(lh_cmd_new_plugin_create(tdir, "x", "logger", out, &err), -1);
    ck_assert_str_eq(err.msg, "--kind: expected callback or metric, got \"logger\"");
    ck_assert_int_eq(lh_cmd_new_plugin_create(tdir, "Bad", "callback", out, &err), -1);
    ck_assert_str_eq(err.msg,
                     "plugin name 'Bad': expected [a-z][a-z0-9_]*, at most 64 characters");
    ck_assert_int_ne(stat(out, &st), 0);
}
END_TEST

/* A template whose kind folder repeats a top-level file: the second write fails (O_EXCL) and
 * everything created so far is removed, the directory included. */
START_TEST(test_failed_render_leaves_nothing)
{
    char tdir[512], path[600], out[512];
    lh_error err = {{0}};
    struct stat st;

    snprintf(tdir, sizeof tdir, "%s/tpl", tmp);
    ck_assert_int_eq(mkdir(tdir, 0755), 0);
    snprintf(path, sizeof path, "%s/CMakeLists.txt", tdir);
    write_file(path, "project(@NAME@)\n");
    snprintf(path, sizeof path, "%s/callback", tdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/callback/CMakeLists.txt", tdir);
    write_file(path, "duplicate\n");
    snprintf(out, sizeof out, "%s/out", tmp);
    ck_assert_int_eq(lh_cmd_new_plugin_create(tdir, "dup", "callback", out, &err), -1);
    ck_assert_msg(strstr(err.msg, "/out/CMakeLists.txt: File exists") != NULL, "%s", err.msg);
    ck_assert_int_ne(stat(out, &st), 0);
}
END_TEST

START_TEST(test_command_exit_codes)
{
    char out[512], dirarg[600];
    char *help[] = {"new-plugin", "--help", NULL};
    char *noname[] = {"new-plugin", NULL};
    char *badname[] = {"new-plugin", "9lives", NULL};
    char *badkind[] = {"new-plugin", "ok", "--kind", "logger", NULL};
    char *nokindval[] = {"new-plugin", "ok", "--kind", NULL};
    char *badopt[] = {"new-plugin", "ok", "--frobnicate", NULL};
    char *two[] = {"new-plugin", "one", "two", NULL};
    char *good[] = {"new-plugin", "ok", "--kind=metric", dirarg, NULL};

    ck_assert_int_eq(lh_cmd_new_plugin(2, help), 0);
    ck_assert_int_eq(lh_cmd_new_plugin(1, noname), 2);
    ck_assert_int_eq(lh_cmd_new_plugin(2, badname), 2);
    ck_assert_int_eq(lh_cmd_new_plugin(4, badkind), 2);
    ck_assert_int_eq(lh_cmd_new_plugin(3, nokindval), 2);
    ck_assert_int_eq(lh_cmd_new_plugin(3, badopt), 2);
    ck_assert_int_eq(lh_cmd_new_plugin(3, two), 2);

    snprintf(out, sizeof out, "%s/ok", tmp);
    snprintf(dirarg, sizeof dirarg, "--dir=%s", out);
    ck_assert_int_eq(lh_cmd_new_plugin(4, good), 0);
    {
        char *c = slurp(out, "plugin.c");
        ck_assert_ptr_nonnull(strstr(c, "LHOST_KIND_METRIC"));
        free(c);
    }
    ck_assert_int_eq(lh_cmd_new_plugin(4, good), 1); /* now it exists */
}
END_TEST

static Suite *new_plugin_suite(void)
{
    Suite *s = suite_create("new_plugin");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_name_rules);
    tcase_add_test(tc, test_template_found_in_source_tree);
    tcase_add_test(tc, test_render_callback_and_metric);
    tcase_add_test(tc, test_refuses_existing_dir);
    tcase_add_test(tc, test_bad_kind_and_name);
    tcase_add_test(tc, test_failed_render_leaves_nothing);
    tcase_add_test(tc, test_command_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(new_plugin_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
