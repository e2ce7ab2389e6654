/* tests/unit/test_abi_compat.c — a plugin built against the frozen ABI 1.0 headers
 * (tests/abi_1_0/compat.c: a callback, a metric and a logger using every 1.0 hook and service)
 * loads and runs on this host with the same results as the same source built against today's
 * SDK: metrics.csv, the logger's file and the callback's checkpoints are identical, and a
 * resume through its state_save / state_restore continues exactly.
 * Run: ctest --test-dir build -R test_abi_compat --output-on-failure */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_run.h"
#include "synth_data.h"

static char dir[256];

static const char cfg_text[] =
    "seed: 3\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: conv2d, name: conv1.0, out_channels: 4, kernel_size: 3, padding: 1}\n"
    "    - {type: relu}\n    - {type: maxpool2d, kernel_size: 2}\n"
    "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 2, limit_train_batches: 5, limit_val_batches: 2, "
    "log_every_n_steps: 2, enable_progress_bar: false, default_root_dir: .}\n"
    "metrics:\n  compat_metric: null\n"
    "callbacks:\n  compat_cb: {scale: 0.5}\n"
    "loggers:\n  compat_log: null\n";

static void run_ok(const char *sub, const char *build, const char *extra)
{
    char cwd[400], args[1200], *out;
    int rc;
    snprintf(cwd, sizeof cwd, "%s/%s", dir, sub);
    snprintf(args, sizeof args, "train --config cfg.yaml --plugin-dir '%s/compat_%s' %s",
             LH_FIXTURE_PLUGIN_DIR, build, extra);
    rc = cli_run(cwd, args, &out);
    ck_assert_msg(rc == 0, "lhost %s (in %s): exit %d\n%s", args, sub, rc, out);
    free(out);
}

static void make_sub(const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/cfg.yaml", dir, sub);
    write_text(path, cfg_text);
}

static char *text_of(const char *sub, const char *file)
{
    char path[600];
    char *s;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    s = read_text(path);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

static void assert_same_file(const char *a, const char *b, const char *file)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cmp '%s/%s/%s' '%s/%s/%s'", dir, a, file, dir, b, file);
    ck_assert_msg(system(cmd) == 0, "%s differs between %s and %s", file, a, b);
}

START_TEST(abi_1_0_plugin_runs_as_built_today)
{
    char *log;
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "abi_compat", 160, 48), 0);
    make_sub("v10");
    make_sub("v11");
    run_ok("v10", "1_0", "");
    run_ok("v11", "1_1", "");
    assert_same_file("v10", "v11", "lightning_logs/version_0/metrics.csv");
    assert_same_file("v10", "v11", "lightning_logs/version_0/compat_log.txt");
    assert_same_file("v10", "v11", "compat-e1.ckpt");
    /* Every 1.0 path ran: the callback's values, the metric's two outputs, the logger. */
    log = text_of("v10", "lightning_logs/version_0/compat_log.txt");
    ck_assert_msg(strstr(log, "hparam optimizer.name=") != NULL, "%s", log);
    ck_assert_msg(strstr(log, " compat_batches=2") != NULL, "%s", log);
    ck_assert_msg(strstr(log, " val_compat_metric_0=") && strstr(log, " val_compat_metric_1="),
                  "%s", log);
    /* 2 epochs: epoch_start 2 + batch_end 10 + val_end 2 + epoch_end 2 */
    ck_assert_msg(strstr(log, " compat_hooks=16") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "finalize success\n") != NULL, "%s", log);
    free(log);
    synth_remove(dir);
}
END_TEST

/* Epoch 0, then --resume from the callback's own checkpoint: its state comes back through
 * state_restore (version 3) and the run ends as the straight one. */
START_TEST(abi_1_0_state_round_trip)
{
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "abi_compat_resume", 160, 48), 0);
    make_sub("straight");
    make_sub("split");
    run_ok("straight", "1_0", "");
    run_ok("split", "1_0", "--trainer.max_epochs=1");
    run_ok("split", "1_0", "--resume compat-e0.ckpt");
    assert_same_file("straight", "split", "compat-e1.ckpt");
    assert_same_file("straight", "split", "lightning_logs/version_0/metrics.csv");
    synth_remove(dir);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {abi_1_0_plugin_runs_as_built_today,
                                         abi_1_0_state_round_trip, NULL};
    return check_main("abi_compat", 300, NULL, NULL, tests);
}
