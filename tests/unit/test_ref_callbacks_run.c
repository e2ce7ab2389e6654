/* tests/unit/test_ref_callbacks_run.c — the reference callbacks in `lhost train`, `validate`
 * and `predict` (the built plugins from the default plugin folder):
 *   `lhost plugins` lists them, `--verbose` shows their hooks and stages;
 *   grad_norm and lr_monitor land in metrics.csv under Lightning's keys, the total the p-norm
 *   of the per-parameter norms, lr-Adam / lr-SGD-momentum the optimizer's;
 *   ema leaves training as it was, validates on the average, and its checkpoints validate to
 *   the val_loss training logged (the averaged weights) and resume exactly;
 *   swa's learning rate per epoch is torch's SWALR (tests/golden/ref_callbacks.txt);
 *   with batch norm, ema averages the buffers (the batch count as torch truncates it) and swa
 *   recomputes the statistics with one more pass over the data (update_bn);
 *   timer with a 3 s duration stops within a batch of it, mid-epoch;
 *   prediction_writer's rows equal `lhost predict`'s (index, target, class; probabilities the
 *   softmax of its logits to float precision), as CSV per batch and per epoch and as .npy.
 * $LH_TEST_DEVICE (default auto) is passed as trainer.device: test_ref_callbacks_run_emu sets
 * cuda, the CUDA backend's code on the emulation (tests/cuda_emu).
 * Run: ctest --test-dir build -R test_ref_callbacks_run --output-on-failure */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check_run.h"
#include "cli_run.h"
#include "csv_column.h"
#include "safetensors.h"
#include "synth_data.h"

static char dir[256];

/* 64 training samples in batches of 16: 4 steps per epoch; 20 test samples: 2 batches. */
static const char cfg_head[] =
    "seed: 5\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: flatten}\n    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 2, enable_progress_bar: false, enable_model_summary: false, "
    "default_root_dir: ., log_every_n_steps: 1}\n";

static void setup(void)
{
    char path[512];
    ck_assert_int_eq(synth_workdir(dir, sizeof dir, "refcb", 64, 20), 0);
    snprintf(path, sizeof path, "%s/w", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void teardown(void) { synth_remove(dir); }

/* cfg.yaml: the common head, then `callbacks` (YAML lines, may be ""). */
static void config(const char *callbacks)
{
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/w/cfg.yaml", dir);
    snprintf(text, sizeof text, "%s%s", cfg_head, callbacks);
    write_text(path, text);
}

/* `lhost args` in the work folder; train, validate and predict on $LH_TEST_DEVICE. */
static char *run(const char *args, int want_rc)
{
    char cwd[400], full[2400], *out;
    const char *device = getenv("LH_TEST_DEVICE");
    int rc;
    snprintf(cwd, sizeof cwd, "%s/w", dir);
    if (strncmp(args, "plugins", 7) == 0)
        snprintf(full, sizeof full, "%s", args);
    else
        snprintf(full, sizeof full, "%s --trainer.device=%s", args, device ? device : "auto");
    rc = cli_run(cwd, full, &out);
    ck_assert_msg(rc == want_rc, "lhost %s: exit %d, expected %d\n%s", full, rc, want_rc, out);
    return out;
}

static char *file_text(const char *rel)
{
    char path[1024];
    char *s;
    snprintf(path, sizeof path, "%s/w/%s", dir, rel);
    s = read_text(path);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

/* The non-empty values of a column, in row order. */
static int csv_values(const char *text, const char *name, double *out, int cap)
{
    int m = csv_column_values(text, name, out, cap);
    ck_assert_msg(m >= 0, "no column \"%s\" in\n%.300s", name, text);
    return m;
}

START_TEST(plugins_listed_with_hooks_and_stages)
{
    static const char *const ids[] = {"org.lhost.lr_monitor", "org.lhost.grad_norm",
                                      "org.lhost.ema", "org.lhost.swa", "org.lhost.timer",
                                      "org.lhost.prediction_writer"};
    char *out = run("plugins", 0);
    size_t k;
    for (k = 0; k < sizeof ids / sizeof ids[0]; k++)
        ck_assert_msg(strstr(out, ids[k]) != NULL, "%s not listed:\n%s", ids[k], out);
    free(out);
    out = run("plugins --verbose prediction_writer", 0);
    ck_assert_msg(strstr(out, "on_predict_batch_end") && strstr(out, "predict"), "%s", out);
    free(out);
    out = run("plugins --verbose ema", 0);
    ck_assert_msg(strstr(out, "on_save_checkpoint") && strstr(out, "on_validation_start") &&
                      strstr(out, "fit"), "%s", out);
    free(out);
    out = run("plugins --verbose grad_norm", 0);
    ck_assert_msg(strstr(out, "on_before_optimizer_step") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(grad_norm_and_lr_monitor_in_metrics)
{
    double w[64], b[64], t[64], lr[64], mom[64];
    char *csv;
    int n, k;
    config("callbacks:\n  grad_norm: {norm_type: 2}\n  lr_monitor: {log_momentum: true}\n");
    free(run("train --config cfg.yaml --trainer.max_epochs=1", 0));
    csv = file_text("lightning_logs/version_0/metrics.csv");
    n = csv_values(csv, "grad_2.0_norm/fc.weight", w, 64);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(csv_values(csv, "grad_2.0_norm/fc.bias", b, 64), 4);
    ck_assert_int_eq(csv_values(csv, "grad_2.0_norm_total", t, 64), 4);
    for (k = 0; k < n; k++)
        ck_assert_msg(fabs(t[k] - hypot(w[k], b[k])) <= 1e-5 * t[k],
                      "step %d: total %.9g, hypot %.9g", k, t[k], hypot(w[k], b[k]));
    /* unset interval: at the epoch's start and every step, the first two in step 0's row */
    ck_assert_int_eq(csv_values(csv, "lr-Adam", lr, 64), 4);
    ck_assert_int_eq(csv_values(csv, "lr-Adam-momentum", mom, 64), 4);
    ck_assert(lr[0] == 0.001 && mom[0] == 0.9);
    free(csv);

    config("callbacks:\n  grad_norm: {norm_type: inf}\n"
           "  lr_monitor: {log_momentum: true, logging_interval: step}\n");
    free(run("train --config cfg.yaml --trainer.max_epochs=1 --optimizer.name=sgd "
             "--optimizer.lr=0.05 --optimizer.momentum=0.5", 0));
    csv = file_text("lightning_logs/version_1/metrics.csv");
    n = csv_values(csv, "grad_inf_norm/fc.weight", w, 64);
    ck_assert_int_eq(csv_values(csv, "grad_inf_norm/fc.bias", b, 64), n);
    ck_assert_int_eq(csv_values(csv, "grad_inf_norm_total", t, 64), n);
    for (k = 0; k < n; k++)
        ck_assert(t[k] == fmax(w[k], b[k]));
    ck_assert_int_eq(csv_values(csv, "lr-SGD", lr, 64), 4);
    ck_assert_int_eq(csv_values(csv, "lr-SGD-momentum", mom, 64), 4);
    ck_assert(lr[0] == 0.05 && mom[0] == 0.5);
    free(csv);
}
END_TEST

/* The last val_loss `lhost validate` prints. */
static double validate_loss(const char *ckpt)
{
    char args[600], *out, *p;
    double v;
    snprintf(args, sizeof args, "validate --ckpt '%s' --data ../data", ckpt);
    out = run(args, 0);
    p = strstr(out, "val_loss");
    ck_assert_msg(p != NULL, "%s", out);
    v = strtod(p + strlen("val_loss"), NULL);
    free(out);
    return v;
}

START_TEST(ema_validates_and_saves_the_average)
{
    double loss_a[64], loss_b[64], val_a[8], val_b[8], val_r[8];
    char *a, *b, *r;
    int n, k;
    config("callbacks:\n  model_checkpoint: {dirpath: plain, save_top_k: -1}\n");
    free(run("train --config cfg.yaml", 0));
    config("callbacks:\n  ema: {decay: 0.5}\n"
           "  model_checkpoint: {dirpath: avg, save_top_k: -1}\n");
    free(run("train --config cfg.yaml", 0));
    a = file_text("lightning_logs/version_0/metrics.csv");
    b = file_text("lightning_logs/version_1/metrics.csv");
    /* training is untouched: the same step losses */
    n = csv_values(a, "loss", loss_a, 64);
    ck_assert_int_eq(csv_values(b, "loss", loss_b, 64), n);
    for (k = 0; k < n; k++)
        ck_assert_msg(loss_a[k] == loss_b[k], "step %d: loss %.9g with ema, %.9g without", k,
                      loss_b[k], loss_a[k]);
    /* validation sees the average */
    ck_assert_int_eq(csv_values(a, "val_loss", val_a, 8), 2);
    ck_assert_int_eq(csv_values(b, "val_loss", val_b, 8), 2);
    ck_assert_msg(val_a[1] != val_b[1], "val_loss %.9g with and without ema", val_a[1]);
    /* the checkpoint holds the average: validating it gives what training logged */
    ck_assert_msg(fabs(validate_loss("avg/epoch=1-step=8.ckpt") - val_b[1]) <= 1e-5 * val_b[1],
                  "ema checkpoint validates to another val_loss than %.9g", val_b[1]);
    ck_assert_msg(fabs(validate_loss("plain/epoch=1-step=8.ckpt") - val_a[1]) <= 1e-5 * val_a[1],
                  "plain checkpoint");
    /* and resumes training from the training weights kept in the callback's state (into the
     * checkpoint's run, whose metrics.csv it rewrites) */
    free(run("train --config cfg.yaml --resume avg/epoch=0-step=4.ckpt", 0));
    r = file_text("lightning_logs/version_1/metrics.csv");
    ck_assert_int_eq(csv_values(r, "val_loss", val_r, 8), 2);
    ck_assert_msg(val_r[1] == val_b[1], "resumed val_loss %.9g, uninterrupted %.9g", val_r[1],
                  val_b[1]);
    ck_assert_int_eq(csv_values(r, "loss", loss_a, 64), n);
    for (k = 0; k < n; k++)
        ck_assert_msg(loss_a[k] == loss_b[k], "resumed step %d: loss %.9g, uninterrupted %.9g",
                      k, loss_a[k], loss_b[k]);
    free(a);
    free(b);
    free(r);
}
END_TEST

/* The golden numbers after `name` in tests/golden/ref_callbacks.txt. */
static int golden(const char *name, double *out, int cap)
{
    char *text = read_text(LH_SOURCE_DIR "/tests/golden/ref_callbacks.txt"), *p;
    int n = 0;
    ck_assert(text != NULL);
    for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ' ') {
            char *q = p + strlen(name), *end;
            while (n < cap && *q != '\n' && *q) {
                out[n] = strtod(q, &end);
                if (end == q)
                    break;
                n++;
                q = end;
            }
            break;
        }
    free(text);
    return n;
}

START_TEST(swa_lr_follows_swalr)
{
    double want[8], got[8];
    char *csv;
    int n, k;
    n = golden("swa_cli_lr", want, 8);
    ck_assert_int_eq(n, 4);
    config("callbacks:\n  swa: {swa_lrs: 0.01, swa_epoch_start: 2, annealing_epochs: 2}\n"
           "  lr_monitor: {logging_interval: epoch}\n");
    free(run("train --config cfg.yaml --trainer.max_epochs=4", 0));
    csv = file_text("lightning_logs/version_0/metrics.csv");
    ck_assert_int_eq(csv_values(csv, "lr-Adam", got, 8), 4);
    for (k = 0; k < n; k++)
        ck_assert_msg(fabs(got[k] - want[k]) <= 1e-9 * want[k], "epoch %d: lr %.9g, SWALR %.9g",
                      k, got[k], want[k]);
    free(csv);
}
END_TEST

/* ---- weight averaging on a model with batch norm ----------------------------------------- */

static const char bn_model[] =
    "seed: 5\n"
    "data: {path: ../data, batch_size: 16}\n"
    "model:\n  layers:\n"
    "    - {type: flatten}\n    - {type: linear, name: fc1, out_features: 10}\n"
    "    - {type: batchnorm1d, name: bn}\n    - relu\n"
    "    - {type: linear, name: fc, out_features: 10}\n"
    "trainer: {max_epochs: 2, enable_progress_bar: false, enable_model_summary: false, "
    "default_root_dir: ., log_every_n_steps: 1}\n"
    "callbacks:\n  hook_order: {out: hooks.txt, save_at_fit_end: true}\n";

/* `lhost train` of bn_model plus `more` callbacks (YAML lines); the model it ends with (the
 * fixture's checkpoint in on_fit_end): bn's running_mean (10 floats) and num_batches_tracked.
 * (The fixture checks tensor 1, fc1.bias here, has 10 floats.) */
static int64_t bn_run(const char *more, float *mean)
{
    char path[512], text[4096], args[800];
    lh_safetensors_file *f;
    lh_error err;
    const void *p;
    int64_t count;
    snprintf(path, sizeof path, "%s/w/cfg.yaml", dir);
    snprintf(text, sizeof text, "%s%s", bn_model, more);
    write_text(path, text);
    snprintf(args, sizeof args, "train --config cfg.yaml --plugin-dir '%s/hook_order'",
             LH_FIXTURE_PLUGIN_DIR);
    free(run(args, 0));
    snprintf(path, sizeof path, "%s/w/hooks-fit-end.ckpt", dir);
    ck_assert_msg(lh_safetensors_read(path, &f, &err) == 0, "%s", err.msg);
    p = lh_safetensors_find(f, "bn.running_mean", "F32", 10, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    memcpy(mean, p, 10 * 4);
    p = lh_safetensors_find(f, "bn.num_batches_tracked", "I64", 1, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    memcpy(&count, p, 8);
    lh_safetensors_close(f);
    return count;
}

/* 2 epochs of 4 steps: training counts 8 batches. ema (decay 0.5) averages the count as torch
 * does (the float average truncated: 1, 1, 2, 3, 4, 5, 6, 7) and the statistics with it; swa
 * recomputes the statistics for its average with one pass of 4 batches (update_bn). */
START_TEST(ema_and_swa_with_batchnorm)
{
    float plain[10], ema[10], swa[10];
    int k, differ_e = 0, differ_s = 0;
    ck_assert_int_eq(bn_run("", plain), 8);
    ck_assert_int_eq(bn_run("  ema: {decay: 0.5}\n", ema), 7);
    ck_assert_int_eq(bn_run("  swa: {swa_lrs: 0.01, swa_epoch_start: 1}\n", swa), 4);
    for (k = 0; k < 10; k++) {
        differ_e += ema[k] != plain[k];
        differ_s += swa[k] != plain[k] && swa[k] != ema[k];
    }
    ck_assert_msg(differ_e == 10 && differ_s == 10, "running_mean: %d of 10 differ with ema, "
                  "%d with swa", differ_e, differ_s);
    /* without its buffers, ema leaves the statistics as training left them */
    ck_assert_int_eq(bn_run("  ema: {decay: 0.5, use_buffers: false}\n", ema), 8);
}
END_TEST

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 8000 samples in batches of 1, a conv layer, a 3 s timer: the run ends after the batch that
 * crossed the limit, whatever epoch that is in. */
START_TEST(timer_stops_within_a_batch_of_3s)
{
    char big[256], cmd[1400], *out, *csv, path[512];
    const char *device = getenv("LH_TEST_DEVICE");
    double steps[4096], t0, wall;
    int n, rc;
    ck_assert_int_eq(synth_workdir(big, sizeof big, "refcb_timer", 8000, 10), 0);
    snprintf(path, sizeof path, "%s/cfg.yaml", big);
    write_text(path,
               "seed: 5\ndata: {path: data, batch_size: 1}\n"
               "model:\n  layers:\n"
               "    - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}\n"
               "    - relu\n    - {type: maxpool2d, kernel_size: 2}\n    - flatten\n"
               "    - {type: linear, name: fc, out_features: 10}\n"
               "trainer: {max_epochs: 1000, enable_progress_bar: false, "
               "enable_model_summary: false, default_root_dir: ., log_every_n_steps: 1}\n"
               "callbacks:\n  timer: {duration: \"00:00:00:03\"}\n");
    snprintf(cmd, sizeof cmd, "train --config cfg.yaml --trainer.device=%s",
             device ? device : "auto");
    t0 = mono();
    rc = cli_run(big, cmd, &out);
    wall = mono() - t0;
    ck_assert_msg(rc == 0, "exit %d\n%s", rc, out);
    /* Which epoch it lands in depends on the machine's speed (8000 batches take 0.7 s on a
     * quiet machine, 11 s on a loaded one); the wall time below is what says "within a batch". */
    ck_assert_msg(strstr(out, "Stopped after epoch ") &&
                      strstr(out, ": org.lhost.timer: Time limit reached. Elapsed time is 0:00:03"),
                  "%s", out);
    /* 3 s of training, plus the start and one validation pass: not a whole epoch more */
    ck_assert_msg(wall >= 3.0 && wall < 3.0 + 2.5, "the run took %.2f s", wall);
    snprintf(path, sizeof path, "%s/lightning_logs/version_0/metrics.csv", big);
    csv = read_text(path);
    ck_assert(csv != NULL);
    n = csv_values(csv, "step", steps, 4096);
    ck_assert_msg(n > 0, "no step rows in metrics.csv");
    free(csv);
    free(out);
    synth_remove(big);
}
END_TEST

static void expect_rows_match(const char *pred, const char *mine, int classes)
{
    const char *p = strchr(pred, '\n') + 1, *q = strchr(mine, '\n') + 1;
    int rows = 0;
    while (*p && *q) {
        long i1, t1, c1, i2, t2, c2;
        double l[16], prob, m = -INFINITY, sum = 0;
        char *end;
        int c;
        i1 = strtol(p, &end, 10), t1 = strtol(end + 1, &end, 10), c1 = strtol(end + 1, &end, 10);
        for (c = 0; c < classes; c++)
            l[c] = strtod(end + 1, &end), m = fmax(m, l[c]);
        p = strchr(end, '\n') + 1;
        i2 = strtol(q, &end, 10), t2 = strtol(end + 1, &end, 10), c2 = strtol(end + 1, &end, 10);
        ck_assert_msg(i1 == i2 && t1 == t2 && c1 == c2, "row %d: %ld,%ld,%ld vs %ld,%ld,%ld",
                      rows, i1, t1, c1, i2, t2, c2);
        for (c = 0; c < classes; c++)
            sum += exp(l[c] - m);
        for (c = 0; c < classes; c++) {
            prob = strtod(end + 1, &end);
            ck_assert_msg(fabs(prob - exp(l[c] - m) / sum) <= 1e-6, "row %d prob %d: %.9g vs %.9g",
                          rows, c, prob, exp(l[c] - m) / sum);
        }
        q = strchr(end, '\n') + 1;
        rows++;
    }
    ck_assert_int_eq(rows, 20);
    ck_assert_msg(!*p && !*q, "row counts differ");
}

START_TEST(prediction_writer_matches_predict)
{
    char *pred, *mine, *b0, *b1, *both, *npy, path[512];
    FILE *f;
    long size;
    config("callbacks:\n  model_checkpoint: {dirpath: ck, save_top_k: -1}\n");
    free(run("train --config cfg.yaml --trainer.max_epochs=1", 0));
    free(run("predict --ckpt ck/epoch=0-step=4.ckpt --data ../data --out p.csv "
             "--callbacks.prediction_writer.output_dir=pw "
             "--callbacks.prediction_writer.write_interval=batch_and_epoch", 0));
    pred = file_text("p.csv");
    mine = file_text("pw/predictions.csv");
    expect_rows_match(pred, mine, 10);
    /* the batch files, concatenated under one header, are the epoch's file */
    b0 = file_text("pw/predictions_batch_0.csv");
    b1 = file_text("pw/predictions_batch_1.csv");
    both = malloc(strlen(b0) + strlen(b1) + 1);
    strcpy(both, b0);
    strcat(both, strchr(b1, '\n') + 1);
    ck_assert_str_eq(both, mine);

    free(run("predict --ckpt ck/epoch=0-step=4.ckpt --data ../data --out p.csv "
             "--callbacks.prediction_writer.output_dir=np "
             "--callbacks.prediction_writer.write_interval=epoch "
             "--callbacks.prediction_writer.format=npy", 0));
    snprintf(path, sizeof path, "%s/w/np/predictions.npy", dir);
    f = fopen(path, "rb");
    ck_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    npy = malloc((size_t)size);
    ck_assert_int_eq(fread(npy, 1, (size_t)size, f), size);
    fclose(f);
    ck_assert(memcmp(npy, "\x93NUMPY\x01\x00", 8) == 0);
    {
        int hlen = (unsigned char)npy[8] | (unsigned char)npy[9] << 8, r, c;
        const double *v = (const double *)(npy + 10 + hlen);
        const char *line = strchr(mine, '\n') + 1;
        ck_assert_int_eq((10 + hlen) % 64, 0);
        ck_assert_msg(strstr(npy + 10, "'shape': (20, 13)") != NULL, "%.*s", hlen, npy + 10);
        ck_assert_int_eq(size, 10 + hlen + 20 * 13 * 8);
        for (r = 0; r < 20; r++, line = strchr(line, '\n') + 1) {
            char *end = (char *)line;
            for (c = 0; c < 13; c++) {
                double want = strtod(c ? end + 1 : end, &end);
                ck_assert_msg(fabs(v[r * 13 + c] - want) <= 1e-8 * fabs(want) + 1e-12,
                              "npy [%d, %d] %.9g, csv %.9g", r, c, v[r * 13 + c], want);
            }
        }
    }
    free(npy);
    free(both);
    free(b0);
    free(b1);
    free(pred);
    free(mine);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {plugins_listed_with_hooks_and_stages,
                                  grad_norm_and_lr_monitor_in_metrics,
                                  ema_validates_and_saves_the_average,
                                  swa_lr_follows_swalr, ema_and_swa_with_batchnorm,
                                  timer_stops_within_a_batch_of_3s,
                                  prediction_writer_matches_predict,
                                  NULL};
    return check_main("ref_callbacks_run", 240, setup, teardown, tests);
}
