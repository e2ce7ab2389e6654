/* tests/unit/test_loop_limits.c — the trainer options that shape the fit loop
 * (host/train/loop_limits.h), each checked against what Lightning 2.x does with the same
 * settings. The expected counts come from Lightning's rules as loop_limits.h cites them:
 * `_parse_num_batches` (int: min(len, n); fraction: int(len * f)), fit_loop's `setup_data`
 * (val_check_batch) and `done`, training_epoch_loop's `_should_check_val_fx` and
 * `_should_accumulate`, trainer/setup.py's fast_dev_run and overfit_batches, the Timer callback
 * behind max_time, and `_run_sanity_check`. Batches and validations are counted from the hook
 * log of the fixture tests/plugins/hook_order.c; rows from metrics.csv.
 *
 * The data: 256 synthetic training images in batches of 16 (16 batches an epoch) and 64 test
 * images (4 validation batches). $LH_TEST_DEVICE (default auto) is passed as trainer.device:
 * test_loop_limits_emu sets cuda, the CUDA backend's code on the emulation (tests/cuda_emu).
 * Run: ctest --test-dir build -R test_loop_limits --output-on-failure */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_run.h"
#include "hook_order_run.h"
#include "safetensors.h"
#include "synth_data.h"

static char dir[256];

static const char cfg_text[] =
    "seed: 3\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "trainer: {max_epochs: 1, enable_progress_bar: false, enable_model_summary: false, "
    "log_every_n_steps: 1, default_root_dir: .}\n"
    "callbacks:\n  hook_order: {out: hooks.txt, optim: 2}\n";

static void setup(void)
{
    hook_order_workdir(dir, sizeof dir, "looplim", 256, 64, cfg_text);
}

static void teardown(void) { synth_remove(dir); }

/* lhost ARGS in w/ with the fixture's folder; the output (to free). */
static char *run(const char *args, int want_rc)
{
    return hook_order_run(dir, args, want_rc);
}

/* Train from `cfg` with extra options; the hook log (to free), removed from w/. */
static char *train_cfg(const char *cfg, const char *opts, char **out)
{
    char args[1200], path[512], *h, *o;
    snprintf(args, sizeof args, "train --config %s %s", cfg, opts);
    o = run(args, 0);
    snprintf(path, sizeof path, "%s/w/hooks.txt", dir);
    h = read_text(path);
    ck_assert_msg(h != NULL, "no hooks.txt\n%s", o);
    remove(path);
    if (out)
        *out = o;
    else
        free(o);
    return h;
}

/* Lines of s that start with `line` followed by a space, a newline or the end. */
static int count(const char *s, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == ' ' || !p[len]))
            n++;
    return n;
}

static char *train(const char *opts, char **out)
{
    return train_cfg("cfg.yaml", opts, out);
}

#define VALIDATIONS(h) (count(h, "on_validation_end"))
#define SANITY_CHECKS(h) (count(h, "on_validation_start (sanity)"))

/* Rows of version_N/metrics.csv with a value in column `key`; -1 without the file. */
static int csv_rows_with(int version, const char *key)
{
    char path[512], *s, *line, *save = NULL;
    int col = -1, rows = 0, first = 1;
    snprintf(path, sizeof path, "%s/w/lightning_logs/version_%d/metrics.csv", dir, version);
    if (!(s = read_text(path)))
        return -1;
    for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int c = 0;
        const char *f = line;
        while (1) {
            const char *e = strchr(f, ',');
            size_t len = e ? (size_t)(e - f) : strlen(f);
            if (first && len == strlen(key) && strncmp(f, key, len) == 0)
                col = c;
            else if (!first && c == col && len > 0)
                rows++;
            if (!e)
                break;
            f = e + 1, c++;
        }
        first = 0;
    }
    free(s);
    return rows;
}

/* The "step" column of version_N/metrics.csv's rows with a `loss_step` value, as "0,0,1,". */
static void csv_steps(int version, char *buf, size_t cap)
{
    char path[512], *s, *line, *save = NULL;
    int col_loss = -1, col_step = -1, first = 1;
    buf[0] = 0;
    snprintf(path, sizeof path, "%s/w/lightning_logs/version_%d/metrics.csv", dir, version);
    ck_assert_msg((s = read_text(path)) != NULL, "no %s", path);
    for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char fields[32][32];
        int c = 0;
        const char *f = line;
        while (c < 32) {
            const char *e = strchr(f, ',');
            size_t len = e ? (size_t)(e - f) : strlen(f);
            snprintf(fields[c], sizeof fields[c], "%.*s", (int)(len < 31 ? len : 31), f);
            c++;
            if (!e)
                break;
            f = e + 1;
        }
        for (int i = 0; first && i < c; i++) {
            if (strcmp(fields[i], "loss") == 0)
                col_loss = i;
            if (strcmp(fields[i], "step") == 0)
                col_step = i;
        }
        if (!first && col_loss >= 0 && col_loss < c && fields[col_loss][0])
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s,", fields[col_step]);
        first = 0;
    }
    ck_assert_msg(col_loss >= 0 && col_step >= 0, "no loss/step columns in %s", path);
    free(s);
}

/* ---- accumulate_grad_batches ---------------------------------------------------------- */

/* The largest difference between the model tensors (not trainer.*, optimizer.*) of two
 * checkpoints. */
static double max_weight_diff(const char *a, const char *b, int *tensors)
{
    lh_safetensors_file *fa, *fb;
    lh_error err;
    double worst = 0;
    ck_assert_msg(lh_safetensors_read(a, &fa, &err) == 0, "%s", err.msg);
    ck_assert_msg(lh_safetensors_read(b, &fb, &err) == 0, "%s", err.msg);
    *tensors = 0;
    for (int32_t i = 0; i < lh_safetensors_count(fa); i++) {
        const char *name = lh_safetensors_name(fa, i);
        int32_t j;
        if (strchr(name, '.') == NULL || strncmp(name, "trainer.", 8) == 0 ||
            strncmp(name, "optimizer.", 10) == 0 || strcmp(lh_safetensors_dtype(fa, i), "F32"))
            continue;
        for (j = 0; j < lh_safetensors_count(fb); j++)
            if (strcmp(lh_safetensors_name(fb, j), name) == 0)
                break;
        ck_assert_msg(j < lh_safetensors_count(fb), "%s missing from %s", name, b);
        ck_assert_int_eq(lh_safetensors_nbytes(fa, i), lh_safetensors_nbytes(fb, j));
        const float *x = lh_safetensors_data(fa, i), *y = lh_safetensors_data(fb, j);
        for (uint64_t k = 0; k < lh_safetensors_nbytes(fa, i) / 4; k++)
            if (fabs((double)x[k] - y[k]) > worst)
                worst = fabs((double)x[k] - y[k]);
        (*tensors)++;
    }
    lh_safetensors_close(fa);
    lh_safetensors_close(fb);
    return worst;
}

/* Lightning divides each batch's (mean) loss by accumulate_grad_batches and steps after every
 * second batch: two batches of 32 make the step one batch of 64 makes, on the same samples (the
 * seeded order is the same). One epoch of 256 samples, two linear layers, SGD with momentum,
 * gradient clipping on the accumulated gradient. */
START_TEST(accumulation_equals_the_big_batch)
{
    static const char acc_cfg[] =
        "seed: 11\n"
        "data: {path: ../data, batch_size: 64}\n"
        "model:\n  layers:\n"
        "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
        "    - {type: relu}\n    - {type: linear, name: out, out_features: 10}\n"
        "optimizer: {name: sgd, lr: 0.5, momentum: 0.9}\n"
        "trainer: {max_epochs: 1, limit_val_batches: 0, enable_progress_bar: false, "
        "enable_model_summary: false, log_every_n_steps: 1, gradient_clip_val: 0.5, "
        "default_root_dir: .}\n"
        "callbacks:\n  hook_order: {out: hooks.txt, save: true, optim: 1}\n";
    char path[512], a[600], b[600], c[600], steps[256];
    int n;
    double same, differ;
    char *h;
    snprintf(path, sizeof path, "%s/w/acc.yaml", dir);
    write_text(path, acc_cfg);
    h = train_cfg("acc.yaml", "", NULL); /* version_0: batches of 64 */
    ck_assert_int_eq(count(h, "on_before_optimizer_step"), 4);
    free(h);
    snprintf(a, sizeof a, "%s/w/b64.ckpt", dir);
    snprintf(path, sizeof path, "%s/w/hooks-e0.ckpt", dir);
    ck_assert_int_eq(rename(path, a), 0);
    /* version_1: batches of 32, two per step */
    h = train_cfg("acc.yaml", "--data.batch_size=32 --trainer.accumulate_grad_batches=2", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 8);
    ck_assert_int_eq(count(h, "on_after_backward"), 8);       /* after every batch */
    ck_assert_int_eq(count(h, "on_before_optimizer_step"), 4); /* once per step */
    free(h);
    snprintf(b, sizeof b, "%s/w/b32x2.ckpt", dir);
    snprintf(path, sizeof path, "%s/w/hooks-e0.ckpt", dir);
    ck_assert_int_eq(rename(path, b), 0);
    /* version_2: batches of 32, one per step (the control: it must differ) */
    free(train_cfg("acc.yaml", "--data.batch_size=32", NULL));
    snprintf(c, sizeof c, "%s/w/b32.ckpt", dir);
    ck_assert_int_eq(rename(path, c), 0);

    same = max_weight_diff(a, b, &n);
    ck_assert_int_eq(n, 4); /* fc.weight, fc.bias, out.weight, out.bias */
    ck_assert_msg(same <= 1e-5, "batch 32 x 2 differs from batch 64 by %g", same);
    differ = max_weight_diff(a, c, &n);
    fprintf(stderr, "accumulation: max |w(32 x 2) - w(64)| = %.3g, max |w(32) - w(64)| = %.3g\n",
            same, differ);
    ck_assert_msg(differ > 1e-3, "batch 32 without accumulation is as batch 64 (%g): the test "
                  "cannot tell", differ);

    /* version_3: batch 64 unclipped differs, so the clipping (of the summed gradient, once per
     * step) took part in the equality above */
    free(train_cfg("acc.yaml", "--trainer.gradient_clip_val=0", NULL));
    snprintf(c, sizeof c, "%s/w/b64-unclipped.ckpt", dir);
    ck_assert_int_eq(rename(path, c), 0);
    differ = max_weight_diff(a, c, &n);
    ck_assert_msg(differ > 1e-4, "gradient_clip_val 0.5 changed nothing (%g)", differ);

    /* global_step counts optimizer steps; the rows of the two batches of a step carry its
     * step (Lightning's _batches_that_stepped). */
    csv_steps(0, steps, sizeof steps);
    ck_assert_str_eq(steps, "0,1,2,3,");
    csv_steps(1, steps, sizeof steps);
    ck_assert_str_eq(steps, "0,0,1,1,2,2,3,3,");
    csv_steps(2, steps, sizeof steps);
    ck_assert_str_eq(steps, "0,1,2,3,4,5,6,7,");
}
END_TEST

/* An odd epoch: 5 batches with K = 2 step after batches 1, 3 and the last (4). */
START_TEST(accumulation_steps_on_the_last_batch)
{
    char *h = train("--trainer.limit_train_batches=5 --trainer.accumulate_grad_batches=2 "
                    "--trainer.max_epochs=2", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 10);
    ck_assert_int_eq(count(h, "on_before_optimizer_step"), 6);
    free(h);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------ */

START_TEST(limit_batches_int_and_fraction)
{
    char *h, *out;
    /* int(16 * 0.25) = 4 training batches, int(4 * 0.5) = 2 validation batches; the sanity
     * check runs min(2, 2) */
    h = train("--trainer.limit_train_batches=0.25 --trainer.limit_val_batches=0.5", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 4);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 2 + 2);
    ck_assert_int_eq(VALIDATIONS(h), 1);
    ck_assert_int_eq(SANITY_CHECKS(h), 1);
    free(h);
    /* ints: min(16, 3), min(4, 1); 1.0 is all, 5.0 is the int 5 */
    h = train("--trainer.limit_train_batches=3 --trainer.limit_val_batches=1", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 3);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 1 + 1);
    free(h);
    h = train("--trainer.limit_train_batches=1.0 --trainer.limit_val_batches=5.0", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 16);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 2 + 4);
    free(h);
    /* limit_val_batches 0: no validation at all, no sanity check, no val_loss column */
    h = train("--trainer.limit_val_batches=0 --trainer.limit_train_batches=2", NULL);
    ck_assert_int_eq(count(h, "on_validation_start"), 0);
    ck_assert_int_eq(count(h, "on_validation_end"), 0);
    ck_assert_int_eq(count(h, "on_train_epoch_end"), 1);
    ck_assert_int_eq(csv_rows_with(3, "val_loss"), 0);
    ck_assert_int_ge(csv_rows_with(3, "train_loss"), 1);
    free(h);
    /* ... and ModelCheckpoint saves at the training epoch's end instead (Lightning's
     * save_on_train_epoch_end=None with no validation): the latest epoch's file */
    h = train("--trainer.limit_val_batches=0 --trainer.limit_train_batches=2 "
              "--trainer.max_epochs=2 '--callbacks.model_checkpoint={dirpath: ckpt}'", NULL);
    free(h);
    {
        char path[512];
        snprintf(path, sizeof path, "%s/w/ckpt/epoch=1-step=4.ckpt", dir);
        ck_assert_msg(access(path, F_OK) == 0, "no %s without validation", path);
    }
        /* limit_train_batches 0: fit skips training (no on_train_start), as fit_loop.skip */
    h = train("--trainer.limit_train_batches=0", &out);
    ck_assert_int_eq(count(h, "on_train_start"), 0);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 0);
    ck_assert_msg(strstr(out, "`Trainer.fit` stopped: No training batches.") != NULL, "%s", out);
    free(out);
    free(h);
    /* a fraction under one batch is an error naming the key */
    out = run("train --config cfg.yaml --trainer.limit_train_batches=0.01", 1);
    ck_assert_msg(strstr(out, "trainer.limit_train_batches: 0.01 of 16 batches is less than one "
                              "batch; expected at least 0.0625"), "%s", out);
    free(out);
}
END_TEST

START_TEST(val_check_interval_and_every_n_epoch)
{
    char *h;
    /* 0.25 of 16 batches: val_check_batch 4, validation after batches 3, 7, 11, 15 */
    h = train("--trainer.val_check_interval=0.25 --trainer.max_epochs=2", NULL);
    ck_assert_int_eq(VALIDATIONS(h), 8);
    ck_assert_int_eq(csv_rows_with(0, "val_loss"), 8);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 32);
    free(h);
    /* an int: after every 5th batch of the epoch (4, 9, 14), none at its end */
    h = train("--trainer.val_check_interval=5 --trainer.max_epochs=2", NULL);
    ck_assert_int_eq(VALIDATIONS(h), 6);
    ck_assert_int_eq(csv_rows_with(1, "val_loss"), 6);
    free(h);
    /* check_val_every_n_epoch null: every 5th batch over all epochs (4 a epoch, 3 epochs: after
     * batch 0 of epoch 1 and batch 1 of epoch 2) */
    h = train("--trainer.val_check_interval=5 --trainer.check_val_every_n_epoch=null "
              "--trainer.limit_train_batches=4 --trainer.max_epochs=3", NULL);
    ck_assert_int_eq(VALIDATIONS(h), 2);
    free(h);
    /* every 2nd epoch of 4: epochs 1 and 3 */
    h = train("--trainer.check_val_every_n_epoch=2 --trainer.limit_train_batches=2 "
              "--trainer.max_epochs=4", NULL);
    ck_assert_int_eq(VALIDATIONS(h), 2);
    ck_assert_int_eq(count(h, "on_train_epoch_end"), 4);
    free(h);
    /* more than the epoch's batches, with epochs counted: the error Lightning raises */
    free(run("train --config cfg.yaml --trainer.val_check_interval=17", 1));
}
END_TEST

/* ---- stops --------------------------------------------------------------------------------- */

START_TEST(max_steps_and_min_steps)
{
    char *h, *out;
    /* 4 batches an epoch, max_steps 5: one batch into epoch 1, which does not validate (its
     * batch 0 is no val-check batch) */
    h = train("--trainer.limit_train_batches=4 --trainer.max_steps=5 --trainer.max_epochs=-1 "
              "--trainer.limit_val_batches=1", &out);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 5);
    ck_assert_int_eq(count(h, "on_train_epoch_end"), 2);
    ck_assert_int_eq(VALIDATIONS(h), 1);
    ck_assert_msg(strstr(out, "`Trainer.fit` stopped: `max_steps=5` reached."), "%s", out);
    free(out);
    free(h);
    /* max_steps counts optimizer steps: 3 steps of 2 batches */
    h = train("--trainer.limit_train_batches=4 --trainer.max_steps=3 --trainer.max_epochs=5 "
              "--trainer.accumulate_grad_batches=2 --trainer.limit_val_batches=1", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 6);
    ck_assert_int_eq(count(h, "on_before_optimizer_step"), 3);
    free(h);
    /* max_steps without max_epochs: max_epochs becomes -1 (Lightning's default then) */
    h = train("--trainer.limit_train_batches=2 --trainer.max_steps=7 --trainer.max_epochs=null "
              "--trainer.limit_val_batches=1", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 7);
    free(h);
    /* A stop now at step 1 waits for min_steps 6: epoch 0 runs whole, epoch 1 ends after its
     * batch 1 (step 6), validating since a stop is due */
    h = train("--trainer.limit_train_batches=4 --trainer.max_epochs=5 --trainer.min_steps=6 "
              "--trainer.limit_val_batches=1 --callbacks.hook_order.stop_at_step=1", &out);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 6);
    ck_assert_int_eq(VALIDATIONS(h), 2);
    ck_assert_msg(strstr(out, "Stopped after epoch 1"), "%s", out);
    free(out);
    free(h);
}
END_TEST

START_TEST(max_time)
{
    char *h, *out;
    /* Timer(duration=0, interval="step"): the stop after the first batch, with validation */
    h = train("--trainer.max_time=00:00:00:00 --trainer.max_epochs=3", &out);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 1);
    ck_assert_int_eq(VALIDATIONS(h), 1);
    ck_assert_msg(strstr(out, "`max_time=00:00:00:00` reached"), "%s", out);
    free(out);
    free(h);
    h = train("'--trainer.max_time={seconds: 0}' --trainer.min_epochs=1", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 16); /* min_epochs holds the stop */
    free(h);
    /* a long limit changes nothing */
    h = train("--trainer.max_time=01:00:00:00 --trainer.limit_train_batches=3", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 3);
    free(h);
    out = run("train --config cfg.yaml --trainer.max_time=1:2:3", 1);
    ck_assert_msg(strstr(out, "trainer.max_time: expected \"DD:HH:MM:SS\""), "%s", out);
    free(out);
    out = run("train --config cfg.yaml '--trainer.max_time={hour: 1}'", 1);
    ck_assert_msg(strstr(out, "hour"), "%s", out);
    free(out);
}
END_TEST

/* ---- fast_dev_run, overfit_batches, the sanity check ------------------------------------- */

START_TEST(fast_dev_run)
{
    char *h, *out, path[512];
    struct stat st;
    /* true: one training and one validation batch, one epoch, no sanity check; nothing saved
     * (the fixture's checkpoint), no lightning_logs */
    h = train("--trainer.fast_dev_run=true --trainer.max_epochs=5 "
              "--callbacks.hook_order.save=true", &out);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 1);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 1);
    ck_assert_int_eq(SANITY_CHECKS(h), 0);
    ck_assert_int_eq(count(h, "on_train_epoch_end"), 1);
    ck_assert_msg(strstr(out, "Running in `fast_dev_run` mode"), "%s", out);
    snprintf(path, sizeof path, "%s/w/hooks-e0.ckpt", dir);
    ck_assert_msg(stat(path, &st) != 0, "fast_dev_run saved a checkpoint");
    snprintf(path, sizeof path, "%s/w/lightning_logs", dir);
    ck_assert_msg(stat(path, &st) != 0, "fast_dev_run made lightning_logs");
    free(out);
    free(h);
    /* an int: that many batches */
    h = train("--trainer.fast_dev_run=3", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 3);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 3);
    free(h);
    free(run("train --config cfg.yaml --trainer.fast_dev_run=-1", 1));
}
END_TEST

/* overfit_batches: both limits, and the same (unshuffled) samples every epoch: the saved data
 * order is the identity */
START_TEST(overfit_batches)
{
    char *h, path[512];
    lh_safetensors_file *f;
    lh_error err;
    const int32_t *perm;
    h = train("--trainer.overfit_batches=2 --trainer.max_epochs=2 "
              "--callbacks.hook_order.save=true", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 4);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 2 + 2 * 2);
    free(h);
    snprintf(path, sizeof path, "%s/w/hooks-e1.ckpt", dir);
    ck_assert_msg(lh_safetensors_read(path, &f, &err) == 0, "%s", err.msg);
    perm = lh_safetensors_find_1d(f, "trainer.perm", "I32", 256, &err);
    ck_assert_msg(perm != NULL, "%s", err.msg);
    for (int32_t i = 0; i < 256; i++)
        ck_assert_int_eq(perm[i], i);
    lh_safetensors_close(f);
    /* a fraction of each loader: int(16 * 0.5) = 8 training, int(4 * 0.5) = 2 validation */
    h = train("--trainer.overfit_batches=0.5", NULL);
    ck_assert_int_eq(count(h, "on_train_batch_end"), 8);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 2 + 2);
    free(h);
}
END_TEST

/* The hook log of an evaluation command (lhost test / predict / validate ARGS, the
 * checkpoint's config plus the hook_order callback) in w/, removed. */
static char *eval_hooks(const char *args)
{
    char path[512], full[700], *h;
    snprintf(full, sizeof full, "%s --callbacks.hook_order.out=hooks.txt", args);
    free(run(full, 0));
    snprintf(path, sizeof path, "%s/w/hooks.txt", dir);
    h = read_text(path);
    ck_assert_msg(h != NULL, "%s: no hooks.txt", args);
    remove(path);
    return h;
}

/* Each evaluation loop has its own limit, as Lightning's (trainer.test reads
 * limit_test_batches, trainer.predict limit_predict_batches): limit_val_batches cuts
 * validation only, and the other two (int or fraction) cut the 4 test batches. */
START_TEST(test_and_predict_limits)
{
    static const struct {
        const char *args, *hook;
        int want;
    } runs[] = {
        {"test --ckpt hooks-e0.ckpt --trainer.limit_val_batches=1", "on_validation_batch_end", 4},
        {"test --ckpt hooks-e0.ckpt --trainer.limit_test_batches=2", "on_validation_batch_end", 2},
        {"predict --ckpt hooks-e0.ckpt --data ../data --out p.csv --trainer.limit_val_batches=1",
         "on_predict_batch_end", 4},
        {"predict --ckpt hooks-e0.ckpt --data ../data --out p.csv "
         "--trainer.limit_predict_batches=0.25", "on_predict_batch_end", 1},
        {"validate --ckpt hooks-e0.ckpt --trainer.limit_val_batches=1 "
         "--trainer.limit_test_batches=2", "on_validation_batch_end", 1},
    };
    char *h = train("--trainer.limit_train_batches=2 --trainer.num_sanity_val_steps=0 "
                    "--callbacks.hook_order.save=true", NULL);
    free(h);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        h = eval_hooks(runs[i].args);
        ck_assert_msg(count(h, runs[i].hook) == runs[i].want, "%s: %d x %s, expected %d",
                      runs[i].args, count(h, runs[i].hook), runs[i].hook, runs[i].want);
        free(h);
    }
}
END_TEST

START_TEST(sanity_check)
{
    char *h;
    h = train("--trainer.limit_train_batches=1", NULL); /* default 2 */
    ck_assert_int_eq(SANITY_CHECKS(h), 1);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 2 + 4);
    ck_assert_msg(strstr(h, "on_fit_start\non_validation_start (sanity)\n") &&
                      strstr(h, "on_validation_epoch_end\non_train_start\n"),
                  "the sanity check runs between on_fit_start and on_train_start:\n%s", h);
    free(h);
    /* not logged: metrics.csv holds the epoch's one validation row only */
    ck_assert_int_eq(csv_rows_with(0, "val_loss"), 1);
    h = train("--trainer.limit_train_batches=1 --trainer.num_sanity_val_steps=-1", NULL);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 4 + 4);
    free(h);
    h = train("--trainer.limit_train_batches=1 --trainer.num_sanity_val_steps=0", NULL);
    ck_assert_int_eq(SANITY_CHECKS(h), 0);
    ck_assert_int_eq(count(h, "on_validation_batch_end"), 4);
    free(h);
}
END_TEST

/* ---- config errors -------------------------------------------------------------------------- */

START_TEST(bad_values_name_the_key)
{
    static const char *const cases[][2] = {
        {"--trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches: expected an "
                                                "integer from 1"},
        {"--trainer.limit_val_batches=1.5", "trainer.limit_val_batches: expected an int"},
        {"--trainer.limit_train_batches=-2", "trainer.limit_train_batches: expected an int"},
        {"--trainer.val_check_interval=abc", "trainer.val_check_interval: expected an int"},
        {"--trainer.check_val_every_n_epoch=0", "trainer.check_val_every_n_epoch: expected an "
                                                "integer from 1"},
        {"--trainer.max_steps=-2", "trainer.max_steps: expected an integer >= -1"},
        {"--trainer.min_steps=-1", "trainer.min_steps: expected an integer >= 0"},
        {"--trainer.fast_dev_run=maybe", "trainer.fast_dev_run: expected"},
        {"--trainer.num_sanity_val_steps=-2", "trainer.num_sanity_val_steps: expected an integer"},
        {"--trainer.overfit_batches=x", "trainer.overfit_batches: expected an int"},
    };
    char args[400], *out;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "train --config cfg.yaml %s", cases[i][0]);
        out = run(args, 1);
        ck_assert_msg(strstr(out, cases[i][1]) && !strchr(strchr(out, '\n') + 1, '\n'),
                      "%s: expected one line with \"%s\", got:\n%s", cases[i][0], cases[i][1],
                      out);
        free(out);
    }
}
END_TEST

/* ---- resume --------------------------------------------------------------------------------- */

/* A checkpoint saved by a validation inside an epoch (val_check_interval 3 of 6 batches) and
 * inside an accumulation window (K = 2: batch 2 waits for batch 3) resumes to the same end:
 * the window's gradient so far, the data order and the step counter come back. */
START_TEST(resume_mid_window_is_exact)
{
    static const char rcfg[] =
        "seed: 7\n"
        "data: {path: ../data, batch_size: 16}\n"
        "model:\n  layers:\n"
        "    - {type: flatten}\n    - {type: dropout, p: 0.25}\n"
        "    - {type: linear, name: fc, out_features: 10}\n"
        "trainer: {max_epochs: 2, limit_train_batches: 6, limit_val_batches: 2, "
        "accumulate_grad_batches: 2, val_check_interval: 3, log_every_n_steps: 1, "
        "enable_progress_bar: false, enable_model_summary: false, default_root_dir: .}\n"
        "callbacks:\n  model_checkpoint: {dirpath: ckpt, save_top_k: -1, save_last: true}\n";
    char path[1400];
    snprintf(path, sizeof path, "%s/A", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/A/cfg.yaml", dir);
    write_text(path, rcfg);
    snprintf(path, sizeof path, "cd '%s/A' && '%s' train --config cfg.yaml > out.txt 2>&1", dir,
             LH_LHOST_EXE);
    ck_assert_int_eq(system(path), 0);
    /* validations after batches 2 (step 1) and 5 (step 3) of each epoch */
    snprintf(path, sizeof path, "%s/A/ckpt/epoch=0-step=1.ckpt", dir);
    ck_assert_msg(access(path, F_OK) == 0, "no %s", path);
    snprintf(path, sizeof path,
             "cp -r '%s/A' '%s/B' && cd '%s/B' && rm ckpt/last.ckpt ckpt/epoch=0-step=3.ckpt "
             "ckpt/epoch=1-* && '%s' train --config cfg.yaml --resume ckpt/epoch=0-step=1.ckpt "
             "> out.txt 2>&1", dir, dir, dir, LH_LHOST_EXE);
    ck_assert_int_eq(system(path), 0);
    {
        char pa[600], pb[600];
        lh_safetensors_file *fa, *fb;
        lh_error err;
        snprintf(pa, sizeof pa, "%s/A/ckpt/last.ckpt", dir);
        snprintf(pb, sizeof pb, "%s/B/ckpt/last.ckpt", dir);
        ck_assert_msg(lh_safetensors_read(pa, &fa, &err) == 0, "%s", err.msg);
        ck_assert_msg(lh_safetensors_read(pb, &fb, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(lh_safetensors_meta_get(fa, "global_step"), "6");
        ck_assert_str_eq(lh_safetensors_meta_get(fb, "global_step"), "6");
        for (int32_t i = 0; i < lh_safetensors_count(fa); i++)
            ck_assert_msg(lh_safetensors_nbytes(fa, i) == lh_safetensors_nbytes(fb, i) &&
                              memcmp(lh_safetensors_data(fa, i), lh_safetensors_data(fb, i),
                                     lh_safetensors_nbytes(fa, i)) == 0,
                          "tensor %s differs after resume", lh_safetensors_name(fa, i));
        lh_safetensors_close(fa);
        lh_safetensors_close(fb);
    }
    snprintf(path, sizeof path, "cmp '%s/A/lightning_logs/version_0/metrics.csv' "
             "'%s/B/lightning_logs/version_0/metrics.csv'", dir, dir);
    ck_assert_msg(system(path) == 0, "metrics.csv differs after resume");
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {accumulation_equals_the_big_batch,
                                  accumulation_steps_on_the_last_batch,
                                  limit_batches_int_and_fraction,
                                  val_check_interval_and_every_n_epoch,
                                  max_steps_and_min_steps,
                                  max_time,
                                  fast_dev_run,
                                  overfit_batches,
                                  sanity_check,
                                  test_and_predict_limits,
                                  bad_values_name_the_key,
                                  resume_mid_window_is_exact,
                                  NULL};
    return check_main("loop_limits", 240, setup, teardown, tests);
}
