/* tests/unit/test_cli.c — bad input through `lhost train/validate`: each gives one clear line
 * naming the file/key and what was expected, and a non-zero exit; and the command line every
 * subcommand shares: LightningCLI's spellings, --print_config, --help's config keys, usage
 * errors.
 * Run: ctest --test-dir build -R test_cli --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "config.h"
#include "config_same.h"
#include "layer.h"
#include "optim.h"
#include "synth_data.h"
#include "trainer_keys.h"

static char dir[256];

/* A small valid config on synthetic data; `extra` is appended (YAML) and `model` replaces the
 * model section when non-NULL. */
static void write_cfg(const char *name, const char *model, const char *extra)
{
    char path[512], text[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(text, sizeof text,
             "seed: 1\n"
             "data: {path: %s/data, batch_size: 16}\n"
             "%s"
             "trainer: {max_epochs: 1, limit_train_batches: 2, limit_val_batches: 1, "
             "enable_progress_bar: false, default_root_dir: %s}\n"
             "%s",
             dir,
             model ? model
                   : "model:\n  layers:\n"
                     "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
                     "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
                     "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n",
             dir, extra ? extra : "");
    write_text(path, text);
}

static void setup(void)
{
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "cli", 64, 32), 0);
}

static void teardown(void)
{
    synth_remove(dir);
}

/* Run and expect failure with `want` in the output. */
static void expect_error(const char *args, const char *want)
{
    char *out;
    int rc = cli_run(dir, args, &out);
    if (rc == 0 || !strstr(out, want))
        ck_abort_msg("lhost %s: exit %d, wanted non-zero and \"%s\"; output:\n%s", args, rc, want,
                     out);
    free(out);
}

START_TEST(trains_ok)
{
    char *out;
    int rc;
    write_cfg("ok.yaml", NULL, NULL);
    rc = cli_run(dir, "train --config ok.yaml", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "Total params"));
    free(out);
}
END_TEST

/* trainer.profiler: simple prints Lightning's report: a row per backend op that ran, with its
 * call count (2 training and 1 validation batch: conv2d forward 3 times, backward twice). */
START_TEST(simple_profiler_report)
{
    char *out, *rep;
    int rc;
    write_cfg("p.yaml", NULL, NULL);
    rc = cli_run(dir, "train --config p.yaml --trainer.profiler=simple --trainer.device=cpu", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    rep = strstr(out, "FIT Profiler Report (cpu");
    ck_assert_msg(rep != NULL, "no report in:\n%s", out);
    ck_assert_msg(strstr(rep, "Action") && strstr(rep, "Total ") && strstr(rep, "host (everything"),
                  "report:\n%s", rep);
    /* the CPU backend fuses conv + relu + maxpool */
    ck_assert_msg(strstr(rep, "conv2d_relu_maxpool_forward   ") &&
                      strstr(strstr(rep, "conv2d_relu_maxpool_forward"), "|          3 |") &&
                      strstr(strstr(rep, "conv2d_relu_maxpool_backward"), "|          2 |") &&
                      strstr(strstr(rep, "adam_step"), "|          2 |"),
                  "op rows or counts wrong:\n%s", rep);
    free(out);
    expect_error("train --config p.yaml --trainer.profiler=advanced",
                 "trainer.profiler: expected null or simple, got \"advanced\"");
}
END_TEST

/* The jsonl logger plugin gets the hparams, every row metrics.csv gets, and the end status. */
START_TEST(logger_plugin_gets_rows)
{
    char *out, path[512], line[4096];
    FILE *f;
    int rc, rows = 0, csv_rows = -1, hp = 0, status = 0;
    write_cfg("log.yaml", NULL, "loggers:\n  jsonl_logger: {path: rows.jsonl}\n");
    rc = cli_run(dir, "train --config log.yaml --trainer.max_epochs=2 --trainer.log_every_n_steps=1", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/rows.jsonl", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "{\"hparams\": ", 12) == 0 && strstr(line, "\"seed\": \"1\""))
            hp++;
        else if (strncmp(line, "{\"epoch\": ", 10) == 0)
            rows++;
        else if (strcmp(line, "{\"status\": \"success\"}\n") == 0)
            status++;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/lightning_logs/version_0/metrics.csv", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        csv_rows++;
    fclose(f);
    ck_assert_int_eq(hp, 1);
    ck_assert_int_eq(status, 1);
    /* 2 epochs x (2 step rows + the validation row + the training epoch row) */
    ck_assert_int_eq(rows, csv_rows);
    ck_assert_int_eq(rows, 8);
}
END_TEST

START_TEST(missing_config_file)
{
    expect_error("train --config nope.yaml", "nope.yaml");
}
END_TEST

START_TEST(yaml_syntax_error)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    write_text(path, "data:\n  batch_size: [1, 2\ntrainer: {}\n");
    expect_error("train --config bad.yaml", "bad.yaml:");
}
END_TEST

START_TEST(unknown_key)
{
    write_cfg("k.yaml", NULL, "trainr: {max_epochs: 2}\n");
    expect_error("train --config k.yaml", "trainr");
}
END_TEST

START_TEST(wrong_type)
{
    write_cfg("t.yaml", NULL, NULL);
    expect_error("train --config t.yaml --trainer.max_epochs=lots", "trainer.max_epochs");
}
END_TEST

START_TEST(negative_batch_size)
{
    write_cfg("b.yaml", NULL, NULL);
    expect_error("train --config b.yaml --data.batch_size=-4", "data.batch_size");
}
END_TEST

START_TEST(unknown_layer)
{
    write_cfg("l.yaml", "model:\n  layers:\n    - {type: conv3d, out_channels: 4}\n", NULL);
    expect_error("train --config l.yaml", "conv3d");
}
END_TEST

START_TEST(linear_shape_mismatch)
{
    write_cfg("s.yaml",
              "model:\n  layers:\n"
              "    - {type: conv2d, name: conv1.0, out_channels: 64, kernel_size: 3, padding: 1}\n"
              "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
              "    - {type: conv2d, name: conv2.0, out_channels: 128, kernel_size: 3, padding: 1}\n"
              "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
              "    - {type: flatten}\n"
              "    - {type: linear, name: fc, in_features: 6000, out_features: 10}\n",
              NULL);
    expect_error("train --config s.yaml", "expected 6272");
}
END_TEST

START_TEST(missing_data_dir)
{
    write_cfg("d.yaml", NULL, NULL);
    expect_error("train --config d.yaml --data.path=/nonexistent/lhost-data", "/nonexistent/lhost-data");
}
END_TEST

START_TEST(bad_plugin_param)
{
    write_cfg("p.yaml", NULL, "callbacks:\n  early_stopping: {monitor: val_loss, mode: maz}\n");
    expect_error("train --config p.yaml", "expected one of min, max; got \"maz\"");
}
END_TEST

START_TEST(unknown_plugin)
{
    write_cfg("u.yaml", NULL, "callbacks:\n  no_such_callback: {}\n");
    expect_error("train --config u.yaml", "no_such_callback");
}
END_TEST

START_TEST(corrupt_checkpoint)
{
    char path[512];
    snprintf(path, sizeof path, "%s/junk.ckpt", dir);
    write_text(path, "this is not a checkpoint at all, just text that is long enough");
    expect_error("validate --ckpt junk.ckpt", "junk.ckpt");
    write_cfg("r.yaml", NULL, NULL);
    expect_error("train --config r.yaml --resume junk.ckpt", "junk.ckpt");
}
END_TEST

START_TEST(too_many_plugin_dirs)
{
    char path[8192] = "";
    int i;
    for (i = 0; i < 70; i++) {
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "%s/tmp/d%d", i ? ":" : "", i);
    }
    setenv("LHOST_PLUGIN_PATH", path, 1);
    write_cfg("many.yaml", NULL, NULL);
    expect_error("train --config many.yaml", "at most 64");
    unsetenv("LHOST_PLUGIN_PATH");
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    char *out;
    ck_assert_int_eq(cli_run(dir, "train", &out), 2);
    free(out);
    ck_assert_int_eq(cli_run(dir, "train --config x.yaml --bogus", &out), 2);
    free(out);
    ck_assert_int_eq(cli_run(dir, "validate", &out), 2);
    free(out);
}
END_TEST

/* ---- the command line itself (host/cli/args.c), through the binary ------------------------ */

/* Run and expect exit status `want_rc` with `want` in the output. */
static void expect_run(const char *args, int want_rc, const char *want)
{
    char *out;
    int rc = cli_run(dir, args, &out);
    if (rc != want_rc || !strstr(out, want))
        ck_abort_msg("lhost %s: exit %d, wanted %d and \"%s\"; output:\n%s", args, rc, want_rc,
                     want, out);
    free(out);
}

/* validate and predict print the config they rebuilt from the checkpoint, with overrides. */
START_TEST(print_config_from_checkpoint)
{
    char *out;
    lh_config *printed = NULL;
    lh_error err = {{0}};
    int rc;
    write_cfg("ck.yaml", NULL, "metrics:\n  acc: {plugin: accuracy}\n"
                               "callbacks:\n  model_checkpoint: {dirpath: ck, save_last: true}\n");
    rc = cli_run(dir, "train -c ck.yaml", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    rc = cli_run(dir, "validate --ckpt ck/last.ckpt --data.batch_size 4 --print_config", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_msg(lh_config_load_string(&printed, "printed", out, &err) == 0, "%s:\n%s", err.msg,
                  out);
    ck_assert_str_eq(lh_config_scalar(lh_config_get(lh_config_root(printed), "data.batch_size")),
                     "4");
    ck_assert_str_eq(lh_config_scalar(lh_config_get(lh_config_root(printed),
                                                    "metrics.acc.plugin")), "accuracy");
    ck_assert_msg(strstr(lh_config_scalar(lh_config_get(lh_config_root(printed), "data.path")),
                         "/data"), "%s", out);
    ck_assert_ptr_null(strstr(out, "val_loss")); /* nothing ran */
    lh_config_free(printed);
    free(out);
    expect_run("predict --ckpt ck/last.ckpt --data d --out p.csv --print_config", 0,
               "\n  path: d\n");
}
END_TEST

/* LightningCLI's spellings: fit, -c, --config=, --key value, --seed_everything. */
START_TEST(lightning_spellings)
{
    write_cfg("ok.yaml", NULL, NULL);
    expect_run("fit -c ok.yaml", 0, "Total params");
    expect_run("train --config=ok.yaml --trainer.max_epochs 1 --seed_everything 3", 0,
               "Total params");
    expect_run("fit -cok.yaml --data.batch_size 8 --seed=2 --trainer.limit_train_batches=1", 0,
               "Total params");
    /* an override's errors name it as it was given */
    expect_run("train -c ok.yaml --data.batch_size 0", 1,
               "config command line (--data.batch_size=0): data.batch_size: expected an integer "
               "from 1 to 1048576, got \"0\"");
    expect_run("train -c ok.yaml --seed_everything=-1", 1,
               "command line (--seed=-1): seed: expected an integer >= 0");
}
END_TEST

/* --print_config prints the file with the overrides applied, as YAML that loads back to the
 * same tree, and trains nothing. */
START_TEST(print_config)
{
    char *out, path[600];
    lh_config *printed = NULL, *want = NULL;
    lh_error err = {{0}};
    static const char *const ov[] = {"--trainer.max_epochs=3", "--seed=5",
                                     "--callbacks.early_stopping.patience=5",
                                     "--data.batch_size=8", "--optimizer.lr=0.01"};
    int rc;
    write_cfg("pc.yaml", NULL, "callbacks:\n  early_stopping: {monitor: val_loss, mode: min}\n");
    rc = cli_run(dir, "fit --config pc.yaml --trainer.max_epochs 3 --seed_everything=5 "
                      "--callbacks.early_stopping.patience 5 --data.batch_size=8 "
                      "--optimizer.lr 0.01 --print_config", &out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    snprintf(path, sizeof path, "%s/lightning_logs", dir);
    ck_assert_msg(access(path, F_OK) != 0, "--print_config trained");
    ck_assert_msg(lh_config_load_string(&printed, "printed", out, &err) == 0, "%s:\n%s", err.msg,
                  out);
    snprintf(path, sizeof path, "%s/pc.yaml", dir);
    ck_assert_int_eq(lh_config_load(&want, path, &err), 0);
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++)
        ck_assert_int_eq(lh_config_override(want, ov[i], &err), 0);
    expect_same_tree(lh_config_root(want), lh_config_root(printed));
    ck_assert_str_eq(lh_config_scalar(lh_config_get(lh_config_root(printed),
                                                    "callbacks.early_stopping.patience")), "5");
    lh_config_free(printed);
    lh_config_free(want);
    free(out);
    /* a config that would not run is refused, not printed */
    expect_run("train -c pc.yaml --trainer.epochs=3 --print_config", 1, "trainer.epochs");
    /* without a file: the overrides alone */
    expect_run("train --print_config --trainer.max_epochs=2", 0, "trainer: {max_epochs: 2}\n");
}
END_TEST

/* Each of --help's config keys, its type's default and help come from the table the config
 * reader uses (host/train/trainer_keys.c), for every command that reads a config. */
static void expect_optim_row(void *user, const char *key, const char *type, const char *help,
                             const char *dflt)
{
    char want[256];
    const char *row;
    snprintf(want, sizeof want, "  --optimizer.%s %s", key, type);
    row = strstr(user, want);
    ck_assert_msg(row != NULL, "no \"%s\" in --help", want);
    snprintf(want, sizeof want, "%s (default: %s)", help, dflt);
    ck_assert_msg(strstr(row, want) != NULL, "optimizer.%s: no \"%s\"", key, want);
}

START_TEST(help_lists_config_keys)
{
    static const char *const cmds[] = {"train", "fit", "validate", "predict"};
    char args[64], want[600], *out;
    lh_error err;
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        snprintf(args, sizeof args, "%s --help", cmds[c]);
        ck_assert_int_eq(cli_run(dir, args, &out), 0);
        snprintf(want, sizeof want, "usage: lhost %s ", cmds[c]);
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
        for (int32_t i = 0; i < lh_trainer_n_keys; i++) {
            const lh_trainer_key *k = &lh_trainer_keys[i];
            const char *row, *end;
            if (k->type == LH_KEY_SECTION) {
                snprintf(want, sizeof want, "\n%s: %s\n", k->path, k->help);
                ck_assert_msg(strstr(out, want), "%s: no \"%s\" in\n%s", args, want, out);
                continue;
            }
            snprintf(want, sizeof want, "\n  --%s ", k->path);
            row = strstr(out, want);
            ck_assert_msg(row, "%s: no \"%s\" in\n%s", args, want, out);
            /* the key's help and default, before the next key's row */
            end = strstr(row + 1, "\n  --") ? strstr(row + 1, "\n  --") : row + strlen(row);
            ck_assert_msg(strstr(row, k->help) && strstr(row, k->help) < end, "%s: %s: help",
                          args, k->path);
            snprintf(want, sizeof want, "(default: %s)\n", k->dflt[0] ? k->dflt : "\"\"");
            ck_assert_msg(strstr(row, want) && strstr(row, want) < end, "%s: %s: no \"%s\"",
                          args, k->path, want);
        }
        ck_assert_msg(strstr(out, "--optimizer.lr FLOAT") && strstr(out, "(default: 0.001)"),
                      "%s", out);
        /* The optimizer's and the layers' keys, from host/nn's own tables. */
        lh_optim_describe(expect_optim_row, out, &err);
        for (const char *const *n = lh_layer_names(); *n; n++) {
            snprintf(want, sizeof want, "  - {type: %s, ...}", *n);
            ck_assert_msg(strstr(out, want), "%s: layer kind %s missing:\n%s", args, *n, out);
        }
        ck_assert_msg(strstr(out, "out_channels (needed)") && strstr(out, "kernel_size=3") &&
                          strstr(out, "stride=kernel_size") && strstr(out, "p=0.5"),
                      "%s: layer keys and defaults:\n%s", args, out);
        ck_assert_ptr_nonnull(strstr(out, "--print_config"));
        ck_assert_ptr_nonnull(strstr(out, "  -h, --help"));
        free(out);
    }
    expect_run("plugins --help", 0, "usage: lhost plugins ");
    expect_run("plugins -h", 0, "  --verbose NAME");
    expect_run("ckpt inspect --help", 0, "usage: lhost ckpt inspect PATH");
    expect_run("new-plugin --help", 0, "usage: lhost new-plugin NAME");
    expect_run("new-plugin --help", 0, "  --kind KIND");
}
END_TEST

/* One error style everywhere: "lhost: CMD: ..." naming the argument and the command, exit 2. */
START_TEST(usage_messages)
{
    static const char *const cmds[] = {"train", "fit", "validate", "predict", "plugins",
                                       "new-plugin", "ckpt inspect"};
    char args[64], want[128];
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        snprintf(args, sizeof args, "%s --bogus=1", cmds[c]);
        snprintf(want, sizeof want, "lhost: %s: unknown argument '--bogus'\nTry 'lhost %s --help'.",
                 cmds[c], cmds[c]);
        expect_run(args, 2, want);
    }
    expect_run("train --config", 2, "lhost: train: --config needs a value (FILE)\n");
    expect_run("fit -c", 2, "lhost: fit: -c needs a value (FILE)\n");
    expect_run("train -c x.yaml --trainer.max_epochs", 2,
               "lhost: train: --trainer.max_epochs needs a value\n");
    expect_run("train --config --trainer.max_epochs=1", 2, "--config needs a value (FILE)");
    expect_run("train -c x.yaml --resume", 2, "lhost: train: --resume needs a value (CKPT)\n");
    expect_run("train", 2, "lhost: train: --config FILE is required\n");
    expect_run("validate", 2, "lhost: validate: --ckpt CKPT is required\n");
    expect_run("predict --ckpt x", 2, "lhost: predict: --data DIR and --out FILE are required\n");
    expect_run("validate --config x.yaml", 2, "lhost: validate: unknown argument '--config'");
    expect_run("train --data d", 2, "lhost: train: unknown argument '--data'");
    expect_run("plugins --json=yes", 2, "lhost: plugins: --json takes no value (got 'yes')");
    expect_run("plugins --verbose", 2, "lhost: plugins: --verbose needs a value (NAME)");
    expect_run("plugins --trainer.max_epochs=1", 2, "unknown argument '--trainer.max_epochs'");
    expect_run("new-plugin a b", 2, "lhost: new-plugin: one NAME expected, got 'a' and 'b'");
    expect_run("new-plugin ok --kind", 2, "lhost: new-plugin: --kind needs a value (KIND)");
    expect_run("ckpt inspect", 2, "lhost: ckpt inspect: expected a checkpoint PATH");
    expect_run("ckpt", 2, "lhost: ckpt: expected a subcommand (inspect)");
    expect_run("frobnicate", 2, "lhost: unknown command 'frobnicate'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, trains_ok);
    tcase_add_test(tc, simple_profiler_report);
    tcase_add_test(tc, logger_plugin_gets_rows);
    tcase_add_test(tc, missing_config_file);
    tcase_add_test(tc, yaml_syntax_error);
    tcase_add_test(tc, unknown_key);
    tcase_add_test(tc, wrong_type);
    tcase_add_test(tc, negative_batch_size);
    tcase_add_test(tc, unknown_layer);
    tcase_add_test(tc, linear_shape_mismatch);
    tcase_add_test(tc, missing_data_dir);
    tcase_add_test(tc, bad_plugin_param);
    tcase_add_test(tc, unknown_plugin);
    tcase_add_test(tc, corrupt_checkpoint);
    tcase_add_test(tc, too_many_plugin_dirs);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, lightning_spellings);
    tcase_add_test(tc, print_config);
    tcase_add_test(tc, print_config_from_checkpoint);
    tcase_add_test(tc, help_lists_config_keys);
    tcase_add_test(tc, usage_messages);
    suite_add_tcase(s, tc);
    return check_run(s);
}
