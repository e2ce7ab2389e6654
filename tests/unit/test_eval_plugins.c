/* tests/unit/test_eval_plugins.c — `lhost predict` and `lhost validate` need only the plugins
 * they run: a checkpoint trained with a custom metric (the fixture two_metric, logged as top2)
 * predicts without that plugin present; validate, which computes the metric, still needs it and
 * says which; predict's --help lists --plugin-dir.
 * Run: ctest --test-dir build -R test_eval_plugins --output-on-failure */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cli_run.h"
#include "fixture_util.h"
#include "synth_data.h"

static const char config[] =
    "seed: 0\n"
    "data: {path: data, batch_size: 32, num_classes: 10}\n"
    "model:\n"
    "  input_shape: [1, 28, 28]\n"
    "  layers:\n"
    "    - {type: flatten}\n"
    "    - {type: linear, name: fc, in_features: 784, out_features: 10}\n"
    "optimizer: {name: sgd, lr: 0.01}\n"
    "trainer: {max_epochs: 1, device: cpu, enable_progress_bar: false, default_root_dir: .}\n"
    "metrics:\n"
    "  top2: {plugin: two_metric}\n"
    "callbacks:\n"
    "  model_checkpoint: {dirpath: ck, filename: last_run}\n";

START_TEST(predict_without_the_metric_plugin)
{
    char dir[256], path[512], args[1024], *out = NULL, *plugins = fx_stage("two");
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "eval_plugins", 256, 64), 0);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    write_text(path, config);
    snprintf(args, sizeof args, "train -c c.yaml --plugin-dir '%s'", plugins);
    ck_assert_msg(cli_run(dir, args, &out) == 0, "%s", out);
    free(out);
    ck_assert_msg(cli_run(dir, "predict --ckpt ck/last_run.ckpt --data data --out p.csv",
                          &out) == 0,
                  "predict needed a plugin it does not run:\n%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/p.csv", dir);
    out = read_text(path);
    ck_assert_msg(out && strncmp(out, "index,target,pred,logit_0", 25) == 0, "%s", out);
    free(out);
    /* validate computes top2: without its plugin it says so */
    ck_assert_int_ne(cli_run(dir, "validate --ckpt ck/last_run.ckpt", &out), 0);
    ck_assert_msg(strstr(out, "two_metric"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "validate --ckpt ck/last_run.ckpt --plugin-dir '%s'", plugins);
    ck_assert_msg(cli_run(dir, args, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "val_top2"), "%s", out);
    free(out);
    fx_remove(plugins);
    synth_remove(dir);
}
END_TEST

START_TEST(predict_help_lists_plugin_dir)
{
    char *out = NULL;
    ck_assert_int_eq(cli_run("/tmp", "predict --help", &out), 0);
    ck_assert_msg(strstr(out, "[--plugin-dir DIR]..."), "%s", out);
    ck_assert_msg(strstr(out, "--plugin-dir DIR"), "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {predict_without_the_metric_plugin, predict_help_lists_plugin_dir,
                                  NULL};
    return check_main("eval_plugins", 120, NULL, NULL, tests);
}
