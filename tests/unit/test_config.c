/* tests/unit/test_config.c — YAML config loading, dotted overrides, typed getters, every error
 * message, and the YAML written back (lh_config_to_yaml) loading to the same tree.
 * Run: ctest --test-dir build -R test_config --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "check_run.h"
#include "config_same.h"

static const char *const YAML_TEXT =
    "seed: 42\n"                         /* 1 */
    "data:\n"                            /* 2 */
    "  path: ~\n"                        /* 3 */
    "  batch_size: 64\n"                 /* 4 */
    "  mean:\n"                          /* 5 */
    "  name: \"null\"\n"                 /* 6 */
    "model:\n"                           /* 7 */
    "  layers:\n"                        /* 8 */
    "    - type: conv2d\n"               /* 9 */
    "      out_channels: 64\n"           /* 10 */
    "    - {type: relu}\n"               /* 11 */
    "    - type: linear\n"               /* 12 */
    "optimizer: {name: adam, lr: 1.0e-3, amsgrad: off}\n" /* 13 */
    "trainer:\n"                         /* 14 */
    "  max_epochs: 5\n"                  /* 15 */
    "  device: cpu\n"                    /* 16 */
    "callbacks:\n";                      /* 17 */

static lh_config *load(const char *yaml)
{
    lh_config *cfg = NULL;
    lh_error err = {{0}};
    ck_assert_msg(lh_config_load_string(&cfg, "x.yaml", yaml, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

static void expect_load_error(const char *yaml, const char *want)
{
    lh_config *cfg = (lh_config *)1;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_config_load_string(&cfg, "x.yaml", yaml, &err), -1);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err.msg, want);
}

START_TEST(test_load_and_nested_get)
{
    lh_config *cfg = load(YAML_TEXT);
    const lh_config_node *r = lh_config_root(cfg);
    ck_assert_int_eq(lh_config_type(r), LH_CFG_MAP);
    ck_assert_int_eq(lh_config_len(r), 6);
    ck_assert_str_eq(lh_config_key_at(r, 0), "seed");
    ck_assert_str_eq(lh_config_key_at(r, 5), "callbacks");
    ck_assert_ptr_null(lh_config_key_at(r, 6));
    ck_assert_str_eq(lh_config_path(r), "");

    const lh_config_node *n = lh_config_get(r, "trainer.max_epochs");
    ck_assert_str_eq(lh_config_scalar(n), "5");
    ck_assert_str_eq(lh_config_where(n), "x.yaml:15");
    ck_assert_str_eq(lh_config_path(n), "trainer.max_epochs");
    ck_assert_str_eq(lh_config_where(lh_config_get(r, "trainer")), "x.yaml:14");

    /* nulls: ~, empty, and an empty section; a quoted "null" is a string */
    ck_assert(lh_config_is_null(lh_config_get(r, "data.path")));
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "data.path")), "");
    ck_assert(lh_config_is_null(lh_config_get(r, "data.mean")));
    ck_assert(lh_config_is_null(lh_config_get(r, "callbacks")));
    ck_assert(!lh_config_is_null(lh_config_get(r, "data.name")));
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "data.name")), "null");

    /* sequences, block and flow */
    const lh_config_node *layers = lh_config_get(r, "model.layers");
    ck_assert_int_eq(lh_config_type(layers), LH_CFG_SEQ);
    ck_assert_int_eq(lh_config_len(layers), 3);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(lh_config_at(layers, 1), "type")), "relu");
    ck_assert_str_eq(lh_config_where(lh_config_at(layers, 1)), "x.yaml:11");
    ck_assert_str_eq(lh_config_path(lh_config_at(layers, 2)), "model.layers.2");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "model.layers.0.out_channels")), "64");
    ck_assert_ptr_null(lh_config_at(layers, 3));
    ck_assert_ptr_null(lh_config_key_at(layers, 0));
    ck_assert_ptr_null(lh_config_scalar(layers));

    /* absent */
    ck_assert_ptr_null(lh_config_get(r, "trainer.min_epochs"));
    ck_assert_ptr_null(lh_config_get(r, "model.layers.9"));
    ck_assert_ptr_null(lh_config_get(r, "seed.x"));
    ck_assert_ptr_null(lh_config_get(NULL, "seed"));
    ck_assert_int_eq(lh_config_type(NULL), 0);
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_load_file_and_missing_file)
{
    char path[] = "/tmp/lh_test_config_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, YAML_TEXT, strlen(YAML_TEXT)), (ssize_t)strlen(YAML_TEXT));
    close(fd);
    lh_config *cfg;
    lh_error err = {{0}};
    char want[256];
    ck_assert_msg(lh_config_load(&cfg, path, &err) == 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s:4", path);
    ck_assert_str_eq(lh_config_where(lh_config_get(lh_config_root(cfg), "data.batch_size")), want);
    lh_config_free(cfg);
    unlink(path);

    ck_assert_int_eq(lh_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof want, "config %s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err.msg, want);

    ck_assert_int_eq(lh_config_load(&cfg, NULL, &err), 0); /* no file: an empty mapping */
    ck_assert_int_eq(lh_config_type(lh_config_root(cfg)), LH_CFG_MAP);
    ck_assert_int_eq(lh_config_len(lh_config_root(cfg)), 0);
    lh_config_free(cfg);
    cfg = load("# only a comment\n");
    ck_assert_int_eq(lh_config_len(lh_config_root(cfg)), 0);
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_overrides)
{
    lh_config *cfg = load(YAML_TEXT);
    lh_error err = {{0}};
    const lh_config_node *r = lh_config_root(cfg);
    int64_t v;

    /* replace an existing value */
    ck_assert_msg(lh_config_override(cfg, "--trainer.max_epochs=10", &err) == 0, "%s", err.msg);
    const lh_config_node *n = lh_config_get(r, "trainer.max_epochs");
    ck_assert_str_eq(lh_config_scalar(n), "10");
    ck_assert_str_eq(lh_config_where(n), "command line (--trainer.max_epochs=10)");
    ck_assert_str_eq(lh_config_path(n), "trainer.max_epochs");
    ck_assert_str_eq(lh_config_key_at(lh_config_get(r, "trainer"), 0), "max_epochs"); /* same slot */

    /* without the dashes; creating keys and whole mappings */
    ck_assert_int_eq(lh_config_override(cfg, "trainer.min_epochs=2", &err), 0);
    ck_assert_int_eq(lh_config_get_int(r, "trainer.min_epochs", 0, 0, INT64_MAX, &v, &err), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(lh_config_override(cfg, "--callbacks.model_checkpoint.dirpath=/x/y=z", &err), 0);
    n = lh_config_get(r, "callbacks.model_checkpoint");
    ck_assert_int_eq(lh_config_type(n), LH_CFG_MAP); /* the null "callbacks:" became a mapping */
    ck_assert_str_eq(lh_config_path(n), "callbacks.model_checkpoint");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(n, "dirpath")), "/x/y=z");
    ck_assert_int_eq(lh_config_override(cfg, "--loggers.csv.flush=1", &err), 0);
    ck_assert_str_eq(lh_config_where(lh_config_get(r, "loggers")), "command line (--loggers.csv.flush=1)");

    /* numeric parts index sequences; the length appends */
    ck_assert_int_eq(lh_config_override(cfg, "--model.layers.0.out_channels=32", &err), 0);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "model.layers.0.out_channels")), "32");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "model.layers.0.type")), "conv2d");
    ck_assert_int_eq(lh_config_override(cfg, "--model.layers.3.type=dropout", &err), 0);
    ck_assert_int_eq(lh_config_len(lh_config_get(r, "model.layers")), 4);
    ck_assert_str_eq(lh_config_path(lh_config_get(r, "model.layers.3.type")), "model.layers.3.type");

    /* flow sequence and mapping values, quoted strings, null */
    ck_assert_msg(lh_config_override(cfg, "--data.shape=[1, 28, 28]", &err) == 0, "%s", err.msg);
    n = lh_config_get(r, "data.shape");
    ck_assert_int_eq(lh_config_type(n), LH_CFG_SEQ);
    ck_assert_int_eq(lh_config_len(n), 3);
    ck_assert_str_eq(lh_config_scalar(lh_config_at(n, 2)), "28");
    ck_assert_str_eq(lh_config_path(lh_config_at(n, 2)), "data.shape.2");
    ck_assert_str_eq(lh_config_where(lh_config_at(n, 2)), "command line (--data.shape=[1, 28, 28])");
    ck_assert_int_eq(lh_config_override(cfg, "--optimizer={name: sgd, momentum: 0.9}", &err), 0);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "optimizer.name")), "sgd");
    ck_assert_ptr_null(lh_config_get(r, "optimizer.lr")); /* the whole mapping was replaced */
    ck_assert_int_eq(lh_config_override(cfg, "--data.name=\"a b\"", &err), 0);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "data.name")), "a b");
    ck_assert_int_eq(lh_config_override(cfg, "--trainer.device=", &err), 0);
    ck_assert(lh_config_is_null(lh_config_get(r, "trainer.device")));
    ck_assert_int_eq(lh_config_override(cfg, "--data.path=null", &err), 0);
    ck_assert(lh_config_is_null(lh_config_get(r, "data.path")));
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_override_errors)
{
    lh_config *cfg = load(YAML_TEXT);
    lh_error err = {{0}};
    int64_t v;
    ck_assert_int_eq(lh_config_override(cfg, "--trainer.max_epochs", &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--trainer.max_epochs): expected "
                              "--key.path=value");
    ck_assert_int_eq(lh_config_override(cfg, "--trainer..max_epochs=1", &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--trainer..max_epochs=1): empty part in key "
                              "trainer..max_epochs");
    ck_assert_int_eq(lh_config_override(cfg, "--seed.value=3", &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--seed.value=3): seed: is a scalar (\"42\" "
                              "from x.yaml:1), cannot set seed.value in it");
    ck_assert_int_eq(lh_config_override(cfg, "--model.layers.7.type=relu", &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--model.layers.7.type=relu): model.layers.7: "
                              "expected an index 0..3 into model.layers (a sequence of 3)");
    ck_assert_int_eq(lh_config_override(cfg, "--model.layers.x=1", &err), -1);
    ck_assert_int_eq(lh_config_override(cfg, "--data.shape=[1, 28", &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--data.shape=[1, 28): YAML syntax error: "
                              "did not find expected ',' or ']'");
    /* a bad value from the command line is reported there */
    ck_assert_int_eq(lh_config_override(cfg, "--trainer.max_epochs=abc", &err), 0);
    ck_assert_int_eq(lh_config_get_int(lh_config_root(cfg), "trainer.max_epochs", 1, 1, INT64_MAX, &v,
                                    &err), -1);
    ck_assert_str_eq(err.msg, "config command line (--trainer.max_epochs=abc): trainer.max_epochs: "
                              "expected an integer >= 1, got \"abc\"");
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_yaml_syntax_errors)
{
    expect_load_error("seed: 1\ndata:\n  path: a: b\n",
                      "config x.yaml:3: YAML syntax error: mapping values are not allowed in this "
                      "context");
    expect_load_error("a: [1, 2\nb: 3\n",
                      "config x.yaml:2: YAML syntax error: did not find expected ',' or ']'");
    /* libyaml words this one differently across versions: check the prefix */
    lh_config *cfg;
    lh_error err = {{0}};
    ck_assert_int_eq(lh_config_load_string(&cfg, "x.yaml", "a: 1\n\tb: 2\n", &err), -1);
    ck_assert_msg(strncmp(err.msg, "config x.yaml:2: YAML syntax error: ", 36) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_structure_errors)
{
    expect_load_error("trainer:\n  max_epochs: 1\n  device: cpu\n  max_epochs: 2\n",
                      "config x.yaml:4: trainer.max_epochs: duplicate key (first at x.yaml:2)");
    expect_load_error("- 1\n- 2\n", "config x.yaml:1: expected a mapping at the top level, got "
                                    "a sequence");
    expect_load_error("just text\n", "config x.yaml:1: expected a mapping at the top level, got "
                                     "\"just text\"");
    expect_load_error("a: &x 1\nb: *x\n", "config x.yaml:2: b: aliases (*x) are not supported");
    expect_load_error("a: 1\n---\nb: 2\n", "config x.yaml:2: only one YAML document is allowed");
    expect_load_error("? [1, 2]\n: 3\n", "config x.yaml:1: mapping keys must be scalars");
}
END_TEST

START_TEST(test_int_getter)
{
    lh_config *cfg = load("trainer:\n  max_epochs: abc\n  threads: 2\n  big: 99999999999999999999\n"
                       "  list: [1]\n  half: 1.5\n"
                       "data:\n  batch_size: -64\n");
    const lh_config_node *r = lh_config_root(cfg), *t = lh_config_get(r, "trainer");
    lh_error err = {{0}};
    int64_t v = 0;
    ck_assert_int_eq(lh_config_get_int(t, "threads", 0, 0, 64, &v, &err), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(lh_config_get_int(t, "min_epochs", 7, 0, 100, &v, &err), 0); /* absent */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(lh_config_get_int(NULL, "x", -3, INT64_MIN, INT64_MAX, &v, &err), 0);
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(lh_config_get_int(t, "max_epochs", 1, 1, INT64_MAX, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:2: trainer.max_epochs: expected an integer >= 1, "
                              "got \"abc\"");
    ck_assert_int_eq(lh_config_get_int(r, "data.batch_size", 64, 1, INT64_MAX, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:8: data.batch_size: expected an integer >= 1, got "
                              "\"-64\"");
    ck_assert_int_eq(lh_config_get_int(r, "data.batch_size", 0, INT64_MIN, INT64_MAX, &v, &err), 0);
    ck_assert_int_eq(v, -64);
    ck_assert_int_eq(lh_config_get_int(t, "threads", 0, 4, 8, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:3: trainer.threads: expected an integer from 4 to 8, "
                              "got \"2\"");
    ck_assert_int_eq(lh_config_get_int(t, "threads", 0, INT64_MIN, 1, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:3: trainer.threads: expected an integer <= 1, got "
                              "\"2\"");
    ck_assert_int_eq(lh_config_get_int(t, "big", 0, INT64_MIN, INT64_MAX, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:4: trainer.big: expected an integer, got "
                              "\"99999999999999999999\"");
    ck_assert_int_eq(lh_config_get_int(t, "list", 0, INT64_MIN, INT64_MAX, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:5: trainer.list: expected an integer, got a sequence");
    ck_assert_int_eq(lh_config_get_int(t, "half", 0, INT64_MIN, INT64_MAX, &v, &err), -1);
    ck_assert_int_eq(lh_config_get_int(r, "trainer", 0, INT64_MIN, INT64_MAX, &v, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:1: trainer: expected an integer, got a mapping");
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_other_getters)
{
    lh_config *cfg = load("optimizer:\n  lr: 1e-3\n  momentum: .9\n  eps: nan\n  wd: -1\n"
                       "  nesterov: Yes\n  amsgrad: off\n  fused: maybe\n  name: adam\n"
                       "  mode: maz\n  none: ~\n  sub: {a: 1}\n");
    const lh_config_node *o = lh_config_get(lh_config_root(cfg), "optimizer");
    lh_error err = {{0}};
    double d;
    int b, e;
    const char *s;
    static const char *const modes[] = {"min", "max", NULL};
    static const char *const names[] = {"adam", "adamw", "sgd", NULL};

    ck_assert_int_eq(lh_config_get_float(o, "lr", 0, 0, HUGE_VAL, &d, &err), 0);
    ck_assert_double_eq(d, 1e-3);
    ck_assert_int_eq(lh_config_get_float(o, "momentum", 0, 0, 1, &d, &err), 0);
    ck_assert_double_eq(d, 0.9);
    ck_assert_int_eq(lh_config_get_float(o, "absent", 0.25, 0, 1, &d, &err), 0);
    ck_assert_double_eq(d, 0.25);
    ck_assert_int_eq(lh_config_get_float(o, "none", 0.5, 0, 1, &d, &err), 0); /* null: default */
    ck_assert_double_eq(d, 0.5);
    ck_assert_int_eq(lh_config_get_float(o, "eps", 0, 0, HUGE_VAL, &d, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:4: optimizer.eps: expected a number >= 0, got \"nan\"");
    ck_assert_int_eq(lh_config_get_float(o, "wd", 0, 0, HUGE_VAL, &d, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:5: optimizer.wd: expected a number >= 0, got \"-1\"");
    ck_assert_int_eq(lh_config_get_float(o, "wd", 0, -HUGE_VAL, HUGE_VAL, &d, &err), 0);
    ck_assert_double_eq(d, -1);

    ck_assert_int_eq(lh_config_get_bool(o, "nesterov", 0, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(lh_config_get_bool(o, "amsgrad", 1, &b, &err), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(lh_config_get_bool(o, "absent", 1, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(lh_config_get_bool(o, "fused", 0, &b, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:8: optimizer.fused: expected true or false, got "
                              "\"maybe\"");

    ck_assert_int_eq(lh_config_get_string(o, "name", "x", &s, &err), 0);
    ck_assert_str_eq(s, "adam");
    ck_assert_int_eq(lh_config_get_string(o, "none", "dflt", &s, &err), 0);
    ck_assert_str_eq(s, "dflt");
    ck_assert_int_eq(lh_config_get_string(o, "sub", "x", &s, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:12: optimizer.sub: expected a string, got a mapping");

    ck_assert_int_eq(lh_config_get_enum(o, "name", names, 2, &e, &err), 0);
    ck_assert_int_eq(e, 0);
    ck_assert_int_eq(lh_config_get_enum(o, "absent", names, 2, &e, &err), 0);
    ck_assert_int_eq(e, 2);
    ck_assert_int_eq(lh_config_get_enum(o, "mode", modes, 0, &e, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:10: optimizer.mode: expected min or max, got \"maz\"");
    ck_assert_int_eq(lh_config_get_enum(o, "mode", names, 0, &e, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:10: optimizer.mode: expected adam, adamw or sgd, got "
                              "\"maz\"");
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_unknown_key)
{
    lh_config *cfg = load("seed: 1\ntrainer:\n  max_epoch: 3\n");
    const lh_config_node *r = lh_config_root(cfg);
    lh_error err = {{0}};
    static const char *const top[] = {"seed", "data", "model", "optimizer", "trainer", NULL};
    static const char *const trainer[] = {"max_epochs", "min_epochs", "device", NULL};
    ck_assert_int_eq(lh_config_check_keys(r, top, &err), 0);
    ck_assert_int_eq(lh_config_check_keys(lh_config_get(r, "trainer"), trainer, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:3: trainer.max_epoch: unknown key; expected one of "
                              "max_epochs, min_epochs, device");
    ck_assert_int_eq(lh_config_check_keys(NULL, trainer, &err), 0);
    ck_assert_int_eq(lh_config_check_keys(lh_config_get(r, "seed"), trainer, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:1: seed: expected a mapping, got \"1\"");
    ck_assert_int_eq(lh_config_override(cfg, "--trainer.devcie=cpu", &err), 0);
    ck_assert_int_eq(lh_config_check_keys(lh_config_get(r, "trainer"), trainer + 1, &err), -1);
    ck_assert_str_eq(err.msg, "config x.yaml:3: trainer.max_epoch: unknown key; expected one of "
                              "min_epochs, device");
    lh_config_free(cfg);
}
END_TEST

/* ---- writing YAML (lh_config_to_yaml) ----------------------------------------------------- */

/* Write cfg as YAML, load it back, expect the same tree; returns the text (free it). */
static char *round_trip(const lh_config *cfg)
{
    lh_error err = {{0}};
    char *text = lh_config_to_yaml(lh_config_root(cfg), &err);
    ck_assert_msg(text != NULL, "%s", err.msg);
    lh_config *back = NULL;
    ck_assert_msg(lh_config_load_string(&back, "emitted.yaml", text, &err) == 0,
                  "%s\nin:\n%s", err.msg, text);
    expect_same_tree(lh_config_root(cfg), lh_config_root(back));
    lh_config_free(back);
    return text;
}

/* Strings that look like nulls, need quotes, span lines or hold flow indicators keep their
 * text; nulls stay nulls; order, nesting and empty collections survive. */
START_TEST(test_emit_round_trip)
{
    static const char *const tricky =
        "plain: hello world\n"
        "colon: \"a: b\"\nhash: \"x # y\"\ndash: \"- item\"\nstar: \"*x\"\namp: \"&y\"\n"
        "quoted_null: \"null\"\ntilde_str: \"~\"\nempty_str: \"\"\nNULL_str: 'NULL'\n"
        "real_null: ~\nempty_val:\nnull_word: null\n"
        "multiline: \"line1\\nline2\\n\"\ntab: \"a\\tb\"\nquote: \"it's \\\"q\\\"\"\n"
        "unicode: \"h\xc3\xa9llo \xe2\x9c\x93\"\nlead_space: \"  x\"\ntrail_space: \"x  \"\n"
        "flowchars: \"[a, b]\"\ncomma: \"a, b\"\nbraces: \"{a}\"\n\"\": emptykey\n"
        "\"key: x\": 2\n\"123\": number key\n"
        "nested: {a: [1, [2, 3], {b: ~}], c: [], d: {}}\n"
        "seq_of_maps:\n  - {type: conv2d, out_channels: 4}\n  - type: relu\n"
        "  - [\"a,b\", \"c: d\", \"\", \"null\", ~]\n"
        "long: \"" /* longer than a line: never folded into a different text */
        "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg "
        "hhhhhhhhhh iiiiiiiiii jjjjjjjjjj kkkkkkkkkk  two  spaces\"\n";
    lh_config *cfg = load(tricky);
    free(round_trip(cfg));
    lh_config_free(cfg);
    cfg = load(YAML_TEXT);
    free(round_trip(cfg));
    lh_config_free(cfg);
    cfg = load("");
    char *text = round_trip(cfg);
    ck_assert_str_eq(text, "{}\n");
    free(text);
    lh_config_free(cfg);
}
END_TEST

/* The shape a person would write: block mappings, short collections of scalars in flow. */
START_TEST(test_emit_layout)
{
    lh_config *cfg = load("a: 1\nb: {c: [1, 2]}\nmodel:\n  layers:\n    - type: relu\n"
                          "    - {type: linear, out_features: 10}\ns: \"null\"\nn: ~\n"
                          "m: \"x\\ny\"\n");
    char *text = round_trip(cfg);
    ck_assert_str_eq(text, "a: 1\nb:\n  c: [1, 2]\nmodel:\n  layers:\n  - {type: relu}\n"
                           "  - {type: linear, out_features: 10}\ns: \"null\"\nn: null\n"
                           "m: \"x\\ny\"\n");
    free(text);
    lh_config_free(cfg);
}
END_TEST

/* What --print_config prints: the file with the overrides applied, loading back the same. */
/* An override is UTF-8 text as a file must be: accepted code points emit and load back; a code
 * point past U+10FFFF (which libyaml's emitter would escape and its reader refuse), a surrogate,
 * an overlong form or a cut sequence is refused with the byte it starts at. */
START_TEST(test_override_utf8)
{
    lh_error err = {{0}};
    lh_config *cfg = load(YAML_TEXT);
    static const char *const bad[][2] = {
        {"--data.name=ab\xf6\x8b\x8d\x9e", "byte 14 is not UTF-8"}, /* U+18B35E */
        {"--data.\xed\xa0\x80=1", "byte 7 is not UTF-8"},             /* U+D800 */
        {"--data.name=\xc0\xaf", "byte 12 is not UTF-8"},              /* overlong '/' */
        {"--data.name=\xe6\x97", "byte 12 is not UTF-8"},              /* cut */
        {"--data.name=\xff", "byte 12 is not UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne(lh_config_override(cfg, bad[i][0], &err), 0);
        ck_assert_msg(strstr(err.msg, bad[i][1]) && strstr(err.msg, "config command line ("),
                      "%s", err.msg);
    }
    ck_assert_str_eq(lh_config_scalar(lh_config_get(lh_config_root(cfg), "data.name")), "null");
    /* é, 日 and U+10FFFF, the last code point */
    ck_assert_msg(lh_config_override(cfg, "--data.n\xc3\xa9=\xe6\x97\xa5 \xf4\x8f\xbf\xbf",
                                     &err) == 0, "%s", err.msg);
    free(round_trip(cfg));
    lh_config_free(cfg);
}
END_TEST

START_TEST(test_emit_after_overrides)
{
    lh_error err = {{0}};
    lh_config *cfg = load(YAML_TEXT);
    const char *ov[] = {"--trainer.max_epochs=3", "--seed=7", "--model.layers.1={type: dropout, "
                        "p: 0.5}", "--callbacks.early_stopping.patience=5", "--data.name=x: y",
                        "--optimizer.betas=[0.8, 0.9]"};
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++)
        ck_assert_msg(lh_config_override(cfg, ov[i], &err) == 0, "%s: %s", ov[i], err.msg);
    char *text = round_trip(cfg);
    lh_config *back = NULL;
    ck_assert_int_eq(lh_config_load_string(&back, "emitted.yaml", text, &err), 0);
    const lh_config_node *r = lh_config_root(back);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "trainer.max_epochs")), "3");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "seed")), "7");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "model.layers.1.type")), "dropout");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "callbacks.early_stopping.patience")), "5");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "data.name")), "x: y");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "optimizer.betas.1")), "0.9");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(r, "trainer.device")), "cpu");
    lh_config_free(back);
    free(text);
    lh_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("yaml");
    tcase_add_test(tc, test_load_and_nested_get);
    tcase_add_test(tc, test_load_file_and_missing_file);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_override_errors);
    tcase_add_test(tc, test_yaml_syntax_errors);
    tcase_add_test(tc, test_structure_errors);
    tcase_add_test(tc, test_int_getter);
    tcase_add_test(tc, test_other_getters);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_emit_round_trip);
    tcase_add_test(tc, test_emit_layout);
    tcase_add_test(tc, test_emit_after_overrides);
    tcase_add_test(tc, test_override_utf8);
    suite_add_tcase(s, tc);
    return check_run(s);
}
