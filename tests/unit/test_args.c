/* tests/unit/test_args.c — the command-line parser every subcommand shares (host/cli/args.c):
 * both value spellings for options and config overrides, short options, flags, lists,
 * operands, aliases, and the usage errors with their messages.
 * Run: ctest --test-dir build -R test_args --output-on-failure */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "check_run.h"
#include "config.h"

static const lh_arg_opt opts[] = {
    {"config", 'c', LH_ARG_VALUE, "FILE", 0, "the config"},
    {"plugin-dir", 0, LH_ARG_LIST, "DIR", 2, "a folder"},
    {"json", 0, LH_ARG_FLAG, NULL, 0, "as JSON"},
    {"verbose", 'v', LH_ARG_FLAG, NULL, 0, "say more"},
    {NULL, 0, 0, NULL, 0, NULL},
};
static const char *const top[] = {"seed", NULL};
static const char *const aliases[] = {"seed_everything", "seed", NULL};
static const lh_args_spec spec = {
    NULL, "[-c FILE] [--KEY=VALUE]...", "Does things.\n", opts, 1, "NAME", 1, top, aliases, NULL,
};
static const lh_args_spec plain_spec = {
    "tool sub", "PATH", NULL, opts, 0, "PATH", 0, NULL, NULL, NULL,
};

static lh_args a;

/* Parse a NULL-terminated argument list whose first entry is the command name. */
static int parse_with(const lh_args_spec *sp, const char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return lh_args_parse(&a, sp, argc, (char **)argv);
}

static int parse(const char **argv)
{
    return parse_with(&spec, argv);
}

/* The overrides applied to an empty config, then the scalar at `path` ("" if absent). */
static const char *overridden(const char *path)
{
    static char text[256];
    lh_config *cfg;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_config_load(&cfg, NULL, &err), 0);
    ck_assert_msg(lh_args_apply_overrides(&a, cfg, &err) == 0, "%s", err.msg);
    const char *s = lh_config_scalar(lh_config_get(lh_config_root(cfg), path));
    snprintf(text, sizeof text, "%s", s ? s : "");
    lh_config_free(cfg);
    return text;
}

/* Expect a usage error whose message is `want`. */
static void expect_usage(const char **argv, const char *want)
{
    ck_assert_int_eq(parse(argv), LH_ARGS_USAGE);
    ck_assert_str_eq(a.msg, want);
    ck_assert_int_eq(a.n, 0); /* nothing left to free */
}

START_TEST(value_spellings)
{
    const char *forms[][4] = {{"train", "-c", "f.yaml", NULL},
                              {"train", "-cf.yaml", NULL, NULL},
                              {"train", "--config", "f.yaml", NULL},
                              {"train", "--config=f.yaml", NULL, NULL}};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(parse(forms[i]), 0);
        ck_assert_str_eq(lh_args_get(&a, "config"), "f.yaml");
        ck_assert_ptr_null(lh_args_get(&a, "json"));
        lh_args_free(&a);
    }
    const char *last[] = {"train", "-c", "a", "--config=b", NULL};
    ck_assert_int_eq(parse(last), 0);
    ck_assert_str_eq(lh_args_get(&a, "config"), "b");
    lh_args_free(&a);
    const char *empty[] = {"train", "--config=", NULL};
    ck_assert_int_eq(parse(empty), 0);
    ck_assert_str_eq(lh_args_get(&a, "config"), "");
    lh_args_free(&a);
}
END_TEST

START_TEST(flags_lists_operands)
{
    const char *argv[] = {"x", "--json", "--plugin-dir", "d1", "name", "-v",
                          "--plugin-dir=d2", NULL};
    const char *dirs[4];
    ck_assert_int_eq(parse(argv), 0);
    ck_assert_str_eq(lh_args_get(&a, "json"), "");
    ck_assert_str_eq(lh_args_get(&a, "verbose"), "");
    ck_assert_int_eq(lh_args_all(&a, "plugin-dir", dirs, 4), 2);
    ck_assert_str_eq(dirs[0], "d1");
    ck_assert_str_eq(dirs[1], "d2");
    ck_assert_str_eq(lh_args_operand(&a, 0), "name");
    ck_assert_ptr_null(lh_args_operand(&a, 1));
    lh_args_free(&a);
    /* after "--" an argument that looks like an option is an operand */
    const char *dash[] = {"x", "--", "-v", NULL};
    ck_assert_int_eq(parse(dash), 0);
    ck_assert_str_eq(lh_args_operand(&a, 0), "-v");
    ck_assert_ptr_null(lh_args_get(&a, "verbose"));
    lh_args_free(&a);
}
END_TEST

/* Dotted keys and the listed top-level keys are overrides, with either value spelling; an
 * alias stands for its key; a negative number is a value, not an option. */
START_TEST(overrides)
{
    const char *eq[] = {"train", "--trainer.max_epochs=3", NULL};
    const char *sp[] = {"train", "--trainer.max_epochs", "3", NULL};
    const char *deep[] = {"train", "--callbacks.early_stopping.patience", "5",
                          "--callbacks.early_stopping.mode=max", NULL};
    const char *seed[] = {"train", "--seed", "1", "--seed_everything=2", NULL};
    const char *alias_sp[] = {"train", "--seed_everything", "4", NULL};
    const char *neg[] = {"train", "--data.mean", "-0.5", "--data.std", "-1e-3", NULL};
    const char *flow[] = {"train", "--model.layers.0", "{type: relu}", NULL};
    ck_assert_int_eq(parse(eq), 0);
    ck_assert_str_eq(overridden("trainer.max_epochs"), "3");
    lh_args_free(&a);
    ck_assert_int_eq(parse(sp), 0);
    ck_assert_str_eq(overridden("trainer.max_epochs"), "3");
    lh_args_free(&a);
    ck_assert_int_eq(parse(deep), 0);
    ck_assert_str_eq(overridden("callbacks.early_stopping.patience"), "5");
    ck_assert_str_eq(overridden("callbacks.early_stopping.mode"), "max");
    lh_args_free(&a);
    ck_assert_int_eq(parse(seed), 0);
    ck_assert_str_eq(overridden("seed"), "2"); /* in command-line order */
    lh_args_free(&a);
    ck_assert_int_eq(parse(alias_sp), 0);
    ck_assert_str_eq(overridden("seed"), "4");
    ck_assert_str_eq(overridden("seed_everything"), "");
    lh_args_free(&a);
    ck_assert_int_eq(parse(neg), 0);
    ck_assert_str_eq(overridden("data.mean"), "-0.5");
    ck_assert_str_eq(overridden("data.std"), "-1e-3");
    lh_args_free(&a);
    ck_assert_int_eq(parse(flow), 0);
    ck_assert_str_eq(overridden("model.layers.0.type"), "relu");
    lh_args_free(&a);
}
END_TEST

START_TEST(usage_errors)
{
    const char *unknown[] = {"train", "--bogus", NULL};
    const char *unknown_eq[] = {"train", "--bogus=1", NULL};
    const char *unknown_short[] = {"train", "-x", NULL};
    const char *undotted[] = {"train", "--trainer=3", NULL};
    const char *no_value[] = {"train", "--config", NULL};
    const char *no_value_short[] = {"train", "-c", NULL};
    const char *option_not_value[] = {"train", "--config", "--json", NULL};
    const char *ov_no_value[] = {"train", "--trainer.max_epochs", NULL};
    const char *ov_option[] = {"train", "--trainer.max_epochs", "--json", NULL};
    const char *flag_value[] = {"train", "--json=1", NULL};
    const char *short_flag_value[] = {"train", "-vx", NULL};
    const char *too_many[] = {"train", "--plugin-dir=a", "--plugin-dir=b", "--plugin-dir=c",
                              NULL};
    const char *two_names[] = {"train", "a", "b", NULL};
    expect_usage(unknown, "unknown argument '--bogus'");
    expect_usage(unknown_eq, "unknown argument '--bogus'");
    expect_usage(unknown_short, "unknown argument '-x'");
    expect_usage(undotted, "unknown argument '--trainer'");
    expect_usage(no_value, "--config needs a value (FILE)");
    expect_usage(no_value_short, "-c needs a value (FILE)");
    expect_usage(option_not_value, "--config needs a value (FILE)");
    expect_usage(ov_no_value, "--trainer.max_epochs needs a value");
    expect_usage(ov_option, "--trainer.max_epochs needs a value");
    expect_usage(flag_value, "--json takes no value (got '1')");
    expect_usage(short_flag_value, "unknown argument '-vx'");
    expect_usage(too_many, "--plugin-dir: at most 2");
    expect_usage(two_names, "one NAME expected, got 'a' and 'b'");
    /* a command that takes no overrides nor operands */
    const char *dotted[] = {"sub", "--a.b=1", NULL};
    const char *operand[] = {"sub", "x", NULL};
    ck_assert_int_eq(parse_with(&plain_spec, dotted), LH_ARGS_USAGE);
    ck_assert_str_eq(a.msg, "unknown argument '--a.b'");
    ck_assert_int_eq(parse_with(&plain_spec, operand), LH_ARGS_USAGE);
    ck_assert_str_eq(a.msg, "unexpected argument 'x'");
}
END_TEST

/* The error's two lines on stderr: "lhost: CMD: ..." naming the command, then the hint. */
START_TEST(error_lines)
{
    char path[] = "/tmp/lhost-args-XXXXXX", buf[1024] = "";
    int fd = mkstemp(path), save = dup(2);
    const char *argv[] = {"fit", "--bogus", NULL};
    const char *argv2[] = {"ignored", "--bogus", NULL};
    ck_assert(fd >= 0 && save >= 0);
    unlink(path);
    fflush(stderr);
    dup2(fd, 2);
    ck_assert_int_eq(parse(argv), LH_ARGS_USAGE);
    ck_assert_int_eq(parse_with(&plain_spec, argv2), LH_ARGS_USAGE);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    lseek(fd, 0, SEEK_SET);
    ck_assert(read(fd, buf, sizeof buf - 1) > 0);
    close(fd);
    ck_assert_str_eq(buf, "lhost: fit: unknown argument '--bogus'\nTry 'lhost fit --help'.\n"
                          "lhost: tool sub: unknown argument '--bogus'\n"
                          "Try 'lhost tool sub --help'.\n");
}
END_TEST

START_TEST(help)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lh_args_help(&spec, "train", f);
    fclose(f);
    ck_assert_msg(strncmp(text, "usage: lhost train [-c FILE] [--KEY=VALUE]...\nDoes things.\n",
                          58) == 0, "%s", text);
    ck_assert_msg(strstr(text, "\n  -c, --config FILE           the config\n"), "%s", text);
    ck_assert_msg(strstr(text, "\n      --plugin-dir DIR        a folder (repeatable)\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "\n      --json                  as JSON\n"), "%s", text);
    ck_assert_msg(strstr(text, "\n  -h, --help                  show this help and exit\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "--KEY=VALUE or --KEY VALUE"), "%s", text);
    free(text);
    /* --help anywhere before an error wins, exit status 0 */
    const char *argv[] = {"train", "-c", "x", "--help", "--bogus", NULL};
    fflush(stdout);
    int save = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    int rc = parse(argv);
    fflush(stdout);
    dup2(save, 1);
    close(save);
    close(null);
    ck_assert_int_eq(rc, LH_ARGS_HELP);
    ck_assert_int_eq(a.n, 0);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {
        value_spellings,
        flags_lists_operands,
        overrides,
        usage_errors,
        error_lines,
        help,
        NULL,
    };
    return check_main("args", 10, NULL, NULL, tests);
}
